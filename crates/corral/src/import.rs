//! `corral import --from <ZooKeeper dataDir> [--from-log <its dataLogDir>] --to <Corral
//! dataDir> [--to-log <Corral dataLogDir>] [--no-verify-digests]`: an Apache ZooKeeper
//! dataDir into a Corral one.
//!
//! ZooKeeper's files are loaded as ZooKeeper restarts from them (corral-zkdata's `load`: the
//! newest valid snapshot, the logs after it replayed with ZooKeeper's rules, checksums and
//! digests verified). The tree is handed to corral-datatree as a tree snapshot (format
//! version 2, see `corral_datatree::snapshot`), every node with its stored Stat, ACL and
//! ephemeral owner; the server's own `snapshot_payload` adds the sessions, and corral-storage
//! writes `snapshot.<zxid>` into the Corral dataDir: exactly what `corral server` recovers
//! from. The zxid goes on from ZooKeeper's last one. The Corral tree's digest (corral-datatree
//! computes ZooKeeper's) must equal the one corral-zkdata computed over ZooKeeper's tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use corral_datatree::{DataTree, DataTreeConfig, TREE_SNAPSHOT_MAGIC, TREE_SNAPSHOT_VERSION};
use corral_storage::{SnapshotStore, VERSION_DIR};
use corral_zkdata::{Acl, DataTree as ZkTree, LoadOptions};

/// What `corral import` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ImportOptions {
    /// ZooKeeper's dataDir (its version-2/snapshot.* files)
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// ZooKeeper's dataLogDir (its version-2/log.* files), when not the dataDir
    #[arg(long, value_name = "DIR")]
    pub from_log: Option<PathBuf>,
    /// The Corral dataDir to create (it must hold no snapshot or log)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// The Corral dataLogDir, when not the dataDir (it must hold no log)
    #[arg(long, value_name = "DIR")]
    pub to_log: Option<PathBuf>,
    /// Take a digest mismatch as a note instead of refusing (ZooKeeper only logs one)
    #[arg(long = "no-verify-digests", action = clap::ArgAction::SetFalse)]
    pub verify_digests: bool,
}

/// Refuses a target that already holds Corral snapshots or logs.
pub(crate) fn refuse_existing(dir: &Path, prefixes: &[&str]) -> Result<()> {
    let dir = dir.join(VERSION_DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if prefixes.iter().any(|p| name.starts_with(p)) {
            bail!(
                "{} already holds {name}: give an empty or new directory",
                dir.display()
            );
        }
    }
    Ok(())
}

/// Runs the import; prints what it did.
pub fn run(opts: &ImportOptions) -> Result<()> {
    let started = Instant::now();
    for dir in [Some(&opts.from), opts.from_log.as_ref()]
        .into_iter()
        .flatten()
    {
        if !dir.is_dir() {
            bail!("{} is not a directory", dir.display());
        }
    }
    refuse_existing(&opts.to, &["snapshot.", "log."])?;
    if let Some(log) = &opts.to_log {
        refuse_existing(log, &["log."])?;
    }
    let from_log = opts.from_log.as_deref().unwrap_or(&opts.from);
    let mut loaded = corral_zkdata::load(
        &opts.from,
        from_log,
        LoadOptions {
            verify_digests: opts.verify_digests,
        },
    )
    .context("reading the ZooKeeper data")?;
    for note in &loaded.notes {
        eprintln!("corral import: note: {note}");
    }
    if let (Some(snap), Some(until)) = (&loaded.snapshot, loaded.fuzzy_until) {
        println!(
            "{} is fuzzy: written while txns 0x{:x}..=0x{until:x} were applied; replayed from \
             the log over it",
            snap.display(),
            loaded.snapshot_zxid + 1
        );
    }
    let zxid = loaded.tree.last_processed_zxid;
    let bytes = tree_snapshot(&loaded.tree)?;
    // ZooKeeper's tree is not needed any more: free it before Corral's is built.
    let zk_nodes = loaded.tree.len();
    let zk_digest = loaded.tree.digest();
    // A fresh Corral tree has /zookeeper/config, which ZooKeeper before 3.5 did not write.
    let added = usize::from(loaded.tree.get("/zookeeper/config").is_none());
    loaded.tree = corral_zkdata::DataTree::new();
    let config = DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    };
    let tree =
        DataTree::read_snapshot(&mut &bytes[..], config).context("building the Corral tree")?;
    drop(bytes);
    if tree.node_count() != zk_nodes + 1 + added {
        bail!(
            "the Corral tree has {} nodes, ZooKeeper's {}",
            tree.node_count() - 1,
            zk_nodes
        );
    }
    // Both compute ZooKeeper's tree digest: the Corral tree must be ZooKeeper's to the bit.
    if tree.digest() != zk_digest {
        bail!(
            "the Corral tree's digest {} is not ZooKeeper's {zk_digest}",
            tree.digest()
        );
    }
    let payload = corral_server::durability::snapshot_payload(&tree, &loaded.sessions);
    let store = SnapshotStore::open(opts.to.join(VERSION_DIR))
        .with_context(|| format!("opening {}", opts.to.display()))?;
    let file = store
        .write(zxid, &payload)
        .context("writing the Corral snapshot")?;
    println!(
        "imported {} znodes and {} sessions at zxid 0x{zxid:x} from {} and {} txns from the \
         log ({} digests checked) into {} in {:.2} s; tree digest {zk_digest}{}",
        zk_nodes,
        loaded.sessions.len(),
        loaded
            .snapshot
            .as_deref()
            .map_or("no snapshot".into(), |p| p.display().to_string()),
        loaded.replayed,
        loaded.digests_checked,
        file.display(),
        started.elapsed().as_secs_f64(),
        peak_rss_kib().map_or(String::new(), |k| format!("; peak RSS {k} KiB"))
    );
    Ok(())
}

