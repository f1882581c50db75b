//! The owner loop: the one task that owns the [`Core`]. Connection tasks, the log writer's
//! durability callback and the snapshot thread send it messages; it reads the clock, hands
//! each input to the core and carries out the effects the core returns (frames to the
//! connections' writers, txns to the log writer, snapshot chunks to the snapshot thread). It
//! also keeps the session ticker and the container check. Nothing else touches the core.

use corral_zxid::Zxid;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corral_datatree::SnapshotProgress;
use tokio::sync::mpsc::{self, Receiver, UnboundedReceiver, UnboundedSender};

use crate::outbox::{Outbox, UNSENT_LIMIT};
use tokio::sync::oneshot;

use crate::core::conns::Transport;
use crate::core::{AdminIo, ConnId, Core, Effect, FourLetterIo, Input, Nonce, Now};
use crate::durability::{
    Durability, SnapshotChunk, SNAPSHOT_STEP_BYTES, SNAPSHOT_STEP_RECORDS, SNAPSHOT_SUBSTEP_RECORDS,
};

/// Reads the clocks the core needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    pub(crate) fn now(&self) -> Now {
        let wall_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Now {
            mono_us: u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX),
            wall_ms,
        }
    }
}

/// Random bytes from the OS (SASL nonces, the snapshot jitter). `false`, with an error
/// logged and `buf` zeroed, when the OS has none: a caller that needs unpredictable bytes
/// (a SASL nonce) must then refuse, never go on with zeros.
pub(crate) fn os_random(buf: &mut [u8]) -> bool {
    use std::io::Read;
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
    match read {
        Ok(()) => true,
        Err(e) => {
            tracing::error!("no random bytes from /dev/urandom: {e}");
            buf.fill(0);
            false
        }
    }
}

/// A random draw in `0..bound` (the snapshot jitter; ZooKeeper's SyncRequestProcessor).
pub(crate) fn random_below(bound: u64) -> u64 {
    let mut b = [0u8; 8];
    // Without the OS's randomness the jitter is 0 (logged): snapshots stay correct.
    let _ = os_random(&mut b);
    u64::from_le_bytes(b) % bound.max(1)
}

/// A frame from a client, with a nonce when it is a sasl request.
pub(crate) type InFrame = (Bytes, Option<Nonce>);

/// A message to the owner.
pub(crate) enum ToCore {
    /// A new connection; the answer is its id and the queue its writer drains, or `None`
    /// when refused (maxClientCnxns).
    Open {
        remote: SocketAddr,
        transport: Transport,
        reply: oneshot::Sender<Option<(ConnId, Arc<Outbox>)>>,
    },
    /// Every complete frame a connection had ready, with a nonce for each sasl request.
    Frames { conn: ConnId, frames: Vec<InFrame> },
    /// The connection is gone.
    Closed { conn: ConnId },
    /// A four-letter word.
    FourLetter {
        word: &'static str,
        remote: SocketAddr,
        io: FourLetterIo,
        reply: oneshot::Sender<String>,
    },
    /// An AdminServer command (crate::admin), with its request's query and what was measured
    /// for it; the answer is its JSON object.
    Admin {
        name: String,
        args: Vec<(String, String)>,
        io: AdminIo,
        reply: oneshot::Sender<serde_json::Map<String, serde_json::Value>>,
    },
    /// Prometheus's `/metrics` page (what the I/O layer measured comes with it).
    Metrics {
        io: FourLetterIo,
        reply: oneshot::Sender<String>,
    },
    /// Stop: the owner ends, stopping the log writer.
    Stop,
}

/// The snapshot being written: the channel to its thread while the tree is still being
/// serialised, and the thread.
struct SnapshotJob {
    chunks: Option<mpsc::Sender<SnapshotChunk>>,
    thread: JoinHandle<()>,
}

