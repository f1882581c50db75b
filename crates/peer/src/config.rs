//! What a transport needs to know: who it is, who the others are, and its bounds.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::PeerError;

/// A server's id: ZooKeeper's `myid`, the `N` of `server.N`.
pub type PeerId = u64;

/// A channel tag: separates the owner's kinds of traffic on one stream (the engine's messages,
/// server-level messages). Frames of all channels share one FIFO order per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Channel(pub u32);

impl Channel {
    /// The replication engine's messages.
    pub const ENGINE: Channel = Channel(0);
    /// Server-level messages (forwarded requests, session touches, sync).
    pub const SERVER: Channel = Channel(1);
}

/// Turns a nominal backoff delay into the one actually slept (randomises it).
pub type Jitter = Arc<dyn Fn(Duration) -> Duration + Send + Sync>;

/// Reconnection delays: `initial`, doubled after every failed attempt up to `max`, each passed
/// through `jitter`. The first attempt after a link that lived at least `max` breaks is
/// immediate; a link that broke sooner counts as a failed attempt.
#[derive(Clone)]
pub struct Backoff {
    /// The delay after the first failed attempt.
    pub initial: Duration,
    /// The largest delay.
    pub max: Duration,
    /// Randomises each delay; the default picks uniformly in `[d/2, d]`.
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(50),
            max: Duration::from_secs(2),
            jitter: Arc::new(half_jitter),
        }
    }
}

impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("initial", &self.initial)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    /// The nominal delay (before jitter) after `failures` consecutive failed attempts (>= 1).
    pub fn nominal(&self, failures: u32) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        self.initial.saturating_mul(1u32 << shift).min(self.max)
    }

    /// The delay to sleep after `failures` consecutive failed attempts.
    pub fn delay(&self, failures: u32) -> Duration {
        (self.jitter)(self.nominal(failures)).min(self.max)
    }
}

/// Uniform in `[d/2, d]`, from the process's random hash keys (no RNG crate needed).
fn half_jitter(d: Duration) -> Duration {
    let half = d / 2;
    let span = (d - half).as_nanos() as u64;
    if span == 0 {
        return d;
    }
    half + Duration::from_nanos(random_u64() % (span + 1))
}

/// 64 random bits: std's per-process random hash keys, mixed with a counter.
pub(crate) fn random_u64() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

/// A transport's configuration. Build with `Config::new` and adjust the public fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// This server's id.
    pub my_id: PeerId,
    /// Every server of the ensemble (this one included): id -> the address its transport
    /// listens on (ZooKeeper's quorum port).
    pub servers: BTreeMap<PeerId, SocketAddr>,
    /// Peers of another ensemble are refused: by default [`fingerprint`] of `servers`.
    pub ensemble: u64,
    /// The largest payload one frame may carry, both ways.
    pub max_frame: usize,
    /// Frames queued per peer before that peer is disconnected as too far behind.
    pub queue: usize,
    /// Payload bytes queued per peer before that peer is disconnected as too far behind
    /// (at least `max_frame`).
    pub queue_bytes: usize,
    /// Events buffered for the owner; a full buffer holds up the readers (and so, by HTTP/2
    /// flow control, the senders: their queues then fill and they drop this server).
    pub events: usize,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// The time a dial (TCP, TLS, HTTP/2) plus the handshake may take.
    pub handshake_timeout: Duration,
    /// HTTP/2 pings on an idle connection: one every `keepalive`, and the connection is
    /// dropped when one is not answered within `keepalive` (a dead peer without a TCP reset).
    pub keepalive: Duration,
}

impl Config {
    /// A configuration with default bounds and the fingerprint of `servers`.
    pub fn new(my_id: PeerId, servers: BTreeMap<PeerId, SocketAddr>) -> Config {
        let ensemble = fingerprint(&servers);
        Config {
            my_id,
            servers,
            ensemble,
            max_frame: 4 << 20,
            queue: 4096,
            queue_bytes: 64 << 20,
            events: 4096,
            backoff: Backoff::default(),
            handshake_timeout: Duration::from_secs(5),
            keepalive: Duration::from_secs(10),
        }
    }

