//! The group-commit writer: shared fsyncs, durable-before-acknowledged, sticky failures.

use crate::Zxid;
use std::sync::mpsc;
use std::time::Duration;

use bytes::Bytes;

use super::*;
use crate::{Fault, FaultyDisk, LogWriter, LogWriterHandle, StorageError};

type Durable = mpsc::Receiver<Result<Zxid, StorageError>>;

fn spawn(log: TxnLog) -> (LogWriterHandle, Durable) {
    let (tx, rx) = mpsc::channel();
    let h = LogWriter::spawn(log, move |r| {
        let _ = tx.send(r);
    })
    .unwrap();
    (h, rx)
}

fn wait_for(rx: &Durable, zxid: Zxid) {
    loop {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(z)) if z >= zxid => return,
            Ok(Ok(_)) => {}
            other => panic!("waiting for {zxid}: {other:?}"),
        }
    }
}

/// A disk whose fsync takes a while, so appends pile up behind it.
#[derive(Debug)]
struct SlowSync(Arc<FaultyDisk>);

impl Disk for SlowSync {
    fn sync_data(&self, file: &std::fs::File) -> std::io::Result<()> {
        std::thread::sleep(Duration::from_millis(5));
        self.0.sync_data(file)
    }
}

#[test]
fn concurrent_appends_share_fsyncs() {
    let d = TempDir::new("group");
    let disk = FaultyDisk::new();
    let config = LogConfig {
        segment_txns: 1_000_000,
        ..small_config_on(d.path(), Arc::new(SlowSync(Arc::clone(&disk))))
    };
    let log = TxnLog::open(config).unwrap();
    let (h, rx) = spawn(log);
    let h = Arc::new(h);
    let next = Arc::new(parking_lot::Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let h = Arc::clone(&h);
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                for _ in 0..100 {
                    // The caller serialises zxid order; the writer batches.
                    let mut n = next.lock();
                    *n += 1;
                    h.append(Zxid(*n), Bytes::from(payload(Zxid(*n)))).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    wait_for(&rx, Zxid(400));
    let syncs = disk.sync_count();
    assert!(syncs < 100, "400 appends took {syncs} fsyncs");
    let log = Arc::try_unwrap(h).unwrap().shutdown().unwrap();
    assert_eq!(zxids(&log, Zxid(0)), (1..=400).collect::<Vec<_>>());
}

#[test]
fn an_observer_hears_of_every_group_commit_before_its_durable_report() {
    let d = TempDir::new("observed");
    let disk = FaultyDisk::new();
    let config = small_config_on(d.path(), Arc::new(SlowSync(Arc::clone(&disk))));
    let (tx, rx) = mpsc::channel();
    let durable_tx = tx.clone();
    let h = LogWriter::spawn_observed(
        TxnLog::open(config).unwrap(),
        move |r| {
            let _ = durable_tx.send(Err(r));
        },
        move |s: crate::SyncStats| {
            let _ = tx.send(Ok(s));
        },
    )
    .unwrap();
    for z in 1..=30 {
        h.append(Zxid(z), Bytes::from(payload(Zxid(z)))).unwrap();
    }
    let mut txns = 0;
    let mut seen_sync = false;
    loop {
        match rx.recv_timeout(Duration::from_secs(10)).unwrap() {
            Ok(stats) => {
                // One wait per txn the fsync made durable; the slow disk's 5 ms fsync is in
                // each txn's time from taken to durable.
                assert_eq!(stats.waits.len() as u64, stats.txns);
                assert!(stats.fsync >= Duration::from_millis(5), "{stats:?}");
                assert!(
                    stats.waits.iter().all(|w| w.flushed >= stats.fsync),
                    "{stats:?}"
                );
                // The queue held this txn at least when the thread took it, never more than
                // the 30 appended.
                assert!(stats.waits.iter().all(|w| (1..=30).contains(&w.queue_len)));
                txns += stats.txns;
                seen_sync = true;
            }
            Err(durable) => {
                assert!(
                    seen_sync,
                    "a durable report before its group commit's stats"
                );
                seen_sync = false;
                if durable.unwrap() == Zxid(30) {
                    break;
                }
            }
        }
    }
    assert_eq!(txns, 30);
    assert!(disk.sync_count() >= 1);
}

#[test]
fn durable_reports_rise_and_cover_everything() {
    let d = TempDir::new("durable");
    let (h, rx) = spawn(TxnLog::open(small_config(d.path())).unwrap());
    let mut last = 0;
    for z in 1..=50 {
        h.append(Zxid(z), Bytes::from(payload(Zxid(z)))).unwrap();
    }
    while last < 50 {
        let z = rx.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
        assert!(z > Zxid(last), "durable went from {last} to {z}");
        // Everything reported durable is readable.
        assert_eq!(
            Zxid(h.view().read_from(Zxid(0)).count() as u64),
            z.max(h.durable_zxid().unwrap())
        );
        last = z.0;
    }
    assert_eq!(h.sync().unwrap(), Some(Zxid(50)));
}

#[test]
fn truncate_and_roll_through_the_handle() {
    let d = TempDir::new("handle");
    let (h, rx) = spawn(TxnLog::open(small_config(d.path())).unwrap());
    for z in 1..=12 {
        h.append(Zxid(z), Bytes::from(payload(Zxid(z)))).unwrap();
    }
    h.truncate(Zxid(4)).unwrap();
    assert_eq!(h.durable_zxid(), Some(Zxid(4)));
    h.roll().unwrap();
    h.append(Zxid(5), Bytes::from_static(b"five")).unwrap();
    wait_for(&rx, Zxid(5));
    let log = h.shutdown().unwrap();
    assert_eq!(zxids(&log, Zxid(0)), vec![1, 2, 3, 4, 5]);
    assert_eq!(segment_files(d.path()).len(), 2);
}

#[test]
fn a_failed_fsync_is_sticky_and_never_reported_durable() {
    let d = TempDir::new("fsync-fail");
    let disk = FaultyDisk::new();
    let (h, rx) = spawn(TxnLog::open(small_config_on(d.path(), disk.clone())).unwrap());
    h.append(Zxid(1), Bytes::from(payload(Zxid(1)))).unwrap();
    wait_for(&rx, Zxid(1));
    disk.fail_syncs(Some(Fault::Io));
    h.append(Zxid(2), Bytes::from(payload(Zxid(2)))).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(
        matches!(r, Err(StorageError::Io { op: "fsync", .. })),
        "{r:?}"
    );
    // Healing the disk does not help: the log stays failed.
    disk.fail_syncs(None);
    assert!(matches!(
        h.append(Zxid(3), Bytes::from(payload(Zxid(3)))),
        Err(StorageError::Failed { .. })
    ));
    assert!(matches!(h.sync(), Err(StorageError::Failed { .. })));
    assert!(matches!(
        h.truncate(Zxid(1)),
        Err(StorageError::Failed { .. })
    ));
    assert!(h.failure().is_some());
    assert_eq!(h.durable_zxid(), Some(Zxid(1)));
    // Nothing after the failure is ever reported durable.
    while let Ok(r) = rx.recv_timeout(Duration::from_millis(50)) {
        assert!(r.is_err(), "{r:?}");
    }
    drop(h);
    // A restart recovers what is on disk: 1 for sure, 2 maybe (it was written).
    let log = TxnLog::open(small_config(d.path())).unwrap();
    let got = zxids(&log, Zxid(0));
    assert!(got == vec![1] || got == vec![1, 2], "{got:?}");
}

#[test]
fn a_failed_write_is_sticky_and_its_torn_bytes_are_cut_at_restart() {
    let d = TempDir::new("enospc");
    let disk = FaultyDisk::new();
    let mut log = TxnLog::open(small_config_on(d.path(), disk.clone())).unwrap();
    fill(&mut log, 1..=2);
    disk.fail_writes(Some(Fault::NoSpace));
    log.append(Zxid(3), &[9u8; 200]).unwrap();
    let err = log.sync().unwrap_err();
    assert!(err.to_string().contains("ENOSPC"), "{err}");
    assert!(err.is_fatal());
    disk.fail_writes(None);
    assert!(matches!(
        log.append(Zxid(4), b"x"),
        Err(StorageError::Failed { .. })
    ));
    assert!(matches!(log.sync(), Err(StorageError::Failed { .. })));
    assert_eq!(log.durable_zxid(), Some(Zxid(2)));
    drop(log);
    // Half of record 3 reached the file: a torn tail.
    let log = TxnLog::open(small_config(d.path())).unwrap();
    assert_eq!(zxids(&log, Zxid(0)), vec![1, 2]);
    assert!(log.recovery().truncated.is_some());
}

#[test]
fn a_failed_preallocation_is_sticky() {
    let d = TempDir::new("setlen");
    let disk = FaultyDisk::new();
    let mut log = TxnLog::open(small_config_on(d.path(), disk.clone())).unwrap();
    fill(&mut log, 1..=1);
    disk.fail_set_len(Some(Fault::NoSpace));
    log.append(Zxid(2), &[1u8; 2000]).unwrap();
    assert!(matches!(
        log.sync(),
        Err(StorageError::Io {
            op: "preallocate",
            ..
        })
    ));
    assert!(log.failure().is_some());
}

#[test]
fn force_sync_off_reports_without_fsyncing() {
    let d = TempDir::new("nosync");
    let disk = FaultyDisk::new();
    let config = LogConfig {
        force_sync: false,
        ..small_config_on(d.path(), disk.clone())
    };
    let (h, rx) = spawn(TxnLog::open(config).unwrap());
    for z in 1..=20 {
        h.append(Zxid(z), Bytes::from(payload(Zxid(z)))).unwrap();
    }
    wait_for(&rx, Zxid(20));
    assert_eq!(disk.sync_count(), 0);
    drop(h);
    let log = TxnLog::open(small_config(d.path())).unwrap();
    assert_eq!(zxids(&log, Zxid(0)), (1..=20).collect::<Vec<_>>());
}

#[test]
fn an_out_of_order_append_fails_the_writer() {
    let d = TempDir::new("writer-order");
    let (h, rx) = spawn(TxnLog::open(small_config(d.path())).unwrap());
    h.append(Zxid(2), Bytes::new()).unwrap();
    wait_for(&rx, Zxid(2));
    h.append(Zxid(1), Bytes::new()).unwrap();
    let r = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(r, Err(StorageError::ZxidOrder { .. })), "{r:?}");
    // A later zxid would otherwise be reported durable "over" the missing one.
    assert!(h.append(Zxid(3), Bytes::new()).is_err());
}

/// `cargo test -p corral-storage --release -- --ignored writer_throughput --nocapture`
#[test]
#[ignore]
fn writer_throughput() {
    let d = TempDir::new("throughput");
    let disk = FaultyDisk::new();
    let config = LogConfig {
        dir: d.path().into(),
        disk: disk.clone(),
        ..LogConfig::new(d.path())
    };
    let (h, rx) = spawn(TxnLog::open(config).unwrap());
    let n = 200_000;
    let body = Bytes::from(vec![b'x'; 120]);
    let start = std::time::Instant::now();
    for z in 1..=n {
        h.append(Zxid(z), body.clone()).unwrap();
    }
    wait_for(&rx, Zxid(n));
    let took = start.elapsed();
    println!(
        "{n} appends of 120 bytes in {took:?} ({:.0}/s), {} fsyncs",
        n as f64 / took.as_secs_f64(),
        disk.sync_count()
    );
}
