//! Quota commands: setquota, listquota, delquota, working on `/zookeeper/quota` as zkCli
//! does (a `zookeeper_limits` and a `zookeeper_stats` node under the node's mirror path, in
//! ZooKeeper's `StatsTrack` text format).

use std::collections::BTreeMap;

use bytes::Bytes;
use corral_client::{Client, CreateMode, CreateOptions, Error, ErrorCode};

use super::cmd_node::{opts, visit};
use super::error::{check_path, wrap, CliError, CmdResult};
use super::options::{flag, valued, Spec};
use super::output::Out;
use super::session::{usage_error, Shell};
use super::tokenize::{java_parse, java_split};

const QUOTA_ROOT: &str = "/zookeeper/quota";
const LIMITS: &str = "zookeeper_limits";
const STATS: &str = "zookeeper_stats";

/// ZooKeeper's `StatsTrack`: `count=N,bytes=N` first, then (after an extra `=`) any other
/// keys in sorted order, `;key=value` each. A missing key reads as -1.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsTrack {
    stats: BTreeMap<String, i64>,
}

impl StatsTrack {
    pub fn parse(text: &str) -> StatsTrack {
        let mut stats = BTreeMap::new();
        for pair in text.split([',', ';']).filter(|p| !p.is_empty()) {
            let kv = java_split(pair, '=');
            let value = kv
                .get(1)
                .filter(|v| !v.is_empty())
                .and_then(|v| java_parse(v))
                .unwrap_or(-1);
            if let Some(key) = kv.first() {
                stats.insert(key.to_string(), value);
            }
        }
        StatsTrack { stats }
    }

    pub fn get(&self, key: &str) -> i64 {
        self.stats.get(key).copied().unwrap_or(-1)
    }

    pub fn set(&mut self, key: &str, value: i64) {
        self.stats.insert(key.to_string(), value);
    }

    fn bytes(&self) -> Bytes {
        Bytes::from(self.to_string().into_bytes())
    }
}

impl std::fmt::Display for StatsTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "count={},bytes={}", self.get("count"), self.get("bytes"))?;
        let rest: Vec<_> = self
            .stats
            .iter()
            .filter(|(k, _)| *k != "count" && *k != "bytes")
            .collect();
        if !rest.is_empty() {
            write!(f, "=")?;
            for (k, v) in rest {
                write!(f, ";{k}={v}")?;
            }
        }
        Ok(())
    }
}

/// A failed step: a server answer for an op on a path, or a message of zkCli's own.
enum Fail {
    Zk(Error, String),
    Cli(CliError),
}

impl From<CliError> for Fail {
    fn from(e: CliError) -> Fail {
        Fail::Cli(e)
    }
}

fn at<T>(r: Result<T, Error>, path: &str) -> Result<T, Fail> {
    r.map_err(|e| Fail::Zk(e, path.to_string()))
}

fn limit_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{LIMITS}")
}

fn stat_path(path: &str) -> String {
    format!("{QUOTA_ROOT}{path}/{STATS}")
}

async fn read_track(zk: &Client, path: &str) -> Result<StatsTrack, Fail> {
    let (data, _) = at(zk.get_data(path).await, path)?;
    Ok(StatsTrack::parse(&String::from_utf8_lossy(&data)))
}

/// Creates a node with null data; an existing one is fine.
async fn ensure(zk: &Client, path: &str) -> Result<(), Fail> {
    let opts = CreateOptions::new(CreateMode::Persistent);
    match zk.create_nullable(path, None, &opts).await {
        Err(e) if !e.is(ErrorCode::NodeExists) => Err(Fail::Zk(e, path.to_string())),
        _ => Ok(()),
    }
}

const SET_QUOTA: Spec = Spec {
    opts: &[
        valued("n", "num soft quota"),
        valued("b", "bytes soft quota"),
        valued("N", "num hard quota"),
        valued("B", "bytes hard quota"),
    ],
    group: Some((&["n", "b", "N", "B"], true)),
};