/// The owner's settings.
pub(crate) struct OwnerSettings {
    pub(crate) tick: Duration,
    pub(crate) container_check: Duration,
    pub(crate) snap_roll_bound: u64,
}

/// At most this many messages are handled before the effects are carried out.
const BATCH: usize = 256;

/// The connections' outboxes: what carries out the core's effects on clients, and the
/// connection messages every owner loop (standalone or ensemble member) hands the core.
/// [`Writers::end_turn`] ends each turn of the loop, once its effects are carried out.
#[derive(Default)]
pub(crate) struct Writers {
    outboxes: HashMap<ConnId, Arc<Outbox>>,
    /// Connections whose batch of frames was handled this turn.
    handled: Vec<ConnId>,
    /// Connections given frames this turn, then those whose outbox still held frames at the
    /// end of the last turn.
    touched: Vec<ConnId>,
    backlogged: Vec<ConnId>,
}

impl Writers {
    /// Hands a connection's message to `core` (not [`ToCore::Stop`]).
    pub(crate) fn message(&mut self, core: &mut Core, clock: &Clock, msg: ToCore) {
        match msg {
            ToCore::Open {
                remote,
                transport,
                reply,
            } => {
                let opened = core
                    .open_connection(remote, transport, clock.now())
                    .map(|conn| {
                        let outbox = Arc::new(Outbox::default());
                        self.outboxes.insert(conn, Arc::clone(&outbox));
                        (conn, outbox)
                    });
                if let Err(Some((conn, _))) = reply.send(opened) {
                    self.gone(core, clock, conn);
                }
            }
            ToCore::Frames { conn, frames } => {
                let now = clock.now();
                let outbox = self.outboxes.get(&conn);
                // What may still be queued for the connection before it owes too much
                // (crate::outbox): past it, the frames left are handed back to its reader,
                // which sends them again once the client has read enough.
                let room =
                    outbox.map_or(u64::MAX, |o| UNSENT_LIMIT.saturating_sub(o.unsent()) as u64);
                let before = core.sent_bytes();
                let mut frames = frames.into_iter();
                while let Some((frame, nonce)) = frames.next() {
                    core.handle(Input::Frame { conn, frame, nonce }, now);
                    if core.sent_bytes() - before > room {
                        if let Some(outbox) = outbox {
                            outbox.hand_back(frames);
                        }
                        break;
                    }
                }
                self.handled.push(conn);
            }
            ToCore::Closed { conn } => self.gone(core, clock, conn),
            ToCore::FourLetter {
                word,
                remote,
                io,
                reply,
            } => {
                let text = core.four_letter_word(word, clock.now(), remote, &io);
                let _ = reply.send(text);
            }
            ToCore::Admin {
                name,
                args,
                io,
                reply,
            } => {
                let _ = reply.send(core.admin_command(&name, &args, clock.now(), &io));
            }
            ToCore::Metrics { io, reply } => {
                let _ = reply.send(core.prometheus_text(clock.now().mono_ms(), &io));
            }
            ToCore::Stop => {}
        }
    }

    fn gone(&mut self, core: &mut Core, clock: &Clock, conn: ConnId) {
        if let Some(outbox) = self.outboxes.remove(&conn) {
            outbox.gone();
        }
        core.handle(Input::Closed { conn }, clock.now());
    }

    /// Carries out a frame, a close or a throttle; any other effect is handed back.
    pub(crate) fn deliver(&mut self, effect: Effect) -> Option<Effect> {
        let conn = match &effect {
            Effect::Send { conn, .. }
            | Effect::Close { conn }
            | Effect::DisableRecv { conn }
            | Effect::EnableRecv { conn } => *conn,
            _ => return Some(effect),
        };
        // None: the connection is gone (it was closing).
        let outbox = self.outboxes.get(&conn)?;
        match effect {
            Effect::Send { frame, .. } => {
                let first_of_turn = outbox.push(frame);
                if first_of_turn {
                    self.touched.push(conn);
                }
            }
            Effect::Close { .. } => outbox.close(),
            Effect::DisableRecv { .. } => outbox.set_throttled(true),
            Effect::EnableRecv { .. } => outbox.set_throttled(false),
            _ => {}
        }
        None
    }

