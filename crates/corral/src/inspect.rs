//! `corral log dump <file>` and `corral snapshot dump <file>`: a txn log segment or a
//! snapshot in readable form (as ZooKeeper's LogFormatter / SnapshotFormatter), one line per
//! txn or znode, or one JSON object per line with `--json`.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use corral_datatree::{Txn, TxnBody};
use corral_storage::{SegmentEnd, SegmentFile};

use crate::snaptree::{push_children, read_corral_snapshot};
use serde::Serialize;

/// Prints every record of one log segment.
pub fn log_dump(path: &Path, json: bool) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let segment = SegmentFile::open(path).with_context(|| format!("reading {}", path.display()))?;
    if !json {
        writeln!(
            out,
            "Corral txn log segment {} (first zxid 0x{:x})",
            path.display(),
            segment.first_zxid()
        )?;
    }
    for record in segment.records() {
        let line = match Txn::decode(&record.payload) {
            Ok(txn) if json => to_json(&TxnLine {
                offset: record.offset,
                zxid: txn.zxid.to_wire(),
                time: txn.time_ms,
                session: txn.session_id,
                cxid: txn.cxid,
                txn: body_text(&txn.body),
            })?,
            Ok(txn) => format!(
                "offset {} zxid 0x{:x} time {} session 0x{:x} cxid 0x{:x} {}",
                record.offset,
                txn.zxid,
                txn.time_ms,
                txn.session_id,
                txn.cxid,
                body_text(&txn.body)
            ),
            Err(e) if json => to_json(&UndecodableLine {
                offset: record.offset,
                zxid: record.zxid.to_wire(),
                error: e.to_string(),
            })?,
            Err(e) => format!(
                "offset {} zxid 0x{:x} undecodable txn: {e}",
                record.offset, record.zxid
            ),
        };
        writeln!(out, "{line}")?;
    }
    let end = match segment.end() {
        SegmentEnd::Clean { offset } => format!("clean end at offset {offset}"),
        SegmentEnd::Torn { offset, reason } => format!("torn tail at offset {offset}: {reason}"),
        SegmentEnd::Corrupt {
            offset,
            reason,
            valid_at,
        } => format!("CORRUPT at offset {offset}: {reason} (a valid record follows at {valid_at})"),
        other => format!("{other:?}"),
    };
    if json {
        writeln!(out, "{}", to_json(&EndLine { end })?)?;
    } else {
        writeln!(
            out,
            "EOF reached after {} txns ({end})",
            segment.records().len()
        )?;
    }
    out.flush()?;
    Ok(())
}

/// Prints every znode of a snapshot, then its sessions.
pub fn snapshot_dump(path: &Path, json: bool) -> Result<()> {
    let mut out = BufWriter::new(std::io::stdout().lock());
    let snap = read_corral_snapshot(path)?;
    let (tree, sessions, zxid) = (snap.tree, snap.sessions, snap.zxid);
    if !json {
        writeln!(
            out,
            "Corral snapshot {} at zxid 0x{:x}: {} znodes, {} sessions",
            path.display(),
            zxid,
            tree.node_count(),
            sessions.len()
        )?;
    }
    let mut stack = vec!["/".to_string()];
    while let Some(path) = stack.pop() {
        let Ok((data, stat)) = tree.get_data(&path) else {
            continue;
        };
        if json {
            let line = NodeLine {
                path: &path,
                czxid: stat.czxid,
                mzxid: stat.mzxid,
                pzxid: stat.pzxid,
                ctime: stat.ctime,
                mtime: stat.mtime,
                version: stat.version,
                cversion: stat.cversion,
                aversion: stat.aversion,
                ephemeral_owner: stat.ephemeral_owner,
                data_length: stat.data_length,
                num_children: stat.num_children,
                data: data.as_deref().map(String::from_utf8_lossy),
            };
            writeln!(out, "{}", to_json(&line)?)?;
        } else {
            writeln!(
            out,
                "{path}\n  cZxid = 0x{:x}\n  ctime = {}\n  mZxid = 0x{:x}\n  mtime = {}\n  pZxid = 0x{:x}\n  cversion = {}\n  dataVersion = {}\n  aclVersion = {}\n  ephemeralOwner = 0x{:x}\n  dataLength = {}",
                stat.czxid, stat.ctime, stat.mzxid, stat.mtime, stat.pzxid, stat.cversion,
                stat.version, stat.aversion, stat.ephemeral_owner, stat.data_length
            )?;
        }
        push_children(&tree, &path, &mut stack);
    }
    for (id, timeout) in &sessions {
        if json {
            let line = SessionLine {
                session: *id,
                timeout: *timeout,
            };
            writeln!(out, "{}", to_json(&line)?)?;
        } else {
            writeln!(out, "Session 0x{id:x} timeout {timeout}")?;
        }
    }
    out.flush()?;
    Ok(())
}

