//! An ensemble member's snapshot, produced a step at a time on the member's loop and read by
//! any number of readers at their own pace: the SNAP streams to learners (which must never
//! block the loop) and the local snapshot file (written on a blocking thread).
//!
//! Producing it never pauses the member for long: [`Producer::begin`] starts the tree's
//! incremental snapshot (O(1), corral-datatree's copy-before-write keeps it exact while later
//! txns apply) and copies the session table; each [`Producer::step`] serialises about one
//! chunk. The chunks stay in the [`Feed`] until its last reader is gone, so a second SNAP of
//! the same zxid reads the same bytes instead of taking another snapshot.
//!
//! ```text
//! member loop:  begin -> step -> step -> ... -> step (done: session table, end)
//!                          |       |                |
//! readers:       SNAP to 2 ------- chunks ---------> (NotYet while not produced)
//!                local file (blocking thread, waits on the condvar)
//! ```

use corral_zxid::Zxid;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Condvar, Weak};

use bytes::Bytes;
use corral_datatree::SnapshotProgress;
use corral_zab_runtime::{SnapshotChunk, SnapshotSource};
use parking_lot::Mutex;

use crate::core::Core;
use crate::durability::{session_table, snapshot_payload};

/// Bytes per chunk (a learner's SNAP frames and the local file's writes).
pub(crate) const SNAPSHOT_CHUNK: usize = 1 << 20;

/// Tree records serialised per call of the tree's step while producing a chunk.
const STEP_RECORDS: usize = 8;

/// The chunks produced and not yet read by every reader, and how the snapshot ended.
#[derive(Default)]
struct Produced {
    /// The chunks from number `base` on: the ones before were read by every reader there
    /// was and dropped, so a SNAP holds about what its slowest learner has not taken yet.
    chunks: VecDeque<Bytes>,
    base: usize,
    /// Per live reader: the number of the next chunk it reads.
    positions: BTreeMap<u64, usize>,
    next_reader: u64,
    end: Option<Result<(), String>>,
}

impl Produced {
    /// A new reader at the first chunk; its id.
    fn register(&mut self) -> u64 {
        let id = self.next_reader;
        self.next_reader += 1;
        self.positions.insert(id, 0);
        id
    }

    /// Drops the chunks every live reader has passed.
    fn trim(&mut self) {
        let Some(&lowest) = self.positions.values().min() else {
            return;
        };
        while self.base < lowest && self.chunks.pop_front().is_some() {
            self.base += 1;
        }
    }
}

/// One snapshot of the replicated state at `zxid`, shared by its producer and readers.
pub(crate) struct Feed {
    zxid: Zxid,
    produced: Mutex<Produced>,
    /// Signalled on every new chunk and at the end (blocking readers wait on it).
    more: Condvar,
    /// The lock `more` waits with (std's Condvar needs a std Mutex).
    waiting: std::sync::Mutex<()>,
}

impl Feed {
    fn new(zxid: Zxid) -> Arc<Feed> {
        Arc::new(Feed {
            zxid,
            produced: Mutex::new(Produced::default()),
            more: Condvar::new(),
            waiting: std::sync::Mutex::new(()),
        })
    }

    /// A feed whose chunks are all there: `payload` cut into chunks.
    fn complete(zxid: Zxid, payload: Bytes) -> Arc<Feed> {
        let feed = Feed::new(zxid);
        let mut at = 0;
        while at < payload.len() {
            let end = (at + SNAPSHOT_CHUNK).min(payload.len());
            feed.push(payload.slice(at..end));
            at = end;
        }
        feed.finish(Ok(()));
        feed
    }

    fn push(&self, chunk: Bytes) {
        self.produced.lock().chunks.push_back(chunk);
        self.wake();
    }

    fn finish(&self, end: Result<(), String>) {
        self.produced.lock().end.get_or_insert(end);
        self.wake();
    }

    fn wake(&self) {
        // Taken so that a reader between its check and its wait cannot miss this.
        let _guard = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
        self.more.notify_all();
    }

