//! The file log's recovery rules, segment rollover, reads and truncation.

use super::*;
use crate::format::{record_len, LOG_HEADER_LEN};
use crate::Zxid;
use crate::{SegmentEnd, SegmentFile, StorageError};

fn open(dir: &Path) -> TxnLog {
    TxnLog::open(small_config(dir)).unwrap()
}

#[test]
fn append_sync_reopen_read() {
    let d = TempDir::new("basic");
    let mut log = open(d.path());
    assert_eq!(log.last_zxid(), None);
    fill(&mut log, 1..=3);
    assert_eq!(log.durable_zxid(), Some(Zxid(3)));
    drop(log);
    let log = open(d.path());
    assert_eq!(log.last_zxid(), Some(Zxid(3)));
    assert_eq!(log.recovery().truncated, None);
    let got: Vec<_> = log.read_from(Zxid(0)).map(|r| r.unwrap()).collect();
    assert_eq!(got.len(), 3);
    assert_eq!(&got[1].1[..], &payload(Zxid(2))[..]);
    assert_eq!(zxids(&log, Zxid(2)), vec![3]);
    assert_eq!(zxids(&log, Zxid(3)), Vec::<u64>::new());
}

#[test]
fn appends_must_rise() {
    let d = TempDir::new("order");
    let mut log = open(d.path());
    log.append(Zxid(5), b"a").unwrap();
    assert!(matches!(
        log.append(Zxid(5), b"b"),
        Err(StorageError::ZxidOrder {
            zxid: Zxid(5),
            last: Zxid(5)
        })
    ));
    assert!(matches!(
        log.append(Zxid(4), b"b"),
        Err(StorageError::ZxidOrder { .. })
    ));
    let big = vec![0u8; crate::MAX_PAYLOAD + 1];
    assert!(matches!(
        log.append(Zxid(6), &big),
        Err(StorageError::TooLarge { .. })
    ));
    // Misuse is not a disk failure: the log goes on.
    log.append(Zxid(6), b"c").unwrap();
    assert_eq!(log.sync().unwrap(), Some(Zxid(6)));
}

#[test]
fn unsynced_records_are_not_read() {
    let d = TempDir::new("unsynced");
    let mut log = open(d.path());
    fill(&mut log, 1..=2);
    log.append(Zxid(3), b"x").unwrap();
    assert_eq!(zxids(&log, Zxid(0)), vec![1, 2]);
    log.sync().unwrap();
    assert_eq!(zxids(&log, Zxid(0)), vec![1, 2, 3]);
}

#[test]
fn segments_roll_every_snap_count_and_reads_cross_them() {
    let d = TempDir::new("roll");
    let mut log = open(d.path());
    fill(&mut log, 1..=12);
    let files = segment_files(d.path());
    let names: Vec<_> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["log.1", "log.6", "log.b"]);
    for from in 0..=12 {
        assert_eq!(
            zxids(&log, Zxid(from)),
            ((from + 1)..=12).collect::<Vec<_>>()
        );
    }
    // An explicit roll (ZooKeeper rolls when it snapshots).
    log.roll().unwrap();
    fill(&mut log, 13..=13);
    assert_eq!(segment_files(d.path()).len(), 4);
    drop(log);
    let log = open(d.path());
    assert_eq!(zxids(&log, Zxid(4)), (5..=13).collect::<Vec<_>>());
    assert!(log.view().covers(Zxid(1)) && log.view().covers(Zxid(0)));
}

#[test]
fn sparse_zxids_across_epochs() {
    let d = TempDir::new("epochs");
    let mut log = open(d.path());
    let zs = [1, 2, 0x1_0000_0001, 0x1_0000_0002, 0x3_0000_0001];
    for &z in &zs {
        log.append(Zxid(z), &payload(Zxid(z))).unwrap();
    }
    log.sync().unwrap();
    assert_eq!(zxids(&log, Zxid(0x1_0000_0000)), zs[2..].to_vec());
    assert_eq!(zxids(&log, Zxid(0x2_0000_0000)), vec![0x3_0000_0001]);
}