fn body_text(body: &TxnBody) -> String {
    match body {
        TxnBody::Create {
            path,
            data,
            acl,
            ephemeral_owner,
            op,
            ..
        } => format!(
            "{op:?} '{path}' data {} acl {} ephemeralOwner 0x{ephemeral_owner:x}",
            data_text(data.as_deref()),
            acl.iter()
                .map(|a| format!("{}:{}:{}", a.id.scheme, a.id.id, a.perms))
                .collect::<Vec<_>>()
                .join(",")
        ),
        TxnBody::Delete { path } => format!("delete '{path}'"),
        TxnBody::SetData {
            path,
            data,
            version,
        } => format!(
            "setData '{path}' data {} version {version}",
            data_text(data.as_deref())
        ),
        TxnBody::SetAcl { path, version, .. } => format!("setACL '{path}' version {version}"),
        TxnBody::Check { path, version } => format!("check '{path}' version {version}"),
        TxnBody::Multi(ops) => {
            let mut s = String::from("multi [");
            for (i, op) in ops.iter().enumerate() {
                let _ = write!(s, "{}{}", if i > 0 { "; " } else { "" }, body_text(op));
            }
            s.push(']');
            s
        }
        TxnBody::Error(code) => format!("error {code:?} ({})", code.code()),
        TxnBody::CreateSession { timeout_ms } => format!("createSession timeout {timeout_ms}"),
        TxnBody::CloseSession { ephemerals } => {
            format!("closeSession deleting {:?}", ephemerals)
        }
    }
}

/// Data as text: `null`, or the bytes as a quoted (lossy UTF-8) string.
pub(crate) fn data_text(data: Option<&[u8]>) -> String {
    match data {
        None => "null".into(),
        Some(d) => format!("{:?}", String::from_utf8_lossy(d)),
    }
}

/// One line of `--json` output: a compact JSON object, fields in declaration order.
fn to_json(line: &impl Serialize) -> Result<String> {
    serde_json::to_string(line).context("writing JSON")
}

/// A txn of `log dump --json`.
#[derive(Serialize)]
struct TxnLine {
    offset: u64,
    zxid: i64,
    time: i64,
    session: i64,
    cxid: i32,
    txn: String,
}

/// A record of `log dump --json` whose payload is not a txn.
#[derive(Serialize)]
struct UndecodableLine {
    offset: u64,
    zxid: i64,
    error: String,
}

/// The last line of `log dump --json`: how the segment ends.
#[derive(Serialize)]
struct EndLine {
    end: String,
}

/// A znode of `snapshot dump --json` (Stat fields by ZooKeeper's names).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeLine<'a> {
    path: &'a str,
    czxid: i64,
    mzxid: i64,
    pzxid: i64,
    ctime: i64,
    mtime: i64,
    version: i32,
    cversion: i32,
    aversion: i32,
    ephemeral_owner: i64,
    data_length: i32,
    num_children: i32,
    data: Option<std::borrow::Cow<'a, str>>,
}

/// A session of `snapshot dump --json`.
#[derive(Serialize)]
struct SessionLine {
    session: i64,
    timeout: i32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_keep_field_order_and_escape_strings() {
        let line = UndecodableLine {
            offset: 16,
            zxid: -1,
            error: "a\"b\\c\n\u{1}".into(),
        };
        assert_eq!(
            to_json(&line).expect("json"),
            r#"{"offset":16,"zxid":-1,"error":"a\"b\\c\n\u0001"}"#
        );
    }
}