    /// A reader from the first chunk (of a feed nobody has read from yet).
    fn first_reader(self: &Arc<Feed>) -> FeedReader {
        let mut produced = self.produced.lock();
        let id = produced.register();
        drop(produced);
        FeedReader {
            feed: self.clone(),
            id,
        }
    }

    /// Another reader from the first chunk, if it is still held and the snapshot has not
    /// failed. Checked and registered under one lock: a reader on another thread (the local
    /// snapshot file's) may take and drop the first chunk at any time.
    fn join(self: &Arc<Feed>) -> Option<FeedReader> {
        let mut produced = self.produced.lock();
        if produced.base != 0 || matches!(produced.end, Some(Err(_))) {
            return None;
        }
        let id = produced.register();
        drop(produced);
        Some(FeedReader {
            feed: self.clone(),
            id,
        })
    }

    fn poll(&self, reader: u64) -> SnapshotChunk {
        let mut produced = self.produced.lock();
        let Some(&next) = produced.positions.get(&reader) else {
            return SnapshotChunk::Failed("snapshot reader not registered".into());
        };
        let Some(at) = next.checked_sub(produced.base) else {
            // Its chunks were dropped before it came (cannot happen: readers join only while
            // the first chunk is held): it must not read on as if they had been sent.
            return SnapshotChunk::Failed("snapshot chunks dropped before they were read".into());
        };
        let chunk = produced.chunks.get(at).cloned();
        match (chunk, &produced.end) {
            (Some(chunk), _) => {
                produced.positions.insert(reader, next + 1);
                produced.trim();
                SnapshotChunk::Data(chunk)
            }
            (None, None) => SnapshotChunk::NotYet,
            (None, Some(Ok(()))) => SnapshotChunk::End,
            (None, Some(Err(why))) => SnapshotChunk::Failed(why.clone()),
        }
    }

    fn leave(&self, reader: u64) {
        let mut produced = self.produced.lock();
        produced.positions.remove(&reader);
        produced.trim();
    }
}

/// Reads a [`Feed`]'s chunks in order.
pub(crate) struct FeedReader {
    feed: Arc<Feed>,
    id: u64,
}

impl Drop for FeedReader {
    fn drop(&mut self) {
        self.feed.leave(self.id);
    }
}

impl SnapshotSource for FeedReader {
    fn poll_chunk(&mut self) -> SnapshotChunk {
        self.feed.poll(self.id)
    }

    fn wait_chunk(&mut self) -> Result<Option<Bytes>, String> {
        let feed = self.feed.clone();
        let mut guard = feed.waiting.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            match self.poll_chunk() {
                SnapshotChunk::Data(chunk) => return Ok(Some(chunk)),
                SnapshotChunk::End => return Ok(None),
                SnapshotChunk::Failed(why) => return Err(why),
                SnapshotChunk::NotYet => {
                    guard = feed.more.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
            }
        }
    }
}

/// The snapshot being produced, held by the member's state machine.
pub(crate) struct Producer {
    feed: Arc<Feed>,
    /// Tree records not yet cut into a chunk.
    buf: Vec<u8>,
    /// The session table as it was at the snapshot's zxid: the payload's tail.
    sessions: Vec<u8>,
}

impl Producer {
    /// Starts a snapshot of `core`'s state as it is now.
    pub(crate) fn begin(core: &mut Core) -> Result<Producer, String> {
        let (zxid, sessions) = core.begin_tree_snapshot()?;
        Ok(Producer {
            feed: Feed::new(zxid),
            buf: Vec::with_capacity(SNAPSHOT_CHUNK + (64 << 10)),
            sessions: session_table(&sessions),
        })
    }

    /// The feed the chunks go to.
    pub(crate) fn feed(&self) -> &Arc<Feed> {
        &self.feed
    }

