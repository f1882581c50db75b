//! `corral export --from <Corral dataDir> [--from-log <Corral dataLogDir>] --to <ZooKeeper
//! dataDir> [--compression none|gz|snappy]`: a Corral dataDir as an Apache ZooKeeper 3.8
//! dataDir that ZooKeeper starts from.
//!
//! The Corral data is recovered as `corral server` would at start (newest valid snapshot,
//! the log after it; a torn log tail is cut as at a start: do not run it on the dataDir of
//! a running server), then written as one ZooKeeper snapshot, `version-2/snapshot.<last
//! zxid>`, with the sessions, every node's stored Stat, data and ACL, and the digest ZooKeeper
//! 3.8 checks at load. No txn log is needed: ZooKeeper's log starts after that zxid.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use corral_datatree::{DataTree, DataTreeConfig};
use corral_storage::{Storage, StorageConfig, VERSION_DIR};
use corral_zkdata::{Acl, Compression, DataTree as ZkTree, LoadOptions, StatPersisted};

use crate::import::refuse_existing;

/// What `corral export` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportOptions {
    /// The Corral dataDir.
    pub from: PathBuf,
    /// The Corral dataLogDir, when not the dataDir.
    pub from_log: Option<PathBuf>,
    /// The ZooKeeper dataDir to create.
    pub to: PathBuf,
    /// The snapshot's compression (ZooKeeper's `zookeeper.snapshot.compression.method`).
    pub compression: Compression,
}

/// The usage line.
pub const USAGE: &str = "corral export --from <Corral dataDir> [--from-log <dataLogDir>] --to <ZooKeeper dataDir> [--compression none|gz|snappy]";

impl ExportOptions {
    /// Parses the arguments after `export`.
    pub fn parse(args: &[String]) -> Result<ExportOptions> {
        let (mut from, mut from_log, mut to) = (None, None, None);
        let mut compression = Compression::None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .with_context(|| format!("{arg} needs a value\nusage: {USAGE}"))
            };
            match arg.as_str() {
                "--from" => from = Some(PathBuf::from(value()?)),
                "--from-log" => from_log = Some(PathBuf::from(value()?)),
                "--to" => to = Some(PathBuf::from(value()?)),
                "--compression" => {
                    compression = match value()?.as_str() {
                        "none" | "checked" => Compression::None,
                        "gz" => Compression::Gzip,
                        "snappy" => Compression::Snappy,
                        other => bail!("unknown compression {other:?} (none, gz or snappy)"),
                    }
                }
                other => bail!("unknown argument {other:?}\nusage: {USAGE}"),
            }
        }
        match (from, to) {
            (Some(from), Some(to)) => Ok(ExportOptions {
                from,
                from_log,
                to,
                compression,
            }),
            _ => bail!("--from and --to are required\nusage: {USAGE}"),
        }
    }
}

/// Runs the export; prints what it did.
pub fn run(opts: &ExportOptions) -> Result<()> {
    let started = Instant::now();
    let from_log = opts.from_log.as_ref().unwrap_or(&opts.from);
    for dir in [&opts.from, from_log] {
        if !dir.join(VERSION_DIR).is_dir() {
            bail!(
                "{} has no {VERSION_DIR}: not a Corral dataDir",
                dir.display()
            );
        }
    }
    refuse_existing(&opts.to, &["snapshot.", "log."])?;
    let storage = Storage::open(&StorageConfig {
        data_log_dir: opts.from_log.clone(),
        ..StorageConfig::new(&opts.from)
    })
    .with_context(|| format!("opening {}", opts.from.display()))?;
    let config = DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    };
    let state = corral_server::durability::recover(&storage, config)
        .context("recovering the Corral data")?;
    let zk = zookeeper_tree(&state.tree)?;
    let dir = opts.to.join(VERSION_DIR);
    let file = corral_zkdata::write_snapshot(&dir, &zk, &state.sessions, opts.compression)?;
    // Read it back as ZooKeeper will: every seal, and the digest at its zxid.
    let check = corral_zkdata::load(&opts.to, &opts.to, LoadOptions::default())
        .context("reading the export back")?;
    if check.tree.len() != zk.len() || check.tree.digest() != zk.digest() {
        bail!("{} does not read back as written", file.display());
    }
    println!(
        "exported {} znodes and {} sessions at zxid 0x{:x} to {} in {:.2} s",
        zk.len(),
        state.sessions.len(),
        zk.last_processed_zxid,
        file.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Corral's tree as ZooKeeper's: stored Stat (cversion counts the children created, which
/// the client's cversion and the child count give), data, ACL, ephemeral owner.
fn zookeeper_tree(tree: &DataTree) -> Result<ZkTree> {
    let mut zk = ZkTree::new();
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        let (acl, stat) = tree
            .get_acl(&path)
            .map_err(|e| anyhow::anyhow!("reading {path}: {e:?}"))?;
        let (data, _) = tree
            .get_data(&path)
            .map_err(|e| anyhow::anyhow!("reading {path}: {e:?}"))?;
        let (children, _) = tree
            .get_children(&path)
            .map_err(|e| anyhow::anyhow!("reading {path}: {e:?}"))?;
        let owner = tree
            .stored_ephemeral_owner(&path)
            .with_context(|| format!("{path} vanished"))?;
        let acl: Vec<Acl> = acl
            .iter()
            .map(|a| Acl {
                perms: a.perms,
                scheme: a.id.scheme.clone(),
                id: a.id.id.clone(),
            })
            .collect();
        let stored = StatPersisted {
            czxid: stat.czxid,
            mzxid: stat.mzxid,
            ctime: stat.ctime,
            mtime: stat.mtime,
            version: stat.version,
            cversion: (stat.cversion + stat.num_children) / 2,
            aversion: stat.aversion,
            ephemeral_owner: owner,
            pzxid: stat.pzxid,
        };
        let key = if path == "/" { "" } else { path.as_str() };
        zk.insert_node(key, data.map(|d| d.to_vec()), Some(&acl), stored)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        for child in children.iter().rev() {
            stack.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
    }
    zk.last_processed_zxid = tree.last_zxid();
    Ok(zk)
}
