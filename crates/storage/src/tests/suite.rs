//! The conformance suite of [`LogStore`]: every scenario runs against the in-memory model
//! and the file log (openraft's `testing/log/suite.rs` idea).

use crate::Zxid;
use bytes::Bytes;

use super::*;
use crate::{LogStore, MemLog, StorageError};

/// The file log with its directory, as one store.
struct FileStore {
    log: TxnLog,
    _dir: TempDir,
}

impl LogStore for FileStore {
    fn append(&mut self, zxid: Zxid, payload: &[u8]) -> Result<(), StorageError> {
        self.log.append(zxid, payload)
    }
    fn sync(&mut self) -> Result<Option<Zxid>, StorageError> {
        self.log.sync()
    }
    fn truncate(&mut self, zxid: Zxid) -> Result<(), StorageError> {
        self.log.truncate(zxid)
    }
    fn read_from(&self, zxid: Zxid) -> Result<Vec<(Zxid, Bytes)>, StorageError> {
        LogStore::read_from(&self.log, zxid)
    }
    fn last_zxid(&self) -> Option<Zxid> {
        self.log.last_zxid()
    }
    fn roll(&mut self) -> Result<(), StorageError> {
        self.log.roll()
    }
}

fn file_store() -> FileStore {
    let dir = TempDir::new("suite");
    FileStore {
        log: TxnLog::open(small_config(dir.path())).unwrap(),
        _dir: dir,
    }
}

/// Every durable zxid, as plain numbers for comparing with literals.
fn all<S: LogStore>(s: &S) -> Vec<u64> {
    s.read_from(Zxid(0))
        .unwrap()
        .into_iter()
        .map(|r| r.0 .0)
        .collect()
}

fn empty_log<S: LogStore>(mut s: S) {
    assert_eq!(s.last_zxid(), None);
    assert_eq!(s.sync().unwrap(), None);
    assert!(all(&s).is_empty());
    s.truncate(Zxid(5)).unwrap();
    assert_eq!(s.last_zxid(), None);
}

fn payloads_round_trip<S: LogStore>(mut s: S) {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    s.append(Zxid(1), b"").unwrap();
    s.append(Zxid(2), &big).unwrap();
    s.append(Zxid(0x7fff_ffff_0000_0000), b"far").unwrap();
    assert_eq!(s.sync().unwrap(), Some(Zxid(0x7fff_ffff_0000_0000)));
    let got = s.read_from(Zxid(0)).unwrap();
    assert_eq!(got[0], (Zxid(1), Bytes::new()));
    assert_eq!(&got[1].1[..], &big[..]);
    assert_eq!(&got[2].1[..], b"far");
}

fn zxids_strictly_rise<S: LogStore>(mut s: S) {
    s.append(Zxid(10), b"a").unwrap();
    assert!(matches!(
        s.append(Zxid(10), b"a"),
        Err(StorageError::ZxidOrder { .. })
    ));
    assert!(matches!(
        s.append(Zxid(3), b"a"),
        Err(StorageError::ZxidOrder { .. })
    ));
    s.append(Zxid(11), b"b").unwrap();
    s.sync().unwrap();
    assert_eq!(all(&s), vec![10, 11]);
}

fn only_synced_records_are_read<S: LogStore>(mut s: S) {
    s.append(Zxid(1), b"a").unwrap();
    s.sync().unwrap();
    s.append(Zxid(2), b"b").unwrap();
    assert_eq!(all(&s), vec![1]);
    assert_eq!(s.last_zxid(), Some(Zxid(2)));
    assert_eq!(s.sync().unwrap(), Some(Zxid(2)));
    assert_eq!(all(&s), vec![1, 2]);
}

fn read_from_any_point<S: LogStore>(mut s: S) {
    for z in 1..=23 {
        s.append(Zxid(z * 2), b"x").unwrap();
    }
    s.sync().unwrap();
    for from in 0..=47 {
        let want: Vec<u64> = (1..=23).map(|z| z * 2).filter(|&z| z > from).collect();
        assert_eq!(
            s.read_from(Zxid(from))
                .unwrap()
                .into_iter()
                .map(|r| r.0 .0)
                .collect::<Vec<_>>(),
            want,
            "from {from}"
        );
    }
}

