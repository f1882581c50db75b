//! The leader's probes of the SNAP rejoin row: two sessions on the leader only, one running
//! getData, one setData, each in a closed loop with one request outstanding, every request
//! kept with the time it was sent; the latency of the requests sent in a window ([`window`]);
//! and a sampler of processes' RSS.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_client::Client;
use tokio::task::JoinSet;

use crate::load;
use crate::procfs::rss_bytes;

/// How often the RSS sampler reads /proc.
const SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// One probe request: when it was sent (ns after the probes started), how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub sent_ns: u64,
    pub latency_ns: u64,
    pub ok: bool,
}

/// The latency of one probe's requests sent in a window. Each probe has one request
/// outstanding, so a stall of the leader shows as one request that took as long (`max`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pause {
    pub secs: f64,
    /// Requests sent in the window that succeeded, and that failed.
    pub requests: usize,
    pub errors: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

/// The successful requests of `samples` sent in `[from_ns, to_ns)`; quantiles by nearest rank;
/// NaN when there is none.
pub fn window(samples: &[Sample], from_ns: u64, to_ns: u64) -> Pause {
    let inside = samples
        .iter()
        .filter(|s| s.sent_ns >= from_ns && s.sent_ns < to_ns);
    let mut lat: Vec<u64> = inside
        .clone()
        .filter(|s| s.ok)
        .map(|s| s.latency_ns)
        .collect();
    lat.sort_unstable();
    let q = |q: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let rank = ((q * lat.len() as f64).ceil() as usize).clamp(1, lat.len());
        lat[rank - 1] as f64 / 1000.0
    };
    Pause {
        secs: to_ns.saturating_sub(from_ns) as f64 / 1e9,
        requests: lat.len(),
        errors: inside.filter(|s| !s.ok).count(),
        p50_us: q(0.5),
        p99_us: q(0.99),
        max_us: q(1.0),
    }
}

/// The two probe loops, running.
pub struct Probes {
    t0: Instant,
    stop: Arc<AtomicBool>,
    gets: Arc<Mutex<Vec<Sample>>>,
    sets: Arc<Mutex<Vec<Sample>>>,
    tasks: JoinSet<()>,
}

impl Probes {
    /// Starts getData of `get_path` on `get` and setData of `set_path` on `set`.
    pub fn start(get: Client, get_path: String, set: Client, set_path: String) -> Probes {
        let t0 = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let (gets, sets) = (Arc::default(), Arc::default());
        let mut tasks = JoinSet::new();
        for (client, is_set, path, out) in
            [(get, false, get_path, &gets), (set, true, set_path, &sets)]
        {
            tasks.spawn(probe(
                client,
                is_set,
                path,
                t0,
                Arc::clone(out),
                stop.clone(),
            ));
        }
        Probes {
            t0,
            stop,
            gets,
            sets,
            tasks,
        }
    }

    /// `t` in the samples' clock (ns after the start).
    pub fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.t0).as_nanos() as u64
    }

    /// Stops both loops (each finishes its request in flight, bounded) and returns their
    /// samples: (getData, setData).
    pub async fn stop(mut self) -> (Vec<Sample>, Vec<Sample>) {
        self.stop.store(true, Ordering::Relaxed);
        let drained = tokio::time::timeout(Duration::from_secs(30), async {
            while self.tasks.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            self.tasks.abort_all();
        }
        let take = |v: &Mutex<Vec<Sample>>| v.lock().map(|v| v.clone()).unwrap_or_default();
        (take(&self.gets), take(&self.sets))
    }
}

/// The probe loop: `set` (setData of `path`) or getData, one request outstanding, until
/// `stop`; each request into `out`.
async fn probe(
    client: Client,
    set: bool,
    path: String,
    t0: Instant,
    out: Arc<Mutex<Vec<Sample>>>,
    stop: Arc<AtomicBool>,
) {
    let data = load::value();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let ok = if set {
            client.set_data(&path, data.clone(), None).await.is_ok()
        } else {
            client.get_data(&path).await.is_ok()
        };
        let sample = Sample {
            sent_ns: (sent - t0).as_nanos() as u64,
            latency_ns: sent.elapsed().as_nanos() as u64,
            ok,
        };
        if let Ok(mut v) = out.lock() {
            v.push(sample);
        }
        if !ok {
            // Connection loss and the like: the client pauses between reconnects itself.
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Samples the RSS of `pids` every 10 ms until `stop`; the largest of each.
pub async fn sample_rss(pids: Vec<u32>, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut peaks = vec![0; pids.len()];
    while !stop.load(Ordering::Relaxed) {
        for (peak, pid) in peaks.iter_mut().zip(&pids) {
            *peak = (*peak).max(rss_bytes(*pid).unwrap_or(0));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    peaks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(sent_ms: u64, latency_ms: u64, ok: bool) -> Sample {
        Sample {
            sent_ns: sent_ms * 1_000_000,
            latency_ns: latency_ms * 1_000_000,
            ok,
        }
    }

    #[test]
    fn a_window_takes_the_requests_sent_in_it() {
        // Before: 100 requests of 1 ms. During: 99 of 1 ms and one stalled 700 ms, sent
        // inside the window though it ended after it; one failure; one sent after the window.
        let mut v: Vec<Sample> = (0..100).map(|i| s(i, 1, true)).collect();
        v.extend((0..99).map(|i| s(1000 + i, 1, true)));
        v.push(s(1999, 700, true));
        v.push(s(1500, 3, false));
        v.push(s(2000, 900, true));
        let before = window(&v, 0, 1_000_000_000);
        assert_eq!((before.requests, before.errors), (100, 0));
        assert_eq!(
            (before.p50_us, before.p99_us, before.max_us),
            (1000.0, 1000.0, 1000.0)
        );
        assert_eq!(before.secs, 1.0);
        let during = window(&v, 1_000_000_000, 2_000_000_000);
        assert_eq!((during.requests, during.errors), (100, 1));
        assert_eq!(during.p99_us, 1000.0);
        assert_eq!(during.max_us, 700_000.0);
        assert_eq!(during.secs, 1.0);
        // Ten stalls in a hundred reach the p99.
        let many: Vec<Sample> = (0..100)
            .map(|i| s(i, if i % 10 == 0 { 50 } else { 1 }, true))
            .collect();
        assert_eq!(window(&many, 0, 100_000_000).p99_us, 50_000.0);
        let empty = window(&v, 5_000_000_000, 6_000_000_000);
        assert_eq!(empty.requests, 0);
        assert!(empty.p99_us.is_nan() && empty.max_us.is_nan());
    }
}
