//! The four-letter words that list connections, sessions and watches one by one: `cons`,
//! `crst`, `dump`, `wchc`, `wchp`, in ZooKeeper 3.8's text formats. Lists are sorted
//! (ZooKeeper prints them in hash order).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::SocketAddr;

use corral_watch::WatchScope;

use crate::core::{ConnId, Core, Now};

/// ZooKeeper's NIO connection expiry interval (`zookeeper.nio.sessionlessCnxnTimeout`):
/// connections expire in sets rounded up to it.
const CNXN_EXPIRY_INTERVAL_MS: i64 = 10_000;

impl Core {
    /// `cons`: every connection with its statistics, then the asking one (which has no
    /// session and has sent nothing else).
    pub(crate) fn cons(&self, now: Now, asker: SocketAddr) -> String {
        let mut out = String::new();
        for c in self.conns.values() {
            let st = &c.stats;
            let _ = write!(
                out,
                " /{}[1](queued={},recved={},sent={}",
                c.remote,
                st.in_flight(),
                st.received,
                st.sent
            );
            if let Some(sid) = c.session.filter(|s| *s != 0) {
                let timeout = self
                    .sessions
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
                let lresp = st.last_response.map_or(0, |at| {
                    let ago = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
                    now.mono_ms.saturating_sub(ago)
                });
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
        for c in self.conns.values_mut() {
            c.stats.reset();
        }
        "Connection stats reset.\n".to_string()
    }

    /// `dump`: sessions by expiry time, ephemerals by session, connections by expiry time.
    pub(crate) fn dump(&self, now: Now, asker: SocketAddr) -> String {
        let mut out = String::from("SessionTracker dump:\n");
        let mut session_sets: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for s in self.sessions.iter() {
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
        let owners = self.tree.sessions_with_ephemerals();
        let _ = writeln!(out, "Sessions with Ephemerals ({}):", owners.len());
        for sid in owners {
            let _ = writeln!(out, "0x{sid:x}:");
            for path in self.tree.ephemerals(sid) {
                let _ = writeln!(out, "\t{path}");
            }
        }

        out.push_str("Connections dump:\n");
        let mut cnxn_sets: BTreeMap<i64, Vec<(String, i64)>> = BTreeMap::new();
        let session_timeout = |sid: Option<i64>| {
            sid.and_then(|s| self.sessions.get(corral_session::SessionId(s)))
                .map_or(CNXN_EXPIRY_INTERVAL_MS, |s| i64::from(s.timeout_ms()))
        };
        for c in self.conns.values() {
            let at = round_up(now.wall_ms + session_timeout(c.session));
            cnxn_sets
                .entry(at)
                .or_default()
                .push((c.remote.to_string(), c.session.unwrap_or(0)));
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
                .get(&conn)
                .and_then(|c| c.session)
                .unwrap_or_default()
        };
        let mut out = String::new();
        if by_path {
            for (path, conns) in self.watches.dump_by_path(WatchScope::Data) {
                let _ = writeln!(out, "{path}");
                for conn in conns {
                    let _ = writeln!(out, "\t0x{:x}", session(conn));
                }
            }
        } else {
            for (conn, paths) in self.watches.dump_by_watcher(WatchScope::Data) {
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
        i64::try_from(mono_ms).unwrap_or(i64::MAX) - i64::try_from(now.mono_ms).unwrap_or(0);
    now.wall_ms.saturating_add(delta)
}

fn round_up(ms: i64) -> i64 {
    (ms / CNXN_EXPIRY_INTERVAL_MS + 1) * CNXN_EXPIRY_INTERVAL_MS
}

/// `java.util.Date.toString()` in UTC: `Mon Nov 23 04:49:26 UTC 2026` (the dates of `dump`,
/// and of zkCli's Stat lines).
pub fn java_date(wall_ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = wall_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month_name = MONTHS[(month - 1) as usize];
    format!(
        "{weekday} {month_name} {day:02} {:02}:{:02}:{:02} UTC {year}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month 1..=12, day 1..=31), proleptic Gregorian (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::java_date;

    #[test]
    fn dates_print_as_java_does_in_utc() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        // 2026-11-23T04:49:26Z, a Monday (seen in ZooKeeper's own `dump`)
        assert_eq!(java_date(1_795_409_366_000), "Mon Nov 23 04:49:26 UTC 2026");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
        assert_eq!(java_date(-1), "Wed Dec 31 23:59:59 UTC 1969");
    }
}
