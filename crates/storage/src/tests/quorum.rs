//! The quorum writer: one order across log, epoch files and received snapshots.

use crate::Zxid;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{small_config_on, zxids, TempDir};
use crate::{
    Disk, EpochFiles, Fault, FaultyDisk, QuorumFiles, QuorumOp, QuorumWriter, SnapshotStore,
    StorageError, TxnLog, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE,
};

fn open(dir: &TempDir, disk: Arc<dyn Disk>) -> QuorumFiles {
    let d = dir.path();
    QuorumFiles {
        log: TxnLog::open(small_config_on(&d.join("log"), Arc::clone(&disk))).unwrap(),
        snapshots: SnapshotStore::open_with(d.join("snap"), Arc::clone(&disk)).unwrap(),
        epochs: EpochFiles::open(d.join("snap"), disk).unwrap(),
    }
}

type Durable = mpsc::Receiver<Result<u64, StorageError>>;

fn spawn(files: QuorumFiles) -> (QuorumWriter, Durable) {
    let (tx, rx) = mpsc::channel();
    let w = QuorumWriter::spawn(files, move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    (w, rx)
}

/// Waits (bounded) until `tag` is reported durable; the error if the writer failed.
fn durable(rx: &Durable, tag: u64) -> Result<(), String> {
    for _ in 0..100 {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(t)) if t >= tag => return Ok(()),
            Ok(Ok(_)) => continue,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(e) => return Err(format!("no report: {e}")),
        }
    }
    Err("too many reports".into())
}

fn append(z: Zxid) -> QuorumOp {
    QuorumOp::Append {
        zxid: z,
        payload: Bytes::from(format!("txn {z}")),
    }
}

#[test]
fn operations_take_effect_in_order_and_are_reported_by_tag() {
    let dir = TempDir::new("quorum-order");
    let (w, rx) = spawn(open(&dir, Arc::new(crate::RealDisk)));
    w.submit(
        1,
        vec![QuorumOp::AcceptedEpoch(1), append(Zxid(1)), append(Zxid(2))],
    )
    .unwrap();
    w.submit(2, vec![append(Zxid(3)), QuorumOp::CurrentEpoch(1)])
        .unwrap();
    w.submit(
        3,
        vec![QuorumOp::Truncate { zxid: Zxid(2) }, append(Zxid(4))],
    )
    .unwrap();
    w.submit(4, Vec::new()).unwrap();
    durable(&rx, 4).unwrap();
    drop(w);
    let files = open(&dir, Arc::new(crate::RealDisk));
    assert_eq!(zxids(&files.log, Zxid(0)), vec![1, 2, 4]);
    assert_eq!(files.epochs.read(ACCEPTED_EPOCH_FILE).unwrap(), Some(1));
    assert_eq!(files.epochs.read(CURRENT_EPOCH_FILE).unwrap(), Some(1));
}

/// An epoch written before the log it follows could outlive that log in a crash: the
/// writer syncs the log first, so a failing fsync leaves the old epoch on disk.
#[test]
fn an_epoch_never_reaches_the_disk_before_the_log_before_it() {
    let dir = TempDir::new("quorum-epoch-after-log");
    let disk = FaultyDisk::new();
    let (w, rx) = spawn(open(&dir, disk.clone()));
    w.submit(1, vec![QuorumOp::CurrentEpoch(1), append(Zxid(1))])
        .unwrap();
    durable(&rx, 1).unwrap();
    disk.fail_syncs(Some(Fault::Io));
    w.submit(2, vec![append(Zxid(2)), QuorumOp::CurrentEpoch(2)])
        .unwrap();
    assert!(durable(&rx, 2).is_err(), "the log's fsync failed");
    // Refused, or accepted and never written: the thread has stopped or is stopping.
    let _ = w.submit(3, vec![QuorumOp::AcceptedEpoch(9)]);
    drop(w);
    disk.fail_syncs(None);
    let files = open(&dir, disk);
    assert_eq!(
        files.epochs.read(CURRENT_EPOCH_FILE).unwrap(),
        Some(1),
        "epoch 2 depends on txn 2, which never became durable"
    );
    assert_eq!(
        files.epochs.read(ACCEPTED_EPOCH_FILE).unwrap(),
        None,
        "a failed writer writes nothing more"
    );
}

