//! Quotas, as ZooKeeper 3.8 keeps them: the `zookeeper_limits` / `zookeeper_stats` nodes under
//! `/zookeeper/quota`, their text format ([`StatsTrack`]), the index of quota'd paths, the stats
//! bookkeeping of every applied create / delete / setData, and the hard-limit check prep makes
//! when `zookeeper.enforceQuota` is on ([`DataTreeConfig::enforce_quota`]).
//!
//! A quota on `/app` is two nodes that clients (zkCli's `setquota`) create:
//! `/zookeeper/quota/app/zookeeper_limits` (the limits, e.g. `count=2,bytes=-1`) and
//! `/zookeeper/quota/app/zookeeper_stats` (the usage). The tree reacts as ZooKeeper's
//! `DataTree` does:
//!
//! - creating a child `zookeeper_limits` of a node whose path starts with `/zookeeper/quota`
//!   adds the rest of that path to the index; deleting a child `zookeeper_limits` of a node
//!   whose path starts with `/zookeeper` (sic) removes it.
//! - creating a `zookeeper_stats` there sets its data to the node count and data bytes of the
//!   quota'd subtree, the node itself included (`count=N,bytes=M`).
//! - every applied create / delete / setData of a node updates the stats node of the *longest*
//!   quota'd prefix of its path (only that one), by rewriting its data in place: the stats node's
//!   version, mzxid and mtime do not move, no watch fires, and the approximate data size is not
//!   adjusted. A missing or unparseable stats node is skipped.
//! - soft limits (`count`, `bytes`) are never enforced; ZooKeeper only logs a rate-limited
//!   warning, and only when enforcement is on. Nothing of it is visible here.
//! - with [`DataTreeConfig::enforce_quota`], prep fails a create / setData that would take the
//!   subtree over a hard limit (`countHardLimit`, `byteHardLimit`) with `QuotaExceeded`.
//!
//! **After restoring a tree from a snapshot, call [`DataTree::rebuild_quota_index`]**: the index
//! is not stored in the tree; ZooKeeper rebuilds it on load (`DataTree.setupQuota`), and also
//! recomputes every stats node's data from the restored subtree.
//!
//! Where ZooKeeper's own code throws a runtime exception (which stops its apply thread, or turns
//! a request into `MarshallingError` in prep), Corral applies the node change and skips the quota
//! step, or fails the request with `MarshallingError` in prep; see the individual items.
//!
//! [`DataTreeConfig::enforce_quota`]: crate::DataTreeConfig::enforce_quota

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

use bytes::Bytes;
use corral_jute::codes::ErrorCode;

use crate::tree::{DataTree, QUOTA, ZOOKEEPER};

/// The quota management node, `/zookeeper/quota`.
pub const QUOTA_ROOT: &str = QUOTA;
/// The name of the node holding a quota's limits.
pub const LIMIT_NODE: &str = "zookeeper_limits";
/// The name of the node holding a quota's usage.
pub const STAT_NODE: &str = "zookeeper_stats";

/// The limits node of a quota'd path (`/zookeeper/quota<path>/zookeeper_limits`).
pub fn limit_path(path: &str) -> String {
    format!("{QUOTA}{path}/{LIMIT_NODE}")
}

/// The stats node of a quota'd path (`/zookeeper/quota<path>/zookeeper_stats`).
pub fn stat_path(path: &str) -> String {
    format!("{QUOTA}{path}/{STAT_NODE}")
}

// ---- StatsTrack ----

/// Data that ZooKeeper's `StatsTrack` cannot parse (its parser throws).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unparseable quota stats {text:?}")]
pub struct StatsTrackError {
    /// The text (invalid UTF-8 replaced), or `null` for null data.
    pub text: String,
}

/// The data of a limits or stats node: `key=value` pairs of longs, as ZooKeeper's
/// `StatsTrack`. A missing key reads as -1.
///
/// Printed as ZooKeeper 3.8 prints it: `count=C,bytes=B` always first (-1 when unset), then,
/// only if other keys are set, a `=` and `;key=value` for each of them sorted by key, e.g.
/// `count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1` (the extra `=` keeps pre-3.5 parsers
/// reading the first two values).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    values: BTreeMap<String, i64>,
}

