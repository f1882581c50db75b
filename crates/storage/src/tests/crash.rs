//! Random append / sync / flush / truncate / roll / crash sequences, file log against the
//! model: after a crash the log holds every synced record plus a prefix of the unsynced
//! ones (possibly cut mid-record on disk), never a hole.

use crate::Zxid;
use proptest::prelude::*;

use super::*;
use crate::{LogStore, MemLog, SegmentEnd, SegmentFile};

#[derive(Debug, Clone)]
enum Op {
    Append(u8, u16),
    Sync,
    Flush,
    Truncate(u8),
    Roll,
    Crash(u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u8..4, 0u16..300).prop_map(|(n, size)| Op::Append(n, size)),
        3 => Just(Op::Sync),
        2 => Just(Op::Flush),
        1 => (0u8..8).prop_map(Op::Truncate),
        1 => Just(Op::Roll),
        2 => any::<u16>().prop_map(Op::Crash),
    ]
}

/// Cuts the newest segment at a point between its durable end and its written end
/// (`frac` / 65535 of the way), zeroing the rest, as a crash that kept part of the
/// unsynced bytes.
fn crash_cut(log: &TxnLog, frac: u16) {
    let segs = log.view().segments();
    let Some(last) = segs.last() else { return };
    let durable_end = last.end.unwrap_or(crate::format::LOG_HEADER_LEN);
    let written_end = match SegmentFile::open(&last.path).unwrap().end() {
        SegmentEnd::Clean { offset } | SegmentEnd::Torn { offset, .. } => *offset,
        other => panic!("{other:?}"),
    };
    let span = written_end - durable_end;
    let cut = durable_end + span * u64::from(frac) / 65535;
    let mut b = std::fs::read(&last.path).unwrap();
    b[cut as usize..].fill(0);
    std::fs::write(&last.path, b).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn file_log_matches_the_model_through_crashes(ops in prop::collection::vec(op(), 1..40)) {
        let d = TempDir::new("crash");
        let mut log = TxnLog::open(small_config(d.path())).unwrap();
        let mut model = MemLog::new();
        let mut next = 1u64;
        for op in &ops {
            match op {
                Op::Append(n, size) => {
                    for _ in 0..*n {
                        let body = vec![(next % 251) as u8; usize::from(*size)];
                        log.append(Zxid(next), &body).unwrap();
                        model.append(Zxid(next), &body).unwrap();
                        next += 1 + next % 3; // gaps, as across epochs
                    }
                }
                Op::Sync => {
                    prop_assert_eq!(log.sync().unwrap(), model.sync().unwrap());
                }
                Op::Flush => log.write_unsynced().unwrap(),
                Op::Truncate(back) => {
                    let last = model.last_zxid().unwrap_or(Zxid::ZERO);
                    let to = Zxid(last.0.saturating_sub(u64::from(*back)));
                    log.truncate(to).unwrap();
                    model.truncate(to).unwrap();
                }
                Op::Roll => {
                    log.roll().unwrap();
                    model.roll().unwrap();
                }
                Op::Crash(frac) => {
                    crash_cut(&log, *frac);
                    drop(log);
                    log = TxnLog::open(small_config(d.path())).unwrap();
                    let got = LogStore::read_from(&log, Zxid(0)).unwrap();
                    let before = model.records();
                    let synced = before
                        .iter()
                        .filter(|r| model.durable_zxid().is_some_and(|d| r.0 <= d))
                        .count();
                    // A prefix of what was appended, holding at least all that was synced.
                    prop_assert!(got.len() >= synced, "lost synced records: {:?}", ops);
                    prop_assert_eq!(&got[..], &before[..got.len()]);
                    model.crash(got.len() - synced);
                    next = model.last_zxid().map_or(1, |z| z.0 + 1);
                }
            }
            prop_assert_eq!(log.last_zxid(), model.last_zxid());
            // Reads see the synced records (the file log may see more: a roll syncs).
            let file = LogStore::read_from(&log, Zxid(0)).unwrap();
            let mem = model.read_from(Zxid(0)).unwrap();
            prop_assert!(file.len() >= mem.len());
            prop_assert_eq!(&file[..mem.len()], &mem[..]);
        }
        log.sync().unwrap();
        model.sync().unwrap();
        prop_assert_eq!(LogStore::read_from(&log, Zxid(0)).unwrap(), model.read_from(Zxid(0)).unwrap());
    }
}
