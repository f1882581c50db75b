//! The operator's cut (`plan_cut` / `CutPlan::apply`): only on record boundaries, everything
//! removed kept aside, and a log that refused to open opens after it.

use super::*;
use crate::format::{record_len, LOG_HEADER_LEN};
use crate::Zxid;
use crate::{plan_cut, CutAt, SnapshotStore, StorageError};

fn open(dir: &Path) -> Result<TxnLog, StorageError> {
    TxnLog::open(small_config(dir))
}

/// zxids 1..=12 in segments of 5: log.1 (1-5), log.6 (6-10), log.b (11-12).
fn twelve(dir: &Path) -> Vec<PathBuf> {
    let mut log = open(dir).unwrap();
    fill(&mut log, 1..=12);
    drop(log);
    segment_files(dir)
}

fn refused(r: Result<crate::CutPlan, StorageError>) -> String {
    match r {
        Err(StorageError::CutRefused { reason }) => reason,
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn cut_at_a_zxid_keeps_it_and_sets_the_rest_aside() {
    let d = TempDir::new("cut-zxid");
    let segs = twelve(d.path());
    assert_eq!(segs.len(), 3);
    let snaps = SnapshotStore::open(d.path()).unwrap();
    snaps.write(Zxid(4), b"at 4").unwrap();
    snaps.write(Zxid(9), b"at 9").unwrap();
    let plan = plan_cut(d.path(), Some(d.path()), &CutAt::Zxid(Zxid(7))).unwrap();
    let cut = plan.cut.clone().expect("a cut inside log.6");
    assert_eq!(cut.path, segs[1]);
    assert_eq!((cut.kept, cut.last_kept), (2, Some(Zxid(7))));
    let removed: Vec<u64> = cut.removed.iter().map(|r| r.zxid.0).collect();
    assert_eq!(removed, [8, 9, 10]);
    assert_eq!(
        cut.offset,
        LOG_HEADER_LEN + record_len(payload(Zxid(6)).len()) + record_len(payload(Zxid(7)).len())
    );
    assert_eq!(cut.removed[0].offset, cut.offset);
    assert_eq!(plan.segments.len(), 1);
    assert_eq!(
        (plan.segments[0].zxid, plan.segments[0].records),
        (Zxid(11), 2)
    );
    let snap_zxids: Vec<u64> = plan.snapshots.iter().map(|s| s.zxid.0).collect();
    assert_eq!(snap_zxids, [9]);
    // Planning changed nothing.
    assert_eq!(open(d.path()).unwrap().last_zxid(), Some(Zxid(12)));

    let before = std::fs::read(&segs[1]).unwrap();
    let done = plan.apply().unwrap();
    let backup = done.tail_backup.expect("tail kept");
    assert_eq!(
        std::fs::read(&backup).unwrap(),
        before[cut.offset as usize..cut.data_end as usize]
    );
    assert_eq!(done.renamed.len(), 2);
    for (from, to) in &done.renamed {
        assert!(!from.exists() && to.exists(), "{}", to.display());
    }
    let after = std::fs::read(&segs[1]).unwrap();
    assert_eq!(after.len(), before.len(), "the preallocated size stays");
    assert_eq!(after[..cut.offset as usize], before[..cut.offset as usize]);
    assert!(after[cut.offset as usize..].iter().all(|&b| b == 0));
    let log = open(d.path()).unwrap();
    assert_eq!(log.last_zxid(), Some(Zxid(7)));
    assert_eq!(zxids(&log, Zxid(0)), (1..=7).collect::<Vec<_>>());
    assert_eq!(snaps.latest_valid().unwrap().map(|s| s.zxid), Some(Zxid(4)));
    // A backup name already taken: refused before anything changes.
    drop(log);
    let again = plan_cut(d.path(), None, &CutAt::Zxid(Zxid(6))).unwrap();
    let taken = again.tail_backup_path().expect("a tail");
    std::fs::write(&taken, b"earlier").unwrap();
    assert!(matches!(
        again.apply(),
        Err(StorageError::CutRefused { .. })
    ));
    assert_eq!(open(d.path()).unwrap().last_zxid(), Some(Zxid(7)));
    std::fs::remove_file(&taken).unwrap();
    again.apply().unwrap();
    assert_eq!(open(d.path()).unwrap().last_zxid(), Some(Zxid(6)));
}

#[test]
fn a_cut_never_falls_inside_a_record_or_on_a_zxid_the_log_lacks() {
    let d = TempDir::new("cut-refuse");
    let segs = twelve(d.path());
    let at = |offset| CutAt::Offset {
        segment: segs[0].clone(),
        offset,
    };
    let second = LOG_HEADER_LEN + record_len(payload(Zxid(1)).len());
    let why = refused(plan_cut(d.path(), None, &at(second + 3)));
    assert!(why.contains("inside the record of zxid 0x2"), "{why}");
    assert!(refused(plan_cut(d.path(), None, &at(7))).contains("segment header"));
    let end = std::fs::metadata(&segs[0]).unwrap().len();
    assert!(refused(plan_cut(d.path(), None, &at(end - 1))).contains("past the records"));
    assert!(refused(plan_cut(d.path(), None, &CutAt::Zxid(Zxid(99)))).contains("no record"));
    assert!(refused(plan_cut(d.path(), None, &CutAt::Zxid(Zxid(0)))).contains("below"));
    assert!(refused(plan_cut(d.path(), None, &CutAt::Zxid(Zxid(12)))).contains("nothing to cut"));
    // On a boundary it is fine: everything from zxid 2 on.
    let plan = plan_cut(d.path(), None, &at(second)).unwrap();
    assert_eq!(plan.cut.map(|c| c.last_kept), Some(Some(Zxid(1))));
    assert_eq!(plan.segments.len(), 2);
}

/// The durability note's gap: a later page of the last batch reached the disk, an earlier one
/// did not. Recovery refuses (damage followed by a valid record); the cut at the damage's
/// offset makes the log open again with exactly the records before it.
#[test]
fn damage_followed_by_a_valid_record_is_cut_at_its_offset() {
    let d = TempDir::new("cut-corrupt");
    let segs = twelve(d.path());
    let newest = &segs[2];
    let second = LOG_HEADER_LEN + record_len(payload(Zxid(11)).len());
    // Zero zxid 11's record (its page never reached the disk); zxid 12's is intact.
    let mut bytes = std::fs::read(newest).unwrap();
    bytes[LOG_HEADER_LEN as usize..second as usize].fill(0);
    std::fs::write(newest, &bytes).unwrap();
    let err = open(d.path()).expect_err("recovery refuses");
    assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    // By zxid the damaged record cannot be named, and 12 is past the damage.
    let why = refused(plan_cut(d.path(), None, &CutAt::Zxid(Zxid(12))));
    assert!(why.contains("damaged from offset 16"), "{why}");
    let why = refused(plan_cut(
        d.path(),
        None,
        &CutAt::Offset {
            segment: newest.clone(),
            offset: second,
        },
    ));
    assert!(why.contains("cut at 16"), "{why}");
    let plan = plan_cut(
        d.path(),
        None,
        &CutAt::Offset {
            segment: newest.clone(),
            offset: LOG_HEADER_LEN,
        },
    )
    .unwrap();
    let cut = plan.cut.clone().expect("cut");
    assert!(cut.removed.is_empty());
    let (at, len, _) = cut.damage.clone().expect("damage named");
    let data_end = second + record_len(payload(Zxid(12)).len());
    assert_eq!((at, len), (LOG_HEADER_LEN, data_end - LOG_HEADER_LEN));
    plan.apply().unwrap();
    let log = open(d.path()).unwrap();
    assert_eq!(log.last_zxid(), Some(Zxid(10)));
    assert_eq!(zxids(&log, Zxid(0)), (1..=10).collect::<Vec<_>>());
}