impl StatsTrack {
    /// The node count (soft limit in a limits node, usage in a stats node).
    pub const COUNT: &'static str = "count";
    /// The data bytes (soft limit in a limits node, usage in a stats node).
    pub const BYTES: &'static str = "bytes";
    /// The hard node count limit (3.7+).
    pub const COUNT_HARD_LIMIT: &'static str = "countHardLimit";
    /// The hard data bytes limit (3.7+).
    pub const BYTE_HARD_LIMIT: &'static str = "byteHardLimit";

    /// No values (everything reads -1).
    pub fn new() -> Self {
        StatsTrack::default()
    }

    /// Parses as ZooKeeper's `StatsTrack(String)`: empty text is no values; otherwise the text
    /// is split at runs of `,` / `;` and each pair at `=` (Java `split` rules: a leading empty
    /// piece is kept, trailing empty pieces dropped); the first piece is the key, the second
    /// the value (`-1` when empty), further pieces are ignored; a later key overrides an earlier
    /// one. A pair without a second piece, or a value that is not a decimal long, is an error.
    /// (Java also accepts non-ASCII decimal digits; Corral does not.)
    pub fn parse(text: &str) -> Result<StatsTrack, StatsTrackError> {
        let mut values = BTreeMap::new();
        if text.is_empty() {
            return Ok(StatsTrack { values });
        }
        let bad = || StatsTrackError {
            text: text.to_string(),
        };
        for pair in java_split(text, |c| c == ',' || c == ';', true) {
            let kv = java_split(pair, |c| c == '=', false);
            let (Some(key), Some(value)) = (kv.first(), kv.get(1)) else {
                return Err(bad());
            };
            let value = if value.is_empty() {
                -1
            } else {
                value.parse::<i64>().map_err(|_| bad())?
            };
            values.insert((*key).to_string(), value);
        }
        Ok(StatsTrack { values })
    }

    /// Parses a node's data as ZooKeeper's `StatsTrack(byte[])`: UTF-8 with invalid sequences
    /// replaced; null data is an error (Java throws on it).
    pub fn from_data(data: Option<&[u8]>) -> Result<StatsTrack, StatsTrackError> {
        match data {
            Some(d) => StatsTrack::parse(&String::from_utf8_lossy(d)),
            None => Err(StatsTrackError {
                text: "null".into(),
            }),
        }
    }

    /// A value, -1 when unset.
    pub fn get(&self, key: &str) -> i64 {
        self.values.get(key).copied().unwrap_or(-1)
    }

    /// Sets a value.
    pub fn set(&mut self, key: &str, value: i64) {
        self.values.insert(key.to_string(), value);
    }

    /// `count`.
    pub fn count(&self) -> i64 {
        self.get(Self::COUNT)
    }

    /// `bytes`.
    pub fn bytes(&self) -> i64 {
        self.get(Self::BYTES)
    }

    /// `countHardLimit`.
    pub fn count_hard_limit(&self) -> i64 {
        self.get(Self::COUNT_HARD_LIMIT)
    }

    /// `byteHardLimit`.
    pub fn byte_hard_limit(&self) -> i64 {
        self.get(Self::BYTE_HARD_LIMIT)
    }

    /// The printed form as bytes (what ZooKeeper stores as node data).
    pub fn to_data(&self) -> Bytes {
        Bytes::from(self.to_string())
    }
}

impl fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "count={},bytes={}", self.count(), self.bytes())?;
        let mut rest: Vec<(&String, &i64)> = self
            .values
            .iter()
            .filter(|(k, _)| k.as_str() != Self::COUNT && k.as_str() != Self::BYTES)
            .collect();
        if rest.is_empty() {
            return Ok(());
        }
        // Java sorts the keys as Strings: by UTF-16 code units.
        rest.sort_by(|a, b| java_cmp(a.0, b.0));
        f.write_str("=")?;
        rest.iter().try_for_each(|(k, v)| write!(f, ";{k}={v}"))
    }
}

/// Java's `String.compareTo`: UTF-16 code unit order.
fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Java's `split` with a limit of 0, for a separator of one character matching `sep` (or, with
/// `runs`, a run of them): no separator gives the whole text; a leading empty piece is kept;
/// trailing empty pieces are dropped.
fn java_split(text: &str, sep: impl Fn(char) -> bool, runs: bool) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    let mut matched = false;
    while let Some((i, c)) = chars.next() {
        if !sep(c) {
            continue;
        }
        let mut end = i + c.len_utf8();
        while let Some(&(j, d)) = chars.peek().filter(|_| runs) {
            if !sep(d) {
                break;
            }
            end = j + d.len_utf8();
            chars.next();
        }
        parts.push(&text[start..i]);
        start = end;
        matched = true;
    }
    if !matched {
        return vec![text];
    }
    parts.push(&text[start..]);
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

