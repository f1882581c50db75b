//! A client connection's outbox: the frames the owner loop queued for it and not yet written,
//! and when its reader may read. Shared by three parties: the owner loop queues frames and
//! sets the throttle, the connection's writer takes frames and writes them, the connection's
//! reader waits here before each read.
//!
//! Back-pressure. The reader reads again only when (1) the frames it handed to the owner
//! were handled (so the replies they caused are counted here), (2) the connection is not
//! throttled by the server's `globalOutstandingLimit` (ZooKeeper's disableRecv), and (3) the
//! bytes queued for it and not written are at most [`UNSENT_LIMIT`]. A client that sends
//! requests and never reads its socket therefore stops being read once that much is owed to
//! it. The owner also stops within a batch: once the replies it queued pass the limit, the
//! batch's other frames are handed back to the reader, which sends them again when the
//! client has read enough. So what the server holds for such a client is the limit plus one
//! reply (and the watch events it is owed, never dropped), whatever the ratio of reply to
//! request sizes. Nothing queued is ever dropped.
//!
//! Buffer pinning. The core encodes replies as slices of a shared block (cheap on the fast
//! path, where the writer copies them into its buffer within the turn). A frame still queued
//! after the turn that produced it belongs to a connection that is behind: at the end of the
//! next turn the owner copies such frames into one buffer of their exact size
//! ([`Outbox::compact`]), so a slow connection holds what it is owed and no more; the shared
//! blocks are freed.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::owner::InFrame;

/// Unsent bytes past which a connection is no longer read: 1 MiB. Large enough for the
/// largest reply of ZooKeeper's default `jute.maxbuffer` (1 MiB, one getData) to be queued
/// while the client keeps reading, so a reading client is never paused by one big reply;
/// small next to what the kernel's own socket buffers hold for a connection that does not
/// read (several MiB on Linux), so it adds little to the worst case.
pub(crate) const UNSENT_LIMIT: usize = 1 << 20;

/// The most the reader reads from the socket at once (so one read's requests, and the
/// replies they cause, are bounded too).
pub(crate) const READ_LIMIT: usize = 64 << 10;

#[derive(Debug, Default)]
struct State {
    /// Frames queued, oldest first.
    frames: VecDeque<Bytes>,
    /// Their bytes.
    queued: usize,
    /// Bytes the writer took and has not written yet.
    writing: usize,
    /// How many frames at the front are owned copies (see [`Outbox::compact`]).
    owned: usize,
    /// How many frames at the back were queued in the current turn.
    this_turn: usize,
    /// Flush, then close.
    close: bool,
    /// The owner dropped the connection: the writer stops once the queue is empty.
    gone: bool,
    /// A batch of frames is with the owner, not handled yet.
    in_core: bool,
    /// disableRecv.
    throttled: bool,
    /// Frames the owner did not handle (the connection owed too much): the reader sends
    /// them again, before anything else, once it may.
    returned: Vec<InFrame>,
}

impl State {
    fn unsent(&self) -> usize {
        self.queued + self.writing
    }

    fn may_read(&self) -> bool {
        !self.in_core && !self.throttled && self.unsent() <= UNSENT_LIMIT
    }
}

/// What the writer gets from [`Outbox::take`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// Bytes were appended to the buffer: write them, then call [`Outbox::written`].
    Write,
    /// Everything was written: close the connection.
    Close,
}

/// One connection's outbox.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
    /// The writer waits here for frames.
    to_writer: Notify,
    /// The reader waits here to read again.
    to_reader: Notify,
    /// The writer's flush waits here for a close.
    to_closer: Notify,
}

impl Outbox {
    /// Queues a frame (the owner). Returns whether it is the first of this turn.
    pub(crate) fn push(&self, frame: Bytes) -> bool {
        let mut s = self.state.lock();
        if s.close || s.gone {
            return false;
        }
        s.queued += frame.len();
        s.frames.push_back(frame);
        s.this_turn += 1;
        let first_queued = s.frames.len() == 1;
        let first_of_turn = s.this_turn == 1;
        drop(s);
        if first_queued {
            self.to_writer.notify_one();
        }
        first_of_turn
    }

    /// Flush what is queued, then close (the owner).
    pub(crate) fn close(&self) {
        self.state.lock().close = true;
        self.to_writer.notify_one();
        self.to_closer.notify_one();
    }

    /// The owner forgot the connection: the writer ends once it has written what is queued,
    /// and the reader stops waiting.
    pub(crate) fn gone(&self) {
        let mut s = self.state.lock();
        s.gone = true;
        s.in_core = false;
        s.throttled = false;
        drop(s);
        self.to_writer.notify_one();
        self.to_reader.notify_one();
        self.to_closer.notify_one();
    }

