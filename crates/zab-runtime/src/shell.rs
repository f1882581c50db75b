//! [`Runtime`]: the thin tokio shell around a [`Node`]. One task owns the node and turns
//! ticks, network events, durability reports and calls into the node's inputs; nothing
//! else decides anything here.

use std::time::Duration;

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, PeerId, Role, Status, Zxid};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::disk::{self, StorageDisk};
use crate::node::{Event, Node};
use crate::traits::{NetEvent, SnapshotSource, StateMachine, Transport};
use crate::RuntimeError;

/// What a server needs to run.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// The engine's configuration: my id, voters, observers, tick budgets.
    pub zab: Config,
    /// How long one tick lasts (ZooKeeper's `tickTime`).
    pub tick: Duration,
    /// Where the data lives (`dataDir`, `dataLogDir`).
    pub storage: StorageConfig,
    /// Take a snapshot every this many applied entries, then purge what is older than the
    /// newest three (ZooKeeper's snapCount and PurgeTxnLog); 0 never does.
    pub snap_count: u64,
}

type Build = Box<dyn FnOnce(Zxid) -> Bytes + Send>;
type Reply = oneshot::Sender<Result<Zxid, RuntimeError>>;

enum Cmd<S> {
    Propose(Build, Reply),
    Read(Box<dyn FnOnce(&S) + Send>),
}

/// Local snapshots and the purge after them, off the runtime's task: what [`Runtime`] does
/// every `snap_count` applied entries, for an embedder that drives a [`Node`] itself (call
/// [`Compaction::after_turn`] after each of its turns).
pub struct Compaction {
    files: SnapshotFiles,
    every: u64,
    /// Applied entries at the last snapshot taken.
    last: u64,
    /// The snapshot being written, if any.
    writing: Option<JoinHandle<()>>,
    /// Told of every snapshot written: its zxid and how long it took.
    on_written: Option<OnWritten>,
}

/// See [`Compaction::on_written`].
type OnWritten = std::sync::Arc<dyn Fn(Zxid, Duration) + Send + Sync>;

/// Where local snapshots go, and the log they let go of.
#[derive(Clone)]
struct SnapshotFiles {
    snapshots: corral_storage::SnapshotStore,
    log: crate::StorageLog,
}

impl Compaction {
    /// Every `snap_count` applied entries (0: never), unless the previous snapshot is still
    /// being written: takes the node's snapshot and writes it on a blocking thread (call
    /// inside a tokio runtime).
    pub fn after_turn<S: StateMachine, D: crate::DiskIo, T: Transport>(
        &mut self,
        node: &mut Node<S, D, T>,
    ) {
        let due = self.every > 0
            && node.applied_count() >= self.last + self.every
            && self.writing.as_ref().is_none_or(|w| w.is_finished())
            && !node.state_machine().snapshot_busy();
        if due {
            self.last = node.applied_count();
            let begun = std::time::Instant::now();
            let (zxid, chunks) = node.snapshot_now();
            let files = self.files.clone();
            let on_written = self.on_written.clone();
            self.writing = Some(tokio::task::spawn_blocking(move || {
                if files.write(zxid, chunks) {
                    if let Some(report) = on_written {
                        report(zxid, begun.elapsed());
                    }
                }
            }));
        }
    }

    /// `report` hears of every local snapshot written (on the thread that wrote it): its
    /// zxid, and the time from taking it to its file being durable (ZooKeeper's
    /// `snapshottime`).
    pub fn on_written(&mut self, report: impl Fn(Zxid, Duration) + Send + Sync + 'static) {
        self.on_written = Some(std::sync::Arc::new(report));
    }
}

impl Compaction {
    /// Waits until the local snapshot being written (and the purge after it), if any, has
    /// finished: call it when the node is gone, before the data directory is used again.
    pub async fn finish(&mut self) {
        if let Some(writing) = self.writing.take() {
            let _ = writing.await;
        }
    }
}