/// Epoch `e`, counter `c`, as the storage API carries it.
fn z(e: u64, c: u64) -> Zxid {
    Zxid((e << 32) | c)
}

#[test]
fn zxids_past_epoch_2_31_keep_their_order_across_segments_reopen_and_truncate() {
    let d = TempDir::new("high-epochs");
    let mut log = open(d.path());
    // Three records per epoch, five per segment: segments start in epochs 1, 0x8000_0000
    // (the sign bit of an i64) and 0xffff_ffff.
    let epochs = [1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];
    let zs: Vec<Zxid> = epochs
        .iter()
        .flat_map(|&e| (1..=3).map(move |c| z(e, c)))
        .collect();
    let all: Vec<u64> = zs.iter().map(|z| z.0).collect();
    for &zx in &zs {
        log.append(zx, &payload(zx)).unwrap();
    }
    assert_eq!(log.sync().unwrap(), Some(z(0xffff_ffff, 3)));
    assert!(matches!(
        log.append(z(0x7fff_ffff, 9), b"older epoch"),
        Err(StorageError::ZxidOrder { .. })
    ));
    drop(log);
    // Reopened: the segments sorted by their names' zxids as unsigned numbers.
    let mut log = open(d.path());
    assert_eq!(log.last_zxid(), Some(z(0xffff_ffff, 3)));
    assert_eq!(zxids(&log, Zxid(0)), all);
    for (i, &from) in zs.iter().enumerate() {
        assert_eq!(zxids(&log, from), all[i + 1..].to_vec(), "after {from:#x}");
        assert_eq!(log.view().floor(from).unwrap(), Some(from));
        assert!(log.view().covers(from));
    }
    assert_eq!(zxids(&log, z(0x7fff_ffff, 0xffff_ffff)), all[6..].to_vec());
    assert_eq!(
        log.view().floor(z(0x8000_0000, 0)).unwrap(),
        Some(z(0x7fff_ffff, 3))
    );
    assert_eq!(
        log.view().floor(Zxid(u64::MAX)).unwrap(),
        Some(z(0xffff_ffff, 3))
    );
    // TRUNC into epoch 2^31: what is above goes, what is below stays.
    log.truncate(z(0x8000_0000, 2)).unwrap();
    assert_eq!(log.last_zxid(), Some(z(0x8000_0000, 2)));
    assert_eq!(zxids(&log, Zxid(0)), all[..8].to_vec());
    log.append(z(0xffff_ffff, 1), b"again").unwrap();
    log.sync().unwrap();
    drop(log);
    let log = open(d.path());
    assert_eq!(
        zxids(&log, z(0x8000_0000, 1)),
        vec![z(0x8000_0000, 2).0, z(0xffff_ffff, 1).0]
    );
}

#[test]
fn floor_reads_only_the_segment_that_holds_it() {
    let d = TempDir::new("floor");
    let mut log = open(d.path());
    // Segments log.1 (1..=5), log.6 (6..=10), log.b (11..=15), with gaps of 10 from 20 on.
    fill(&mut log, 1..=13);
    for zx in [20, 30] {
        log.append(Zxid(zx), &payload(Zxid(zx))).unwrap();
    }
    log.sync().unwrap();
    drop(log);
    // Damage the oldest segment: a scan from the start of the log would fail on it.
    let first = segment_files(d.path())[0].clone();
    let seg = SegmentFile::open(&first).unwrap();
    flip_bit(&first, seg.records()[2].offset + 18, 0);
    let log = open(d.path());
    let view = log.view();
    assert_eq!(view.floor(Zxid(30)).unwrap(), Some(Zxid(30)));
    assert_eq!(view.floor(Zxid(29)).unwrap(), Some(Zxid(20)));
    assert_eq!(view.floor(Zxid(19)).unwrap(), Some(Zxid(13)));
    assert_eq!(view.floor(Zxid(11)).unwrap(), Some(Zxid(11)));
    assert_eq!(view.floor(Zxid(8)).unwrap(), Some(Zxid(8)));
    assert_eq!(view.floor(Zxid(6)).unwrap(), Some(Zxid(6)));
    // At or below the damage: an error naming the file, never a skipped record.
    assert!(
        matches!(view.floor(Zxid(4)), Err(StorageError::Corrupt { path, .. }) if path == first)
    );
    assert_eq!(view.floor(Zxid(0)).unwrap(), None);
}