pub async fn set_quota(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&SET_QUOTA, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("setquota"));
    }
    let path = p.args[1].clone();
    if path.starts_with(QUOTA_ROOT) {
        sh.out
            .eprintln(&format!("cannot set a quota under the path: {QUOTA_ROOT}"));
        return Ok(());
    }
    let mut quota = StatsTrack::default();
    for key in ["count", "bytes", "countHardLimit", "byteHardLimit"] {
        quota.set(key, -1);
    }
    // (option, key, whether it counts nodes: counts must be > 0, byte sizes >= 0)
    for (opt, key, count) in [
        ("n", "count", true),
        ("b", "bytes", false),
        ("N", "countHardLimit", true),
        ("B", "byteHardLimit", false),
    ] {
        let Some(text) = p.value(opt) else { continue };
        let value = if count {
            java_parse::<i32>(text).map(i64::from)
        } else {
            java_parse::<i64>(text)
        };
        let Some(value) = value else {
            sh.out
                .eprintln("NumberFormatException happens when parsing the option value");
            return Ok(());
        };
        match (count, value) {
            (true, v) if v <= 0 => {
                sh.out.eprintln("the num quota must be greater than zero");
                return Ok(());
            }
            (false, v) if v < 0 => {
                sh.out
                    .eprintln("the bytes quota must be greater than or equal to zero");
                return Ok(());
            }
            _ => quota.set(key, value),
        }
    }
    let conn = sh.conn()?;
    match create_quota(&conn.client, &conn.watches, &sh.out, &path, &quota).await {
        Ok(()) => Ok(()),
        Err(Fail::Cli(e)) => Err(e),
        Err(Fail::Zk(e, at)) => Err(wrap(&e, &at)),
    }
}

async fn create_quota(
    zk: &Client,
    watches: &super::watches::Watches,
    out: &Out,
    path: &str,
    quota: &StatsTrack,
) -> Result<(), Fail> {
    check_path(path, false)?;
    if at(zk.exists(path).await, path)?.is_none() {
        return Err(CliError::new(format!("{path} does not exist.")).into());
    }
    // No quota below the node...
    let mirror = format!("{QUOTA_ROOT}{path}");
    if at(zk.exists(&mirror).await, &mirror)?.is_some() {
        let found = visit(zk, watches, &mirror, false, |node| {
            let (zk, mirror) = (zk.clone(), mirror.clone());
            async move {
                let children = match zk.get_children(&node).await {
                    Ok(c) => c,
                    Err(_) => return Ok(()),
                };
                if node != mirror && children.iter().any(|c| c == LIMITS) {
                    let below = &node[QUOTA_ROOT.len()..];
                    return Err(CliError::new(format!(
                        "{path} has a child {below} which has a quota"
                    )));
                }
                Ok(())
            }
        })
        .await;
        match found {
            Err(e) if !e.msg.starts_with("Node does not exist") => return Err(e.into()),
            _ => {}
        }
    }
    // ...nor above it.
    let parts = java_split(path, '/');
    let mut q = QUOTA_ROOT.to_string();
    for part in parts.iter().take(parts.len().saturating_sub(1)).skip(1) {
        q = format!("{q}/{part}");
        let children = match zk.get_children(&q).await {
            Err(e) if e.is(ErrorCode::NoNode) => break,
            r => at(r, &q)?,
        };
        if children.iter().any(|c| c == LIMITS) {
            let above = &q[QUOTA_ROOT.len()..];
            return Err(
                CliError::new(format!("{path} has a parent {above} which has a quota")).into(),
            );
        }
        if children.is_empty() {
            break;
        }
    }
    if at(zk.exists(QUOTA_ROOT).await, QUOTA_ROOT)?.is_none() {
        // zkCli creates both in one try: the first NodeExists skips the second.
        let opts = CreateOptions::new(CreateMode::Persistent);
        for node in ["/zookeeper", QUOTA_ROOT] {
            match zk.create_nullable(node, None, &opts).await {
                Err(e) if e.is(ErrorCode::NodeExists) => break,
                r => {
                    at(r, node)?;
                }
            }
        }
    }
    let mut q = QUOTA_ROOT.to_string();
    for part in parts.iter().skip(1) {
        q = format!("{q}/{part}");
        if at(zk.exists(&q).await, &q)?.is_none() {
            ensure(zk, &q).await?;
        }
    }
    let (limits, stats) = (format!("{q}/{LIMITS}"), format!("{q}/{STATS}"));
    let opts = CreateOptions::new(CreateMode::Persistent);
    if at(zk.exists(&limits).await, &limits)?.is_none() {
        at(zk.create_with(&limits, quota.bytes(), &opts).await, &limits)?;
        let mut zero = StatsTrack::default();
        zero.set("count", 0);
        zero.set("bytes", 0);
        at(zk.create_with(&stats, zero.bytes(), &opts).await, &stats)?;
        let q = read_track(zk, &limits).await?;
        let s = read_track(zk, &stats).await?;
        warn_if_below(out, &q, &s);
    } else {
        let mut q = read_track(zk, &limits).await?;
        for key in ["count", "bytes", "countHardLimit", "byteHardLimit"] {
            if quota.get(key) > -1 {
                q.set(key, quota.get(key));
            }
        }
        let s = read_track(zk, &stats).await?;
        warn_if_below(out, &q, &s);
        at(zk.set_data(&limits, q.bytes(), None).await, &limits)?;
    }
    Ok(())
}