    /// Resolves once the connection is to be closed or the owner forgot it (the writer then
    /// gives its last flush a limited time).
    pub(crate) async fn closing(&self) {
        loop {
            let wake = self.to_closer.notified();
            {
                let s = self.state.lock();
                if s.close || s.gone {
                    return;
                }
            }
            wake.await;
        }
    }

    /// Throttle the reader or let it go (the owner: disableRecv / enableRecv).
    pub(crate) fn set_throttled(&self, on: bool) {
        self.state.lock().throttled = on;
        if !on {
            self.to_reader.notify_one();
        }
    }

    /// The reader handed a batch of frames to the owner.
    pub(crate) fn batch_sent(&self) {
        self.state.lock().in_core = true;
    }

    /// The owner handled the reader's batch and queued what it caused.
    pub(crate) fn batch_handled(&self) {
        self.state.lock().in_core = false;
        self.to_reader.notify_one();
    }

    /// Frames of the reader's batch the owner left unhandled, the connection being owed
    /// [`UNSENT_LIMIT`] bytes already (the owner).
    pub(crate) fn hand_back(&self, frames: impl Iterator<Item = InFrame>) {
        self.state.lock().returned.extend(frames);
    }

    /// The frames handed back, to send again first (the reader).
    pub(crate) fn take_returned(&self) -> Vec<InFrame> {
        std::mem::take(&mut self.state.lock().returned)
    }

    /// Whether frames were handed back (the reader then sends them before reading more).
    pub(crate) fn has_returned(&self) -> bool {
        !self.state.lock().returned.is_empty()
    }

    /// Waits until the reader may read (see the module's doc); at once when the owner is
    /// gone (the reader then reads the end of the stream or is stopped).
    pub(crate) async fn readable(&self) {
        loop {
            let wake = self.to_reader.notified();
            {
                let s = self.state.lock();
                if s.gone || s.may_read() {
                    return;
                }
            }
            wake.await;
        }
    }

    /// Moves queued frames into `out`, up to about `max` bytes (the writer); waits for
    /// frames when none is queued. `None`: the owner is gone and nothing is left to write.
    pub(crate) async fn take(&self, out: &mut BytesMut, max: usize) -> Option<Take> {
        loop {
            let wake = self.to_writer.notified();
            {
                let mut s = self.state.lock();
                if !s.frames.is_empty() {
                    let (mut took, mut popped) = (0, 0);
                    while let Some(frame) = s.frames.pop_front() {
                        took += frame.len();
                        popped += 1;
                        out.extend_from_slice(&frame);
                        if out.len() >= max {
                            break;
                        }
                    }
                    s.queued -= took;
                    s.writing += took;
                    s.owned = s.owned.saturating_sub(popped);
                    s.this_turn = s.this_turn.min(s.frames.len());
                    return Some(Take::Write);
                }
                if s.close {
                    return Some(Take::Close);
                }
                if s.gone {
                    return None;
                }
            }
            wake.await;
        }
    }

    /// `n` bytes taken were written (the writer).
    pub(crate) fn written(&self, n: usize) {
        let mut s = self.state.lock();
        let before = s.unsent();
        s.writing = s.writing.saturating_sub(n);
        let wake = before > UNSENT_LIMIT && s.may_read();
        drop(s);
        if wake {
            self.to_reader.notify_one();
        }
    }

    /// The turn ended (the owner): frames queued in an earlier turn that the writer has
    /// still not taken are copied into one buffer of their size, releasing the shared
    /// blocks they were cut from. Returns whether frames are still queued.
    pub(crate) fn compact(&self) -> bool {
        let mut s = self.state.lock();
        let old_end = s.frames.len() - s.this_turn;
        if old_end > s.owned {
            let from = s.owned;
            let bytes: usize = s.frames.range(from..old_end).map(Bytes::len).sum();
            let mut copy = BytesMut::with_capacity(bytes);
            for frame in s.frames.drain(from..old_end) {
                copy.extend_from_slice(&frame);
            }
            s.frames.insert(from, copy.freeze());
            s.owned = from + 1;
        }
        s.this_turn = 0;
        !s.frames.is_empty()
    }

    /// Bytes queued and not written yet.
    pub(crate) fn unsent(&self) -> usize {
        self.state.lock().unsent()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;

    /// Whether `f` is ready at its first poll.
    fn ready<F: Future>(f: F) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        matches!(pin!(f).poll(&mut cx), Poll::Ready(_))
    }

    /// Whether `frame`'s bytes lie inside `block`.
    fn inside(frame: &Bytes, block: &Bytes) -> bool {
        let (start, end) = (
            block.as_ptr() as usize,
            block.as_ptr() as usize + block.len(),
        );
        let at = frame.as_ptr() as usize;
        at >= start && at < end
    }

    fn frames_of(outbox: &Outbox) -> Vec<Bytes> {
        outbox.state.lock().frames.iter().cloned().collect()
    }