// ---- the index of quota'd paths ----

/// The quota'd paths, as ZooKeeper's `PathTrie`: paths are split at `/`, and components made
/// only of spaces (Java `trim()` leaves them empty) are dropped, so `/a/ /b` and `/a/b` are
/// the same entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct QuotaIndex {
    root: TrieNode,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    quota: bool,
    children: BTreeMap<Box<str>, TrieNode>,
}

fn components(path: &str) -> Vec<&str> {
    path.split('/')
        .filter(|c| !c.chars().all(|ch| ch <= ' '))
        .collect()
}

impl QuotaIndex {
    /// `PathTrie.addPath`. An empty path is ignored (Java throws).
    fn add(&mut self, path: &str) {
        if path.is_empty() {
            return;
        }
        let mut node = &mut self.root;
        for c in components(path) {
            node = node.children.entry(c.into()).or_default();
        }
        node.quota = true;
    }

    /// `PathTrie.deletePath`: the entry loses its quota and goes if it has no children (its
    /// ancestors stay). A path that is empty, has no components, or is not in the trie is
    /// ignored (Java throws on the first two).
    fn delete(&mut self, path: &str) {
        let comps = components(path);
        let Some((last, init)) = comps.split_last() else {
            return;
        };
        let mut node = &mut self.root;
        for c in init {
            match node.children.get_mut(*c) {
                Some(n) => node = n,
                None => return,
            }
        }
        let Some(child) = node.children.get_mut(*last) else {
            return;
        };
        child.quota = false;
        if child.children.is_empty() {
            node.children.remove(*last);
        }
    }

    /// `DataTree.getMaxPrefixWithQuota`: the longest quota'd prefix of `path`, rebuilt from the
    /// trie's components (`/` + components joined by `/`).
    fn max_prefix(&self, path: &str) -> Option<String> {
        let comps = components(path);
        let mut node = &self.root;
        let mut depth = None;
        for (i, c) in comps.iter().enumerate() {
            match node.children.get(*c) {
                Some(n) => node = n,
                None => break,
            }
            if node.quota {
                depth = Some(i + 1);
            }
        }
        depth.map(|d| format!("/{}", comps[..d].join("/")))
    }

    fn paths(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack: Vec<(String, &TrieNode)> = vec![(String::new(), &self.root)];
        while let Some((prefix, node)) = stack.pop() {
            if node.quota {
                out.push(prefix.clone());
            }
            for (name, child) in node.children.iter().rev() {
                stack.push((format!("{prefix}/{name}"), child));
            }
        }
        out
    }
}

/// `path.substring(from)` in Java terms (UTF-16 units; valid paths are BMP-only, so chars);
/// `None` where Java throws.
fn java_substring_from(s: &str, from: usize) -> Option<&str> {
    if from == 0 {
        return Some(s);
    }
    let mut units = 0;
    for (i, c) in s.char_indices() {
        if units == from {
            return Some(&s[i..]);
        }
        units += c.len_utf16();
    }
    (units == from).then_some("")
}

/// Splits a created / deleted path as ZooKeeper does: everything before the last `/`, the rest.
fn split_last(path: &str) -> Option<(&str, &str)> {
    path.rfind('/').map(|i| (&path[..i], &path[i + 1..]))
}

impl DataTree {
    // ---- reads ----

    /// The quota'd paths in the index, sorted (as the index spells them).
    pub fn quota_paths(&self) -> Vec<String> {
        self.quotas.paths()
    }

    /// ZooKeeper's `getMaxPrefixWithQuota`: the longest quota'd prefix of `path`, whose stats
    /// node the changes under `path` update; `None` when no quota covers it.
    pub fn max_quota_prefix(&self, path: &str) -> Option<String> {
        self.quotas.max_prefix(path)
    }

