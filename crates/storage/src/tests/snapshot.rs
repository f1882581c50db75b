//! Snapshot files, the dataDir layout, restart and purge.

use super::*;
use crate::Zxid;
use crate::{
    purge, read_snapshot_file, Fault, FaultyDisk, SnapshotStore, Storage, StorageConfig,
    StorageError,
};

#[test]
fn write_read_and_latest() {
    let d = TempDir::new("snap");
    let s = SnapshotStore::open(d.path()).unwrap();
    assert_eq!(s.latest_valid().unwrap(), None);
    let p = s.write(Zxid(0x1_0000_0005), b"tree bytes").unwrap();
    assert_eq!(p.file_name().unwrap(), "snapshot.100000005");
    s.write(Zxid(0x1_0000_0009), b"newer").unwrap();
    let latest = s.latest_valid().unwrap().unwrap();
    assert_eq!(
        (latest.zxid, &latest.payload[..]),
        (Zxid(0x1_0000_0009), &b"newer"[..])
    );
    let old = read_snapshot_file(&p).unwrap();
    assert_eq!(&old.payload[..], b"tree bytes");
    // Streaming, large payload.
    let mut w = s.begin(Zxid(0x2_0000_0000)).unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| i as u8).collect();
    std::io::Write::write_all(&mut w, &big[..1_000_001]).unwrap();
    std::io::Write::write_all(&mut w, &big[1_000_001..]).unwrap();
    w.finish().unwrap();
    assert_eq!(s.latest_valid().unwrap().unwrap().payload.len(), big.len());
}

