//! # corral-storage: the txn log and the snapshot files
//!
//! What it is: the only Corral crate that writes to disk. It keeps ZooKeeper's on-disk
//! *roles* with its own framed format:
//!
//! - a **txn log** ([`TxnLog`]) of segment files `log.<first zxid hex>` in
//!   `dataLogDir/version-2`, each a header then records
//!   `[len u32][crc32c u32][zxid u64][payload]` (see [`mod@format`] for the bytes), grown in
//!   `preAllocSize` steps of zeros, rolled to a new segment every `snapCount` records;
//! - **group commit** ([`LogWriter`]): a thread takes every queued append, writes them,
//!   fsyncs once and reports the highest durable zxid;
//! - **recovery** at open: a torn tail of the newest segment is cut (and logged with file and
//!   offset); damage that a crash cannot explain is an error that names file and offset;
//! - **snapshots** ([`SnapshotStore`]): `snapshot.<zxid hex>` in `dataDir/version-2`,
//!   atomic (temp file, fsync, rename, directory fsync) with a trailing crc;
//!   [`SnapshotStore::latest_valid`] skips damaged ones;
//! - for a ZAB server: ZooKeeper's **`acceptedEpoch` / `currentEpoch`** files
//!   ([`EpochFiles`]) and one **ordered stream of durable effects** across log, epoch files
//!   and received snapshots ([`QuorumWriter`], see [`mod@quorum`]);
//! - ZooKeeper's **snapshot trigger** ([`SnapPolicy`]) and **purge** ([`purge`]) rules, and
//!   ZAB's **TRUNC** ([`TxnLog::truncate`]) and **DIFF** reads ([`LogView::read_from`]);
//! - the operator's **cut** of a log that does not open ([`plan_cut`], `corral log
//!   truncate`): at a zxid or a record boundary, the removed bytes and files kept aside.
//!
//! Zxids are corral-zxid's [`Zxid`], ordered as the unsigned 64-bit numbers they are (epoch
//! in the high 32 bits), so epochs at and past 2^31 sort after the ones before them; zxid 0
//! is never a record's (ZooKeeper counts txns from 1).
//!
//! What it is not: it knows zxids and opaque bytes, not znodes, sessions or txn encodings
//! (the server encodes `corral_datatree::Txn`s and tree snapshots into payloads). It does
//! not read ZooKeeper's own jute log or snapshot files (that is `corral import`), reads no
//! clock or RNG (the snapshot trigger's random roll and the purge interval are the
//! caller's), and uses no async runtime (the writer is a plain thread).
//!
//! ## Recovery rules
//! 1. The newest segment is scanned to its end. Records must have a good crc and rising
//!    zxids. Where they stop, the rest must be zeros (preallocation): then it is clean.
//! 2. If it is not (a short record, a bad crc, stray bytes) and **no valid record follows**,
//!    it is a torn tail: it is zeroed from there, logged with file and offset, and the log
//!    continues after the last good record.
//! 3. If a valid record **does** follow the damage, or damage sits in an older segment
//!    (found when [`LogView::read_from`] reads it), the error names file and offset and the
//!    server must refuse to start: the log never silently skips a record.
//! 4. Newest segments with no record (a crash while creating them) are removed.
//!
//! ## Example
//! ```
//! use bytes::Bytes;
//! use corral_storage::{LogWriter, Storage, StorageConfig, Zxid};
//!
//! let dir = std::env::temp_dir().join(format!("corral-storage-doc-{}", std::process::id()));
//! let config = StorageConfig { pre_alloc_size: 4096, ..StorageConfig::new(&dir) };
//!
//! // First start: an empty snapshot, then log writes through the group-commit thread.
//! let storage = Storage::open(&config)?;
//! storage.snapshots.write(Zxid::ZERO, b"empty tree")?;
//! let (tx, rx) = std::sync::mpsc::channel();
//! let writer = LogWriter::spawn(storage.log, move |durable| {
//!     let _ = tx.send(durable.map_err(|e| e.to_string()));
//! })?;
//! for zxid in (1..=3).map(Zxid) {
//!     writer.append(zxid, Bytes::from(format!("txn {zxid}")))?;
//! }
//! let mut durable = Zxid::ZERO;
//! while durable < Zxid(3) {
//!     durable = rx.recv().expect("writer alive").expect("disk ok"); // acknowledge up to here
//! }
//! drop(writer);
//!
//! // Restart: the newest valid snapshot, then the log after it.
//! let storage = Storage::open(&config)?;
//! let recovered = storage.recover()?;
//! assert_eq!(recovered.snapshot.map(|s| s.zxid), Some(Zxid::ZERO));
//! let txns: Vec<_> = recovered.txns.collect::<Result<_, _>>()?;
//! assert_eq!(txns.len(), 3);
//! assert_eq!(txns[2], (Zxid(3), Bytes::from("txn 0x3")));
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), corral_storage::StorageError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod crc;
mod cut;
pub mod disk;
mod epoch;
mod error;
pub mod format;
mod log;
mod policy;
pub mod quorum;
mod segment;
mod snapshot;
mod storage;
mod store;
mod view;
mod writer;

#[cfg(test)]
mod tests;

pub use corral_zxid::Zxid;
pub use cut::{
    plan_cut, CutAt, CutDone, CutPlan, CutRecord, RemovedFile, SegmentCut, REMOVED_SUFFIX,
};
pub use disk::{Disk, Fault, FaultyDisk, RealDisk};
pub use epoch::{EpochFiles, ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE};
pub use error::StorageError;
pub use format::MAX_PAYLOAD;
pub use log::{LogConfig, LogRecovery, TxnLog};
pub use policy::{purge, PurgeReport, SnapPolicy, MIN_SNAP_RETAIN_COUNT};
pub use quorum::{QuorumFiles, QuorumOp, QuorumWriter};
pub use segment::{LogRecord, SegmentEnd, SegmentFile};
pub use snapshot::{read_snapshot_file, Snapshot, SnapshotStore, SnapshotWriter};
pub use storage::{Recovered, Storage, StorageConfig, VERSION_DIR};
pub use store::{LogStore, MemLog};
pub use view::{LogIter, LogView, SegmentInfo};
pub use writer::{LogWriter, LogWriterHandle, SyncStats, TxnWait};