    /// ZooKeeper's `DataTree.setupQuota`, run when a tree is loaded from a snapshot: clears
    /// the index, then for each leaf under `/zookeeper/quota` whose path ends in
    /// `/zookeeper_limits` (children visited in name order), takes the path between
    /// `/zookeeper/quota` and the first `/zookeeper_limits`, sets the data of its stats node
    /// (if present) to the subtree's `count=N,bytes=M`, and adds it to the index.
    ///
    /// The snapshot loader must call this after restoring the nodes (and after computing the
    /// approximate data size, which, as in ZooKeeper, does not see the recomputed stats data).
    pub fn rebuild_quota_index(&mut self) {
        self.quotas = QuotaIndex::default();
        let Some(start) = self.lookup(QUOTA) else {
            return;
        };
        let end = format!("/{LIMIT_NODE}");
        let mut leaves = Vec::new();
        let mut stack = vec![(QUOTA.to_string(), start)];
        while let Some((p, id)) = stack.pop() {
            let node = self.node(id);
            if node.children.is_empty() {
                if p.ends_with(&end) {
                    leaves.push(p);
                }
                continue;
            }
            for (name, child) in node.children.iter().rev() {
                stack.push((format!("{p}/{name}"), child));
            }
        }
        for leaf in leaves {
            let Some(cut) = leaf.find(&end) else {
                continue;
            };
            let real = leaf.get(QUOTA.len()..cut).unwrap_or_default().to_string();
            self.update_quota_for_path(&real);
            self.quotas.add(&real);
        }
    }

    // ---- the apply hooks ----

    /// After `create_node` made `path` with `data_len` bytes (the quota part of ZooKeeper's
    /// `DataTree.createNode`).
    pub(crate) fn quota_on_create(&mut self, path: &str, data_len: usize) {
        let Some((parent, name)) = split_last(path) else {
            return;
        };
        if let Some(real) = parent.strip_prefix(QUOTA) {
            let real = real.to_string();
            if name == LIMIT_NODE {
                self.quotas.add(&real);
            }
            if name == STAT_NODE {
                self.update_quota_for_path(&real);
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&prefix, len_i64(data_len), 1);
        }
    }

