//! One server of a three-process ensemble replicating a key-value map over corral-peer's gRPC
//! transport, with a real data directory (fsync before every acknowledgement).
//!
//! ```text
//! # one server (run three, one per id):
//! cargo run -p corral-zab-runtime --features grpc --example kv_grpc -- \
//!     --id 1 --servers 1=127.0.0.1:2888,2=127.0.0.1:2889,3=127.0.0.1:2890 \
//!     --data /tmp/kv/1 --port 7001
//! # all three as child processes, a few writes, their maps, then stop (`--bench N`: then
//! # N writes through the leader, 64 in flight: commits/s, p50 and p99 latency in µs):
//! cargo run -p corral-zab-runtime --features grpc --example kv_grpc -- --ensemble /tmp/kv
//! # the same over mutual TLS between the servers (with either form), from the repo's test
//! # certificates:
//! cargo run -p corral-zab-runtime --features grpc --example kv_grpc -- --ensemble /tmp/kv \
//!     --tls crates/tls/tests/fixtures
//! ```
//!
//! `--tls DIR`: TLS between the servers (corral-peer's `RustlsLayer`, configured by
//! corral-tls's `quorum_configs` as ZooKeeper's `ssl.quorum.*`): server N presents
//! `DIR/peerN-keystore.pem` (certificate and key), checks its peers' chains against
//! `DIR/ca.pem`, and ties each peer to its id by host name: server N's certificate must name
//! `peerN.corral.test` (corral-tls's `HostIdentity`, ZooKeeper's host name verification), so
//! a certificate of the same CA cannot speak for another server. `make-peers.sh` in that
//! directory makes such certificates.
//!
//! `--port` accepts clients on 127.0.0.1, one command a line, one answer a line:
//! `set KEY VALUE` (`ok ZXID`, or `err not leader [ID]` on a follower), `get KEY`
//! (`value V` / `none`), `dump` (`entry K V` lines then `end`), `status`
//! (`status ROLE LEADER ESTABLISHED LAST_SYNC`), `bench N` (N writes in flight at once from
//! this leader: `bench COMMITS_PER_SEC P50_US P99_US`). Every change of role, leader or
//! sync is printed as `status id=.. role=.. leader=.. established=.. last_sync=.. last_zxid=..`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use corral_storage::StorageConfig;
use corral_zab::{Config, PeerId, VoterSet};
use corral_zab_runtime::{attach, Event, Runtime, RuntimeConfig, RuntimeError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[path = "kv.rs"]
#[allow(dead_code)]
mod kv;
#[path = "support/window.rs"]
mod window;
use kv::Kv;

const USAGE: &str = "usage: kv_grpc --id N --servers 1=HOST:PORT,2=HOST:PORT,3=HOST:PORT \
--data DIR [--port CLIENT_PORT] [--tls CERT_DIR]\n   or: kv_grpc --ensemble DIR [--bench WRITES] [--tls CERT_DIR]";

/// One server's arguments.
struct Args {
    id: PeerId,
    servers: BTreeMap<PeerId, SocketAddr>,
    data: PathBuf,
    port: Option<u16>,
    /// TLS between the servers, from the certificates in this directory.
    tls: Option<PathBuf>,
}

enum Mode {
    Server(Args),
    /// The directory, how many writes to benchmark after the demo (0: none), and `--tls`.
    Ensemble(PathBuf, usize, Option<PathBuf>),
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Mode, String> {
    let (mut id, mut servers, mut data, mut port, mut ensemble) = (None, None, None, None, None);
    let mut tls = None;
    let mut bench = 0;
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--id" => {
                let v = value()?;
                id = Some(
                    v.parse()
                        .map_err(|_| format!("--id {v}: not a server id"))?,
                );
            }
            "--servers" => servers = Some(parse_servers(&value()?)?),
            "--data" => data = Some(PathBuf::from(value()?)),
            "--port" => {
                let v = value()?;
                port = Some(v.parse().map_err(|_| format!("--port {v}: not a port"))?);
            }
            "--ensemble" => ensemble = Some(PathBuf::from(value()?)),
            "--tls" => tls = Some(PathBuf::from(value()?)),
            "--bench" => {
                let v = value()?;
                bench = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or(format!("--bench {v}: a count from 1 to 1000000"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if let Some(dir) = ensemble {
        return Ok(Mode::Ensemble(dir, bench, tls));
    }
    let id = id.ok_or("--id is missing")?;
    let servers: BTreeMap<PeerId, SocketAddr> = servers.ok_or("--servers is missing")?;
    if !servers.contains_key(&id) {
        return Err(format!("--id {id} is not in --servers"));
    }
    let data = data.ok_or("--data is missing")?;
    Ok(Mode::Server(Args {
        id,
        servers,
        data,
        port,
        tls,
    }))
}

fn parse_servers(list: &str) -> Result<BTreeMap<PeerId, SocketAddr>, String> {
    let mut servers = BTreeMap::new();
    for item in list.split(',') {
        let (id, addr) = item
            .split_once('=')
            .ok_or(format!("--servers {item}: expected ID=HOST:PORT"))?;
        let id: PeerId = id
            .parse()
            .map_err(|_| format!("--servers {item}: {id} is not a server id"))?;
        let addr: SocketAddr = addr
            .parse()
            .map_err(|_| format!("--servers {item}: {addr} is not HOST:PORT"))?;
        if servers.insert(id, addr).is_some() {
            return Err(format!("--servers: server {id} is listed twice"));
        }
    }
    Ok(servers)
}

fn main() -> ExitCode {
    // Warnings and up on stderr; RUST_LOG overrides (e.g. RUST_LOG=info).
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let mode = match parse(std::env::args().skip(1)) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("kv_grpc: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kv_grpc: tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode {
        Mode::Server(args) => rt.block_on(serve(args)),
        Mode::Ensemble(dir, bench, tls) => rt.block_on(ensemble(dir, bench, tls)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kv_grpc: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: Args) -> Result<(), String> {
    let voters: Vec<PeerId> = args.servers.keys().copied().collect();
    let peer_config = corral_peer::Config::new(args.id, args.servers.clone());
    let (transport, events) = match &args.tls {
        None => corral_peer::Transport::start(peer_config).await,
        Some(dir) => {
            let layer = tls_layer(dir, args.id, &args.servers)?;
            let addr = args.servers[&args.id];
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| format!("peer port {addr}: {e}"))?;
            corral_peer::Transport::start_with(peer_config, listener, layer)
        }
    }
    .map_err(|e| e.to_string())?;
    let (transport, inbound) = attach(transport, events);
    let config = RuntimeConfig {
        zab: Config {
            id: args.id,
            voters: VoterSet::new(voters),
            // A LOOKING server resends its vote at least every second: a peer that comes
            // back is found soon.
            max_election_ticks: 20,
            ..Config::default()
        },
        tick: Duration::from_millis(50),
        storage: StorageConfig::new(&args.data),
        snap_count: 10_000,
    };
    let mut runtime =
        Runtime::start(config, Kv::default(), transport, inbound).map_err(|e| e.to_string())?;
    // Refused peers are printed; a runtime that stops (disk failure) ends the process.
    if let Some(mut events) = runtime.events() {
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                match e {
                    Event::Stopped(e) => {
                        eprintln!("kv_grpc: the runtime stopped: {e}");
                        std::process::exit(1);
                    }
                    Event::Refused { peer, reason } => {
                        eprintln!("refused server {peer}: {reason}")
                    }
                    Event::Role(_) | Event::Established(_) => {}
                }
            }
        });
    }
    let runtime = Arc::new(runtime);
    println!(
        "server {} started, data in {}, peer TLS {}",
        args.id,
        args.data.display(),
        if args.tls.is_some() { "on" } else { "off" }
    );
    let mut status = runtime.status();
    let id = args.id;
    tokio::spawn(async move {
        let mut last = String::new();
        loop {
            let s = status.borrow_and_update().clone();
            let line = format!(
                "status id={id} role={:?} leader={} established={} last_sync={}",
                s.role,
                s.leader.map_or("none".into(), |l| l.to_string()),
                s.established,
                s.last_sync.map_or("none".into(), |k| format!("{k:?}")),
            );
            if line != last {
                println!("{line} last_zxid={}", s.last_zxid);
                last = line;
            }
            if status.changed().await.is_err() {
                return;
            }
        }
    });
    let Some(port) = args.port else {
        // No clients: replicate until killed.
        std::future::pending::<()>().await;
        return Ok(());
    };
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("client port {port}: {e}"))?;
    loop {
        let (socket, _) = listener.accept().await.map_err(|e| e.to_string())?;
        tokio::spawn(client(socket, runtime.clone()));
    }
}

/// The TLS layer of server `id`: its certificate `DIR/peer<id>-keystore.pem`, peers checked
/// against `DIR/ca.pem` and tied to their ids by the host names `peer<N>.corral.test`.
fn tls_layer(
    dir: &std::path::Path,
    id: PeerId,
    servers: &BTreeMap<PeerId, SocketAddr>,
) -> Result<Arc<corral_peer::RustlsLayer>, String> {
    let store = |name: String| corral_tls::StoreSpec {
        location: dir.join(name),
        password: None,
        store_type: None,
    };
    let settings = corral_tls::TlsSettings {
        key_store: store(format!("peer{id}-keystore.pem")),
        trust_store: Some(store("ca.pem".into())),
        protocols: vec![corral_tls::TlsVersion::Tls13],
        ..corral_tls::TlsSettings::default()
    };
    let (server, client) =
        corral_tls::peer_verify::quorum_configs(&settings).map_err(|e| format!("--tls: {e}"))?;
    let hosts = servers
        .keys()
        .map(|&n| (n, format!("peer{n}.corral.test")))
        .collect();
    let hosts = corral_tls::peer_verify::HostIdentity::new(hosts);
    let identity = move |n: PeerId, cert: &rustls::pki_types::CertificateDer<'_>| {
        hosts.check(n, cert).map_err(|e| e.to_string())
    };
    let sni = rustls::pki_types::ServerName::try_from("corral-peer").map_err(|e| e.to_string())?;
    Ok(Arc::new(corral_peer::RustlsLayer::new(
        server,
        client,
        sni,
        Arc::new(identity),
    )))
}

