//! Unit tests per phase: hand-built message sequences in, the exact `Ready`
//! out (openraft's engine tests are the model).

mod broadcast;
mod cluster;
mod election;
mod events;
mod observe;
mod sync;

use bytes::Bytes;

use crate::{
    Config, Entry, MemoryLog, Message, Notification, PeerId, Persisted, Role, VoterSet, Zab, Zxid,
};

/// What a server's disk holds at start: epochs and snapshot, and the log.
pub(crate) type Start = (Persisted, MemoryLog);

/// A fresh server's disk.
pub(crate) fn empty() -> Start {
    (Persisted::default(), MemoryLog::default())
}

pub(crate) fn z(epoch: u32, counter: u32) -> Zxid {
    Zxid::new(epoch, counter)
}

pub(crate) fn entry(epoch: u32, counter: u32) -> Entry {
    Entry {
        zxid: z(epoch, counter),
        payload: Bytes::from(format!("{epoch}.{counter}")),
    }
}

pub(crate) fn cfg(id: PeerId, voters: &[PeerId]) -> Config {
    Config {
        id,
        voters: VoterSet::new(voters.iter().copied()),
        ..Config::default()
    }
}

pub(crate) fn notif(
    leader: PeerId,
    zxid: Zxid,
    round: u64,
    peer_epoch: u32,
    state: Role,
) -> Message {
    Message::Notification(Notification {
        leader,
        zxid,
        election_epoch: round,
        peer_epoch,
        state,
    })
}

pub(crate) fn fresh(id: PeerId, voters: &[PeerId]) -> Zab {
    Zab::new(cfg(id, voters), Persisted::default(), MemoryLog::default()).unwrap()
}

/// Takes a `Ready` and reports it durable at once.
pub(crate) fn flush(zab: &mut Zab) -> crate::Ready {
    let r = zab.ready();
    zab.advance(r.number);
    r
}
