//! The production disk as the engine sees it: recovery of epochs and snapshot, and the log
//! read through `StorageLog` (DIFFs from disk).

use bytes::Bytes;
use corral_storage::{EpochFiles, SnapshotStore, StorageConfig, TxnLog, CURRENT_EPOCH_FILE};
use corral_zab::{LogSource, Zxid};

fn z(e: u32, c: u32) -> Zxid {
    Zxid::new(e, c)
}

#[test]
fn the_log_on_disk_is_read_after_the_snapshot_and_epochs_come_from_their_files() {
    let dir = std::env::temp_dir().join(format!("corral-zab-runtime-disk-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = StorageConfig {
        pre_alloc_size: 4096,
        snap_count: 2, // several segments
        ..StorageConfig::new(&dir)
    };
    {
        let mut log = TxnLog::open(config.log_config()).unwrap();
        for zxid in [z(1, 1), z(1, 2), z(1, 3), z(2, 1), z(2, 2)] {
            log.append(zxid, format!("{zxid:?}").as_bytes()).unwrap();
        }
        log.sync().unwrap();
        let snaps = SnapshotStore::open(config.snap_dir()).unwrap();
        snaps.write(z(1, 2), b"state at 1:2").unwrap();
    }
    let on_disk = corral_zab_runtime::open(&config).unwrap();
    let p = &on_disk.persisted;
    assert_eq!(
        (p.snapshot, p.current_epoch, p.accepted_epoch),
        (z(1, 2), 2, 2)
    );
    assert_eq!(on_disk.snapshot.as_deref(), Some(&b"state at 1:2"[..]));
    let log = &on_disk.log;
    assert_eq!((log.start(), log.last()), (z(1, 2), z(2, 2)));
    let read: Vec<(Zxid, Bytes)> = log
        .entries(z(1, 2), z(9, 9), 10)
        .unwrap()
        .into_iter()
        .map(|e| (e.zxid, e.payload))
        .collect();
    assert_eq!(
        read,
        vec![
            (z(1, 3), Bytes::from("1:3")),
            (z(2, 1), Bytes::from("2:1")),
            (z(2, 2), Bytes::from("2:2")),
        ]
    );
    let two: Vec<Zxid> = log
        .entries(z(1, 2), z(2, 1), 2)
        .unwrap()
        .iter()
        .map(|e| e.zxid)
        .collect();
    assert_eq!(two, vec![z(1, 3), z(2, 1)], "at most max");
    assert!(
        log.entries(z(1, 0), z(2, 1), 2).is_err(),
        "before the start: an error, never a silent gap"
    );
    // A local snapshot moves the start up (shared by every clone).
    let engine_view = log.clone();
    log.compact_to(z(2, 1));
    assert_eq!(engine_view.start(), z(2, 1));
    assert!(engine_view.entries(z(1, 2), z(9, 9), 10).is_err());
    assert_eq!(engine_view.floor(z(1, 9)).unwrap(), None);
    log.compact_to(z(1, 2));
    assert_eq!(log.start(), z(2, 1), "it never moves back");
    let log = corral_zab_runtime::open(&config).unwrap().log;
    assert_eq!(log.floor(z(1, 9)).unwrap(), Some(z(1, 3)));
    assert_eq!(log.floor(z(2, 2)).unwrap(), Some(z(2, 2)));
    assert_eq!(log.floor(z(1, 2)).unwrap(), Some(z(1, 2)));
    assert_eq!(log.floor(z(1, 1)).unwrap(), None, "before the snapshot");
    drop(on_disk);
    // The epoch files win over the log's epoch.
    let epochs = EpochFiles::open(config.snap_dir(), config.disk.clone()).unwrap();
    epochs.write(CURRENT_EPOCH_FILE, 3).unwrap();
    let p = corral_zab_runtime::open(&config).unwrap().persisted;
    assert_eq!((p.current_epoch, p.accepted_epoch), (3, 3));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `floor` (the engine's TRUNC decision beyond the in-memory window) seeks to the segment that
/// holds the zxid by the segment names: a damaged old segment, which a scan from the start of
/// the log would trip on, is not read; and epochs past 2^31 order after the ones before.
#[test]
fn floor_seeks_to_its_segment_and_orders_high_epochs() {
    let dir = std::env::temp_dir().join(format!("corral-zab-runtime-floor-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = StorageConfig {
        pre_alloc_size: 4096,
        snap_count: 3, // segments of 3 records
        ..StorageConfig::new(&dir)
    };
    let zs: Vec<Zxid> = [1, 7, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]
        .into_iter()
        .flat_map(|e| (1..=3).map(move |c| z(e, c)))
        .collect();
    {
        let mut log = TxnLog::open(config.log_config()).unwrap();
        for zxid in &zs {
            log.append(*zxid, b"x").unwrap();
        }
        log.sync().unwrap();
    }
    // Damage the second record of the oldest segment (epoch 1).
    let oldest = config.log_dir().join(format!("log.{:x}", z(1, 1).0));
    let mut bytes = std::fs::read(&oldest).unwrap();
    let second = 16 + (16 + 1) + 16; // header, first record, the second one's payload
    bytes[second] ^= 1;
    std::fs::write(&oldest, bytes).unwrap();

    let log = corral_zab_runtime::open(&config).unwrap().log;
    assert_eq!(log.last(), z(0xffff_ffff, 3));
    assert_eq!(
        log.floor(z(0xffff_ffff, 9)).unwrap(),
        Some(z(0xffff_ffff, 3))
    );
    assert_eq!(
        log.floor(z(0xffff_ffff, 0)).unwrap(),
        Some(z(0x8000_0000, 3))
    );
    assert_eq!(
        log.floor(z(0x8000_0000, 2)).unwrap(),
        Some(z(0x8000_0000, 2))
    );
    assert_eq!(
        log.floor(z(0x8000_0000, 0)).unwrap(),
        Some(z(0x7fff_ffff, 3))
    );
    assert_eq!(log.floor(z(7, 9)).unwrap(), Some(z(7, 3)));
    // Where the damage is, an error: never a silent answer.
    assert!(log.floor(z(1, 3)).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