    /// Produces the next chunk (or the rest); `true` when the snapshot is complete (or
    /// failed: its readers are told).
    pub(crate) fn step(&mut self, core: &mut Core) -> bool {
        // Small steps, so that big znodes (up to jute.maxbuffer each) overshoot a chunk by
        // a few of them at most.
        while self.buf.len() < SNAPSHOT_CHUNK {
            match core.snapshot_step(STEP_RECORDS, &mut self.buf) {
                Ok(SnapshotProgress::More) => {}
                Ok(SnapshotProgress::Done) => {
                    self.buf.extend_from_slice(&self.sessions);
                    self.cut(true);
                    self.feed.finish(Ok(()));
                    return true;
                }
                Err(why) => {
                    self.feed.finish(Err(why));
                    return true;
                }
            }
        }
        self.cut(false);
        false
    }

    /// Moves whole chunks (and at the end the rest) from the buffer to the feed.
    fn cut(&mut self, all: bool) {
        let mut rest = Bytes::from(std::mem::take(&mut self.buf));
        while rest.len() >= SNAPSHOT_CHUNK || (all && !rest.is_empty()) {
            let chunk = rest.split_to(SNAPSHOT_CHUNK.min(rest.len()));
            self.feed.push(chunk);
        }
        self.buf = Vec::with_capacity(SNAPSHOT_CHUNK + (64 << 10));
        self.buf.extend_from_slice(&rest);
    }

    /// The state the snapshot was of is gone (replaced by the leader's): its readers fail.
    pub(crate) fn abandon(self, core: &mut Core, why: &str) {
        core.abort_tree_snapshot();
        self.feed.finish(Err(why.to_string()));
    }
}

/// Where a member's snapshots come from: the one being produced, the last one while anyone
/// still reads it, or (when the tree is already busy with a snapshot of an older zxid) a
/// whole one at once.
#[derive(Default)]
pub(crate) struct Snapshots {
    producing: Option<Producer>,
    last: Weak<Feed>,
}

impl Snapshots {
    /// A reader of a snapshot of `core`'s state as it is now.
    pub(crate) fn reader(&mut self, core: &mut Core) -> FeedReader {
        let zxid = core.state().applied_zxid();
        let joined = self
            .last
            .upgrade()
            .filter(|f| f.zxid == zxid)
            .and_then(|f| f.join());
        if let Some(reader) = joined {
            return reader;
        }
        if self.producing.is_none() {
            match Producer::begin(core) {
                Ok(producer) => {
                    self.last = Arc::downgrade(producer.feed());
                    let reader = producer.feed().first_reader();
                    self.producing = Some(producer);
                    return reader;
                }
                Err(e) => tracing::warn!("cannot start an incremental snapshot: {e}"),
            }
        }
        // The tree holds one incremental snapshot at a time, and the one running is of an
        // older zxid (or its first chunks are gone): serialise this one whole (a pause, but
        // rare: two snapshots asked for at different times within one production).
        let state = core.state();
        let payload = Bytes::from(snapshot_payload(state.tree(), state.sessions()));
        let feed = Feed::complete(zxid, payload);
        self.last = Arc::downgrade(&feed);
        feed.first_reader()
    }

    /// Whether a snapshot is being produced (the loop should call [`Snapshots::step`]).
    pub(crate) fn producing(&self) -> bool {
        self.producing.is_some()
    }

    /// Produces the next chunk of the snapshot in progress, if any. One nobody reads any
    /// more (its learners went away) is dropped.
    pub(crate) fn step(&mut self, core: &mut Core) {
        let Some(producer) = &mut self.producing else {
            return;
        };
        if Arc::strong_count(producer.feed()) == 1 {
            if let Some(producer) = self.producing.take() {
                producer.abandon(core, "no reader left");
            }
            return;
        }
        if producer.step(core) {
            self.producing = None;
        }
    }