fn truncate_cases<S: LogStore>(mut s: S) {
    for z in 1..=17 {
        s.append(Zxid(z), b"x").unwrap();
    }
    s.sync().unwrap();
    s.truncate(Zxid(12)).unwrap();
    assert_eq!(all(&s), (1..=12).collect::<Vec<_>>());
    assert_eq!(s.last_zxid(), Some(Zxid(12)));
    s.truncate(Zxid(12)).unwrap();
    s.truncate(Zxid(40)).unwrap();
    assert_eq!(s.last_zxid(), Some(Zxid(12)));
    // Unsynced records above the cut go too; below it they become durable.
    s.append(Zxid(13), b"y").unwrap();
    s.append(Zxid(14), b"y").unwrap();
    s.truncate(Zxid(13)).unwrap();
    assert_eq!(all(&s), (1..=13).collect::<Vec<_>>());
    // Zxids above the cut may be reused.
    s.append(Zxid(14), b"z").unwrap();
    s.sync().unwrap();
    assert_eq!(
        s.read_from(Zxid(13)).unwrap(),
        vec![(Zxid(14), Bytes::from_static(b"z"))]
    );
    s.truncate(Zxid(0)).unwrap();
    assert_eq!(s.last_zxid(), None);
    assert!(all(&s).is_empty());
    s.append(Zxid(1), b"again").unwrap();
    s.sync().unwrap();
    assert_eq!(all(&s), vec![1]);
}

fn roll_makes_durable_and_continues<S: LogStore>(mut s: S) {
    s.append(Zxid(1), b"a").unwrap();
    s.roll().unwrap();
    assert_eq!(all(&s), vec![1]);
    s.roll().unwrap();
    s.append(Zxid(2), b"b").unwrap();
    s.sync().unwrap();
    assert_eq!(all(&s), vec![1, 2]);
}

/// Zxids order as unsigned numbers: epochs 2^31 and 2^32-1 come after epoch 1.
fn epochs_past_the_sign_bit_come_last<S: LogStore>(mut s: S) {
    let z = |e: u64, c: u64| Zxid((e << 32) | c);
    let zs = [
        z(1, 1),
        z(0x8000_0000, 1),
        z(0x8000_0000, 2),
        z(0xffff_ffff, 1),
    ];
    for zx in zs {
        s.append(zx, b"x").unwrap();
    }
    assert!(matches!(
        s.append(z(2, 1), b"x"),
        Err(StorageError::ZxidOrder { .. })
    ));
    s.sync().unwrap();
    assert_eq!(all(&s), zs.map(|z| z.0).to_vec());
    assert_eq!(s.last_zxid(), Some(z(0xffff_ffff, 1)));
    let after = |from| -> Vec<Zxid> { s.read_from(from).unwrap().iter().map(|r| r.0).collect() };
    assert_eq!(after(z(1, 1)), zs[1..].to_vec());
    assert_eq!(after(z(0x8000_0000, 1)), zs[2..].to_vec());
    s.truncate(z(0x8000_0000, 1)).unwrap();
    assert_eq!(all(&s), zs[..2].iter().map(|z| z.0).collect::<Vec<_>>());
}

fn suite<S: LogStore>(make: impl Fn() -> S) {
    epochs_past_the_sign_bit_come_last(make());
    empty_log(make());
    payloads_round_trip(make());
    zxids_strictly_rise(make());
    only_synced_records_are_read(make());
    read_from_any_point(make());
    truncate_cases(make());
    roll_makes_durable_and_continues(make());
}

#[test]
fn the_model_passes_the_suite() {
    suite(MemLog::new);
}

#[test]
fn the_file_log_passes_the_suite() {
    suite(file_store);
}
