//! A closed-loop write load on one runtime (shared by the examples that measure): `n`
//! proposals of `key=value` payloads, at most `window` in flight, each timed from its
//! `propose` to its commit answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_zab_runtime::{Runtime, RuntimeError, StateMachine};

/// What a load measured.
pub struct Figures {
    /// Proposals committed per second.
    pub per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// The quantile `q` of sorted latencies (not empty).
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

/// `n` (at least 1) writes with up to `window` in flight through `runtime` (the leader).
pub async fn load<S: StateMachine>(
    runtime: &Arc<Runtime<S>>,
    n: usize,
    window: usize,
) -> Result<Figures, RuntimeError> {
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(n);
    let mut set = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < n || !set.is_empty() {
        while next < n && set.len() < window {
            let rt = runtime.clone();
            let payload = Bytes::from(format!("bench{next}={next}"));
            set.spawn(async move {
                let t = Instant::now();
                rt.propose(payload).await.map(|_| t.elapsed())
            });
            next += 1;
        }
        match set.join_next().await {
            Some(Ok(Ok(latency))) => latencies.push(latency),
            Some(Ok(Err(e))) => return Err(e),
            Some(Err(_)) | None => return Err(RuntimeError::Stopped),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok(Figures {
        per_sec: n as f64 / secs,
        p50: quantile(&latencies, 0.50),
        p99: quantile(&latencies, 0.99),
    })
}
