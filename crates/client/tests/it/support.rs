//! Test servers: an in-process Corral server, an Apache ZooKeeper 3.8 child process (killed by
//! pid when its guard drops, even on panic), and a TCP proxy that can cut and refuse
//! connections (to simulate a lost connection against either server).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_client::Client;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

pub const ZK_JAR: &str = "/usr/share/java/zookeeper.jar";
pub const SLF4J_JAR: &str = "/usr/share/java/slf4j-nop.jar";

/// Which server a scenario runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Corral,
    ZooKeeper,
}

/// A server to test against.
#[derive(Debug, Clone)]
pub struct Target {
    pub kind: Kind,
    pub addr: SocketAddr,
}

impl Target {
    pub fn connect_string(&self) -> String {
        self.addr.to_string()
    }

    /// A client with a short session timeout (so expiry tests are quick).
    pub async fn client(&self) -> corral_client::Result<Client> {
        self.client_at(&self.connect_string()).await
    }

    pub async fn client_at(&self, cs: &str) -> corral_client::Result<Client> {
        Client::builder(cs)
            .session_timeout(Duration::from_millis(4000))
            .connect_timeout(Duration::from_secs(10))
            .connect()
            .await
    }
}

static DIR_COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn temp_dir(tag: &str) -> PathBuf {
    let n = DIR_COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("corral-client-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// tickTime 500 ms: sessions may be 1..10 s long.
pub const TICK_MS: u32 = 500;

pub async fn start_corral() -> SocketAddr {
    let dir = temp_dir("corral");
    let cfg = corral_server::ServerConfig::parse(&format!(
        "tickTime={TICK_MS}\ndataDir={}\nclientPort=0\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nextendedTypesEnabled=true\nadmin.enableServer=false\n",
        dir.display()
    ))
    .expect("corral config");
    let server = corral_server::Server::bind(cfg).await.expect("corral bind");
    let addr = server.local_addr().expect("corral addr");
    tokio::spawn(server.run(std::future::pending()));
    addr
}

/// An Apache ZooKeeper standalone server; killed (by pid) and its directory removed on drop.
pub struct ZooKeeper {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

impl ZooKeeper {
    pub fn start() -> Result<ZooKeeper, String> {
        if !std::path::Path::new(ZK_JAR).exists() {
            return Err(format!(
                "{ZK_JAR} is missing: install Apache ZooKeeper 3.8 \
                 (apt-get install zookeeper) to run corral-client's tests against it"
            ));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("free port: {e}"))?
            .port();
        let dir = temp_dir("zookeeper");
        let data = dir.join("data");
        std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
        let cfg = dir.join("zoo.cfg");
        std::fs::write(
            &cfg,
            format!(
                "tickTime={TICK_MS}\ndataDir={}\nclientPort={port}\nclientPortAddress=127.0.0.1\n\
                 maxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n\
                 extendedTypesEnabled=true\npreAllocSize=1024\n",
                data.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let log = std::fs::File::create(dir.join("zookeeper.log")).map_err(|e| e.to_string())?;
        let child = Command::new("java")
            .arg("-Xmx256m")
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .arg("-Dznode.container.checkIntervalMs=300")
            .arg("-Dzookeeper.admin.enableServer=false")
            .arg("-cp")
            .arg(format!("{ZK_JAR}:{SLF4J_JAR}"))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting java: {e}"))?;
        let mut zk = ZooKeeper {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = zk.child.try_wait() {
                return Err(format!("ZooKeeper exited early: {status}"));
            }
            if srvr(zk.addr).is_some_and(|s| s.contains("Mode:")) {
                return Ok(zk);
            }
            if Instant::now() > deadline {
                return Err("ZooKeeper did not answer srvr within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn srvr(addr: SocketAddr) -> Option<String> {
    let mut s = StdTcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    s.write_all(b"srvr").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// A TCP proxy in front of a server: `cut()` drops every connection through it, `block(true)`
/// refuses new ones until `block(false)`.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    generation: Arc<watch::Sender<u64>>,
    blocked: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy bind");
        let addr = listener.local_addr().expect("proxy addr");
        let generation = Arc::new(watch::channel(0u64).0);
        let blocked = Arc::new(AtomicBool::new(false));
        let proxy = Proxy {
            addr,
            generation: generation.clone(),
            blocked: blocked.clone(),
        };
        tokio::spawn(async move {
            loop {
                let Ok((mut down, _)) = listener.accept().await else {
                    return;
                };
                if blocked.load(Ordering::SeqCst) {
                    drop(down);
                    continue;
                }
                let mut gen_rx = generation.subscribe();
                gen_rx.borrow_and_update();
                tokio::spawn(async move {
                    let Ok(mut up) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut down, &mut up) => {}
                        _ = gen_rx.changed() => {}
                    }
                });
            }
        });
        proxy
    }

    pub fn cut(&self) {
        self.generation.send_modify(|g| *g += 1);
    }

    pub fn block(&self, on: bool) {
        self.blocked.store(on, Ordering::SeqCst);
    }
}

/// Polls `check` every 50 ms until it returns true, at most `tries` times.
pub async fn eventually<F, Fut>(what: &str, tries: u32, mut check: F) -> TestResult
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{what}: not true after {tries} tries").into())
}

/// Awaits `fut` for at most `secs` seconds.
pub async fn within<T>(
    what: &str,
    secs: u64,
    fut: impl std::future::Future<Output = T>,
) -> Result<T, Box<dyn std::error::Error + Send + Sync>> {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .map_err(|_| format!("{what}: not done within {secs} s").into())
}
