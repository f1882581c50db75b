//! Frames on their way out: per peer, a snapshot stream being sent (SNAP chunks pulled
//! from the state machine's snapshot a few at a time, as they are produced) holds back every
//! later message to that peer, so the stream stays in the order the engine asked for.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use corral_zab::{Message, PeerId};

use crate::codec;
use crate::traits::{SnapshotChunk, SnapshotSource, Transport};

struct Stream<I> {
    source: I,
    /// The next chunk to send, held until the one after it (or the end) is known, so that
    /// the last chunk goes out marked `last`.
    ahead: Option<Bytes>,
    held: VecDeque<Message>,
}

/// What a stream can send next.
enum Next {
    Chunk { data: Bytes, last: bool },
    NotYet,
    Failed(String),
}

impl<I: SnapshotSource> Stream<I> {
    fn next(&mut self) -> Next {
        if self.ahead.is_none() {
            match self.source.poll_chunk() {
                SnapshotChunk::Data(data) => self.ahead = Some(data),
                SnapshotChunk::NotYet => return Next::NotYet,
                // An empty snapshot: one empty chunk, the last.
                SnapshotChunk::End => {
                    return Next::Chunk {
                        data: Bytes::new(),
                        last: true,
                    }
                }
                SnapshotChunk::Failed(why) => return Next::Failed(why),
            }
        }
        let last = match self.source.poll_chunk() {
            SnapshotChunk::Data(after) => {
                let data = self.ahead.replace(after).unwrap_or_default();
                return Next::Chunk { data, last: false };
            }
            SnapshotChunk::NotYet => return Next::NotYet,
            SnapshotChunk::End => true,
            SnapshotChunk::Failed(why) => return Next::Failed(why),
        };
        Next::Chunk {
            data: self.ahead.take().unwrap_or_default(),
            last,
        }
    }
}

/// The outbound side of one server.
pub(crate) struct Outbound<I> {
    streams: BTreeMap<PeerId, Stream<I>>,
    /// Chunks sent per peer per [`Outbound::pump`].
    pub(crate) chunks_per_pump: usize,
}

impl<I: SnapshotSource> Outbound<I> {
    pub(crate) fn new(chunks_per_pump: usize) -> Self {
        Outbound {
            streams: BTreeMap::new(),
            chunks_per_pump: chunks_per_pump.max(1),
        }
    }

    /// Sends `msg` to `to`, after the snapshot stream to `to` if one is running.
    pub(crate) fn send(&mut self, net: &mut impl Transport, to: PeerId, msg: Message) {
        match self.streams.get_mut(&to) {
            Some(s) => s.held.push_back(msg),
            None => net.send(to, codec::encode(&msg)),
        }
    }

    /// The chunks of a snapshot go to `to` next (right after the SNAP header just sent).
    pub(crate) fn start_stream(&mut self, to: PeerId, source: I) {
        self.streams.insert(
            to,
            Stream {
                source,
                ahead: None,
                held: VecDeque::new(),
            },
        );
    }

    /// Is a snapshot still streaming to someone?
    pub(crate) fn busy(&self) -> bool {
        !self.streams.is_empty()
    }

    /// Sends the next chunks of every stream, while the transport has room and they are
    /// produced; a finished stream releases what it held. A snapshot that fails resets the
    /// link to its learner (which then syncs again) and drops what it held. Returns whether
    /// any chunk went out.
    pub(crate) fn pump(&mut self, net: &mut impl Transport) -> bool {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        let mut sent = false;
        for (&to, s) in self.streams.iter_mut() {
            for _ in 0..self.chunks_per_pump {
                if !net.has_room(to) {
                    break;
                }
                match s.next() {
                    Next::Chunk { data, last } => {
                        net.send(to, codec::encode(&Message::SnapChunk { data, last }));
                        sent = true;
                        if last {
                            done.push(to);
                            break;
                        }
                    }
                    Next::NotYet => break,
                    Next::Failed(why) => {
                        tracing::warn!(peer = to, error = %why, "snapshot for a learner failed");
                        failed.push(to);
                        break;
                    }
                }
            }
        }
        for to in done {
            if let Some(s) = self.streams.remove(&to) {
                for msg in s.held {
                    net.send(to, codec::encode(&msg));
                }
            }
        }
        for to in failed {
            self.streams.remove(&to);
            net.reset(to);
        }
        sent
    }

    /// The stream to `peer` broke: forget what was going to it.
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.streams.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Queue {
        sent: Vec<(PeerId, Message)>,
        room: bool,
    }

    impl Transport for Queue {
        fn send(&mut self, to: PeerId, frame: Bytes) {
            if let Ok(m) = codec::decode(frame) {
                self.sent.push((to, m));
            }
        }
        fn reset(&mut self, _: PeerId) {}
        fn has_room(&self, _: PeerId) -> bool {
            self.room
        }
    }

    fn chunk(data: &'static [u8], last: bool) -> Message {
        Message::SnapChunk {
            data: Bytes::from_static(data),
            last,
        }
    }