#[test]
fn preallocation_grows_in_steps() {
    let d = TempDir::new("prealloc");
    let mut log = open(d.path());
    log.append(Zxid(1), &[7u8; 100]).unwrap();
    log.sync().unwrap();
    let f = &segment_files(d.path())[0];
    assert_eq!(std::fs::metadata(f).unwrap().len(), 512);
    log.append(Zxid(2), &[7u8; 600]).unwrap();
    log.sync().unwrap();
    // 16 + 116 + 616 = 748 bytes of data: two steps.
    assert_eq!(std::fs::metadata(f).unwrap().len(), 1024);
}

/// The newest segment file and the offsets of its records.
fn last_segment_records(dir: &Path) -> (PathBuf, Vec<u64>) {
    let path = segment_files(dir).pop().unwrap();
    let seg = SegmentFile::open(&path).unwrap();
    let offs = seg.records().iter().map(|r| r.offset).collect();
    (path, offs)
}

#[test]
fn cut_at_every_byte_of_the_last_record_recovers_the_previous_one() {
    let d = TempDir::new("cut");
    let mut log = open(d.path());
    fill(&mut log, 1..=3);
    drop(log);
    let (path, offs) = last_segment_records(d.path());
    let last = offs[2];
    let end = last + record_len(payload(Zxid(3)).len());
    let original = std::fs::read(&path).unwrap();
    for cut in last..end {
        // The crash kept `cut` bytes; the rest of the file reads as zeros (preallocation)...
        let mut b = original.clone();
        b[cut as usize..].iter_mut().for_each(|x| *x = 0);
        std::fs::write(&path, &b).unwrap();
        let log = open(d.path());
        assert_eq!(log.last_zxid(), Some(Zxid(2)), "cut at {cut}");
        assert_eq!(zxids(&log, Zxid(0)), vec![1, 2]);
        drop(log);
        // ... or the file itself is short.
        std::fs::write(&path, &original[..cut as usize]).unwrap();
        let mut log = open(d.path());
        assert_eq!(log.last_zxid(), Some(Zxid(2)), "short file cut at {cut}");
        if original[last as usize..cut as usize]
            .iter()
            .any(|&b| b != 0)
        {
            let (file, offset, _) = log.recovery().truncated.clone().unwrap();
            assert_eq!((file, offset), (path.clone(), last));
        }
        // The log goes on after the repair.
        fill(&mut log, 3..=3);
        drop(log);
        assert_eq!(zxids(&open(d.path()), Zxid(0)), vec![1, 2, 3]);
        std::fs::write(&path, &original).unwrap();
    }
}

#[test]
fn a_flipped_bit_in_the_tail_is_caught_by_the_crc_and_cut() {
    let d = TempDir::new("flip");
    let mut log = open(d.path());
    fill(&mut log, 1..=3);
    drop(log);
    let (path, offs) = last_segment_records(d.path());
    let original = std::fs::read(&path).unwrap();
    let end = offs[2] + record_len(payload(Zxid(3)).len());
    for byte in (offs[2] + 4)..end {
        std::fs::write(&path, &original).unwrap();
        flip_bit(&path, byte, (byte % 8) as u8);
        let log = open(d.path());
        assert_eq!(zxids(&log, Zxid(0)), vec![1, 2], "flip at {byte}");
        let (_, offset, reason) = log.recovery().truncated.clone().unwrap();
        assert_eq!(offset, offs[2]);
        assert!(!reason.is_empty());
    }
}