    /// After `delete_node` removed `path`, which held `data_len` bytes (the quota part of
    /// ZooKeeper's `DataTree.deleteNode`). A `zookeeper_limits` child of a node whose path
    /// starts with `/zookeeper` takes the parent's path from its 17th character on out of the
    /// index (where that parent is shorter, Java throws; Corral skips it).
    pub(crate) fn quota_on_delete(&mut self, path: &str, data_len: usize) {
        let Some((parent, name)) = split_last(path) else {
            return;
        };
        if parent.starts_with(ZOOKEEPER) && name == LIMIT_NODE {
            if let Some(real) = java_substring_from(parent, QUOTA.len()) {
                let real = real.to_string();
                self.quotas.delete(&real);
            }
        }
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&prefix, -len_i64(data_len), -1);
        }
    }

    /// After `set_data` replaced `old_len` bytes of `path` by `new_len` (the quota part of
    /// ZooKeeper's `DataTree.setData`).
    pub(crate) fn quota_on_set_data(&mut self, path: &str, old_len: usize, new_len: usize) {
        if let Some(prefix) = self.quotas.max_prefix(path) {
            self.update_quota_stat(&prefix, len_i64(new_len) - len_i64(old_len), 0);
        }
    }

    /// ZooKeeper's `updateQuotaForPath`: the stats node of `real` (if present) gets the node
    /// count and data bytes of the subtree at `real` (0 and 0 if there is none).
    fn update_quota_for_path(&mut self, real: &str) {
        let (count, bytes) = self.subtree_usage(real);
        let mut st = StatsTrack::new();
        st.set(StatsTrack::BYTES, bytes);
        st.set(StatsTrack::COUNT, count);
        self.overwrite_data(&stat_path(real), st.to_data());
    }

    /// ZooKeeper's `updateQuotaStat`: adds the differences to the stats node of `prefix`. A
    /// missing stats node is skipped (ZooKeeper logs it); so is one ZooKeeper cannot parse
    /// (where ZooKeeper's apply thread fails).
    fn update_quota_stat(&mut self, prefix: &str, bytes_diff: i64, count_diff: i64) {
        let stat_node = stat_path(prefix);
        let Some(node) = self.find(&stat_node) else {
            return;
        };
        let Ok(mut st) = StatsTrack::from_data(node.data.as_deref()) else {
            return;
        };
        st.set(StatsTrack::COUNT, st.count().wrapping_add(count_diff));
        st.set(StatsTrack::BYTES, st.bytes().wrapping_add(bytes_diff));
        self.overwrite_data(&stat_node, st.to_data());
    }

    /// The node count and data bytes of the subtree at `path`, the node included (ZooKeeper's
    /// `getCounts`); (0, 0) if it does not exist.
    fn subtree_usage(&self, path: &str) -> (i64, i64) {
        let Some(id) = self.lookup(path) else {
            return (0, 0);
        };
        let (mut count, mut bytes) = (0i64, 0i64);
        let mut stack = vec![id];
        while let Some(id) = stack.pop() {
            let node = self.node(id);
            count += 1;
            bytes += len_i64(node.data_len());
            stack.extend(node.children.ids());
        }
        (count, bytes)
    }

    /// Rewrites a node's data in place, as ZooKeeper's quota bookkeeping does: no Stat field
    /// moves, no watch fires and the approximate data size stays as it was.
    fn overwrite_data(&mut self, path: &str, data: Bytes) {
        if let Some(id) = self.lookup(path) {
            self.change_node(id, path, |node| {
                node.digest_prefix = crate::digest::prefix_crc(path, Some(&data));
                node.data = Some(data);
            });
        }
    }

    // ---- the prep check ----

    /// ZooKeeper's `ZooKeeperServer.checkQuota`, run by prep for a create (`last_len` None)
    /// or a setData (`last_len` the node's data length once the in-flight changes apply).
    /// Reads the applied tree only: the longest quota'd prefix, its limits node and its stats
    /// node.
    ///
    /// Off unless [`crate::DataTreeConfig::enforce_quota`]. A count check happens for a create
    /// when the limits set `count` or `countHardLimit`; a bytes check when the data length
    /// changes and the limits set `bytes` or `byteHardLimit`. Only a hard limit (when set it
    /// replaces the soft one) fails the request: `QuotaExceeded` when the new usage would be
    /// above it. A missing limits or stats node means no check; one ZooKeeper cannot parse
    /// fails the request with `MarshallingError`, as ZooKeeper's catch-all in prep does.
    pub(crate) fn check_quota(
        &self,
        path: &str,
        last_len: Option<usize>,
        new_len: usize,
    ) -> Result<(), ErrorCode> {
        if !self.config.enforce_quota {
            return Ok(());
        }
        let Some(prefix) = self.quotas.max_prefix(path) else {
            return Ok(());
        };
        let (count_diff, bytes_diff) = match last_len {
            None => (1, len_i64(new_len)),
            Some(last) => (0, len_i64(new_len) - len_i64(last)),
        };
        let Some(limits) = self.find(&limit_path(&prefix)) else {
            return Ok(());
        };
        let limits = StatsTrack::from_data(limits.data.as_deref())
            .map_err(|_| ErrorCode::MarshallingError)?;
        let check_count =
            count_diff != 0 && (limits.count() > -1 || limits.count_hard_limit() > -1);
        let check_bytes = bytes_diff != 0 && (limits.bytes() > -1 || limits.byte_hard_limit() > -1);
        if !check_count && !check_bytes {
            return Ok(());
        }
        let Some(stats) = self.find(&stat_path(&prefix)) else {
            return Ok(());
        };
        let stats = StatsTrack::from_data(stats.data.as_deref())
            .map_err(|_| ErrorCode::MarshallingError)?;
        if check_count
            && limits.count_hard_limit() > -1
            && stats.count().wrapping_add(count_diff) > limits.count_hard_limit()
        {
            return Err(ErrorCode::QuotaExceeded);
        }
        if check_bytes
            && limits.byte_hard_limit() > -1
            && stats.bytes().wrapping_add(bytes_diff) > limits.byte_hard_limit()
        {
            return Err(ErrorCode::QuotaExceeded);
        }
        Ok(())
    }
}

