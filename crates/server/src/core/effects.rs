//! What the core asks the I/O layer to do, as values. The core never writes a socket, the log
//! or a file: it returns [`Effect`]s and the owner loop (crate::net) carries them out, in
//! order.

use corral_zxid::Zxid;
use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};

use super::ConnId;

/// One thing the I/O layer must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write this frame (length prefix included) to the connection.
    Send {
        /// The connection.
        conn: ConnId,
        /// The frame.
        frame: Bytes,
    },
    /// Flush what was sent to the connection, then close it.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// Stop reading from the connection (ZooKeeper's `disableRecv`): the server is past its
    /// `globalOutstandingLimit` and this connection has requests outstanding. What it sent
    /// stays in its socket until [`Effect::EnableRecv`].
    DisableRecv {
        /// The connection.
        conn: ConnId,
    },
    /// Read from the connection again (`enableRecv`).
    EnableRecv {
        /// The connection.
        conn: ConnId,
    },
    /// Append this txn to the log; the core learns it is durable through
    /// [`super::Core::durable`].
    Log {
        /// Its zxid.
        zxid: Zxid,
        /// The encoded txn.
        txn: Bytes,
    },
    /// Propose this txn to the ensemble (a leader): the engine must give it `zxid`; it is
    /// applied once committed (the core's [`super::Core::apply_txn`]).
    Propose {
        /// The zxid it was prepped with.
        zxid: Zxid,
        /// The encoded txn.
        txn: Bytes,
    },
    /// Send this server-level message ([`super::peer_msg::PeerMsg`]) to the leader (a
    /// learner).
    Forward(Bytes),
    /// Send this server-level message to the ensemble's server `peer` (a leader's answer).
    ToPeer {
        /// The server's id.
        peer: u64,
        /// The message.
        msg: Bytes,
    },
    /// A snapshot of the state at `zxid` has begun: the I/O layer writes it out, taking the
    /// tree's records with [`super::Core::snapshot_step`], then the session table.
    SnapshotBegun {
        /// The snapshot's zxid.
        zxid: Zxid,
        /// The sessions at that zxid: id -> timeout (ms).
        sessions: BTreeMap<i64, i32>,
    },
}

/// The effects of the inputs handled so far, in order. Frames share one growing buffer, so
/// encoding a reply does not allocate per frame.
#[derive(Debug, Default)]
pub struct Effects {
    list: Vec<Effect>,
    scratch: BytesMut,
    /// Bytes of every frame queued so far (never reset; the I/O layer compares readings).
    sent_bytes: u64,
}

impl Effects {
    /// Encodes a frame with `write` and queues it for `conn`; the frame's length (its
    /// 4-byte length prefix included).
    pub(crate) fn send_with(&mut self, conn: ConnId, write: impl FnOnce(&mut BytesMut)) -> usize {
        if self.scratch.capacity() - self.scratch.len() < 512 {
            self.scratch.reserve(64 << 10);
        }
        write(&mut self.scratch);
        let frame = self.scratch.split().freeze();
        let len = frame.len();
        self.sent_bytes += len as u64;
        self.list.push(Effect::Send { conn, frame });
        len
    }

    /// Queues a frame encoded elsewhere for `conn`.
    pub(crate) fn send(&mut self, conn: ConnId, frame: Bytes) {
        self.sent_bytes += frame.len() as u64;
        self.list.push(Effect::Send { conn, frame });
    }

    /// Bytes of every frame queued since this buffer was made.
    pub fn sent_bytes(&self) -> u64 {
        self.sent_bytes
    }

    pub(crate) fn push(&mut self, effect: Effect) {
        self.list.push(effect);
    }

    /// Takes every effect queued so far.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.list)
    }

    /// Moves every effect queued so far to `out` (keeping this buffer's capacity).
    pub fn drain_into(&mut self, out: &mut Vec<Effect>) {
        out.append(&mut self.list);
    }

    /// How many txns the queued effects log and propose (the metrics' sync queue and
    /// proposal counts).
    pub(crate) fn count_txns(&self) -> (u64, u64) {
        self.list
            .iter()
            .fold((0, 0), |(logs, proposals), e| match e {
                Effect::Log { .. } => (logs + 1, proposals),
                Effect::Propose { .. } => (logs, proposals + 1),
                _ => (logs, proposals),
            })
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}