    /// A shared 64 KiB block and three small frames cut from it, as the core's replies are.
    fn block() -> (Bytes, Vec<Bytes>) {
        let block = Bytes::from(vec![7u8; 64 << 10]);
        let frames = vec![block.slice(0..10), block.slice(10..30), block.slice(30..60)];
        (block, frames)
    }

    #[test]
    fn frames_the_writer_takes_in_their_turn_are_never_copied() {
        let outbox = Outbox::default();
        let (block, frames) = block();
        for f in &frames {
            outbox.push(f.clone());
        }
        let mut out = BytesMut::new();
        assert!(ready(outbox.take(&mut out, WRITE_MAX)));
        assert_eq!(out.len(), 60);
        assert!(!outbox.compact(), "nothing left queued");
        // Pushed again and left queued through the end of their own turn: still shared.
        for f in &frames {
            outbox.push(f.clone());
        }
        assert!(outbox.compact());
        assert!(frames_of(&outbox).iter().all(|f| inside(f, &block)));
    }

    #[test]
    fn frames_queued_past_their_turn_are_copied_into_one_buffer_of_their_size() {
        let outbox = Outbox::default();
        let (block, frames) = block();
        outbox.push(frames[0].clone());
        outbox.push(frames[1].clone());
        assert!(outbox.compact(), "end of their turn: kept as they are");
        outbox.push(frames[2].clone());
        assert!(outbox.compact(), "end of the next turn");
        let held = frames_of(&outbox);
        assert_eq!(held.len(), 2, "{held:?}");
        assert!(!inside(&held[0], &block), "the old frames are a copy");
        assert_eq!(held[0].len(), 30);
        assert_eq!(held[0], [&frames[0][..], &frames[1][..]].concat());
        assert!(inside(&held[1], &block), "this turn's frame is left alone");
        // One more turn: the last frame is copied too, the first copy is not copied again.
        let first = held[0].as_ptr();
        drop(held);
        assert!(outbox.compact());
        let held = frames_of(&outbox);
        assert_eq!(held.len(), 2);
        assert_eq!(held[0].as_ptr(), first);
        assert!(!inside(&held[1], &block));
        drop(frames);
        // Nothing of the block is held any more: only the test's own handle.
        assert!(block.is_unique());
        // And the writer gets every byte, in order.
        let mut out = BytesMut::new();
        assert!(ready(outbox.take(&mut out, WRITE_MAX)));
        assert_eq!(&out[..], &[7u8; 60][..]);
    }

    #[test]
    fn the_reader_waits_for_its_batch_to_be_handled() {
        let outbox = Outbox::default();
        assert!(ready(outbox.readable()));
        outbox.batch_sent();
        assert!(!ready(outbox.readable()));
        outbox.batch_handled();
        assert!(ready(outbox.readable()));
    }

    #[test]
    fn a_throttled_reader_waits_for_enable_recv() {
        let outbox = Outbox::default();
        outbox.set_throttled(true);
        assert!(!ready(outbox.readable()));
        outbox.set_throttled(false);
        assert!(ready(outbox.readable()));
    }

    #[test]
    fn the_reader_waits_while_more_than_the_limit_is_unsent() {
        let outbox = Outbox::default();
        outbox.push(Bytes::from(vec![0u8; UNSENT_LIMIT]));
        assert!(ready(outbox.readable()), "at the limit");
        outbox.push(Bytes::from_static(b"x"));
        assert!(!ready(outbox.readable()), "past it");
        // Taken by the writer is not written yet.
        let mut out = BytesMut::new();
        assert!(ready(outbox.take(&mut out, usize::MAX)));
        assert_eq!(outbox.unsent(), UNSENT_LIMIT + 1);
        assert!(!ready(outbox.readable()));
        outbox.written(out.len());
        assert_eq!(outbox.unsent(), 0);
        assert!(ready(outbox.readable()));
    }

    #[test]
    fn close_flushes_first_and_gone_ends_the_writer() {
        let outbox = Outbox::default();
        outbox.push(Bytes::from_static(b"abc"));
        outbox.close();
        outbox.push(Bytes::from_static(b"late"));
        let mut out = BytesMut::new();
        assert!(ready(outbox.closing()));
        let mut cx = Context::from_waker(Waker::noop());
        let first = pin!(outbox.take(&mut out, WRITE_MAX)).poll(&mut cx);
        assert_eq!(first, Poll::Ready(Some(Take::Write)));
        assert_eq!(&out[..], b"abc");
        let next = pin!(outbox.take(&mut out, WRITE_MAX)).poll(&mut cx);
        assert_eq!(next, Poll::Ready(Some(Take::Close)));

        let outbox = Outbox::default();
        assert!(!ready(outbox.closing()));
        outbox.batch_sent();
        outbox.gone();
        assert!(ready(outbox.readable()));
        let next = pin!(outbox.take(&mut out, WRITE_MAX)).poll(&mut cx);
        assert_eq!(next, Poll::Ready(None));
    }

    const WRITE_MAX: usize = 1 << 20;
}
