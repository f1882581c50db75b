//! The kv_grpc example's three processes over mutual TLS between the servers (feature
//! `grpc`; it runs the example binary, see tests/kill9.rs): with the repo's test certificates
//! every server holds the writes; when server 3 presents server 1's certificate (same CA,
//! naming peer1.corral.test) it is never linked, while servers 1 and 2 still commit.

#[path = "support/example_bin.rs"]
mod example_bin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tls/tests/fixtures")
}

fn temp(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("corral-kv-tls-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Runs `kv_grpc --ensemble DIR --tls CERTS` (it stops its children itself), at most 120 s;
/// returns each server's dumped map by id.
fn ensemble(dir: &Path, certs: &Path) -> BTreeMap<u64, Vec<String>> {
    let mut child = Command::new(example_bin::kv_grpc())
        .arg("--ensemble")
        .arg(dir)
        .arg("--tls")
        .arg(certs)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start kv_grpc");
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kv_grpc --ensemble did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out)
        .expect("read stdout");
    assert!(status.success(), "kv_grpc failed:\n{out}");
    // "server ID: pid P, client port PORT" then "port PORT: entry K V" ... "end".
    let mut ids = BTreeMap::new();
    let mut maps: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let mut current = None;
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("server ") {
            if let (Some((id, _)), Some((_, port))) =
                (rest.split_once(':'), rest.rsplit_once("client port "))
            {
                ids.insert(port.to_string(), id.parse::<u64>().expect("id"));
            }
            continue;
        }
        let line = match line.strip_prefix("port ") {
            Some(rest) => {
                let (port, tail) = rest.split_once(": ").expect("port line");
                current = Some(ids[port]);
                maps.entry(ids[port]).or_default();
                tail
            }
            None => line,
        };
        if let (Some(id), Some(entry)) = (current, line.strip_prefix("entry ")) {
            maps.entry(id).or_default().push(entry.to_string());
        }
        if line == "end" {
            current = None;
        }
    }
    maps
}

#[test]
fn three_processes_replicate_over_tls_and_a_borrowed_certificate_is_kept_out() {
    let want = vec!["colour green".to_string(), "size xl".to_string()];
    let dir = temp("ok");
    let maps = ensemble(&dir, &fixtures());
    assert_eq!(maps.len(), 3, "{maps:?}");
    for (id, map) in &maps {
        assert_eq!(map, &want, "server {id}");
    }
    let _ = std::fs::remove_dir_all(&dir);

    // Server 3 holds server 1's certificate: the others refuse it, and commit without it.
    let certs = temp("certs");
    for (from, to) in [
        ("ca.pem", "ca.pem"),
        ("peer1-keystore.pem", "peer1-keystore.pem"),
        ("peer2-keystore.pem", "peer2-keystore.pem"),
        ("peer1-keystore.pem", "peer3-keystore.pem"),
    ] {
        std::fs::copy(fixtures().join(from), certs.join(to)).expect("copy certificate");
    }
    let dir = temp("borrowed");
    let maps = ensemble(&dir, &certs);
    assert_eq!(maps.get(&1), Some(&want), "{maps:?}");
    assert_eq!(maps.get(&2), Some(&want), "{maps:?}");
    assert_eq!(
        maps.get(&3),
        Some(&Vec::new()),
        "server 3 never joined: {maps:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&certs);
}
