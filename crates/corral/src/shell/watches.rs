//! zkCli's watcher: every watch the shell sets belongs to one default watcher, which prints
//! `WATCHER::` and the event. Java's client delivers an event to a watcher once even when
//! several of its watches match (a one-shot data watch and a persistent watch on the same
//! node, say), and a removed watch stays silent.
//!
//! corral-client gives a future or stream per watch instead. To print what zkCli prints, the
//! shell keeps its own copy of Java's watch tables (`ZKWatchManager`) in one printer task and
//! feeds it, in the order the server's messages were handled, with every registration, every
//! event of every watch, session state changes and removals. The runtime is single-threaded
//! and runs woken tasks first come first served, so a watch's forwarding task, woken while the
//! connection task handles a notification, sends before the command that a later reply wakes.
//! For each event the printer applies Java's `materialize` to its tables: the event is printed
//! once, the one-shot watches it consumed are forgotten (their own copies of the event are
//! then ignored), and the persistent watches it also reached swallow their copy.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use corral_client::{
    ErrorCode, EventType, KeeperState, PersistentWatch, SessionState, Watch, WatchedEvent,
    WatcherType,
};
use tokio::sync::{mpsc, oneshot};

use super::output::Out;

/// Java's five watch tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Data,
    Exist,
    Child,
    Persistent,
    Recursive,
}

enum Msg {
    Register(Kind, String, u64),
    Event(Kind, String, u64, WatchedEvent),
    State(KeeperState),
    Remove {
        path: String,
        kind: WatcherType,
        local: bool,
        rc: Option<ErrorCode>,
        reply: oneshot::Sender<Result<(), ErrorCode>>,
    },
    Flush(oneshot::Sender<()>),
}

/// The shell's side of one session's watches.
pub struct Watches {
    tx: mpsc::UnboundedSender<Msg>,
    next_gen: AtomicU64,
}

impl Watches {
    /// Starts the printer task; `print` is zkCli's `printwatches` switch.
    pub fn start(out: Out, print: Arc<AtomicBool>) -> Watches {
        let (tx, rx) = mpsc::unbounded_channel();
        let book = Book {
            live: HashMap::new(),
            skip: HashMap::new(),
            out,
            print,
        };
        tokio::spawn(book.run(rx));
        Watches {
            tx,
            next_gen: AtomicU64::new(1),
        }
    }

    fn register(&self, kind: Kind, path: &str) -> (u64, mpsc::UnboundedSender<Msg>) {
        let gen = self.next_gen.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Msg::Register(kind, path.to_string(), gen));
        (gen, self.tx.clone())
    }

    /// A one-shot watch the client registered (call right after the reply, before awaiting
    /// anything else, so that the registration keeps its place in the server's order).
    pub fn one_shot(&self, kind: Kind, path: &str, watch: Watch) {
        let (gen, tx) = self.register(kind, path);
        let path = path.to_string();
        tokio::spawn(async move {
            if let Ok(ev) = watch.await {
                let _ = tx.send(Msg::Event(kind, path, gen, ev));
            }
        });
    }

    /// A persistent (or persistent recursive) watch the client registered.
    pub fn persistent(&self, recursive: bool, path: &str, mut watch: PersistentWatch) {
        let kind = if recursive {
            Kind::Recursive
        } else {
            Kind::Persistent
        };
        let (gen, tx) = self.register(kind, path);
        let path = path.to_string();
        tokio::spawn(async move {
            while let Some(ev) = watch.next().await {
                if tx.send(Msg::Event(kind, path.clone(), gen, ev)).is_err() {
                    break;
                }
            }
        });
    }

    /// Forwards the session's state changes as zkCli's `type:None` events.
    pub fn follow_states(
        &self,
        mut states: corral_client::StateStream,
    ) -> tokio::task::JoinHandle<()> {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            while let Some(s) = states.next().await {
                let ks = match s {
                    SessionState::SyncConnected => KeeperState::SyncConnected,
                    SessionState::Disconnected => KeeperState::Disconnected,
                    SessionState::Expired => KeeperState::Expired,
                    SessionState::AuthFailed => KeeperState::AuthFailed,
                    SessionState::Closed => KeeperState::Closed,
                    _ => continue,
                };
                let _ = tx.send(Msg::State(ks));
            }
        })
    }

    /// Prints a state event now (the first `SyncConnected`, which precedes the stream).
    pub fn state(&self, ks: KeeperState) {
        let _ = self.tx.send(Msg::State(ks));
    }

    /// Java's local half of removeWatches, applied once the server answered (`rc`: its error,
    /// if any): checks that the shell has such a watch, forgets it and prints the
    /// `*WatchRemoved` events. `local` (`-l`) removes it even if the server refused.
    pub async fn remove(
        &self,
        path: &str,
        kind: WatcherType,
        local: bool,
        rc: Option<ErrorCode>,
    ) -> Result<(), ErrorCode> {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Remove {
            path: path.to_string(),
            kind,
            local,
            rc,
            reply,
        };
        if self.tx.send(msg).is_err() {
            return Err(ErrorCode::NoWatcher);
        }
        rx.await.unwrap_or(Err(ErrorCode::NoWatcher))
    }

    /// Waits until everything sent so far has been printed.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// The printer task's tables: the live registrations (ids) of each watch, and for
/// persistent registrations how many copies of already printed events are still to come.
struct Book {
    live: HashMap<(Kind, String), Vec<u64>>,
    skip: HashMap<u64, u32>,
    out: Out,
    print: Arc<AtomicBool>,
}