#[test]
fn a_received_snapshot_is_installed_atomically_and_replaces_the_log_above_it() {
    let dir = TempDir::new("quorum-snap");
    let (w, rx) = spawn(open(&dir, Arc::new(crate::RealDisk)));
    // The learner's own log: 1..3, then a divergent 10.
    w.submit(
        1,
        vec![
            append(Zxid(1)),
            append(Zxid(2)),
            append(Zxid(3)),
            append(Zxid(10)),
        ],
    )
    .unwrap();
    let chunk = |offset, data: &'static [u8]| QuorumOp::SnapshotChunk {
        zxid: Zxid(7),
        offset,
        data: Bytes::from_static(data),
    };
    w.submit(2, vec![chunk(0, b"state "), chunk(6, b"at 7")])
        .unwrap();
    durable(&rx, 2).unwrap();
    // Received but not installed: a restart sees no snapshot at 7.
    assert!(!dir.path().join("snap").join("snapshot.7").exists());
    w.submit(
        3,
        vec![QuorumOp::InstallSnapshot { zxid: Zxid(7) }, append(Zxid(8))],
    )
    .unwrap();
    durable(&rx, 3).unwrap();
    drop(w);
    let files = open(&dir, Arc::new(crate::RealDisk));
    let snap = files.snapshots.latest_valid().unwrap().unwrap();
    assert_eq!(
        (snap.zxid, &snap.payload[..]),
        (Zxid(7), &b"state at 7"[..])
    );
    assert_eq!(
        zxids(&files.log, Zxid(7)),
        vec![8],
        "the divergent 10 is gone, 8 follows the snapshot"
    );
}

#[test]
fn chunks_out_of_order_fail_the_writer() {
    let dir = TempDir::new("quorum-snap-order");
    let (w, rx) = spawn(open(&dir, Arc::new(crate::RealDisk)));
    w.submit(
        1,
        vec![QuorumOp::SnapshotChunk {
            zxid: Zxid(7),
            offset: 3,
            data: Bytes::from_static(b"x"),
        }],
    )
    .unwrap();
    let err = durable(&rx, 1).unwrap_err();
    assert!(err.contains("out of order"), "{err}");
    let dir2 = TempDir::new("quorum-snap-none");
    let (w, rx) = spawn(open(&dir2, Arc::new(crate::RealDisk)));
    w.submit(1, vec![QuorumOp::InstallSnapshot { zxid: Zxid(7) }])
        .unwrap();
    assert!(durable(&rx, 1).unwrap_err().contains("not received"));
}

/// The observed writer reports every fsync of appends: how many it covered, and per
/// append its queue wait and the queue's length when it was taken; epochs alone
/// (nothing appended) are no log fsync.
#[test]
fn an_observed_writer_reports_each_fsync_of_appends() {
    let dir = TempDir::new("quorum-observed");
    let (tx, rx) = mpsc::channel();
    let (stats_tx, stats) = mpsc::channel();
    let w = QuorumWriter::spawn_observed(
        open(&dir, Arc::new(crate::RealDisk)),
        move |r| {
            let _ = tx.send(r);
        },
        move |s| {
            let _ = stats_tx.send(s);
        },
    )
    .unwrap();
    w.submit(1, vec![QuorumOp::AcceptedEpoch(1)]).unwrap();
    durable(&rx, 1).unwrap();
    w.submit(
        2,
        vec![append(Zxid(1)), append(Zxid(2)), QuorumOp::CurrentEpoch(1)],
    )
    .unwrap();
    durable(&rx, 2).unwrap();
    w.submit(3, vec![append(Zxid(3))]).unwrap();
    durable(&rx, 3).unwrap();
    drop(w);
    let reports: Vec<crate::SyncStats> = stats.try_iter().collect();
    let txns: Vec<u64> = reports.iter().map(|s| s.txns).collect();
    assert_eq!(txns, vec![2, 1], "{reports:?}");
    for s in &reports {
        assert_eq!(s.waits.len() as u64, s.txns);
    }
    // Both appends of batch 2 were queued when the first was taken.
    let lens: Vec<usize> = reports[0].waits.iter().map(|w| w.queue_len).collect();
    assert_eq!(lens, vec![2, 1]);
    assert_eq!(reports[1].waits[0].queue_len, 1);
}
