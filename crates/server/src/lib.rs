//! # corral-server: the server, composed (standalone or an ensemble member)
//!
//! The thin layer that turns the pure crates into a ZooKeeper-compatible server: a tokio
//! listener on the client port, one task per connection (reader and batching writer), one
//! owner task that drives the [`Core`] (the server's state machine without I/O: inputs in,
//! [`Effect`]s out; the tree of corral-datatree, the sessions of corral-session, the watches of
//! corral-watch, the ACL check of corral-acl), zoo.cfg parsing and the four-letter words.
//! SASL: the `sasl` request runs corral-acl's DIGEST-MD5 server with the users of the JAAS file
//! named by zoo.cfg's `java.security.auth.login.config` (core/sasl.rs; its nonces come in with
//! the request).
//!
//! The AdminServer (`admin.*` keys; on by default on 0.0.0.0:8080, as ZooKeeper's) serves
//! ZooKeeper's commands as JSON over HTTP ([`admin`], on hyper in [`http`]).
//!
//! The secure client port (`secureClientPort`, zoo.cfg's `ssl.*` keys) serves the same
//! protocol over TLS (corral-tls); a client certificate authenticates its connection with
//! ZooKeeper's `x509` scheme.
//!
//! Metrics: ZooKeeper's ServerMetrics in one registry (crate::core::metrics) that `mntr` and,
//! with zoo.cfg's `metricsProvider.className=...PrometheusMetricsProvider`, Prometheus's
//! `/metrics` (HTTP on `metricsProvider.httpHost:httpPort`) both render.
//!
//! What it is not: it holds no logic of its own about znodes, sessions or watches (those live
//! in the crates above; durability is corral-storage's log and snapshots, driven from
//! [`durability`]; an ensemble's agreement is corral-zab's, run by corral-zab-runtime over
//! corral-peer's gRPC streams).
//!
//! With `server.N` lines in zoo.cfg (and `myid` in dataDir) the server is an ensemble member:
//! the core runs inside the ZAB runtime as its state machine; the leader preps and proposes,
//! followers and observers forward writes, createSession, closeSession and sync to it with
//! the connection's auth ids, and every server applies the committed txns in zxid order and
//! answers its own clients (ARCHITECTURE.md, "An ensemble member").
//!
//! ```no_run
//! use corral_server::{Server, ServerConfig};
//!
//! # async fn run() -> Result<(), corral_server::ServerError> {
//! let config = ServerConfig::parse("dataDir=/tmp/corral\nclientPort=2181\nclientPortAddress=127.0.0.1\n")?;
//! let server = Server::bind(config).await?;
//! println!("serving on {:?}", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod admin;
mod auth_order;
pub mod config;
pub mod core;
pub mod durability;
mod error;
pub mod fourlw;
pub mod http;
mod io_metrics;
mod member;
mod member_links;
mod metrics_http;
mod net;
mod outbox;
mod owner;
mod snapshot_feed;
pub mod stats;
mod tls_config;

pub use crate::config::{EnsembleConfig, LearnerType, QuorumServer, ServerConfig};
pub use crate::core::{Core, Effect, Input, Now};
pub use crate::error::ServerError;
pub use crate::net::Server;