impl Book {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Msg::Register(kind, path, gen) => {
                    self.live.entry((kind, path)).or_default().push(gen)
                }
                Msg::Event(kind, path, gen, ev) => self.event(kind, path, gen, ev),
                Msg::State(ks) => self.show(ks, "None", "null"),
                Msg::Remove {
                    path,
                    kind,
                    local,
                    rc,
                    reply,
                } => {
                    let _ = reply.send(self.remove(&path, kind, local, rc));
                }
                Msg::Flush(done) => {
                    let _ = done.send(());
                }
            }
        }
    }

    fn show(&self, state: KeeperState, event_type: &str, path: &str) {
        if self.print.load(Ordering::Relaxed) {
            let line = format!("WatchedEvent state:{state:?} type:{event_type} path:{path}");
            self.out.event(&["WATCHER::", &line]);
        }
    }

    fn has(&self, kind: Kind, path: &str) -> bool {
        self.live
            .get(&(kind, path.to_string()))
            .is_some_and(|g| !g.is_empty())
    }

    fn take(&mut self, kind: Kind, path: &str) -> Vec<u64> {
        self.live
            .remove(&(kind, path.to_string()))
            .unwrap_or_default()
    }

    fn event(&mut self, kind: Kind, path: String, gen: u64, ev: WatchedEvent) {
        if matches!(
            ev.event_type,
            EventType::None
                | EventType::DataWatchRemoved
                | EventType::ChildWatchRemoved
                | EventType::PersistentWatchRemoved
        ) {
            return; // removals are printed by `remove`, states by the state stream
        }
        let own = (kind, path);
        if !self.live.get(&own).is_some_and(|g| g.contains(&gen)) {
            return; // consumed by an earlier copy of this event, or removed locally
        }
        if let Some(n) = self.skip.get_mut(&gen).filter(|n| **n > 0) {
            *n -= 1;
            return;
        }
        // Java's materialize: the one-shot watches the event consumes...
        let p = ev.path.as_str();
        let kinds: &[Kind] = match ev.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => &[Kind::Data, Kind::Exist],
            EventType::NodeChildrenChanged => &[Kind::Child],
            _ => &[Kind::Data, Kind::Exist, Kind::Child],
        };
        for k in kinds {
            self.take(*k, p);
        }
        // ...and the persistent ones it reached, each of which gets its own copy (the client
        // sends child events to persistent watches on the node only).
        let mut reached: Vec<u64> = Vec::new();
        if let Some(g) = self.live.get(&(Kind::Persistent, p.to_string())) {
            reached.extend(g);
        }
        if ev.event_type != EventType::NodeChildrenChanged {
            for a in ancestors(p) {
                if let Some(g) = self.live.get(&(Kind::Recursive, a.to_string())) {
                    reached.extend(g);
                }
            }
        }
        for g in reached.into_iter().filter(|g| *g != gen) {
            *self.skip.entry(g).or_default() += 1;
        }
        self.show(ev.state, &format!("{:?}", ev.event_type), p);
    }

    fn remove(
        &mut self,
        path: &str,
        kind: WatcherType,
        local: bool,
        rc: Option<ErrorCode>,
    ) -> Result<(), ErrorCode> {
        let persistent = self.has(Kind::Persistent, path) || self.has(Kind::Recursive, path);
        let data = self.has(Kind::Data, path) || self.has(Kind::Exist, path);
        let child = self.has(Kind::Child, path);
        let contains = match kind {
            WatcherType::Children => child || persistent,
            WatcherType::Data => data || persistent,
            _ => child || data || persistent,
        };
        if !contains {
            return Err(ErrorCode::NoWatcher);
        }
        if let (Some(code), false) = (rc, local) {
            return Err(code);
        }
        // zkCli prints one event per kind removed, in the order of a HashMap keyed by the
        // event types (unspecified; Java 17 and ZooKeeper 3.8 give data, persistent, child).
        let any = !matches!(kind, WatcherType::Children | WatcherType::Data);
        let mut removed: Vec<EventType> = Vec::new();
        if matches!(kind, WatcherType::Data) || any {
            let mut gone = self.take(Kind::Data, path);
            gone.extend(self.take(Kind::Exist, path));
            if !gone.is_empty() {
                removed.push(EventType::DataWatchRemoved);
            }
        }
        if any {
            let mut gone = self.take(Kind::Persistent, path);
            gone.extend(self.take(Kind::Recursive, path));
            for g in &gone {
                self.skip.remove(g);
            }
            if !gone.is_empty() {
                removed.push(EventType::PersistentWatchRemoved);
            }
        }
        if (matches!(kind, WatcherType::Children) || any)
            && !self.take(Kind::Child, path).is_empty()
        {
            removed.push(EventType::ChildWatchRemoved);
        }
        if removed.is_empty() {
            return Err(ErrorCode::NoWatcher);
        }
        let state = match rc {
            Some(ErrorCode::ConnectionLoss | ErrorCode::SessionExpired) => {
                KeeperState::Disconnected
            }
            _ => KeeperState::SyncConnected,
        };
        for t in removed {
            self.show(state, &format!("{t:?}"), path);
        }
        Ok(())
    }
}

/// `/a/b` yields `/a/b`, `/a`, `/`.
fn ancestors(path: &str) -> Vec<&str> {
    let mut out = vec![path];
    let mut cur = path;
    while cur != "/" {
        cur = match cur.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &cur[..i],
        };
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_up_to_the_root() {
        assert_eq!(ancestors("/a/b"), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/"), ["/"]);
    }
}