    /// The state is about to be replaced: a snapshot in progress fails.
    pub(crate) fn abandon(&mut self, core: &mut Core, why: &str) {
        if let Some(producer) = self.producing.take() {
            producer.abandon(core, why);
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        // A blocking reader (the local snapshot file's writer) must not wait forever for a
        // producer that is gone (the member stopped). A finished feed keeps its end.
        self.feed.finish(Err(
            "the member stopped before the snapshot was complete".into()
        ));
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use corral_datatree::{Txn, TxnBody};
    use corral_jute::codes::OpCode;

    use super::*;
    use crate::core::Now;
    use crate::durability::parse_snapshot_payload;
    use crate::ServerConfig;

    const NOW: Now = Now {
        mono_us: 1_000_000,
        wall_ms: 1_700_000_000_000,
    };

    fn core() -> Core {
        let config = ServerConfig::parse("dataDir=/unused\nclientPort=1\n").expect("config");
        Core::new(config, NOW).expect("core")
    }

    fn apply(core: &mut Core, zxid: Zxid, body: TxnBody) {
        let mut out = BytesMut::new();
        Txn {
            zxid,
            time_ms: NOW.wall_ms,
            session_id: 0,
            cxid: 0,
            body,
        }
        .encode(&mut out);
        core.apply_txn(zxid, &out.freeze(), NOW).expect("applies");
    }

    fn create(core: &mut Core, zxid: Zxid, path: &str, len: usize) {
        let body = TxnBody::Create {
            path: path.into(),
            data: Some(Bytes::from(vec![b'x'; len])),
            acl: corral_acl::open_acl_unsafe(),
            ephemeral_owner: 0,
            parent_cversion: zxid.0 as i32,
            op: OpCode::Create,
        };
        apply(core, zxid, body);
    }

    fn delete(core: &mut Core, zxid: Zxid, path: &str) {
        let body = TxnBody::Delete { path: path.into() };
        apply(core, zxid, body);
    }

    /// Reads every chunk by polling (as a SNAP stream does) until the end.
    fn poll_all(reader: &mut FeedReader, snapshots: &mut Snapshots, core: &mut Core) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            match reader.poll_chunk() {
                SnapshotChunk::Data(chunk) => out.extend_from_slice(&chunk),
                SnapshotChunk::NotYet => snapshots.step(core),
                SnapshotChunk::End => return out,
                SnapshotChunk::Failed(why) => panic!("snapshot failed: {why}"),
            }
        }
        panic!("the snapshot never ended");
    }

    #[test]
    fn a_snapshot_read_while_txns_apply_is_the_state_at_its_zxid_for_every_reader() {
        let mut core = core();
        // About 3 MiB of data: several chunks.
        for i in 1..=3000 {
            create(&mut core, Zxid(i), &format!("/n{i}"), 1000);
        }
        let expected = core.state().tree().digest();
        let mut snapshots = Snapshots::default();
        let mut first = snapshots.reader(&mut core);
        assert!(snapshots.producing());
        // A second reader of the same zxid shares the production.
        let mut second = snapshots.reader(&mut core);
        // A blocking reader on another thread (the local snapshot file's writer).
        let mut blocking = snapshots.reader(&mut core);
        let waiter = std::thread::spawn(move || {
            let mut out = Vec::new();
            while let Some(chunk) = blocking.wait_chunk().expect("no failure") {
                out.extend_from_slice(&chunk);
            }
            out
        });
        snapshots.step(&mut core);
        // Changes after the snapshot's zxid: not in it.
        for i in 1..=1000 {
            delete(&mut core, Zxid(3000 + i), &format!("/n{i}"));
        }
        create(&mut core, Zxid(4001), "/later", 10);
        let a = poll_all(&mut first, &mut snapshots, &mut core);
        let b = poll_all(&mut second, &mut snapshots, &mut core);
        let c = waiter.join().expect("the blocking reader");
        assert!(!snapshots.producing());
        assert_eq!(a, b);
        assert_eq!(a, c);
        let (tree, _) = parse_snapshot_payload(&a, Default::default()).expect("parses");
        assert_eq!(tree.digest(), expected);
        assert_eq!(tree.last_zxid(), Zxid(3000));
        assert!(tree.get_data("/n1").is_ok());
        assert!(tree.get_data("/later").is_err());
        // Every chunk but the last is whole.
        assert!(a.len() > 2 * SNAPSHOT_CHUNK);
    }