#[test]
fn latest_valid_falls_back_over_damaged_snapshots() {
    let d = TempDir::new("snap-fallback");
    let s = SnapshotStore::open(d.path()).unwrap();
    s.write(Zxid(10), b"ten").unwrap();
    let p20 = s.write(Zxid(20), b"twenty").unwrap();
    let p30 = s.write(Zxid(30), b"thirty").unwrap();
    // Truncated newest, bit-flipped next: both skipped.
    let b = std::fs::read(&p30).unwrap();
    std::fs::write(&p30, &b[..b.len() - 3]).unwrap();
    flip_bit(&p20, 17, 2);
    assert_eq!(s.latest_valid().unwrap().unwrap().zxid, Zxid(10));
    for (p, needle) in [(&p30, "truncated"), (&p20, "crc")] {
        let e = read_snapshot_file(p).unwrap_err();
        assert!(matches!(e, StorageError::InvalidSnapshot { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{e}");
    }
    // A snapshot renamed to another zxid is refused too.
    std::fs::copy(d.path().join("snapshot.a"), d.path().join("snapshot.28")).unwrap();
    assert_eq!(s.latest_valid().unwrap().unwrap().zxid, Zxid(10));
    std::fs::write(d.path().join("snapshot.5"), b"x").unwrap();
    assert!(read_snapshot_file(&d.path().join("snapshot.5")).is_err());
}

#[test]
fn an_unfinished_snapshot_never_appears() {
    let d = TempDir::new("snap-tmp");
    let s = SnapshotStore::open(d.path()).unwrap();
    s.write(Zxid(1), b"one").unwrap();
    // A crash mid-write leaves only the temp file: ignored, then removed at open.
    let mut w = s.begin(Zxid(2)).unwrap();
    std::io::Write::write_all(&mut w, b"partial").unwrap();
    std::io::Write::flush(&mut w).unwrap();
    std::mem::forget(w);
    assert!(d.path().join("snapshot.2.tmp").exists());
    assert_eq!(s.latest_valid().unwrap().unwrap().zxid, Zxid(1));
    assert_eq!(s.list().unwrap().len(), 1);
    let s = SnapshotStore::open(d.path()).unwrap();
    assert!(!d.path().join("snapshot.2.tmp").exists());
    // Dropped unfinished: the temp goes away at once.
    drop(s.begin(Zxid(3)).unwrap());
    assert!(!d.path().join("snapshot.3.tmp").exists());
}

#[test]
fn a_failed_snapshot_fsync_leaves_no_snapshot() {
    let d = TempDir::new("snap-fail");
    let disk = FaultyDisk::new();
    let s = SnapshotStore::open_with(d.path(), disk.clone()).unwrap();
    s.write(Zxid(1), b"one").unwrap();
    disk.fail_syncs(Some(Fault::Io));
    assert!(matches!(
        s.write(Zxid(2), b"two"),
        Err(StorageError::Io { op: "fsync", .. })
    ));
    disk.fail_syncs(None);
    disk.fail_writes(Some(Fault::NoSpace));
    assert!(s.write(Zxid(3), &[0u8; 3 << 20]).is_err());
    disk.fail_writes(None);
    assert_eq!(s.list().unwrap().len(), 1);
    assert_eq!(s.latest_valid().unwrap().unwrap().zxid, Zxid(1));
}

#[test]
fn remove_after_for_trunc() {
    let d = TempDir::new("snap-trunc");
    let s = SnapshotStore::open(d.path()).unwrap();
    for z in [1, 5, 9] {
        s.write(Zxid(z), b"x").unwrap();
    }
    assert_eq!(s.remove_after(Zxid(5)).unwrap().len(), 1);
    assert_eq!(s.latest_valid().unwrap().unwrap().zxid, Zxid(5));
}

fn config(d: &TempDir) -> StorageConfig {
    StorageConfig {
        data_log_dir: Some(d.path().join("logs")),
        pre_alloc_size: 512,
        snap_count: 5,
        ..StorageConfig::new(d.path().join("data"))
    }
}

#[test]
fn data_dir_and_data_log_dir() {
    let d = TempDir::new("dirs");
    let c = config(&d);
    let mut st = Storage::open(&c).unwrap();
    st.snapshots.write(Zxid(0), b"empty").unwrap();
    fill(&mut st.log, 1..=7);
    st.snapshots.write(Zxid(4), b"at four").unwrap();
    drop(st);
    assert!(d.path().join("data/version-2/snapshot.4").exists());
    assert!(d.path().join("logs/version-2/log.1").exists());
    assert!(d.path().join("logs/version-2/log.6").exists());
    let st = Storage::open(&c).unwrap();
    let r = st.recover().unwrap();
    assert_eq!(&r.snapshot.unwrap().payload[..], b"at four");
    let txns: Vec<u64> = r.txns.map(|t| t.unwrap().0 .0).collect();
    assert_eq!(txns, vec![5, 6, 7]);
    // Without dataLogDir, both live in dataDir/version-2.
    let c2 = StorageConfig::new(d.path().join("one"));
    assert_eq!(c2.log_dir(), c2.snap_dir());
}

#[test]
fn a_log_without_any_valid_snapshot_refuses_to_recover() {
    let d = TempDir::new("nosnap");
    let c = config(&d);
    let mut st = Storage::open(&c).unwrap();
    fill(&mut st.log, 1..=2);
    assert!(matches!(
        st.recover(),
        Err(StorageError::SnapshotMissing {
            first_log_zxid: Zxid(1),
            ..
        })
    ));
    // A fresh server (empty log, no snapshot) starts from nothing.
    let d2 = TempDir::new("fresh");
    let st = Storage::open(&config(&d2)).unwrap();
    let r = st.recover().unwrap();
    assert!(r.snapshot.is_none());
    assert_eq!(r.txns.count(), 0);
}

#[test]
fn purge_keeps_what_replay_needs() {
    let d = TempDir::new("purge");
    let c = config(&d);
    let mut st = Storage::open(&c).unwrap();
    st.snapshots.write(Zxid(0), b"s").unwrap();
    // Segments log.1, log.6, log.b, log.10, log.15 (5 records each); snapshots taken
    // mid-segment, as a snapshot thread does.
    for z in 1..=25 {
        fill(&mut st.log, z..=z);
        if z % 4 == 0 {
            st.snapshots.write(Zxid(z), b"s").unwrap();
        }
    }
    let view = st.log.view();
    // Below the minimum retain count, 3 are kept.
    let report = purge(&st.snapshots, &view, 1).unwrap();
    assert_eq!(report.oldest_kept, Some(Zxid(16)));
    let kept: Vec<u64> = st
        .snapshots
        .list()
        .unwrap()
        .iter()
        .map(|s| s.0 .0)
        .collect();
    assert_eq!(kept, vec![16, 20, 24]);
    // log.10 (16..=20) holds zxid 16's successors, so it stays; log.1/6/b go.
    let names: Vec<_> = segment_files(&c.log_dir())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["log.10", "log.15"]);
    assert_eq!(report.removed_segments.len(), 3);
    // Replay from the oldest kept snapshot is complete.
    assert_eq!(zxids(&st.log, Zxid(16)), (17..=25).collect::<Vec<_>>());
    // A damaged snapshot does not count as kept.
    flip_bit(&c.snap_dir().join("snapshot.18"), 2, 0);
    st.snapshots.write(Zxid(25), b"s").unwrap();
    let r = purge(&st.snapshots, &view, 3).unwrap();
    assert_eq!(r.oldest_kept, Some(Zxid(16)));
    // Purging never removes the newest segment, even when every snapshot is after it.
    let d2 = TempDir::new("purge-newest");
    let mut st2 = Storage::open(&config(&d2)).unwrap();
    fill(&mut st2.log, 1..=3);
    for z in [10, 11, 12] {
        st2.snapshots.write(Zxid(z), b"s").unwrap();
    }
    purge(&st2.snapshots, &st2.log.view(), 3).unwrap();
    assert_eq!(segment_files(&config(&d2).log_dir()).len(), 1);
}