/// One client connection: a command a line, an answer a line.
async fn client(socket: TcpStream, runtime: Arc<Runtime<Kv>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let answer = command(&line, &runtime).await;
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn command(line: &str, runtime: &Arc<Runtime<Kv>>) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["set", key, value] => {
            if key.contains('=') {
                return "err a key holds no '='\n".into();
            }
            match runtime.propose(Bytes::from(format!("{key}={value}"))).await {
                Ok(zxid) => format!("ok {zxid}\n"),
                Err(e) => error_line(e),
            }
        }
        ["get", key] => {
            let key = key.to_string();
            match runtime.read(move |kv: &Kv| kv.map.get(&key).cloned()).await {
                Ok(Some(v)) => format!("value {v}\n"),
                Ok(None) => "none\n".into(),
                Err(e) => error_line(e),
            }
        }
        ["dump"] => match runtime.read(|kv: &Kv| kv.map.clone()).await {
            Ok(map) => {
                let mut out = String::new();
                for (k, v) in map {
                    out.push_str(&format!("entry {k} {v}\n"));
                }
                out + "end\n"
            }
            Err(e) => error_line(e),
        },
        ["status"] => {
            let s = runtime.status().borrow().clone();
            format!(
                "status {:?} {} {} {}\n",
                s.role,
                s.leader.map_or("none".into(), |l| l.to_string()),
                s.established,
                s.last_sync.map_or("none".into(), |k| format!("{k:?}")),
            )
        }
        ["bench", n] => match n.parse::<usize>() {
            Ok(n) if (1..=1_000_000).contains(&n) => bench(runtime, n).await,
            _ => format!("err bench {n}: a count from 1 to 1000000\n"),
        },
        _ => format!("err unknown command {line:?}\n"),
    }
}

