//! Apache ZooKeeper's txn log files (`log.<zxid>`, magic `ZKLG`) for `corral log`: `dump`
//! (as `TxnLogToolkit --dump`: the header line, one line per txn, a record whose Adler-32
//! does not match marked `CRC ERROR`, then `EOF reached after N txns.`), `recover` (as
//! `TxnLogToolkit --recover --yes`: `<log>.fixed` with the bad checksums recomputed) and
//! `truncate --zxid` (as `TxnLogToolkit --chop`: `<log>.chopped<zxid>`).

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use corral_zkdata::records::op;
use corral_zkdata::{LogEnd, Txn, TxnEntry};
use serde::Serialize;

use crate::inspect::data_text;

/// Whether a file starts with ZooKeeper's log magic.
pub fn is_zookeeper_log(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut head)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(n == 4 && &head == b"ZKLG")
}

/// Prints every record of a ZooKeeper log.
pub fn dump(path: &Path, json: bool) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = BufWriter::new(std::io::stdout().lock());
    // The header line comes first; it is known once the walk has read the header.
    let mut lines: Vec<String> = Vec::new();
    let mut count = 0u64;
    let (header, end) = corral_zkdata::walk_log(path, &bytes, |record| {
        let bad_crc = record.actual_crc() != record.stored_crc;
        let line = match record.entry(path) {
            Ok(entry) if json => serde_json::to_string(&ZkTxnLine {
                offset: record.offset,
                crc_ok: !bad_crc,
                zxid: entry.header.zxid,
                time: entry.header.time,
                session: entry.header.client_id,
                cxid: entry.header.cxid,
                txn: format!("{} {}", op_name(entry.header.op), txn_text(&entry.txn)),
            })
            .unwrap_or_default(),
            Ok(entry) => format!(
                "{}{}",
                if bad_crc { "CRC ERROR - " } else { "" },
                entry_text(record.offset, &entry)
            ),
            Err(e) => format!("offset {} undecodable txn: {e}", record.offset),
        };
        lines.push(line);
        count += 1;
        Ok(())
    })?;
    if !json {
        writeln!(
            out,
            "ZooKeeper Transactional Log File with dbid {} txnlog format version {}",
            header.dbid, header.version
        )?;
    }
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    let end_text = match end {
        LogEnd::Clean { offset } => format!("clean end at offset {offset}"),
        LogEnd::Torn { offset, reason } => {
            format!("partial last transaction at offset {offset}: {reason}")
        }
    };
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string(&EndLine { end: end_text })?
        )?;
    } else {
        writeln!(out, "EOF reached after {count} txns. ({end_text})")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes `<log>.fixed` with every bad Adler-32 recomputed; prints each fix.
pub fn recover(path: &Path) -> Result<()> {
    let done = corral_zkdata::recover_log(path)?;
    for fix in &done.fixed {
        let what = match &fix.entry {
            Some(entry) => entry_text(fix.offset, entry),
            None => format!("offset {} (undecodable txn)", fix.offset),
        };
        println!(
            "CRC FIXED - {what} (checksum {:#x} -> {:#x})",
            fix.stored, fix.actual
        );
    }
    if let LogEnd::Torn { offset, reason } = &done.end {
        println!("not copied: a partial last transaction at offset {offset} ({reason})");
    }
    println!(
        "Recovery file {} has been written with {} fixed CRC error(s) ({} txns)",
        done.path.display(),
        done.fixed.len(),
        done.records
    );
    Ok(())
}

/// Writes `<log>.chopped<zxid>` with the records up to `zxid` (TxnLogToolkit --chop).
pub fn chop(path: &Path, zxid: i64) -> Result<()> {
    let done = corral_zkdata::chop_log(path, zxid)?;
    println!(
        "Chopping at {zxid:x}: {} keeps {} records, {} left out; {} is as it was",
        done.path.display(),
        done.kept,
        done.removed,
        path.display()
    );
    Ok(())
}

fn entry_text(offset: u64, entry: &TxnEntry) -> String {
    let h = &entry.header;
    format!(
        "offset {offset} time {} session 0x{:x} cxid 0x{:x} zxid 0x{:x} {} {}",
        h.time,
        h.client_id,
        h.cxid,
        h.zxid,
        op_name(h.op),
        txn_text(&entry.txn)
    )
}

/// ZooKeeper's name of an op code (`TraceFormatter.op2String`).
fn op_name(code: i32) -> String {
    match code {
        op::ERROR => "error".into(),
        op::CREATE => "create".into(),
        op::DELETE => "delete".into(),
        op::SET_DATA => "setData".into(),
        op::SET_ACL => "setACL".into(),
        op::CHECK => "check".into(),
        op::MULTI => "multi".into(),
        op::CREATE2 => "create2".into(),
        op::RECONFIG => "reconfig".into(),
        op::CREATE_CONTAINER => "createContainer".into(),
        op::DELETE_CONTAINER => "deleteContainer".into(),
        op::CREATE_TTL => "createTTL".into(),
        op::CREATE_SESSION => "createSession".into(),
        op::CLOSE_SESSION => "closeSession".into(),
        other => format!("unknown {other}"),
    }
}

fn txn_text(txn: &Txn) -> String {
    match txn {
        Txn::CreateSession { timeout } => format!("timeout {timeout}"),
        Txn::CloseSession { paths_to_delete } => match paths_to_delete {
            Some(paths) => format!("deleting {paths:?}"),
            None => String::new(),
        },
        Txn::Create {
            path,
            data,
            ephemeral,
            parent_cversion,
            ..
        } => format!(
            "'{path}' data {} ephemeral {ephemeral} parentCVersion {parent_cversion}",
            data_text(data.as_deref())
        ),
        Txn::CreateContainer { path, data, .. } => {
            format!("'{path}' data {}", data_text(data.as_deref()))
        }
        Txn::CreateTtl {
            path, data, ttl, ..
        } => {
            format!("'{path}' data {} ttl {ttl}", data_text(data.as_deref()))
        }
        Txn::Delete { path, .. } => format!("'{path}'"),
        Txn::SetData {
            path,
            data,
            version,
            ..
        } => format!(
            "'{path}' data {} version {version}",
            data_text(data.as_deref())
        ),
        Txn::SetAcl { path, version, .. } => format!("'{path}' version {version}"),
        Txn::Check { path, version } => format!("'{path}' version {version}"),
        Txn::Error { err } => format!("err {err}"),
        Txn::Multi(txns) => {
            let parts: Vec<String> = txns
                .iter()
                .map(|t| format!("{} {}", op_name(t.op()), txn_text(t)))
                .collect();
            format!("[{}]", parts.join("; "))
        }
    }
}

/// A txn of `log dump --json` on a ZooKeeper log.
#[derive(Serialize)]
struct ZkTxnLine {
    offset: u64,
    crc_ok: bool,
    zxid: i64,
    time: i64,
    session: i64,
    cxid: i32,
    txn: String,
}

/// The last line of `log dump --json`: how the log ends.
#[derive(Serialize)]
struct EndLine {
    end: String,
}
