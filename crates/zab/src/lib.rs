//! Corral's ZAB engine: ZooKeeper Atomic Broadcast as a pure state machine.
//!
//! `corral-zab` elects a leader, synchronises the servers with it and
//! replicates opaque payloads in one total order, as Apache ZooKeeper's
//! quorum package does (fast leader election, discovery, synchronisation,
//! broadcast, observers). It follows the ZAB paper (Junqueira, Reed,
//! Serafini, DSN 2011) and ZooKeeper's implementation of it.
//!
//! **What it is not.** It does no I/O: no sockets, no files, no threads, no
//! clock, no randomness. It knows nothing of znodes, sessions or ZooKeeper's
//! data model: a payload is bytes. The caller owns the network, the disk, the
//! timer and the state machine; the engine tells it, in a [`Ready`], what to
//! store, send and apply, and in which order. That is what lets one test
//! drive a whole ensemble from a seed (see `sim`, behind the `sim` feature)
//! and replay any failure exactly.
//!
//! # The caller's loop
//!
//! 1. Build an engine from a [`Config`] (ids, voters, observers, tick
//!    budgets), what storage holds ([`Persisted`]: epochs, snapshot zxid) and
//!    a [`LogSource`] through which the engine reads the durable log when it
//!    needs entries it no longer keeps in memory (after a restart, for a DIFF
//!    from disk): [`Zab::new`]. It starts LOOKING.
//! 2. Call [`Zab::tick`] at a fixed period, [`Zab::step`] for every message
//!    that arrives, [`Zab::disconnected`] when a peer's stream breaks, and
//!    [`Zab::propose`] (or [`Zab::propose_with`], when the payload must
//!    carry its own zxid) on the leader for every write.
//!    An `Err` from `tick` or `step` reports what the engine refused; it has
//!    already reacted, the caller only logs it.
//! 3. Whenever [`Zab::has_ready`], take [`Zab::ready`] and do what it says:
//!    break the streams in `reset`, store `persist`, apply `committed`,
//!    stream the `snapshot`s a SNAP needs, send `messages`; once the storage
//!    is durable send `send_after_persist` (a follower's ACK, ACKEPOCH) and
//!    call [`Zab::advance`] with the `Ready`'s number.
//! 4. Watch `ready.role` and `ready.established` (or [`Zab::status`]) to
//!    learn the server's role and whether its quorum is established.
//!
//! A standalone server (one voter) shows the whole loop:
//!
//! ```
//! use bytes::Bytes;
//! use corral_zab::{Config, MemoryLog, Persist, Persisted, Role, VoterSet, Zab};
//!
//! let config = Config { id: 1, voters: VoterSet::new([1]), ..Config::default() };
//! let mut zab = Zab::new(config, Persisted::default(), MemoryLog::default()).unwrap();
//! let mut disk = Vec::new(); // what we stored
//! let mut applied = Vec::new(); // our state machine
//! let mut drive = |zab: &mut Zab| {
//!     while zab.has_ready() {
//!         let ready = zab.ready();
//!         disk.extend(ready.persist.iter().cloned()); // 1. store (durable at once here)
//!         applied.extend(ready.committed.iter().map(|e| e.payload.clone())); // 2. apply
//!         assert!(ready.messages.is_empty()); // 4. nobody to talk to
//!         zab.advance(ready.number); // 5. durable
//!     }
//! };
//! // Elect ourselves: the finalize wait takes a tick.
//! while !zab.status().established {
//!     zab.tick().unwrap();
//!     drive(&mut zab);
//! }
//! assert_eq!(zab.status().role, Role::Leading);
//! let zxid = zab.propose(Bytes::from_static(b"hello")).unwrap();
//! assert_eq!((zxid.epoch(), zxid.counter()), (1, 1));
//! drive(&mut zab);
//! assert!(disk.contains(&Persist::CurrentEpoch(1)));
//! assert_eq!(applied, vec![Bytes::from_static(b"hello")]);
//! ```
//!
//! `examples/embed_zab.rs` runs three engines over in-memory channels and
//! replicates a key-value map; corral-zab-runtime's `examples/throughput.rs`
//! measures the engine's throughput alone (three engines in one thread,
//! storage durable at once) beside the runtime's on a real disk.
//!
//! # The API, and why it has one more call than raft-rs
//!
//! `new`, `tick`, `step`, `propose`, `ready`/`has_ready`, `advance` as the
//! design asks, plus [`Zab::disconnected`]. ZAB assumes FIFO channels that
//! fail as a whole (TCP): a follower that missed a message in the middle of a
//! synchronisation could not tell. So the caller reports a broken stream, as
//! ZooKeeper's learner sees its socket close, and the engine drops that
//! peer's session (a learner goes LOOKING, a leader forgets the learner until
//! it registers again). [`Zab::status`] is read-only.
//!
//! # Phases, and what of ZooKeeper is left out
//!
//! * Election (`election`): votes (peer epoch, zxid, id), logical clock,
//!   the LOOKING / FOLLOWING / LEADING notification rules, `checkLeader`, the
//!   finalize wait, resend back-off, observers answered but never counted.
//! * Discovery and synchronisation (`leader`, `learner`): FOLLOWERINFO /
//!   LEADERINFO / ACKEPOCH with accepted and current epochs persisted; DIFF
//!   from the in-memory window of the leader's log (`diff_window`) or, beyond
//!   it, from the log on disk through the [`LogSource`] (up to `max_diff`
//!   proposals, as ZooKeeper's `syncFollower` reads its txn log), TRUNC to
//!   the last shared zxid (also across epochs, where ZooKeeper falls back to
//!   a SNAP; the learner checks that the stream leaves no hole), SNAP of the
//!   caller's state streamed in [`Message::SnapChunk`]s (the caller produces
//!   them, from a snapshot it can take without stopping its state machine;
//!   the learner stores each chunk and installs the whole atomically);
//!   NEWLEADER and UPTODATE.
//! * Broadcast: pipelined PROPOSALs, cumulative ACKs sent only after fsync,
//!   COMMIT in zxid order, INFORM for observers, pings, `initLimit` /
//!   `syncLimit`, a leader stepping down without a quorum, zxid counter
//!   rollover (the leader refuses the proposal that would need counter
//!   `0xffffffff`, commits what it has, and steps down so that a new epoch
//!   starts). Epochs are never reused: a server elected when the last epoch
//!   ([`Zxid::MAX_EPOCH`]) is already accepted refuses to lead
//!   ([`ZabError::EpochsExhausted`]).
//! * Left out: dynamic reconfiguration (the voter set is already a value,
//!   [`VoterSet`]), hierarchical / weighted quorums, the observer master,
//!   session tracking and request forwarding (the server's job, over its own
//!   messages), `sync`, read-only mode, quorum SASL auth.
//!
//! A leader that steps down, or drops a learner, asks the caller to break
//! those streams at once (`Ready::reset`, as ZooKeeper closes the sockets);
//! a learner that gives up on its leader does the same.
//!
//! Between any two servers the caller keeps one FIFO stream; messages to one
//! peer must leave in the order `Ready` lists them, `messages` of a `Ready`
//! before its `send_after_persist`, and `Ready`s in their order.
#![deny(missing_docs)]

mod config;
mod core;
mod election;
mod error;
mod leader;
mod learner;
mod log;
mod message;
mod observe;
mod quorum;
mod ready;
mod zab;

pub use config::Config;
#[cfg(any(test, feature = "sim"))]
pub use config::Faults;
pub use corral_zxid::Zxid;
pub use error::ZabError;
pub use leader::{LearnerCounts, LearnerInfo};
pub use log::{LogSource, MemoryLog};
pub use message::{Entry, Message, Notification, Role, SyncKind};
pub use observe::Observation;
pub use quorum::VoterSet;
pub use ready::{snapshot_chunks, Persist, Ready, SnapshotRequest};
pub use zab::{Persisted, Status, Zab};

/// A server id (ZooKeeper's `myid` / `sid`).
pub type PeerId = u64;

#[cfg(any(test, feature = "sim"))]
pub mod sim;
#[cfg(test)]
mod tests;