#[test]
fn damage_followed_by_a_valid_record_refuses_to_start() {
    let d = TempDir::new("mid");
    let mut log = open(d.path());
    fill(&mut log, 1..=4);
    drop(log);
    let (path, offs) = last_segment_records(d.path());
    flip_bit(&path, offs[1] + 20, 3);
    match TxnLog::open(small_config(d.path())) {
        Err(StorageError::Corrupt {
            path: p,
            offset,
            reason,
        }) => {
            assert_eq!((p, offset), (path.clone(), offs[1]));
            assert!(reason.contains(&format!("offset {}", offs[2])), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
    // A zeroed record in the middle is damage too, not an end.
    let d = TempDir::new("mid-zero");
    let mut log = open(d.path());
    fill(&mut log, 1..=4);
    drop(log);
    let (path, offs) = last_segment_records(d.path());
    let mut b = std::fs::read(&path).unwrap();
    b[offs[1] as usize..offs[2] as usize].fill(0);
    std::fs::write(&path, &b).unwrap();
    let err = TxnLog::open(small_config(d.path())).unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { offset, .. } if offset == offs[1]),
        "{err}"
    );
}

#[test]
fn damage_in_an_older_segment_is_an_error_when_read() {
    let d = TempDir::new("old");
    let mut log = open(d.path());
    fill(&mut log, 1..=8);
    drop(log);
    let first = segment_files(d.path())[0].clone();
    let seg = SegmentFile::open(&first).unwrap();
    let bad = seg.records()[4].offset; // the last record of the old segment: no valid one after
    flip_bit(&first, bad + 18, 0);
    // Open only scans the newest segment...
    let log = open(d.path());
    // ... a read that covers the damage fails, naming file and offset, and never skips.
    let items: Vec<_> = log.read_from(Zxid(0)).collect();
    assert_eq!(items.len(), 1);
    match &items[0] {
        Err(StorageError::Corrupt { path, offset, .. }) => {
            assert_eq!((path, *offset), (&first, bad));
        }
        other => panic!("{other:?}"),
    }
    // Reads after the damaged segment are fine.
    assert_eq!(zxids(&log, Zxid(5)), vec![6, 7, 8]);
    assert!(matches!(
        SegmentFile::open(&first).unwrap().end(),
        SegmentEnd::Torn { offset, .. } if *offset == bad
    ));
}

#[test]
fn torn_and_empty_newest_segments_are_removed() {
    let d = TempDir::new("torn-header");
    let mut log = open(d.path());
    fill(&mut log, 1..=3);
    drop(log);
    std::fs::write(d.path().join("log.4"), b"CRL").unwrap();
    let log = open(d.path());
    assert_eq!(log.last_zxid(), Some(Zxid(3)));
    assert_eq!(log.recovery().removed_empty.len(), 1);
    drop(log);
    let mut h = crate::format::log_header(Zxid(9)).to_vec();
    h.resize(512, 0);
    std::fs::write(d.path().join("log.9"), &h).unwrap();
    let mut log = open(d.path());
    assert_eq!(log.recovery().removed_empty, vec![d.path().join("log.9")]);
    fill(&mut log, 4..=4);
    assert_eq!(segment_files(d.path()).len(), 1);
}

#[test]
fn foreign_files_are_refused() {
    let d = TempDir::new("foreign");
    std::fs::write(
        d.path().join("log.1"),
        b"ZKLG\0\0\0\x02\0\0\0\0\0\0\0\0rest",
    )
    .unwrap();
    let err = TxnLog::open(small_config(d.path())).unwrap_err();
    assert!(matches!(err, StorageError::BadHeader { .. }), "{err}");
    assert!(err.to_string().contains("log.1"));
    assert!(matches!(
        SegmentFile::open(&d.path().join("log.1")),
        Err(StorageError::BadHeader { .. })
    ));
}

#[test]
fn truncate_across_segments() {
    let d = TempDir::new("trunc");
    let mut log = open(d.path());
    fill(&mut log, 1..=13);
    log.truncate(Zxid(7)).unwrap();
    assert_eq!(log.last_zxid(), Some(Zxid(7)));
    assert_eq!(log.durable_zxid(), Some(Zxid(7)));
    assert_eq!(zxids(&log, Zxid(0)), (1..=7).collect::<Vec<_>>());
    assert_eq!(segment_files(d.path()).len(), 2);
    // Appends continue in the cut segment, with new payloads for the old zxids.
    log.append(Zxid(8), b"new 8").unwrap();
    log.sync().unwrap();
    drop(log);
    let mut log = open(d.path());
    let got: Vec<_> = log.read_from(Zxid(6)).map(|r| r.unwrap()).collect();
    assert_eq!(got[0].0, Zxid(7));
    assert_eq!(&got[1].1[..], b"new 8");
    // Truncating at a segment boundary removes the later segment whole.
    fill(&mut log, 9..=12);
    log.truncate(Zxid(5)).unwrap();
    assert_eq!(zxids(&log, Zxid(0)), (1..=5).collect::<Vec<_>>());
    assert_eq!(segment_files(d.path()).len(), 1);
    // Above the last record: nothing changes.
    log.truncate(Zxid(99)).unwrap();
    assert_eq!(log.last_zxid(), Some(Zxid(5)));
    // Below the first record: the log empties and takes any zxid after.
    log.truncate(Zxid(0)).unwrap();
    assert_eq!(log.last_zxid(), None);
    assert!(segment_files(d.path()).is_empty());
    fill(&mut log, 1..=2);
    drop(log);
    assert_eq!(zxids(&open(d.path()), Zxid(0)), vec![1, 2]);
}

#[test]
fn a_read_in_flight_during_a_truncate_sees_the_cut_log() {
    // ZAB: a learner's TRUNC runs on the writer thread while the engine reads committed
    // records below the cut. The read took the segment list (and the newest segment's end)
    // before the cut; it must read the cut segment again, not report corruption.
    let d = TempDir::new("trunc-read");
    let mut log = open(d.path());
    fill(&mut log, 1..=13);
    let in_flight = log.read_from(Zxid(0));
    log.truncate(Zxid(12)).unwrap();
    let got: Vec<u64> = in_flight.map(|r| r.unwrap().0 .0).collect();
    assert_eq!(got, (1..=12).collect::<Vec<_>>());
}

#[test]
fn truncate_also_drops_buffered_records() {
    let d = TempDir::new("trunc-buf");
    let mut log = open(d.path());
    fill(&mut log, 1..=2);
    log.append(Zxid(3), b"x").unwrap();
    log.truncate(Zxid(2)).unwrap();
    assert_eq!(log.last_zxid(), Some(Zxid(2)));
    log.append(Zxid(3), b"y").unwrap();
    log.sync().unwrap();
    let got: Vec<_> = log.read_from(Zxid(2)).map(|r| r.unwrap().1).collect();
    assert_eq!(got, vec![bytes::Bytes::from_static(b"y")]);
}

#[test]
fn segment_dump_shows_records_and_tail() {
    let d = TempDir::new("dump");
    let mut log = open(d.path());
    fill(&mut log, 1..=3);
    drop(log);
    let path = segment_files(d.path())[0].clone();
    let seg = SegmentFile::open(&path).unwrap();
    assert_eq!(seg.first_zxid(), Zxid(1));
    assert_eq!(seg.records()[0].offset, LOG_HEADER_LEN);
    assert_eq!(&seg.records()[1].payload[..], &payload(Zxid(2))[..]);
    let end = seg.records()[2].offset + record_len(payload(Zxid(3)).len());
    assert_eq!(seg.end(), &SegmentEnd::Clean { offset: end });
    flip_bit(&path, end + 40, 1);
    assert!(matches!(
        SegmentFile::open(&path).unwrap().end(),
        SegmentEnd::Torn { offset, .. } if *offset == end
    ));
}