fn len_i64(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Vec<(String, i64)> {
        match StatsTrack::parse(text) {
            Ok(st) => st.values.into_iter().collect(),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn prints_as_zookeeper() {
        let mut st = StatsTrack::new();
        assert_eq!(st.to_string(), "count=-1,bytes=-1");
        st.set(StatsTrack::COUNT, 3);
        st.set(StatsTrack::BYTES, 12);
        assert_eq!(st.to_string(), "count=3,bytes=12");
        // setquota -n 2: every limit is set, the unset ones to -1.
        st.set(StatsTrack::COUNT, 2);
        st.set(StatsTrack::BYTES, -1);
        st.set(StatsTrack::COUNT_HARD_LIMIT, -1);
        st.set(StatsTrack::BYTE_HARD_LIMIT, -1);
        assert_eq!(
            st.to_string(),
            "count=2,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        assert_eq!(&st.to_data()[..], st.to_string().as_bytes());
    }

    #[test]
    fn parses_old_and_new_formats() {
        assert_eq!(
            parsed("count=3,bytes=12"),
            vec![("bytes".into(), 12), ("count".into(), 3)]
        );
        let st = StatsTrack::parse("count=2,bytes=-1=;byteHardLimit=10;countHardLimit=-1");
        let st = st.unwrap_or_default();
        assert_eq!(
            (
                st.count(),
                st.bytes(),
                st.byte_hard_limit(),
                st.count_hard_limit()
            ),
            (2, -1, 10, -1)
        );
        assert_eq!(
            st.to_string(),
            "count=2,bytes=-1=;byteHardLimit=10;countHardLimit=-1"
        );
        assert!(parsed("").is_empty());
        // Runs of separators collapse; a trailing separator is dropped.
        assert_eq!(parsed("count=1,;,bytes=2;"), parsed("count=1,bytes=2"));
        // An empty value is -1; extra pieces are ignored; the last duplicate wins.
        assert_eq!(parsed("count==5"), vec![("count".into(), -1)]);
        assert_eq!(parsed("count=5=7"), vec![("count".into(), 5)]);
        assert_eq!(parsed("count=1,count=+4"), vec![("count".into(), 4)]);
        // Keys are taken as they are.
        assert_eq!(parsed(" count=1"), vec![(" count".into(), 1)]);
        assert_eq!(parsed("=5"), vec![(String::new(), 5)]);
        // Unknown keys survive a rewrite, after the `=`, sorted.
        let mut st = StatsTrack::parse("count=1,bytes=2,zz=1;aa=2").unwrap_or_default();
        st.set(StatsTrack::COUNT, 9);
        assert_eq!(st.to_string(), "count=9,bytes=2=;aa=2;zz=1");
    }

    #[test]
    fn rejects_what_java_throws_on() {
        for bad in [
            "count=",
            "count",
            ",count=1",
            "count=x",
            "count=1 ",
            "=",
            "a=b=c",
            "count=99999999999999999999",
        ] {
            assert!(StatsTrack::parse(bad).is_err(), "{bad:?}");
        }
        assert!(StatsTrack::from_data(None).is_err());
        assert_eq!(StatsTrack::from_data(Some(b"")), Ok(StatsTrack::new()));
        assert_eq!(StatsTrack::parse(","), Ok(StatsTrack::new()));
    }

    #[test]
    fn index_longest_prefix_and_delete() {
        let mut ix = QuotaIndex::default();
        ix.add("/a");
        ix.add("/a/b/c");
        assert_eq!(ix.max_prefix("/a/b"), Some("/a".into()));
        assert_eq!(ix.max_prefix("/a/b/c/d"), Some("/a/b/c".into()));
        assert_eq!(ix.max_prefix("/ab"), None);
        assert_eq!(ix.max_prefix("/"), None);
        assert_eq!(ix.paths(), vec!["/a".to_string(), "/a/b/c".to_string()]);
        // Deleting an inner entry keeps its descendants.
        ix.delete("/a");
        assert_eq!(ix.max_prefix("/a/b"), None);
        assert_eq!(ix.max_prefix("/a/b/c"), Some("/a/b/c".into()));
        ix.delete("/a/b/c");
        ix.delete("/nothing/here");
        assert!(ix.paths().is_empty());
        // Space-only components are dropped, as Java's trim-and-filter does.
        ix.add("/x/ /y");
        assert_eq!(ix.max_prefix("/x/y/z"), Some("/x/y".into()));
        ix.add("");
        ix.delete("");
        ix.delete("/ ");
        assert_eq!(ix.paths(), vec!["/x/y".to_string()]);
    }

    #[test]
    fn java_substring() {
        assert_eq!(java_substring_from("/zookeeper/quota/a", 16), Some("/a"));
        assert_eq!(java_substring_from("/zookeeper/quota", 16), Some(""));
        assert_eq!(java_substring_from("/zookeeper/config", 16), Some("g"));
        assert_eq!(java_substring_from("/zookeeper", 16), None);
        assert_eq!(
            java_substring_from("/zookeeper\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}X", 16),
            Some("X")
        );
    }
}