impl SnapshotFiles {
    /// Writes the snapshot of `zxid` (atomic: temp file, fsync, rename), then lets the log
    /// start after it and purges older snapshots and log segments (the newest three
    /// snapshots kept, as ZooKeeper's autopurge.snapRetainCount minimum).
    fn write(&self, zxid: Zxid, mut chunks: impl SnapshotSource) -> bool {
        use std::io::Write;
        let dir = self.snapshots.dir();
        let mut write = || -> Result<(), String> {
            let mut w = self.snapshots.begin(zxid).map_err(|e| e.to_string())?;
            while let Some(chunk) = chunks.wait_chunk()? {
                w.write_all(&chunk)
                    .map_err(|e| format!("write {}: {e}", dir.display()))?;
            }
            w.finish().map_err(|e| e.to_string())?;
            self.log.compact_to(zxid);
            corral_storage::purge(&self.snapshots, self.log.view(), 3)
                .map_err(|e| e.to_string())?;
            Ok(())
        };
        match write() {
            Ok(()) => true,
            Err(e) => {
                // The log still holds everything: nothing is lost, the next one retries.
                tracing::warn!(zxid = %zxid, error = %e, "local snapshot failed");
                false
            }
        }
    }
}

/// Opens the data directory, restores `sm` from its newest snapshot and builds the [`Node`]
/// that [`Runtime::start`] runs, for an embedder with a loop of its own: durability reports
/// go to `on_durable` (hand them to [`Node::durable`] / [`Node::disk_failed`] on the node's
/// task), and the [`Compaction`] writes local snapshots when the embedder asks.
pub fn open_node<S: StateMachine, T: Transport>(
    config: &RuntimeConfig,
    sm: S,
    transport: T,
    on_durable: impl FnMut(Result<u64, String>) + Send + Clone + 'static,
) -> Result<(Node<S, StorageDisk, T>, Compaction), RuntimeError> {
    open_node_with(config, sm, transport, on_durable, None)
}

/// [`open_node`], and `on_sync` hears of every fsync of the log's appends (corral-storage's
/// [`SyncStats`](corral_storage::SyncStats): group size, fsync time, each append's waits),
/// on the writer's thread.
pub fn open_node_observed<S: StateMachine, T: Transport>(
    config: &RuntimeConfig,
    sm: S,
    transport: T,
    on_durable: impl FnMut(Result<u64, String>) + Send + Clone + 'static,
    on_sync: impl FnMut(corral_storage::SyncStats) + Send + 'static,
) -> Result<(Node<S, StorageDisk, T>, Compaction), RuntimeError> {
    open_node_with(config, sm, transport, on_durable, Some(Box::new(on_sync)))
}

fn open_node_with<S: StateMachine, T: Transport>(
    config: &RuntimeConfig,
    mut sm: S,
    transport: T,
    on_durable: impl FnMut(Result<u64, String>) + Send + Clone + 'static,
    on_sync: Option<disk::OnSync>,
) -> Result<(Node<S, StorageDisk, T>, Compaction), RuntimeError> {
    let on_disk = disk::open(&config.storage)?;
    let snap_zxid = on_disk.persisted.snapshot;
    if let Some(data) = &on_disk.snapshot {
        sm.restore_chunk(snap_zxid, 0, data);
        sm.restore(snap_zxid)
            .map_err(|e| RuntimeError::Storage(format!("snapshot {snap_zxid}: {e}")))?;
    }
    let compaction = Compaction {
        files: SnapshotFiles {
            snapshots: on_disk.files.snapshots.clone(),
            log: on_disk.log.clone(),
        },
        every: config.snap_count,
        last: 0,
        writing: None,
        on_written: None,
    };
    let disk = StorageDisk::with_observer(on_disk.files, on_durable, on_sync)?;
    let node = Node::new(
        config.zab.clone(),
        on_disk.persisted,
        on_disk.log,
        sm,
        disk,
        transport,
    )?;
    Ok((node, compaction))
}

/// A running server. Dropping it (or [`Runtime::shutdown`]) stops its task.
pub struct Runtime<S: StateMachine> {
    cmds: UnboundedSender<Cmd<S>>,
    status: watch::Receiver<Status>,
    events: Option<UnboundedReceiver<Event>>,
    task: Option<JoinHandle<()>>,
}

impl<S: StateMachine> Runtime<S> {
    /// Opens the data directory, restores `sm` from its newest snapshot, and starts the
    /// server on `transport` (whose events arrive on `inbound`).
    pub fn start<T: Transport>(
        config: RuntimeConfig,
        sm: S,
        transport: T,
        inbound: UnboundedReceiver<NetEvent>,
    ) -> Result<Runtime<S>, RuntimeError> {
        let (durable_tx, durable_rx) = unbounded_channel();
        let (node, compaction) = open_node(&config, sm, transport, move |r| {
            let _ = durable_tx.send(r);
        })?;
        Ok(Self::spawn(
            node,
            config.tick,
            inbound,
            durable_rx,
            compaction,
        ))
    }

