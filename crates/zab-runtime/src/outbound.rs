//! Frames on their way out: per peer, a snapshot stream being sent (SNAP chunks pulled
//! from the state machine's snapshot a few at a time) holds back every later message to
//! that peer, so the stream stays in the order the engine asked for.

use std::collections::{BTreeMap, VecDeque};
use std::iter::Peekable;

use bytes::Bytes;
use corral_zab::{Message, PeerId};

use crate::codec;
use crate::traits::Transport;

struct Stream<I: Iterator<Item = Bytes>> {
    chunks: Peekable<I>,
    started: bool,
    held: VecDeque<Message>,
}

/// The outbound side of one server.
pub(crate) struct Outbound<I: Iterator<Item = Bytes>> {
    streams: BTreeMap<PeerId, Stream<I>>,
    /// Chunks sent per peer per [`Outbound::pump`].
    pub(crate) chunks_per_pump: usize,
}

impl<I: Iterator<Item = Bytes>> Outbound<I> {
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
    pub(crate) fn start_stream(&mut self, to: PeerId, chunks: I) {
        self.streams.insert(
            to,
            Stream {
                chunks: chunks.peekable(),
                started: false,
                held: VecDeque::new(),
            },
        );
    }

    /// Is a snapshot still streaming to someone?
    pub(crate) fn busy(&self) -> bool {
        !self.streams.is_empty()
    }

    /// Sends the next chunks of every stream, while the transport has room; a finished
    /// stream releases what it held. Returns whether any chunk went out.
    pub(crate) fn pump(&mut self, net: &mut impl Transport) -> bool {
        let mut done = Vec::new();
        let mut sent = false;
        for (&to, s) in self.streams.iter_mut() {
            for _ in 0..self.chunks_per_pump {
                if !net.has_room(to) {
                    break;
                }
                let data = s.chunks.next();
                if data.is_none() && s.started {
                    break;
                }
                s.started = true;
                let last = s.chunks.peek().is_none();
                let msg = Message::SnapChunk {
                    data: data.unwrap_or_default(),
                    last,
                };
                net.send(to, codec::encode(&msg));
                sent = true;
                if last {
                    done.push(to);
                    break;
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
}