    /// Refuses an inconsistent configuration, naming the field.
    pub fn validate(&self) -> Result<(), PeerError> {
        let bad = |field: &'static str, why: String| Err(PeerError::Config { field, why });
        if !self.servers.contains_key(&self.my_id) {
            return bad("my_id", format!("{} is not in the server list", self.my_id));
        }
        let mut seen = BTreeMap::new();
        for (id, addr) in &self.servers {
            if let Some(other) = seen.insert(*addr, *id) {
                return bad(
                    "servers",
                    format!("servers {other} and {id} share the address {addr}"),
                );
            }
            if addr.port() == 0 {
                return bad("servers", format!("server {id} has port 0"));
            }
        }
        if self.max_frame == 0 || self.max_frame > (u32::MAX as usize) - ENVELOPE_SLACK {
            return bad(
                "max_frame",
                format!("{} is not in 1..4 GiB", self.max_frame),
            );
        }
        if self.queue == 0 {
            return bad("queue", "must be at least 1".into());
        }
        if self.queue_bytes < self.max_frame {
            return bad(
                "queue_bytes",
                format!("{} is less than max_frame", self.queue_bytes),
            );
        }
        if self.events == 0 {
            return bad("events", "must be at least 1".into());
        }
        if self.backoff.initial.is_zero() || self.backoff.max < self.backoff.initial {
            return bad("backoff", "needs 0 < initial <= max".into());
        }
        if self.handshake_timeout.is_zero() || self.keepalive.is_zero() {
            return bad("handshake_timeout", "timeouts must be positive".into());
        }
        Ok(())
    }

    /// The address of `id`, if it is in the server list.
    pub fn address(&self, id: PeerId) -> Option<SocketAddr> {
        self.servers.get(&id).copied()
    }
}

const ENVELOPE_SLACK: usize = 1024;

/// The default ensemble fingerprint: FNV-1a (64 bits) of the server list as `id=address\n`
/// lines in id order. It tells ensembles apart by accident, not against an adversary (that is
/// TLS's job).
pub fn fingerprint(servers: &BTreeMap<PeerId, SocketAddr>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (id, addr) in servers {
        for b in format!("{id}={addr}\n").bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(list: &[(u64, &str)]) -> BTreeMap<PeerId, SocketAddr> {
        list.iter()
            .map(|(id, a)| (*id, a.parse().unwrap()))
            .collect()
    }

    #[test]
    fn backoff_doubles_up_to_the_max_and_jitter_is_injected() {
        let b = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(70),
            jitter: Arc::new(|d| d),
        };
        let got: Vec<u128> = (1..=5).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(got, vec![10, 20, 40, 70, 70]);
        assert_eq!(b.nominal(u32::MAX), Duration::from_millis(70));
    }

    #[test]
    fn default_jitter_stays_in_the_upper_half() {
        let b = Backoff::default();
        for n in 1..50 {
            let d = b.delay(n);
            let nominal = b.nominal(n);
            assert!(d >= nominal / 2 && d <= nominal, "{d:?} for {nominal:?}");
        }
    }

    #[test]
    fn fingerprint_depends_on_ids_and_addresses() {
        let a = servers(&[(1, "127.0.0.1:1000"), (2, "127.0.0.1:1001")]);
        let b = servers(&[(1, "127.0.0.1:1000"), (3, "127.0.0.1:1001")]);
        let c = servers(&[(1, "127.0.0.1:1000"), (2, "127.0.0.1:1002")]);
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
    }

    #[test]
    fn validate_names_the_field() {
        let ok = Config::new(1, servers(&[(1, "127.0.0.1:1000"), (2, "127.0.0.1:1001")]));
        assert!(ok.validate().is_ok());
        let missing = Config::new(9, ok.servers.clone());
        let shared = Config::new(1, servers(&[(1, "127.0.0.1:1000"), (2, "127.0.0.1:1000")]));
        let mut queue = ok.clone();
        queue.queue = 0;
        let mut bytes = ok.clone();
        bytes.queue_bytes = bytes.max_frame - 1;
        let cases = [
            (missing, "my_id"),
            (shared, "servers"),
            (queue, "queue"),
            (bytes, "queue_bytes"),
        ];
        for (cfg, field) in cases {
            match cfg.validate() {
                Err(PeerError::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
