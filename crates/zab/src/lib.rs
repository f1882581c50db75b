//! Corral's ZAB engine: ZooKeeper Atomic Broadcast as a pure state machine.
//!
//! (crate documentation is completed below in the final stage)
#![deny(missing_docs)]

mod config;
mod core;
mod election;
mod error;
mod leader;
mod learner;
mod log;
mod message;
mod quorum;
mod ready;
mod zab;
mod zxid;

pub use config::Config;
#[cfg(any(test, feature = "sim"))]
pub use config::Faults;
pub use error::ZabError;
pub use message::{Entry, Message, Notification, Role};
pub use quorum::VoterSet;
pub use ready::{Persist, Ready, SnapshotRequest};
pub use zab::{Persisted, Status, Zab};
pub use zxid::Zxid;

/// A server id (ZooKeeper's `myid` / `sid`).
pub type PeerId = u64;

#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod tests;
