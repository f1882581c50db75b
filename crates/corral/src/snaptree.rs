//! A snapshot file of either server, Corral's (`CRSN`) or Apache ZooKeeper's (`ZKSN`, plain,
//! gzip or snappy), as the operator tools need it: every znode's path and data size, its
//! children, in pre-order. Which one a file is comes from its first bytes.
//!
//! Only the snapshot is read, as ZooKeeper's own tools do: a ZooKeeper snapshot is fuzzy
//! and no log is replayed over it.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use corral_datatree::{DataTree, DataTreeConfig};
use corral_storage::read_snapshot_file;

/// Whose snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// corral-storage's `snapshot.<zxid>` (magic `CRSN`).
    Corral,
    /// Apache ZooKeeper's `snapshot.<zxid>[.gz|.snappy]`.
    ZooKeeper,
}

/// One znode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeNode {
    /// Its path (`/` for the root).
    pub path: String,
    /// Its data length (null data: 0).
    pub data_len: u64,
    /// Its children, by index, in name order.
    pub children: Vec<usize>,
}

/// A snapshot's znodes in pre-order (a parent before its children; the root is 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeTree {
    /// The nodes.
    pub nodes: Vec<SizeNode>,
    /// Whose file it was.
    pub format: Format,
}

/// The format a file's first bytes say, or an error naming them.
pub fn detect(path: &Path) -> Result<Format> {
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    let head = &head[..n];
    if head.starts_with(b"CRSN") {
        Ok(Format::Corral)
    } else if head.starts_with(b"ZKSN")
        || head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(b"\x82SNAPPY")
    {
        Ok(Format::ZooKeeper)
    } else {
        bail!(
            "{}: neither a Corral snapshot (CRSN) nor Apache ZooKeeper's (ZKSN, gzip or \
             snappy): it starts with {head:02x?}",
            path.display()
        )
    }
}

impl SizeTree {
    /// Reads a snapshot file of either kind.
    pub fn load(path: &Path) -> Result<SizeTree> {
        match detect(path)? {
            Format::Corral => Self::load_corral(path),
            Format::ZooKeeper => Self::load_zookeeper(path),
        }
    }

    fn load_zookeeper(path: &Path) -> Result<SizeTree> {
        let snap = corral_zkdata::read_snapshot(path)?;
        let mut b = Builder::default();
        for key in snap.tree.paths_preorder() {
            let Some(node) = snap.tree.get(&key) else {
                continue;
            };
            let len = node.data.as_ref().map_or(0, Vec::len) as u64;
            b.push(if key.is_empty() { "/".into() } else { key }, len)?;
        }
        b.finish(Format::ZooKeeper)
    }

    fn load_corral(path: &Path) -> Result<SizeTree> {
        let tree = read_corral_snapshot(path)?.tree;
        let mut b = Builder::default();
        let mut stack = vec!["/".to_string()];
        while let Some(path) = stack.pop() {
            let Ok((data, _)) = tree.get_data(&path) else {
                continue;
            };
            let len = data.as_ref().map_or(0, |d| d.len()) as u64;
            push_children(&tree, &path, &mut stack);
            b.push(path, len)?;
        }
        b.finish(Format::Corral)
    }

    /// The index of the node at `path`.
    pub fn find(&self, path: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.path == path)
    }
}

/// Adds nodes in pre-order, linking each to its parent.
#[derive(Default)]
struct Builder {
    nodes: Vec<SizeNode>,
    index: HashMap<String, usize>,
}

impl Builder {
    fn push(&mut self, path: String, data_len: u64) -> Result<()> {
        let at = self.nodes.len();
        if at > 0 {
            let parent = match path.rfind('/') {
                Some(0) => "/",
                Some(slash) => &path[..slash],
                None => bail!("znode path {path:?} does not start with /"),
            };
            let Some(&p) = self.index.get(parent) else {
                bail!("the parent of {path:?} is not in the snapshot before it");
            };
            self.nodes[p].children.push(at);
        } else if path != "/" {
            bail!("the snapshot's first node is {path:?}, not the root");
        }
        self.index.insert(path.clone(), at);
        self.nodes.push(SizeNode {
            path,
            data_len,
            children: Vec::new(),
        });
        Ok(())
    }

    fn finish(self, format: Format) -> Result<SizeTree> {
        if self.nodes.is_empty() {
            bail!("the snapshot has no root");
        }
        Ok(SizeTree {
            nodes: self.nodes,
            format,
        })
    }
}

/// A Corral snapshot file read.
pub struct CorralSnapshot {
    /// The tree.
    pub tree: DataTree,
    /// The sessions: id, timeout.
    pub sessions: Vec<(i64, i32)>,
    /// The zxid it is at.
    pub zxid: i64,
}

/// Reads a Corral snapshot file.
pub fn read_corral_snapshot(path: &Path) -> Result<CorralSnapshot> {
    let snap = read_snapshot_file(path).with_context(|| format!("reading {}", path.display()))?;
    let config = DataTreeConfig {
        extended_types_enabled: true,
        ..DataTreeConfig::default()
    };
    let (tree, sessions) = corral_server::durability::parse_snapshot_payload(&snap.payload, config)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(CorralSnapshot {
        tree,
        sessions: sessions.into_iter().collect(),
        zxid: snap.zxid.to_wire(),
    })
}

/// Children pushed in reverse so a stack walks them in name order.
pub fn push_children(tree: &DataTree, path: &str, stack: &mut Vec<String>) {
    if let Ok((children, _)) = tree.get_children(path) {
        for child in children.iter().rev() {
            stack.push(if path == "/" {
                format!("/{child}")
            } else {
                format!("{path}/{child}")
            });
        }
    }
}