    #[test]
    fn a_reader_at_another_zxid_while_one_is_produced_gets_a_whole_one() {
        let mut core = core();
        create(&mut core, Zxid(1), "/a", 10);
        let mut snapshots = Snapshots::default();
        let mut first = snapshots.reader(&mut core);
        create(&mut core, Zxid(2), "/b", 10);
        let mut second = snapshots.reader(&mut core);
        assert!(
            matches!(second.poll_chunk(), SnapshotChunk::Data(_)),
            "already complete"
        );
        let a = poll_all(&mut first, &mut snapshots, &mut core);
        let (tree, _) = parse_snapshot_payload(&a, Default::default()).expect("parses");
        assert_eq!(tree.last_zxid(), Zxid(1));
        assert!(tree.get_data("/b").is_err());
        let mut again = snapshots.reader(&mut core);
        let b = poll_all(&mut again, &mut snapshots, &mut core);
        let (tree, _) = parse_snapshot_payload(&b, Default::default()).expect("parses");
        assert_eq!(tree.last_zxid(), Zxid(2));
    }

    #[test]
    fn readers_fail_when_the_state_is_replaced_or_the_producer_goes() {
        let mut core = core();
        create(&mut core, Zxid(1), "/a", 10);
        let mut snapshots = Snapshots::default();
        let mut reader = snapshots.reader(&mut core);
        snapshots.abandon(&mut core, "replaced");
        assert_eq!(
            reader.poll_chunk(),
            SnapshotChunk::Failed("replaced".into())
        );
        // The tree's incremental snapshot was dropped: a new one can start.
        let mut next = snapshots.reader(&mut core);
        assert!(snapshots.producing());
        drop(snapshots);
        assert!(next.wait_chunk().is_err(), "a blocking reader is released");
    }

    #[test]
    fn a_snapshot_nobody_reads_any_more_stops_being_produced() {
        let mut core = core();
        create(&mut core, Zxid(1), "/a", 10);
        let mut snapshots = Snapshots::default();
        drop(snapshots.reader(&mut core));
        snapshots.step(&mut core);
        assert!(!snapshots.producing());
        assert!(!core.state().tree().snapshot_in_progress());
    }

    #[test]
    fn chunks_every_reader_has_read_are_dropped_and_later_readers_get_a_whole_snapshot() {
        let mut core = core();
        for i in 1..=3000 {
            create(&mut core, Zxid(i), &format!("/n{i}"), 1000);
        }
        let mut snapshots = Snapshots::default();
        let mut fast = snapshots.reader(&mut core);
        let mut slow = snapshots.reader(&mut core);
        let feed = Arc::clone(snapshots.producing.as_ref().expect("producing").feed());
        snapshots.step(&mut core);
        snapshots.step(&mut core);
        assert!(matches!(fast.poll_chunk(), SnapshotChunk::Data(_)));
        assert!(matches!(fast.poll_chunk(), SnapshotChunk::Data(_)));
        assert_eq!(
            feed.produced.lock().base,
            0,
            "the slow reader has read none"
        );
        assert!(matches!(slow.poll_chunk(), SnapshotChunk::Data(_)));
        assert_eq!(feed.produced.lock().base, 1, "both have read the first");
        drop(slow);
        assert_eq!(feed.produced.lock().base, 2, "the one left has read two");
        // A reader of the same zxid can no longer start from the first chunk: it gets a
        // whole snapshot of its own, equal to the shared one.
        let mut late = snapshots.reader(&mut core);
        let whole = poll_all(&mut late, &mut snapshots, &mut core);
        let mut rest = Vec::new();
        let mut fresh = Snapshots::default();
        let mut again = fresh.reader(&mut core);
        rest.extend(poll_all(&mut again, &mut fresh, &mut core));
        assert_eq!(whole, rest);
        drop(fast);
    }
}