    #[test]
    fn chunks_wait_for_room_and_later_messages_wait_for_the_chunks() {
        let mut net = Queue {
            sent: Vec::new(),
            room: false,
        };
        let mut out = Outbound::new(2);
        let snap = Message::Snap {
            zxid: corral_zab::Zxid::new(1, 5),
        };
        out.send(&mut net, 7, snap.clone());
        let chunks = vec![
            Bytes::from_static(b"a"),
            Bytes::from_static(b"b"),
            Bytes::from_static(b"c"),
        ];
        out.start_stream(7, chunks.into_iter());
        out.send(&mut net, 7, Message::Ping);
        out.send(&mut net, 8, Message::Ping);
        assert!(!out.pump(&mut net), "no room: nothing sent");
        assert_eq!(net.sent, vec![(7, snap.clone()), (8, Message::Ping)]);
        net.room = true;
        assert!(out.pump(&mut net));
        assert!(out.busy(), "two chunks per pump");
        assert!(out.pump(&mut net));
        assert!(!out.busy());
        assert_eq!(
            net.sent,
            vec![
                (7, snap),
                (8, Message::Ping),
                (7, chunk(b"a", false)),
                (7, chunk(b"b", false)),
                (7, chunk(b"c", true)),
                (7, Message::Ping),
            ]
        );
    }

    /// A source whose chunks appear when the test produces them, or fail.
    struct Lazy(std::sync::Arc<std::sync::Mutex<VecDeque<SnapshotChunk>>>);

    impl SnapshotSource for Lazy {
        fn poll_chunk(&mut self) -> SnapshotChunk {
            let mut q = self.0.lock().unwrap_or_else(|e| e.into_inner());
            match q.front() {
                None => SnapshotChunk::NotYet,
                Some(SnapshotChunk::End | SnapshotChunk::Failed(_)) => {
                    q.front().cloned().unwrap_or(SnapshotChunk::NotYet)
                }
                Some(_) => q.pop_front().unwrap_or(SnapshotChunk::NotYet),
            }
        }
        fn wait_chunk(&mut self) -> Result<Option<Bytes>, String> {
            Err("not used".into())
        }
    }

    #[test]
    fn chunks_not_produced_yet_wait_and_the_last_is_marked_when_the_end_is_known() {
        let mut net = Queue {
            sent: Vec::new(),
            room: true,
        };
        let queue = std::sync::Arc::new(std::sync::Mutex::new(VecDeque::new()));
        let mut out = Outbound::new(8);
        out.start_stream(7, Lazy(queue.clone()));
        out.send(&mut net, 7, Message::Ping);
        assert!(!out.pump(&mut net), "nothing produced yet");
        let produce = |c: SnapshotChunk| queue.lock().unwrap().push_back(c);
        produce(SnapshotChunk::Data(Bytes::from_static(b"a")));
        assert!(
            !out.pump(&mut net),
            "`a` waits until it is known whether it is the last"
        );
        produce(SnapshotChunk::Data(Bytes::from_static(b"b")));
        assert!(out.pump(&mut net));
        assert_eq!(net.sent, vec![(7, chunk(b"a", false))]);
        produce(SnapshotChunk::End);
        assert!(out.pump(&mut net));
        assert!(!out.busy());
        assert_eq!(
            net.sent,
            vec![
                (7, chunk(b"a", false)),
                (7, chunk(b"b", true)),
                (7, Message::Ping)
            ]
        );
    }

    #[test]
    fn a_failed_snapshot_resets_the_learner_and_drops_what_it_held() {
        struct Resets {
            sent: Vec<PeerId>,
            reset: Vec<PeerId>,
        }
        impl Transport for Resets {
            fn send(&mut self, to: PeerId, _: Bytes) {
                self.sent.push(to);
            }
            fn reset(&mut self, peer: PeerId) {
                self.reset.push(peer);
            }
            fn has_room(&self, _: PeerId) -> bool {
                true
            }
        }
        let mut net = Resets {
            sent: Vec::new(),
            reset: Vec::new(),
        };
        let queue = std::sync::Arc::new(std::sync::Mutex::new(VecDeque::from([
            SnapshotChunk::Data(Bytes::from_static(b"a")),
            SnapshotChunk::Failed("tree replaced".into()),
        ])));
        let mut out = Outbound::new(8);
        out.start_stream(7, Lazy(queue));
        out.send(&mut net, 7, Message::Ping);
        assert!(!out.pump(&mut net));
        assert!(!out.busy());
        assert_eq!(
            net.sent,
            Vec::<PeerId>::new(),
            "no chunk and not the held ping"
        );
        assert_eq!(net.reset, vec![7]);
    }

    #[test]
    fn an_empty_snapshot_is_one_empty_last_chunk() {
        let mut net = Queue {
            sent: Vec::new(),
            room: true,
        };
        let mut out = Outbound::new(2);
        out.start_stream(7, Vec::<Bytes>::new().into_iter());
        assert!(out.pump(&mut net));
        assert_eq!(net.sent, vec![(7, chunk(b"", true))]);
    }
}
