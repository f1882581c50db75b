//! `corral snapshot compare -l <left> -r <right> -b <bytes> -n <nodes> [-d]`: ZooKeeper's
//! zkSnapshotComparer (`SnapshotComparer`) on snapshots of either server (they may differ:
//! a ZooKeeper snapshot against a Corral one).
//!
//! Each tree is described (node count, total data size, depth, nodes per depth); then depth
//! by depth the nodes of both are matched by path: a node found on one side only is printed
//! with the data bytes and the number of nodes below it when either is over its threshold;
//! a node on both sides when the difference in either is over it (`Delta: B bytes, N
//! descendants`, right minus left). The lines are ZooKeeper 3.8's, word for word, including the
//! timing lines (`Deserialized snapshot in ...`, `Processed data tree in ...`). ZooKeeper's
//! `-interactive` mode is left out. Paths are ordered as Java's `String.compareTo` orders
//! them (UTF-16 code units).

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::snaptree::SizeTree;

/// What `corral snapshot compare` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct CompareOptions {
    /// The left snapshot file
    #[arg(short = 'l', long, value_name = "LEFT")]
    pub left: PathBuf,
    /// The right snapshot file
    #[arg(short = 'r', long, value_name = "RIGHT")]
    pub right: PathBuf,
    /// The node data delta size threshold, in bytes, for printing the node
    #[arg(
        short = 'b',
        long = "bytes",
        value_name = "BYTETHRESHOLD",
        allow_negative_numbers = true
    )]
    pub bytes: i32,
    /// The descendant node delta size threshold, in nodes, for printing the node
    #[arg(
        short = 'n',
        long = "nodes",
        value_name = "NODETHRESHOLD",
        allow_negative_numbers = true
    )]
    pub nodes: i32,
    /// Use debug output
    #[arg(short = 'd', long)]
    pub debug: bool,
}

/// One node as the comparer sees it.
#[derive(Debug, Clone)]
struct Info {
    /// The path, the root as "" (ZooKeeper's labels).
    label: String,
    descendant_size: i64,
    descendant_count: i64,
}

/// A tree's nodes by depth (index 0: the root).
struct TreeInfo {
    count: usize,
    total_size: i64,
    depths: Vec<Vec<Info>>,
}

impl TreeInfo {
    fn new(tree: &SizeTree) -> TreeInfo {
        let nodes = &tree.nodes;
        let mut size: Vec<i64> = nodes.iter().map(|n| n.data_len as i64).collect();
        let mut below = vec![0i64; nodes.len()];
        for i in (0..nodes.len()).rev() {
            for &c in &nodes[i].children {
                size[i] += size[c];
                below[i] += below[c] + 1;
            }
        }
        let mut depth = vec![0usize; nodes.len()];
        let mut depths: Vec<Vec<Info>> = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for &c in &node.children {
                depth[c] = depth[i] + 1;
            }
            if depths.len() <= depth[i] {
                depths.resize_with(depth[i] + 1, Vec::new);
            }
            depths[depth[i]].push(Info {
                label: if i == 0 {
                    String::new()
                } else {
                    node.path.clone()
                },
                descendant_size: size[i],
                descendant_count: below[i],
            });
        }
        for level in &mut depths {
            level.sort_by(|a, b| java_order(&a.label, &b.label));
        }
        TreeInfo {
            count: nodes.len(),
            total_size: size.first().copied().unwrap_or(0),
            depths,
        }
    }

    fn describe(&self, out: &mut String) {
        let _ = writeln!(out, "Node count: {}", self.count);
        let _ = writeln!(out, "Total size: {}", self.total_size);
        let _ = writeln!(out, "Max depth: {}", self.depths.len());
        for (i, level) in self.depths.iter().enumerate() {
            let _ = writeln!(out, "Count of nodes at depth {i}: {}", level.len());
        }
    }
}

