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
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ExportOptions {
    /// The Corral dataDir (a stopped server's)
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
    /// The Corral dataLogDir, when not the dataDir
    #[arg(long, value_name = "DIR")]
    pub from_log: Option<PathBuf>,
    /// The ZooKeeper dataDir to create (it must hold no snapshot or log)
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
    /// The snapshot's compression (ZooKeeper's zookeeper.snapshot.compression.method)
    #[arg(long, value_enum, default_value_t = SnapshotCompression::None)]
    pub compression: SnapshotCompression,
}

/// `--compression`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SnapshotCompression {
    /// snapshot.<zxid> (ZooKeeper's default)
    None,
    /// snapshot.<zxid>.gz
    Gz,
    /// snapshot.<zxid>.snappy (snappy-java's stream)
    Snappy,
}

impl From<SnapshotCompression> for Compression {
    fn from(c: SnapshotCompression) -> Compression {
        match c {
            SnapshotCompression::None => Compression::None,
            SnapshotCompression::Gz => Compression::Gzip,
            SnapshotCompression::Snappy => Compression::Snappy,
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
    // The digest ZooKeeper will check is the one Corral kept for its tree.
    if zk.digest() != state.tree.digest() {
        bail!(
            "the export's tree digest {} is not the Corral tree's {}",
            zk.digest(),
            state.tree.digest()
        );
    }
    let dir = opts.to.join(VERSION_DIR);
    let file = corral_zkdata::write_snapshot(&dir, &zk, &state.sessions, opts.compression.into())?;
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
    zk.last_processed_zxid = tree.last_zxid().to_wire();
    Ok(zk)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use corral_zkdata::{Acl, Compression, DataTree as ZkTree, LoadOptions, StatPersisted};

    use clap::Parser;

    use crate::cli::{Cli, Command};
    use crate::{export, import};

    fn acl(perms: i32, scheme: &str, id: &str) -> Vec<Acl> {
        vec![Acl {
            perms,
            scheme: scheme.into(),
            id: id.into(),
        }]
    }

    /// ZooKeeper's files -> import -> Corral's -> export -> ZooKeeper's: every node, ACL,
    /// owner and session comes back as it was (the stored cversion included).
    #[test]
    fn import_then_export_gives_back_the_same_tree() {
        let dir = std::env::temp_dir().join(format!("corral-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut zk = ZkTree::new();
        let mut add = |path: &str, data: Option<&[u8]>, acl: Vec<Acl>, stat: StatPersisted| {
            zk.insert_node(path, data.map(<[u8]>::to_vec), Some(&acl), stat)
                .expect("insert");
        };
        let open = Acl::open_unsafe();
        let stat = |czxid: i64, cversion: i32, owner: i64| StatPersisted {
            cversion,
            version: 3,
            aversion: 2,
            mzxid: czxid + 5,
            pzxid: czxid + 7,
            ..StatPersisted::created(czxid, 1_700_000_000_000 + czxid, owner)
        };
        add("/zookeeper", None, open.clone(), StatPersisted::default());
        add(
            "/zookeeper/quota",
            None,
            open.clone(),
            StatPersisted::default(),
        );
        add(
            "/zookeeper/config",
            Some(b""),
            acl(1, "world", "anyone"),
            StatPersisted::default(),
        );
        add("/app", Some(b"a"), acl(31, "digest", "u:x="), stat(2, 9, 0));
        add(
            "/app/eph",
            None,
            acl(3, "ip", "127.0.0.1"),
            stat(3, 0, 0x1234),
        );
        add(
            "/app/seq-0000000008",
            Some(b""),
            open.clone(),
            stat(4, 0, 0),
        );
        add("/cont", Some(b"c"), open.clone(), stat(5, 1, i64::MIN));
        add(
            "/ttl",
            Some(b"t"),
            open.clone(),
            stat(6, 0, corral_zkdata::tree::ttl_ephemeral_owner(60_000)),
        );
        zk.last_processed_zxid = 20;
        let sessions = BTreeMap::from([(0x1234_i64, 30_000)]);
        let (zk_in, corral, zk_out) = (dir.join("zk-in"), dir.join("corral"), dir.join("zk-out"));
        corral_zkdata::write_snapshot(
            &zk_in.join("version-2"),
            &zk,
            &sessions,
            Compression::Snappy,
        )
        .expect("write");
        let from = zk_in.display().to_string();
        let to = corral.display().to_string();
        let cli = Cli::try_parse_from(["corral", "import", "--from", &from, "--to", &to]);
        let Ok(Cli {
            command: Command::Import(opts),
        }) = cli
        else {
            panic!("corral import parses: {cli:?}");
        };
        assert!(opts.verify_digests);
        import::run(&opts).expect("import");
        // A second import into the same place is refused.
        assert!(import::run(&opts).is_err());
        let out = zk_out.display().to_string();
        let argv = [
            "corral",
            "export",
            "--from",
            &to,
            "--to",
            &out,
            "--compression",
            "gz",
        ];
        let cli = Cli::try_parse_from(argv);
        let Ok(Cli {
            command: Command::Export(opts),
        }) = cli
        else {
            panic!("corral export parses: {cli:?}");
        };
        export::run(&opts).expect("export");
        let back = corral_zkdata::load(&zk_out, &zk_out, LoadOptions::default()).expect("load");
        assert_eq!(back.sessions, sessions);
        assert_eq!(back.tree.last_processed_zxid, 20);
        assert_eq!(back.tree.paths_preorder(), zk.paths_preorder());
        for path in zk.paths_preorder() {
            let (a, b) = (
                zk.get(&path).expect("node"),
                back.tree.get(&path).expect("node"),
            );
            assert_eq!((&a.data, a.stat), (&b.data, b.stat), "{path}");
            assert_eq!(zk.acls.get(a.acl), back.tree.acls.get(b.acl), "{path}");
        }
        assert_eq!(back.tree.digest(), zk.digest());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