fn error_line(e: RuntimeError) -> String {
    format!("err {}\n", e.to_string().replace('\n', " "))
}

/// `n` writes with up to 64 in flight from this (leader) server: commits/s, p50, p99.
async fn bench(runtime: &Arc<Runtime<Kv>>, n: usize) -> String {
    match window::load(runtime, n, 64).await {
        Ok(f) => format!(
            "bench {:.0} {} {}\n",
            f.per_sec,
            f.p50.as_micros(),
            f.p99.as_micros()
        ),
        Err(e) => error_line(e),
    }
}

/// Starts three servers as child processes of this program on free 127.0.0.1 ports, writes
/// a few keys through the leader, prints every server's map, and stops them.
async fn ensemble(dir: PathBuf, bench: usize, tls: Option<PathBuf>) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut free = Vec::new();
    for _ in 0..6 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        free.push(l.local_addr().map_err(|e| e.to_string())?.port());
    }
    let servers = (1..=3)
        .map(|id| format!("{id}=127.0.0.1:{}", free[id - 1]))
        .collect::<Vec<_>>()
        .join(",");
    let mut children = Vec::new();
    for id in 1..=3usize {
        let mut command = std::process::Command::new(&exe);
        command
            .args(["--id", &id.to_string(), "--servers", &servers])
            .arg("--data")
            .arg(dir.join(id.to_string()))
            .args(["--port", &free[2 + id].to_string()]);
        if let Some(t) = &tls {
            command.arg("--tls").arg(t);
        }
        let child = command.spawn();
        match child {
            Ok(child) => {
                println!(
                    "server {id}: pid {}, client port {}",
                    child.id(),
                    free[2 + id]
                );
                children.push(child);
            }
            Err(e) => {
                stop(children);
                return Err(format!("starting server {id}: {e}"));
            }
        }
    }
    let result = drive(&free[3..6], bench).await;
    stop(children);
    result
}