/// Java's `String.compareTo`: by UTF-16 code units.
fn java_order(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Runs the comparison; prints it.
pub fn run(opts: &CompareOptions) -> Result<()> {
    let text = compare(opts)?;
    crate::print_out(&text)
}

fn load(path: &Path, out: &mut String) -> Result<TreeInfo> {
    let t0 = Instant::now();
    let tree = SizeTree::load(path)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let _ = writeln!(
        out,
        "Deserialized snapshot in {name} in {:.6} seconds",
        t0.elapsed().as_secs_f64()
    );
    let t1 = Instant::now();
    let info = TreeInfo::new(&tree);
    let _ = writeln!(
        out,
        "Processed data tree in {:.6} seconds",
        t1.elapsed().as_secs_f64()
    );
    Ok(info)
}

/// The comparison's text.
pub fn compare(opts: &CompareOptions) -> Result<String> {
    let mut out = String::from("Successfully parsed options!\n");
    let left = load(&opts.left, &mut out)?;
    let right = load(&opts.right, &mut out)?;
    left.describe(&mut out);
    out.push('\n');
    right.describe(&mut out);
    out.push('\n');
    let debug = opts.debug;
    let empty = Vec::new();
    let _ = writeln!(
        out,
        "Printing analysis for nodes difference larger than {} bytes or node count difference \
         larger than {}.",
        opts.bytes, opts.nodes
    );
    for depth in 0..left.depths.len().max(right.depths.len()) {
        let _ = writeln!(out, "Analysis for depth {depth}");
        let l = left.depths.get(depth).unwrap_or(&empty);
        let r = right.depths.get(depth).unwrap_or(&empty);
        compare_level(l, r, opts.bytes.into(), opts.nodes.into(), debug, &mut out);
    }
    out.push_str("All layers compared.\n");
    Ok(out)
}

fn compare_level(l: &[Info], r: &[Info], bytes: i64, nodes: i64, debug: bool, out: &mut String) {
    let (mut i, mut j) = (0, 0);
    while i < l.len() || j < r.len() {
        let order = match (l.get(i), r.get(j)) {
            (Some(a), Some(b)) => {
                if debug {
                    let _ = writeln!(out, "Comparing {} to {}", a.label, b.label);
                }
                java_order(&a.label, &b.label)
            }
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        let both = l.get(i).is_some() && r.get(j).is_some();
        match order {
            Ordering::Less => {
                if debug && both {
                    out.push_str("left is less\n");
                }
                one_side(&l[i], "left", bytes, nodes, debug, out);
                i += 1;
            }
            Ordering::Greater => {
                if debug && both {
                    out.push_str("right is less\n");
                }
                one_side(&r[j], "right", bytes, nodes, debug, out);
                j += 1;
            }
            Ordering::Equal => {
                if debug {
                    out.push_str("same\n");
                }
                let (a, b) = (&l[i], &r[j]);
                let size = b.descendant_size - a.descendant_size;
                let count = b.descendant_count - a.descendant_count;
                if size.abs() > bytes || count.abs() > nodes {
                    let _ = writeln!(
                        out,
                        "Node {} found in both trees. Delta: {size} bytes, {count} descendants",
                        a.label
                    );
                } else if debug {
                    let _ = writeln!(
                        out,
                        "Filtered node {} of left size {}, right size {}",
                        a.label, a.descendant_size, b.descendant_size
                    );
                }
                i += 1;
                j += 1;
            }
        }
    }
}

fn one_side(n: &Info, side: &str, bytes: i64, nodes: i64, debug: bool, out: &mut String) {
    if n.descendant_size > bytes || n.descendant_count > nodes {
        let _ = writeln!(
            out,
            "Node {} found only in {side} tree. Descendant size: {}. Descendant count: {}",
            n.label, n.descendant_size, n.descendant_count
        );
    } else if debug {
        let _ = writeln!(
            out,
            "Filtered {side} node {} of size {}",
            n.label, n.descendant_size
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snaptree::{Format, SizeNode};

    fn tree(nodes: &[(&str, u64, &[usize])]) -> SizeTree {
        SizeTree {
            nodes: nodes
                .iter()
                .map(|(p, len, c)| SizeNode {
                    path: (*p).into(),
                    data_len: *len,
                    children: c.to_vec(),
                })
                .collect(),
            format: Format::Corral,
        }
    }

    fn lines(l: &SizeTree, r: &SizeTree, bytes: i64, nodes: i64) -> Vec<String> {
        let (a, b) = (TreeInfo::new(l), TreeInfo::new(r));
        let mut out = String::new();
        for d in 0..a.depths.len().max(b.depths.len()) {
            let _ = writeln!(out, "Analysis for depth {d}");
            let e = Vec::new();
            let (x, y) = (a.depths.get(d).unwrap_or(&e), b.depths.get(d).unwrap_or(&e));
            compare_level(x, y, bytes, nodes, false, &mut out);
        }
        out.lines().map(String::from).collect()
    }

    #[test]
    fn per_depth_additions_removals_and_deltas() {
        // left: / -> /a (10) -> /a/x (5); /gone (7)
        let left = tree(&[
            ("/", 0, &[1, 3]),
            ("/a", 10, &[2]),
            ("/a/x", 5, &[]),
            ("/gone", 7, &[]),
        ]);
        // right: / -> /a (10) -> /a/x (5), /a/y (100); /new (1) -> /new/k (2)
        let right = tree(&[
            ("/", 0, &[1, 4]),
            ("/a", 10, &[2, 3]),
            ("/a/x", 5, &[]),
            ("/a/y", 100, &[]),
            ("/new", 1, &[5]),
            ("/new/k", 2, &[]),
        ]);
        let info = TreeInfo::new(&left);
        let mut text = String::new();
        info.describe(&mut text);
        assert_eq!(
            text,
            "Node count: 4\nTotal size: 22\nMax depth: 3\nCount of nodes at depth 0: 1\n\
             Count of nodes at depth 1: 2\nCount of nodes at depth 2: 1\n"
        );
        assert_eq!(
            lines(&left, &right, 0, 0),
            [
                "Analysis for depth 0",
                "Node  found in both trees. Delta: 96 bytes, 2 descendants",
                "Analysis for depth 1",
                "Node /a found in both trees. Delta: 100 bytes, 1 descendants",
                "Node /gone found only in left tree. Descendant size: 7. Descendant count: 0",
                "Node /new found only in right tree. Descendant size: 3. Descendant count: 1",
                "Analysis for depth 2",
                "Node /a/y found only in right tree. Descendant size: 100. Descendant count: 0",
                "Node /new/k found only in right tree. Descendant size: 2. Descendant count: 0",
            ]
        );
        // Thresholds filter: only what is over them is printed.
        assert_eq!(
            lines(&left, &right, 50, 5),
            [
                "Analysis for depth 0",
                "Node  found in both trees. Delta: 96 bytes, 2 descendants",
                "Analysis for depth 1",
                "Node /a found in both trees. Delta: 100 bytes, 1 descendants",
                "Analysis for depth 2",
                "Node /a/y found only in right tree. Descendant size: 100. Descendant count: 0",
            ]
        );
    }

    #[test]
    fn paths_order_as_java_strings() {
        // U+FF5E is below U+1F600 as a code point (and in UTF-8), above its UTF-16 surrogates.
        assert_eq!(java_order("/\u{ff5e}", "/\u{1f600}"), Ordering::Greater);
        assert_eq!("/\u{ff5e}".cmp("/\u{1f600}"), Ordering::Less);
        assert_eq!(java_order("/a", "/a/b"), Ordering::Less);
    }
}