fn warn_if_below(out: &Out, quota: &StatsTrack, stats: &StatsTrack) {
    let below = |soft: &str, hard: &str, used: i64| {
        (quota.get(soft) > -1 && quota.get(soft) < used)
            || (quota.get(hard) > -1 && quota.get(hard) < used)
    };
    let count = stats.get("count");
    if below("count", "countHardLimit", count) {
        out.println(&format!(
            "[Warning]: the count quota you create is less than the existing count:{count}"
        ));
    }
    let bytes = stats.get("bytes");
    if below("bytes", "byteHardLimit", bytes) {
        out.println(&format!(
            "[Warning]: the bytes quota you create is less than the existing bytes:{bytes}"
        ));
    }
}

pub async fn list_quota(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    if p.args.len() < 2 {
        return Err(usage_error("listquota"));
    }
    let path = &p.args[1];
    let limits = limit_path(path);
    sh.out.eprintln(&format!("absolute path is {limits}"));
    check_path(&limits, false)?;
    let zk = &sh.conn()?.client;
    let read = async {
        let q = read_track(zk, &limits).await?;
        let s = read_track(zk, &stat_path(path)).await?;
        Ok::<_, Fail>((q, s))
    };
    match read.await {
        Ok((q, s)) => {
            sh.out.println(&format!("Output quota for {path} {q}"));
            sh.out.println(&format!("Output stat for {path} {s}"));
            Ok(())
        }
        Err(Fail::Zk(e, _)) if e.is(ErrorCode::NoNode) => {
            sh.out
                .eprintln(&format!("quota for {path} does not exist."));
            Ok(())
        }
        Err(Fail::Zk(e, at)) => Err(wrap(&e, &at)),
        Err(Fail::Cli(e)) => Err(e),
    }
}

const DEL_QUOTA: Spec = Spec {
    opts: &[
        flag("n", "num soft quota"),
        flag("b", "bytes soft quota"),
        flag("N", "num hard quota"),
        flag("B", "bytes hard quota"),
    ],
    group: Some((&["n", "b", "N", "B"], false)),
};

pub async fn del_quota(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&DEL_QUOTA, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("delquota"));
    }
    let path = &p.args[1];
    let keys: Vec<&str> = [
        ("n", "count"),
        ("b", "bytes"),
        ("N", "countHardLimit"),
        ("B", "byteHardLimit"),
    ]
    .iter()
    .filter(|(o, _)| p.has(o))
    .map(|(_, k)| *k)
    .collect();
    let zk = sh.conn()?.client.clone();
    match del(&zk, &sh.out, path, &keys).await {
        Ok(()) => Ok(()),
        Err(Fail::Zk(e, _)) if e.is(ErrorCode::NoNode) => {
            sh.out
                .eprintln(&format!("quota for {path} does not exist."));
            Ok(())
        }
        Err(Fail::Zk(e, at)) => Err(wrap(&e, &at)),
        Err(Fail::Cli(e)) => Err(e),
    }
}

async fn del(zk: &Client, out: &Out, path: &str, keys: &[&str]) -> Result<(), Fail> {
    let mirror = format!("{QUOTA_ROOT}{path}");
    let limits = limit_path(path);
    check_path(&limits, false)?;
    if at(zk.exists(&limits).await, &limits)?.is_none() {
        out.println(&format!("Quota does not exist for {path}"));
        return Ok(());
    }
    let mut track = read_track(zk, &limits).await?;
    if !keys.is_empty() {
        for key in keys {
            track.set(key, -1);
        }
        at(zk.set_data(&limits, track.bytes(), None).await, &limits)?;
        return Ok(());
    }
    for child in at(zk.get_children(&mirror).await, &mirror)? {
        let node = format!("{mirror}/{child}");
        at(zk.delete(&node, None).await, &node)?;
    }
    // Then the mirror path upwards, as long as nodes are left empty.
    let mut node = mirror;
    while node != QUOTA_ROOT {
        if !at(zk.get_children(&node).await, &node)?.is_empty() {
            break;
        }
        at(zk.delete(&node, None).await, &node)?;
        node = match node.rfind('/') {
            Some(i) => node[..i].to_string(),
            None => break,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_track_text() {
        let mut q = StatsTrack::default();
        for key in ["count", "bytes", "countHardLimit", "byteHardLimit"] {
            q.set(key, -1);
        }
        q.set("count", 5);
        assert_eq!(
            q.to_string(),
            "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1"
        );
        let back = StatsTrack::parse(&q.to_string());
        assert_eq!(back, q);
        assert_eq!(
            StatsTrack::parse("count=4,bytes=3").to_string(),
            "count=4,bytes=3"
        );
        assert_eq!(StatsTrack::parse("").to_string(), "count=-1,bytes=-1");
        assert_eq!(StatsTrack::parse("count=,bytes=2").get("count"), -1);
    }
}
