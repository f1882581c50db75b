//! The four-letter words that list connections, sessions and watches one by one: `cons`,
//! `crst`, `dump`, `wchc`, `wchp`, in ZooKeeper 3.8's text formats. Lists are sorted
//! (ZooKeeper prints them in hash order).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;

use corral_watch::WatchScope;

use super::{ConnId, Core, Now};
use crate::fourlw::java_date;

/// ZooKeeper's NIO connection expiry interval (`zookeeper.nio.sessionlessCnxnTimeout`):
/// connections expire in sets rounded up to it.
const CNXN_EXPIRY_INTERVAL_MS: i64 = 10_000;

impl Core {
    /// `cons`: every connection with its statistics, then the asking one (which has no
    /// session and has sent nothing else).
    pub(crate) fn cons(&self, asker: SocketAddr) -> String {
        let mut out = String::new();
        for (_, c) in self.conns.iter() {
            let st = c.stats();
            let _ = write!(
                out,
                " /{}[{}](queued={},recved={},sent={}",
                c.remote(),
                c.interest_ops(),
                st.in_flight(),
                st.received,
                st.sent
            );
            if let Some(sid) = c.session().filter(|s| *s != 0) {
                let timeout = self
                    .write
                    .sessions()
                    .get(corral_session::SessionId(sid))
                    .map_or(0, |s| s.timeout_ms());
                let _ = write!(
                    out,
                    ",sid=0x{sid:x},lop={},est={},to={timeout}",
                    st.last_op, st.established_wall_ms
                );
                if st.last_cxid >= 0 {
                    let _ = write!(out, ",lcxid=0x{:x}", st.last_cxid);
                }
                let lresp = st.last_response_mono_us.map_or(0, |at| at / 1000);
                let _ = write!(
                    out,
                    ",lzxid=0x{:x},lresp={lresp},llat={},minlat={},avglat={},maxlat={}",
                    st.last_zxid,
                    st.last_latency_ms,
                    st.min_latency_ms(),
                    st.avg_latency_ms(),
                    st.max_latency_ms()
                );
            }
            out.push_str(")\n");
        }
        let _ = writeln!(out, " /{asker}[0](queued=0,recved=1,sent=0)");
        out.push('\n');
        out
    }

    /// `crst`: resets every connection's statistics.
    pub(crate) fn crst(&mut self) -> String {
        for c in self.conns.iter_mut() {
            c.stats_mut().reset();
        }
        "Connection stats reset.\n".to_string()
    }

    /// `dump`: sessions by expiry time, ephemerals by session, connections by expiry time.
    pub(crate) fn dump(&self, now: Now, asker: SocketAddr) -> String {
        let mut out = String::from("SessionTracker dump:\n");
        let mut session_sets: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for s in self.write.sessions().iter() {
            if let Some(at) = s.expires_at_ms() {
                session_sets
                    .entry(wall_of(now, at))
                    .or_default()
                    .push(s.id().0);
            }
        }
        let count: usize = session_sets.values().map(Vec::len).sum();
        write_sets(&mut out, "Session", &session_sets, count, |o, sid| {
            let _ = writeln!(o, "\t0x{sid:x}");
        });

        out.push_str("ephemeral nodes dump:\n");
        let owners = self.state.tree().sessions_with_ephemerals();
        let _ = writeln!(out, "Sessions with Ephemerals ({}):", owners.len());
        for sid in owners {
            let _ = writeln!(out, "0x{sid:x}:");
            for path in self.state.tree().ephemerals(sid) {
                let _ = writeln!(out, "\t{path}");
            }
        }

        out.push_str("Connections dump:\n");
        let mut cnxn_sets: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
        let session_timeout = |sid: Option<i64>| {
            sid.and_then(|s| self.write.sessions().get(corral_session::SessionId(s)))
                .map_or(CNXN_EXPIRY_INTERVAL_MS, |s| i64::from(s.timeout_ms()))
        };
        for (_, c) in self.conns.iter() {
            let at = round_up(now.wall_ms + session_timeout(c.session()));
            cnxn_sets
                .entry(at)
                .or_default()
                .push((c.remote().to_string(), c.session().unwrap_or(0)));
        }
        cnxn_sets
            .entry(round_up(now.wall_ms + session_timeout(None)))
            .or_default()
            .push((asker.to_string(), 0));
        write_sets(
            &mut out,
            "Connections",
            &cnxn_sets,
            self.conns.len() + 1,
            |o, (remote, sid)| {
                let _ = writeln!(o, "\tip: /{remote} sessionId: 0x{sid:x}");
            },
        );
        out
    }

    /// `wchc` (by session) or `wchp` (by path): ZooKeeper lists its data-watch table.
    pub(crate) fn watch_dump(&self, by_path: bool) -> String {
        let session = |conn: ConnId| {
            self.conns
                .get(conn)
                .and_then(|c| c.session())
                .unwrap_or_default()
        };
        let mut out = String::new();
        if by_path {
            for (path, conns) in self.conns.watches().dump_by_path(WatchScope::Data) {
                let _ = writeln!(out, "{path}");
                for conn in conns {
                    let _ = writeln!(out, "\t0x{:x}", session(conn));
                }
            }
        } else {
            for (conn, paths) in self.conns.watches().dump_by_watcher(WatchScope::Data) {
                let _ = writeln!(out, "0x{:x}", session(conn));
                for path in paths {
                    let _ = writeln!(out, "\t{path}");
                }
            }
        }
        out.push('\n');
        out
    }
}

/// ZooKeeper's `ExpiryQueue.dump`: `<name> Sets (sets)/(elements):`, then each set.
fn write_sets<T>(
    out: &mut String,
    name: &str,
    sets: &BTreeMap<i64, Vec<T>>,
    elements: usize,
    mut element: impl FnMut(&mut String, &T),
) {
    let _ = writeln!(out, "{name} Sets ({})/({elements}):", sets.len());
    for (at, items) in sets {
        let _ = writeln!(out, "{} expire at {}:", items.len(), java_date(*at));
        for item in items {
            element(out, item);
        }
    }
}

/// A monotonic deadline as wall-clock ms.
fn wall_of(now: Now, mono_ms: u64) -> i64 {
    let delta =
        i64::try_from(mono_ms).unwrap_or(i64::MAX) - i64::try_from(now.mono_ms()).unwrap_or(0);
    now.wall_ms.saturating_add(delta)
}

fn round_up(ms: i64) -> i64 {
    (ms / CNXN_EXPIRY_INTERVAL_MS + 1) * CNXN_EXPIRY_INTERVAL_MS
}
