//! `corral snapshot summary <snapshot> <starting node> <max depth>`: ZooKeeper's
//! zkSnapshotRecursiveSummaryToolkit (`SnapshotRecursiveSummary`) on a snapshot of either
//! server: for every znode with children under the starting node, the number of znodes below
//! it and the data bytes of it and everything below it, printed as a tree.
//!
//! The output is ZooKeeper's: per node three lines, indented with `--` per level below the
//! starting node (`<tab> <path>`, `<tab>   children: N`, `<tab>   data: B`), children after
//! their parent; leaves are counted but not printed; `max depth` 0 prints every level, N
//! the starting node and N levels below it, and changes only what is printed. Children come
//! in name order (ZooKeeper's come in hash-set order).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::snaptree::SizeTree;

/// What `corral snapshot summary` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct SummaryOptions {
    /// The snapshot file (Corral's or ZooKeeper's, plain, .gz or .snappy)
    pub snapshot: std::path::PathBuf,
    /// The znode where the summary starts (e.g. /)
    pub starting_node: String,
    /// Levels printed below the starting node; 0: all (the figures always count every level)
    #[arg(allow_negative_numbers = true)]
    pub max_depth: i32,
}

/// Runs the summary; prints it.
pub fn run(opts: &SummaryOptions) -> Result<()> {
    let text = summary(&opts.snapshot, &opts.starting_node, opts.max_depth)?;
    crate::print_out(&text)
}

/// The summary's text.
pub fn summary(snapshot: &Path, starting_node: &str, max_depth: i32) -> Result<String> {
    let tree = SizeTree::load(snapshot)?;
    let start = tree
        .find(starting_node)
        .with_context(|| format!("no znode {starting_node} in {}", snapshot.display()))?;
    Ok(render(&tree, start, max_depth))
}

/// The tree's figures from `start`, as ZooKeeper prints them (with its final empty line).
pub fn render(tree: &SizeTree, start: usize, max_depth: i32) -> String {
    let nodes = &tree.nodes;
    // Pre-order: children come after their parent, so a backward pass sums the subtrees.
    let mut count = vec![1u64; nodes.len()];
    let mut bytes: Vec<u64> = nodes.iter().map(|n| n.data_len).collect();
    for i in (0..nodes.len()).rev() {
        for &c in &nodes[i].children {
            count[i] += count[c];
            bytes[i] += bytes[c];
        }
    }
    let mut out = String::new();
    let mut stack = vec![(start, 0i32)];
    while let Some((i, level)) = stack.pop() {
        let node = &nodes[i];
        if node.children.is_empty() || (max_depth != 0 && level > max_depth) {
            continue;
        }
        let tab = "--".repeat(level as usize);
        let _ = writeln!(out, "{tab} {}", node.path);
        let _ = writeln!(out, "{tab}   children: {}", count[i] - 1);
        let _ = writeln!(out, "{tab}   data: {}", bytes[i]);
        for &c in node.children.iter().rev() {
            stack.push((c, level + 1));
        }
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snaptree::{Format, SizeNode};

    fn node(path: &str, data_len: u64, children: &[usize]) -> SizeNode {
        SizeNode {
            path: path.into(),
            data_len,
            children: children.to_vec(),
        }
    }

    /// / (1 byte) -> /a (2) -> /a/x (4), /a/y (8) -> /a/y/z (16); /b (32).
    pub(crate) fn sample() -> SizeTree {
        SizeTree {
            nodes: vec![
                node("/", 1, &[1, 5]),
                node("/a", 2, &[2, 3]),
                node("/a/x", 4, &[]),
                node("/a/y", 8, &[4]),
                node("/a/y/z", 16, &[]),
                node("/b", 32, &[]),
            ],
            format: Format::Corral,
        }
    }

    #[test]
    fn every_level_with_recursive_counts_and_bytes() {
        let text = render(&sample(), 0, 0);
        assert_eq!(
            text,
            " /\n   children: 5\n   data: 63\n\
             -- /a\n--   children: 3\n--   data: 30\n\
             ---- /a/y\n----   children: 1\n----   data: 24\n\n"
        );
    }

    #[test]
    fn max_depth_limits_the_lines_not_the_figures() {
        let text = render(&sample(), 0, 1);
        assert!(
            text.contains("-- /a\n--   children: 3\n--   data: 30\n"),
            "{text}"
        );
        assert!(!text.contains("/a/y"), "{text}");
        let from_a = render(&sample(), 1, 0);
        assert!(
            from_a.starts_with(" /a\n   children: 3\n   data: 30\n-- /a/y\n"),
            "{from_a}"
        );
        // A leaf prints nothing, as ZooKeeper's.
        assert_eq!(render(&sample(), 5, 0), "\n");
    }
}