    /// The turn's effects were carried out: the readers whose frames were handled may read
    /// again, and frames that stayed queued through a whole turn are copied out of the
    /// blocks they share ([`Outbox::compact`]).
    pub(crate) fn end_turn(&mut self) {
        for conn in self.handled.drain(..) {
            if let Some(outbox) = self.outboxes.get(&conn) {
                outbox.batch_handled();
            }
        }
        let mut check = std::mem::take(&mut self.backlogged);
        check.append(&mut self.touched);
        check.sort_unstable();
        check.dedup();
        for conn in check {
            if let Some(outbox) = self.outboxes.get(&conn) {
                if outbox.compact() {
                    self.backlogged.push(conn);
                }
            }
        }
    }

    /// Drops every connection (the owner stops): their writers flush and end.
    pub(crate) fn clear(&mut self) {
        for (_, outbox) in self.outboxes.drain() {
            outbox.gone();
        }
    }
}

/// The owner: the core and what carries out its effects.
pub(crate) struct Owner {
    core: Core,
    clock: Clock,
    durability: Durability,
    writers: Writers,
    snapshot: Option<SnapshotJob>,
    /// Where the log writer and the snapshot thread report.
    events: UnboundedSender<Input>,
    settings: OwnerSettings,
    effects: Vec<Effect>,
}

impl Owner {
    pub(crate) fn new(
        core: Core,
        clock: Clock,
        durability: Durability,
        events: UnboundedSender<Input>,
        settings: OwnerSettings,
    ) -> Owner {
        Owner {
            core,
            clock,
            durability,
            writers: Writers::default(),
            snapshot: None,
            events,
            settings,
            effects: Vec::new(),
        }
    }

    /// Runs until [`ToCore::Stop`] (or every sender is gone), then stops the snapshot thread
    /// and the log writer.
    pub(crate) async fn run(
        mut self,
        mut inbox: Receiver<ToCore>,
        mut events: UnboundedReceiver<Input>,
    ) {
        let mut tick = tokio::time::interval(self.settings.tick);
        let mut reap = tokio::time::interval(self.settings.container_check);
        reap.tick().await;
        let mut stop = false;
        while !stop {
            let chunks = self.snapshot.as_ref().and_then(|s| s.chunks.clone());
            tokio::select! {
                biased;
                Some(event) = events.recv() => self.input(event),
                // One snapshot step per turn at most, so that a busy server still finishes it.
                Some(permit) = reserve(chunks.as_ref()) => self.snapshot_step(permit),
                // Before the inbox: under a load that keeps the inbox full, sessions must
                // still expire and containers be reaped (both rare and cheap).
                _ = tick.tick() => self.input(Input::Tick),
                _ = reap.tick() => self.input(Input::ReapContainers),
                msg = inbox.recv() => match msg {
                    None | Some(ToCore::Stop) => stop = true,
                    Some(msg) => self.message(msg),
                },
            }
            for _ in 0..BATCH {
                match inbox.try_recv() {
                    Ok(ToCore::Stop) => {
                        stop = true;
                        break;
                    }
                    Ok(msg) => self.message(msg),
                    Err(_) => break,
                }
            }
            while let Ok(event) = events.try_recv() {
                self.input(event);
            }
            self.carry_out();
            self.writers.end_turn();
        }
        drop(inbox);
        self.writers.clear();
        if let Some(job) = self.snapshot.take() {
            drop(job.chunks);
            let _ = job.thread.join();
        }
        self.durability.shutdown();
    }

    fn input(&mut self, input: Input) {
        if let Input::SnapshotFinished { .. } = input {
            if let Some(job) = self.snapshot.take() {
                let _ = job.thread.join();
            }
        }
        self.core.handle(input, self.clock.now());
    }