/// Kills and reaps the children.
fn stop(children: Vec<std::process::Child>) {
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
}

async fn ask(port: u16, line: &str) -> Result<String, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(format!("{line}\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut lines = BufReader::new(s).lines();
    let mut out = String::new();
    while let Ok(Some(l)) = lines.next_line().await {
        let last = !l.starts_with("entry ");
        out.push_str(&l);
        out.push('\n');
        if last {
            break;
        }
    }
    Ok(out)
}

async fn drive(ports: &[u16], bench: usize) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        let mut found = None;
        for &p in ports {
            if let Ok(s) = ask(p, "status").await {
                if s.starts_with("status Leading") && s.contains(" true ") {
                    found = Some(p);
                }
            }
        }
        if let Some(p) = found {
            break p;
        }
        if Instant::now() > deadline {
            return Err("no established leader within 60 s".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (k, v) in [("colour", "blue"), ("size", "xl"), ("colour", "green")] {
        print!(
            "set {k} {v}: {}",
            ask(leader, &format!("set {k} {v}")).await?
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for &p in ports {
        print!("port {p}: {}", ask(p, "dump").await?);
    }
    if bench > 0 {
        // bench COMMITS_PER_SEC P50_US P99_US, 64 writes in flight, fsync on every server.
        println!(
            "{}",
            ask(leader, &format!("bench {bench}")).await?.trim_end()
        );
    }
    Ok(())
}