/// This process's peak resident memory (VmHWM), where /proc has it.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Nodes per NODEs record.
const BATCH: usize = 4096;

/// ZooKeeper's tree as a corral-datatree snapshot (version 2): ACL records, NODEs in
/// pre-order (the root is node 0), an EDGE from each parent to each child, the end record.
fn tree_snapshot(zk: &ZkTree) -> Result<Vec<u8>> {
    let paths = zk.paths_preorder();
    let mut out = Vec::with_capacity(64 + paths.len() * 128);
    out.extend_from_slice(&TREE_SNAPSHOT_MAGIC);
    out.push(TREE_SNAPSHOT_VERSION);
    out.extend_from_slice(&zk.last_processed_zxid.to_be_bytes());
    out.extend_from_slice(&(paths.len() as u64).to_be_bytes());
    // ACL lists by ZooKeeper's reference (-1: OPEN_ACL_UNSAFE), as slots.
    let mut slots: BTreeMap<i64, u32> = BTreeMap::new();
    for path in &paths {
        let Some(node) = zk.get(path) else { continue };
        if slots.contains_key(&node.acl) {
            continue;
        }
        let acl = zk
            .acls
            .get(node.acl)
            .with_context(|| format!("node {path:?} has an unknown ACL {}", node.acl))?;
        let slot = slots.len() as u32;
        slots.insert(node.acl, slot);
        out.push(1);
        out.extend_from_slice(&slot.to_be_bytes());
        put_acl_list(&mut out, &acl);
    }
    // Node ids are the pre-order positions (the root is 0).
    let mut id: usize = 0;
    for batch in paths.chunks(BATCH) {
        out.push(2);
        let len_at = out.len();
        out.extend_from_slice(&0u64.to_be_bytes());
        let bodies = out.len();
        let mut index = Vec::with_capacity(4 + batch.len() * 8);
        index.extend_from_slice(&(batch.len() as u32).to_be_bytes());
        for path in batch {
            let Some(node) = zk.get(path) else {
                bail!("node {path:?} vanished");
            };
            let s = node.stat;
            out.extend_from_slice(&slots[&node.acl].to_be_bytes());
            for v in [
                s.czxid,
                s.mzxid,
                s.ctime,
                s.mtime,
                s.pzxid,
                s.ephemeral_owner,
            ] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            for v in [s.version, s.cversion, s.aversion] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            let len = match &node.data {
                None => -1,
                Some(d) => {
                    out.extend_from_slice(d);
                    i32::try_from(d.len()).context("data over 2 GiB")?
                }
            };
            index.extend_from_slice(&(id as u32).to_be_bytes());
            id += 1;
            index.extend_from_slice(&len.to_be_bytes());
        }
        let bodies_len = (out.len() - bodies) as u64;
        out[len_at..len_at + 8].copy_from_slice(&bodies_len.to_be_bytes());
        out.extend_from_slice(&index);
    }
    // Each node's parent is on the stack of its ancestors (pre-order).
    let mut edges: u64 = 0;
    let mut ancestors: Vec<(&str, u32)> = Vec::new();
    for (child, path) in paths.iter().enumerate() {
        let child = child as u32;
        if let Some(slash) = path.rfind('/') {
            let (parent, name) = (&path[..slash], &path[slash + 1..]);
            while ancestors.last().is_some_and(|(p, _)| *p != parent) {
                ancestors.pop();
            }
            let Some(&(_, parent)) = ancestors.last() else {
                bail!("the parent of {path:?} does not come before it");
            };
            out.push(3);
            out.extend_from_slice(&parent.to_be_bytes());
            out.extend_from_slice(&child.to_be_bytes());
            put_str(&mut out, name);
            edges += 1;
        }
        ancestors.push((path.as_str(), child));
    }
    out.push(0);
    for n in [slots.len() as u64, paths.len() as u64, edges] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    Ok(out)
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_acl_list(out: &mut Vec<u8>, acl: &[Acl]) {
    out.extend_from_slice(&(acl.len() as u32).to_be_bytes());
    for a in acl {
        out.extend_from_slice(&a.perms.to_be_bytes());
        put_str(out, &a.scheme);
        put_str(out, &a.id);
    }
}
