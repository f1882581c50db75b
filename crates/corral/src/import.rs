//! `corral import --from <ZooKeeper dataDir> [--from-log <its dataLogDir>] --to <Corral
//! dataDir> [--to-log <Corral dataLogDir>] [--no-verify-digests]`: an Apache ZooKeeper
//! dataDir into a Corral one.
//!
//! ZooKeeper's files are loaded as ZooKeeper restarts from them (corral-zkdata's `load`: the
//! newest valid snapshot, the logs after it replayed with ZooKeeper's rules, checksums and
//! digests verified). The tree is handed to corral-datatree as a tree snapshot (made by its
//! `TreeSnapshotBuilder`, which owns the format), every node with its stored Stat, ACL and
//! ephemeral owner; the server's own `snapshot_payload` adds the sessions, and corral-storage
//! writes `snapshot.<zxid>` into the Corral dataDir: exactly what `corral server` recovers
//! from. The zxid goes on from ZooKeeper's last one. The Corral tree's digest (corral-datatree
//! computes ZooKeeper's) must equal the one corral-zkdata computed over ZooKeeper's tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use corral_datatree::{DataTree, DataTreeConfig, NodeStat, TreeSnapshotBuilder};
use corral_jute::records::{Acl, Id};
use corral_storage::{SnapshotStore, VERSION_DIR};
use corral_zkdata::{DataTree as ZkTree, LoadOptions};
use corral_zxid::Zxid;

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
    let read_secs = started.elapsed().as_secs_f64();
    let converting = Instant::now();
    let zxid = loaded.tree.last_processed_zxid;
    let bytes = tree_snapshot(&loaded.tree)?;
    let zk_nodes = loaded.tree.len();
    let zk_digest = loaded.tree.digest();
    // A fresh Corral tree has /zookeeper/config, which ZooKeeper before 3.5 did not write.
    let added = usize::from(loaded.tree.get("/zookeeper/config").is_none());
    let config = DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    };
    // Freeing ZooKeeper's million small allocations takes a while: on another thread, while
    // the snapshot is written (freeing beside the build of Corral's tree made both contend
    // for the allocator). Peak memory: both trees, as when the last node is read.
    let zk_tree = std::mem::take(&mut loaded.tree);
    let tree = DataTree::read_snapshot(&mut &bytes[..], config);
    let freeing = std::thread::spawn(move || drop(zk_tree));
    let tree = tree.context("building the Corral tree")?;
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
    let convert_secs = converting.elapsed().as_secs_f64();
    let writing = Instant::now();
    // The checked bytes themselves are written (Corral's start reads them as the check did).
    drop(tree);
    let payload =
        corral_server::durability::snapshot_payload_from_tree_bytes(bytes, &loaded.sessions);
    let store = SnapshotStore::open(opts.to.join(VERSION_DIR))
        .with_context(|| format!("opening {}", opts.to.display()))?;
    let file = store
        .write(Zxid::from_wire(zxid), &payload)
        .context("writing the Corral snapshot")?;
    if freeing.join().is_err() {
        bail!("freeing ZooKeeper's tree failed");
    }
    println!(
        "imported {} znodes and {} sessions at zxid 0x{zxid:x} from {} and {} txns from the \
         log ({} digests checked) into {} in {:.2} s (read {read_secs:.2} s, convert \
         {convert_secs:.2} s, write {:.2} s); tree digest {zk_digest}{}",
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
        writing.elapsed().as_secs_f64(),
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

/// ZooKeeper's tree as a corral-datatree tree snapshot, through its builder: every node in
/// pre-order with its stored Stat, data and ACL list.
fn tree_snapshot(zk: &ZkTree) -> Result<Vec<u8>> {
    let mut builder =
        TreeSnapshotBuilder::new(Zxid::from_wire(zk.last_processed_zxid), zk.len() as u64);
    // ACL lists by ZooKeeper's reference (-1: OPEN_ACL_UNSAFE), converted once each.
    let mut lists: BTreeMap<i64, Vec<Acl>> = BTreeMap::new();
    zk.visit_preorder(|key, node| -> Result<()> {
        let Some(node) = node else {
            bail!("node {key:?} is its parent's child but is not in the tree");
        };
        if let std::collections::btree_map::Entry::Vacant(slot) = lists.entry(node.acl) {
            let acl = zk
                .acls
                .get(node.acl)
                .with_context(|| format!("node {key:?} has an unknown ACL {}", node.acl))?;
            slot.insert(
                acl.into_iter()
                    .map(|a| Acl {
                        perms: a.perms,
                        id: Id {
                            scheme: a.scheme,
                            id: a.id,
                        },
                    })
                    .collect(),
            );
        }
        let s = node.stat;
        let stat = NodeStat {
            czxid: Zxid::from_wire(s.czxid),
            mzxid: Zxid::from_wire(s.mzxid),
            ctime: s.ctime,
            mtime: s.mtime,
            pzxid: Zxid::from_wire(s.pzxid),
            ephemeral_owner: s.ephemeral_owner,
            version: s.version,
            cversion: s.cversion,
            aversion: s.aversion,
        };
        let path = if key.is_empty() { "/" } else { key };
        builder.node(path, node.data.as_deref(), &lists[&node.acl], &stat)?;
        Ok(())
    })?;
    Ok(builder.finish()?)
}