    fn message(&mut self, msg: ToCore) {
        self.writers.message(&mut self.core, &self.clock, msg);
    }

    /// Carries out the effects of what was handled, in order.
    fn carry_out(&mut self) {
        self.core.drain_effects(&mut self.effects);
        // The list keeps its capacity from turn to turn.
        let mut effects = std::mem::take(&mut self.effects);
        for effect in effects.drain(..) {
            match self.writers.deliver(effect) {
                None => {}
                Some(Effect::Log { zxid, txn }) => {
                    // ZooKeeper's proposal_process_time: prep's hand-over to the log.
                    let handing = std::time::Instant::now();
                    self.durability.append(zxid, txn);
                    let ms = u64::try_from(handing.elapsed().as_millis()).unwrap_or(u64::MAX);
                    self.core.record_proposal_process_time(ms);
                }
                Some(Effect::SnapshotBegun { zxid, sessions }) => {
                    self.start_snapshot(zxid, sessions)
                }
                Some(other) => tracing::error!("a standalone server cannot {other:?}"),
            }
        }
        self.effects = effects;
    }

    fn start_snapshot(&mut self, zxid: Zxid, sessions: std::collections::BTreeMap<i64, i32>) {
        let (tx, rx) = mpsc::channel(4);
        let events = self.events.clone();
        let bound = self.settings.snap_roll_bound;
        let finished = move |ok| {
            let _ = events.send(Input::SnapshotFinished {
                ok,
                next_roll: random_below(bound),
            });
        };
        match self.durability.write_snapshot(zxid, sessions, rx, finished) {
            Ok(thread) => {
                self.snapshot = Some(SnapshotJob {
                    chunks: Some(tx),
                    thread,
                })
            }
            Err(e) => {
                tracing::error!("cannot start the snapshot thread: {e}");
                let next_roll = random_below(bound);
                self.input(Input::SnapshotFinished {
                    ok: false,
                    next_roll,
                });
            }
        }
    }

    /// Serialises the next records of the snapshot and sends them to its thread.
    fn snapshot_step(&mut self, permit: mpsc::OwnedPermit<SnapshotChunk>) {
        let mut records = self.durability.snapshot_buffer();
        // Up to SNAPSHOT_STEP_RECORDS records, but no more than about SNAPSHOT_STEP_BYTES:
        // with 1 MB znodes a fixed count would copy hundreds of MB in one turn.
        let mut last = false;
        for _ in 0..SNAPSHOT_STEP_RECORDS / SNAPSHOT_SUBSTEP_RECORDS {
            match self
                .core
                .snapshot_step(SNAPSHOT_SUBSTEP_RECORDS, &mut records)
            {
                Ok(SnapshotProgress::Done) => {
                    last = true;
                    break;
                }
                Ok(SnapshotProgress::More) if records.len() >= SNAPSHOT_STEP_BYTES => break,
                Ok(SnapshotProgress::More) => {}
                Err(e) => {
                    tracing::error!("snapshot step failed: {e}");
                    // Dropping the channel abandons the file; the thread reports it.
                    if let Some(job) = self.snapshot.as_mut() {
                        job.chunks = None;
                    }
                    return;
                }
            }
        }
        permit.send(SnapshotChunk { records, last });
        if last {
            if let Some(job) = self.snapshot.as_mut() {
                job.chunks = None;
            }
        }
    }
}

/// A slot in the snapshot thread's channel; never resolves when no snapshot is being
/// serialised.
async fn reserve(
    chunks: Option<&mpsc::Sender<SnapshotChunk>>,
) -> Option<mpsc::OwnedPermit<SnapshotChunk>> {
    match chunks {
        Some(tx) => tx.clone().reserve_owned().await.ok(),
        None => std::future::pending().await,
    }
}