    fn spawn<D: crate::DiskIo + Send + 'static, T: Transport>(
        mut node: Node<S, D, T>,
        tick: Duration,
        mut inbound: UnboundedReceiver<NetEvent>,
        mut durable: UnboundedReceiver<Result<u64, String>>,
        mut compaction: Compaction,
    ) -> Runtime<S> {
        let (cmds, mut cmd_rx) = unbounded_channel::<Cmd<S>>();
        let (status_tx, status) = watch::channel(node.status());
        let (event_tx, events) = unbounded_channel();
        let task = tokio::spawn(async move {
            let mut ticker = tokio::time::interval(tick);
            // While a SNAP streams: pump at once after progress, else wait for room.
            let mut pause = Duration::ZERO;
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    biased;
                    r = durable.recv() => match r {
                        Some(Ok(tag)) => node.durable(tag),
                        Some(Err(e)) => node.disk_failed(e),
                        None => node.disk_failed("the disk writer stopped".into()),
                    },
                    ev = inbound.recv() => match ev {
                        Some(ev) => node.receive(ev),
                        None => break,
                    },
                    cmd = cmd_rx.recv() => match cmd {
                        Some(Cmd::Propose(build, reply)) => {
                            let waiter = Box::new(move |r| {
                                let _ = reply.send(r);
                            });
                            // A refusal is answered through the waiter.
                            let _ = node.propose_with(build, waiter);
                        }
                        Some(Cmd::Read(f)) => f(node.state_machine()),
                        None => break,
                    },
                    _ = ticker.tick() => node.tick(),
                    _ = tokio::time::sleep(pause), if node.streaming() => {
                        pause = if node.pump() {
                            Duration::ZERO
                        } else {
                            Duration::from_millis(2)
                        };
                        tokio::task::yield_now().await;
                    }
                }
                for e in node.take_events() {
                    let _ = event_tx.send(e);
                }
                status_tx.send_if_modified(|s| {
                    let now = node.status();
                    let changed = *s != now;
                    *s = now;
                    changed
                });
                if node.stopped().is_some() {
                    break;
                }
                compaction.after_turn(&mut node);
            }
        });
        Runtime {
            cmds,
            status,
            events: Some(events),
            task: Some(task),
        }
    }

    /// Proposes `payload`; resolves with its zxid once it is committed and applied here.
    pub async fn propose(&self, payload: Bytes) -> Result<Zxid, RuntimeError> {
        self.propose_with(move |_| payload).await
    }

    /// Proposes the payload `build` makes for its zxid (called only when accepted).
    pub async fn propose_with(
        &self,
        build: impl FnOnce(Zxid) -> Bytes + Send + 'static,
    ) -> Result<Zxid, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Propose(Box::new(build), tx))
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)?
    }

    /// Reads the state machine on the runtime's task.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> R + Send + 'static,
    ) -> Result<R, RuntimeError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::Read(Box::new(move |s| {
                let _ = tx.send(f(s));
            })))
            .map_err(|_| RuntimeError::Stopped)?;
        rx.await.map_err(|_| RuntimeError::Stopped)
    }

    /// The engine's status, updated after every input (`changed()` to wait).
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Role and quorum changes and the stop, in order (once; `None` afterwards).
    pub fn events(&mut self) -> Option<UnboundedReceiver<Event>> {
        self.events.take()
    }

    /// Waits until this server is in an established quorum, with `role` if given.
    pub async fn established(&self, role: Option<Role>) -> Result<Status, RuntimeError> {
        let mut rx = self.status.clone();
        loop {
            let s = rx.borrow_and_update().clone();
            if s.established && role.is_none_or(|r| r == s.role) {
                return Ok(s);
            }
            rx.changed().await.map_err(|_| RuntimeError::Stopped)?;
        }
    }

    /// The leader this server knows, if any.
    pub fn leader(&self) -> Option<PeerId> {
        self.status.borrow().leader
    }

    /// Stops the task (what is not durable yet is lost, as in a crash).
    pub async fn shutdown(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl<S: StateMachine> Drop for Runtime<S> {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
