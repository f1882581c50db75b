//! Corral's ZAB runtime: replication any Rust service can embed.
//!
//! [`corral_zab`] is a pure engine: it says what to store, send and apply, in which order,
//! and does none of it. This crate does it: it owns a `Zab` and the user's
//! [`StateMachine`], executes every `Ready` against a disk ([`DiskIo`]; in production
//! corral-storage's [`QuorumWriter`](corral_storage::QuorumWriter): txn log, snapshots,
//! `acceptedEpoch` / `currentEpoch` in one durable order) and a network ([`Transport`]),
//! ticks the engine, reports role and quorum changes, and answers proposals once they are
//! committed.
//!
//! **What it is not.** It has no transport of its own beyond an in-memory one for tests and
//! examples ([`MemNetwork`]) and, with the `grpc` feature, corral-peer's gRPC transport
//! adapted in module `grpc` (`attach(transport, events)`; `examples/kv_grpc.rs` runs three
//! processes on it). It knows nothing of ZooKeeper's data model: payloads are bytes.
//!
//! # Shape: a sans-I/O core and a thin shell
//!
//! [`Node`] is the runtime's whole logic with no I/O and no clock: inputs are calls
//! (`tick`, `receive`, `durable`, `propose_with`), outputs go through the `DiskIo` and
//! `Transport` it holds. [`Runtime`] is a tokio task that turns a ticker, the transport's
//! events, the disk's durability reports and user calls into those inputs. A simulator
//! drives the same `Node` with a simulated disk and network, so one code path is tested and
//! run.
//!
//! # Embedding it
//!
//! ```no_run
//! # async fn demo() -> Result<(), corral_zab_runtime::RuntimeError> {
//! use std::time::Duration;
//! use bytes::Bytes;
//! use corral_storage::StorageConfig;
//! use corral_zab::{Config, VoterSet};
//! use corral_zab_runtime::{MemNetwork, Runtime, RuntimeConfig};
//! # struct Kv;
//! # impl corral_zab_runtime::StateMachine for Kv {
//! #     type Snapshot = std::vec::IntoIter<Bytes>;
//! #     fn apply(&mut self, _: corral_zab::Zxid, _: &Bytes) {}
//! #     fn snapshot(&mut self) -> Self::Snapshot { Vec::new().into_iter() }
//! #     fn restore_chunk(&mut self, _: corral_zab::Zxid, _: u64, _: &Bytes) {}
//! #     fn restore(&mut self, _: corral_zab::Zxid) -> Result<(), String> { Ok(()) }
//! # }
//!
//! let network = MemNetwork::new(); // the gRPC transport in a real deployment
//! let (transport, inbound) = network.join(1);
//! let config = RuntimeConfig {
//!     zab: Config { id: 1, voters: VoterSet::new([1, 2, 3]), ..Config::default() },
//!     tick: Duration::from_millis(100),
//!     storage: StorageConfig::new("/var/lib/myservice/1"),
//!     snap_count: 100_000,
//! };
//! let runtime = Runtime::start(config, Kv, transport, inbound)?;
//! runtime.established(None).await?;
//! let zxid = runtime.propose(Bytes::from("set a 1")).await?; // committed and applied
//! # let _ = zxid; Ok(()) }
//! ```
//!
//! `tests/ensemble.rs` runs three servers with real data directories over the in-memory
//! network: replication, a follower restarting from its disk, a leader crash.
#![deny(missing_docs)]

pub mod codec;
mod disk;
mod error;
#[cfg(feature = "grpc")]
pub mod grpc;
mod mem_net;
mod node;
mod outbound;
mod shell;
mod traits;

pub use disk::{open, quorum_op, OnDisk, OnSync, StorageDisk, StorageLog};
pub use error::RuntimeError;
#[cfg(feature = "grpc")]
pub use grpc::{attach, attach_with_service, GrpcTransport, Inbound};
pub use mem_net::{MemNetwork, MemTransport};
pub use node::{Event, Node, RuntimeFaults, Waiter};
pub use shell::{open_node, open_node_observed, Compaction, Runtime, RuntimeConfig};
pub use traits::{DiskIo, NetEvent, SnapshotChunk, SnapshotSource, StateMachine, Transport};
