//! `corral log truncate`: cut a Corral txn log at a zxid or at a record boundary (the fix for
//! a log that refuses to start because damage is followed by a valid record), and `corral
//! log recover` for ZooKeeper's logs (zklog.rs). The decisions and the file changes are
//! corral-storage's ([`corral_storage::plan_cut`]); this prints them.
//!
//! Without `--yes` nothing changes: the plan is printed (every record, segment and snapshot
//! the cut would remove). With it, the removed bytes of the cut segment go to a side file and
//! the removed files are renamed `*.removed`, then the segment is cut.
//!
//! On an Apache ZooKeeper log file, `--zxid Z` is `TxnLogToolkit --chop --zxid Z`: the
//! records up to Z are written to `<log>.chopped<Z>` and the original stays as it is.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use corral_storage::{plan_cut, CutAt, CutPlan, VERSION_DIR};

/// What `corral log truncate` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
#[command(group(clap::ArgGroup::new("at").required(true).args(["zxid", "offset"])))]
pub struct TruncateOptions {
    /// Keep the records up to and including this zxid (hex with 0x, or decimal); remove the
    /// rest of the log, and the snapshots above it
    #[arg(long, short = 'z', value_parser = parse_zxid, value_name = "ZXID")]
    pub zxid: Option<i64>,
    /// Cut the segment file PATH at this byte offset (the start of a record, or the end of
    /// the records that read in order: where `corral log dump` reports damage)
    #[arg(long, value_name = "BYTES", requires = "path")]
    pub offset: Option<u64>,
    /// The dataDir whose snapshots above the cut go too (default: the log's own directory,
    /// as when dataLogDir is not set)
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Do it (without: print what would be removed and change nothing)
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// A segment file (log.<zxid>) or the dataLogDir (or its version-2)
    pub path: PathBuf,
}

/// Long.decode's forms: 0x / 0X / # hex, or decimal.
fn parse_zxid(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let hex = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('#'));
    let parsed = match hex {
        Some(h) => u64::from_str_radix(h, 16).map(|v| v as i64),
        None => t.parse::<i64>(),
    };
    parsed.map_err(|e| format!("{text:?} is not a zxid: {e}"))
}

/// The `version-2` directory of `dir` when it has one, else `dir`.
fn version_dir(dir: &Path) -> PathBuf {
    let v = dir.join(VERSION_DIR);
    if v.is_dir() {
        v
    } else {
        dir.to_path_buf()
    }
}

/// Runs the cut (or prints its plan).
pub fn truncate(opts: &TruncateOptions) -> Result<()> {
    let (log_dir, segment) = if opts.path.is_dir() {
        (version_dir(&opts.path), None)
    } else if opts.path.is_file() {
        if crate::zklog::is_zookeeper_log(&opts.path)? {
            let Some(zxid) = opts.zxid else {
                bail!(
                    "{} is an Apache ZooKeeper log: it is cut at a zxid (--zxid), as \
                     TxnLogToolkit --chop does",
                    opts.path.display()
                );
            };
            return crate::zklog::chop(&opts.path, zxid);
        }
        let dir = match opts.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        (dir, Some(opts.path.clone()))
    } else {
        bail!("{} is neither a file nor a directory", opts.path.display());
    };
    let at = match (opts.zxid, opts.offset) {
        (Some(zxid), None) => CutAt::Zxid(corral_zxid::Zxid::from_wire(zxid)),
        (None, Some(offset)) => match segment {
            Some(segment) => CutAt::Offset { segment, offset },
            None => bail!(
                "--offset needs a segment file, not the directory {}",
                opts.path.display()
            ),
        },
        _ => bail!("give --zxid or --offset"),
    };
    let snap_dir = opts
        .data_dir
        .as_deref()
        .map_or_else(|| log_dir.clone(), version_dir);
    let plan = plan_cut(&log_dir, Some(&snap_dir), &at)?;
    print!("{}", describe(&plan));
    if !opts.yes {
        println!("dry run: nothing was changed; run again with --yes to cut");
        return Ok(());
    }
    let done = plan.apply()?;
    if let Some(backup) = &done.tail_backup {
        println!("the removed bytes are kept in {}", backup.display());
    }
    for (from, to) in &done.renamed {
        println!("renamed {} to {}", from.display(), to.display());
    }
    println!("cut done");
    Ok(())
}

/// What the plan removes, one line per record and per file.
pub fn describe(plan: &CutPlan) -> String {
    let mut out = String::new();
    if let Some(cut) = &plan.cut {
        out.push_str(&format!(
            "cut {} at offset {}: keeps {} records{}\n",
            cut.path.display(),
            cut.offset,
            cut.kept,
            cut.last_kept
                .map_or(String::new(), |z| format!(" (the last zxid 0x{z:x})"))
        ));
        for r in &cut.removed {
            out.push_str(&format!(
                "removes the record at offset {} zxid 0x{:x}\n",
                r.offset, r.zxid
            ));
        }
        if let Some((at, len, reason)) = &cut.damage {
            out.push_str(&format!(
                "removes {len} damaged bytes at offset {at} ({reason})\n"
            ));
        }
    }
    for s in &plan.segments {
        out.push_str(&format!(
            "removes the segment {} (zxid 0x{:x} on, {} records)\n",
            s.path.display(),
            s.zxid,
            s.records
        ));
    }
    for s in &plan.snapshots {
        out.push_str(&format!(
            "removes the snapshot {} (zxid 0x{:x}, above the cut)\n",
            s.path.display(),
            s.zxid
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxids_parse_as_long_decode() {
        assert_eq!(parse_zxid("0x10000002a"), Ok(0x1_0000_002a));
        assert_eq!(parse_zxid("#1f"), Ok(31));
        assert_eq!(parse_zxid("42"), Ok(42));
        assert!(parse_zxid("0xZZ").is_err());
        assert!(parse_zxid("").is_err());
    }
}
