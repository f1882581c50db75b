//! The session table of Corral, a ZooKeeper-compatible coordination server.
//!
//! This crate decides, with ZooKeeper's exact semantics, everything about sessions that does
//! not need a clock or a socket:
//!
//! * **timeouts** — [`SessionConfig`] holds `tickTime`, `minSessionTimeout` and
//!   `maxSessionTimeout` (defaults 2000, 2 × tickTime, 20 × tickTime) and
//!   [negotiates](SessionConfig::negotiate) a client's requested timeout by clamping it;
//! * **ids** — the top byte is the server id, the next five bytes come from the clock, and
//!   each session takes the next integer ([`SessionId::initial`]); values that mean something
//!   else as an `ephemeralOwner` are never handed out;
//! * **passwords** — 16 bytes of `java.util.Random(id ^ 0xB3415C00).nextBytes`, so they equal
//!   ZooKeeper's and never need storing ([`Password::derive`]);
//! * **expiry** — sessions sit in buckets one `tickTime` wide, like ZooKeeper's `ExpiryQueue`:
//!   a touch at `now` puts a session in the bucket at the first multiple of tickTime strictly
//!   after `now + timeout`, and [`SessionTable::expire`] takes every bucket whose time has come.
//!
//! What it is **not**: it has no timers (the caller asks [`SessionTable::next_expiry_ms`] and
//! calls [`SessionTable::expire`] when that time comes), no clock (every call takes `now_ms`
//! from the caller's monotonic millisecond clock), no networking, no persistence, no local
//! sessions, and no ephemeral nodes: deleting a session's ephemerals is the caller's
//! closeSession txn, after which it calls [`SessionTable::close`]. It does record each
//! session's owner (the server its client is connected through, an opaque id), so that an
//! ensemble's leader can refuse a stale request with `SessionMoved`
//! ([`SessionTable::check_owner`]).
//!
//! # Flow
//!
//! 1. ConnectRequest with session id 0: [`SessionConfig::negotiate`] the timeout,
//!    [`SessionTable::create`], answer with the session's timeout, id and password.
//! 2. ConnectRequest with a session id: [`SessionTable::revalidate`]. On success answer with
//!    the timeout, id and password. On **any** error ZooKeeper answers a ConnectResponse with
//!    timeout 0, session id 0 and 16 zero bytes of password, then closes the connection; the
//!    client reports its session as expired.
//! 3. Every ping and request: [`SessionTable::touch`]. `false` means the session is gone or
//!    closing; ZooKeeper then drops the request without answering.
//! 4. A client's closeSession request: [`SessionTable::mark_closing`], then run the
//!    closeSession txn.
//! 5. When [`SessionTable::next_expiry_ms`] has passed: [`SessionTable::expire`]; run a
//!    closeSession txn for each id returned.
//! 6. When a closeSession txn is applied: [`SessionTable::close`].
//!
//! # Example
//!
//! ```
//! use corral_session::{SessionConfig, SessionError, SessionTable};
//!
//! let config = SessionConfig::default(); // tickTime 2000: timeouts 4000..=40000 ms
//! let mut table = SessionTable::new(config, 0, 1_000)?;
//!
//! let timeout = config.negotiate(30_000);
//! let session = table.create(timeout, 1_000);
//! assert_eq!(session.timeout_ms(), 30_000);
//! // Deadline 1000 + 30000, rounded up to the next multiple of tickTime.
//! assert_eq!(table.next_expiry_ms(), Some(32_000));
//!
//! // A reconnect with the right password touches the session.
//! let password = *session.password().as_bytes();
//! assert_eq!(table.revalidate(session.id(), &password, 5_000), Ok(30_000));
//! assert_eq!(table.next_expiry_ms(), Some(36_000));
//!
//! // No more pings: the session expires, stays (closing) until its txn runs.
//! assert!(table.expire(35_999).is_empty());
//! assert_eq!(table.expire(36_000), vec![session.id()]);
//! assert_eq!(
//!     table.revalidate(session.id(), &password, 36_001),
//!     Err(SessionError::Expired(session.id()))
//! );
//! table.close(session.id()); // after the closeSession txn deleted its ephemerals
//! assert!(table.is_empty());
//! # Ok::<(), SessionError>(())
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod config;
mod error;
mod id;
mod password;
mod table;

#[cfg(test)]
mod model_tests;

pub use config::SessionConfig;
pub use error::SessionError;
pub use id::SessionId;
pub use password::{Password, PASSWORD_LEN, ZOOKEEPER_SUPER_SECRET};
pub use table::{Session, SessionTable};
