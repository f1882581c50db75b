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

    /// Sends the next chunks of every stream; a finished stream releases what it held.
    pub(crate) fn pump(&mut self, net: &mut impl Transport) {
        let mut done = Vec::new();
        for (&to, s) in self.streams.iter_mut() {
            for _ in 0..self.chunks_per_pump {
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
    }

    /// The stream to `peer` broke: forget what was going to it.
    pub(crate) fn forget(&mut self, peer: PeerId) {
        self.streams.remove(&peer);
    }
}
