//! ZooKeeper's `acceptedEpoch` and `currentEpoch` files: one decimal number each, in
//! `dataDir/version-2`, replaced atomically (ZooKeeper's `QuorumPeer.writeLongToFile`
//! through `AtomicFileWritingIdiom`: temp file, fsync, rename; here also the directory's
//! fsync, so the new name itself survives a power cut).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::disk::Disk;
use crate::StorageError;

/// The accepted epoch's file name (ZooKeeper's `ACCEPTED_EPOCH_FILENAME`).
pub const ACCEPTED_EPOCH_FILE: &str = "acceptedEpoch";
/// The current epoch's file name (ZooKeeper's `CURRENT_EPOCH_FILENAME`).
pub const CURRENT_EPOCH_FILE: &str = "currentEpoch";

/// The two epoch files of a server.
///
/// # To ensure correctness
/// A value is durable when [`EpochFiles::write`] returns `Ok`; a crash during the write
/// leaves the old value or the new one, never a mix.
#[derive(Debug, Clone)]
pub struct EpochFiles {
    dir: PathBuf,
    disk: Arc<dyn Disk>,
}

impl EpochFiles {
    /// The files in `dir` (`dataDir/version-2`), created with it if needed.
    pub fn open(dir: impl Into<PathBuf>, disk: Arc<dyn Disk>) -> Result<EpochFiles, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io("create", &dir, e))?;
        for name in [ACCEPTED_EPOCH_FILE, CURRENT_EPOCH_FILE] {
            let tmp = dir.join(format!("{name}.tmp"));
            if tmp.exists() {
                tracing::warn!(file = %tmp.display(), "removing an unfinished epoch file");
                let _ = fs::remove_file(&tmp);
            }
        }
        Ok(EpochFiles { dir, disk })
    }

    /// Reads one file: `None` when it does not exist (a server that never joined a quorum).
    /// A file that is not one decimal number is an error naming it, as ZooKeeper's
    /// `readLongFromFile` refuses it.
    pub fn read(&self, name: &str) -> Result<Option<u32>, StorageError> {
        let path = self.dir.join(name);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StorageError::io("read", &path, e)),
        };
        let line = text.lines().next().unwrap_or("").trim();
        line.parse::<u32>()
            .map(Some)
            .map_err(|_| StorageError::InvalidEpochFile {
                path,
                found: line.chars().take(40).collect(),
            })
    }

    /// Replaces one file with `value`, durably.
    pub fn write(&self, name: &str, value: u32) -> Result<(), StorageError> {
        let path = self.dir.join(name);
        let tmp = self.dir.join(format!("{name}.tmp"));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| StorageError::io("create", &tmp, e))?;
        self.write_synced(&file, &tmp, value.to_string().as_bytes())?;
        fs::rename(&tmp, &path).map_err(|e| StorageError::io("rename", &tmp, e))?;
        self.disk
            .sync_dir(&self.dir)
            .map_err(|e| StorageError::io("fsync", &self.dir, e))
    }

    fn write_synced(&self, file: &File, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        self.disk
            .write_at(file, 0, bytes)
            .map_err(|e| StorageError::io("write", path, e))?;
        self.disk
            .sync_data(file)
            .map_err(|e| StorageError::io("fsync", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Fault, FaultyDisk};

    #[test]
    fn written_atomically_read_back_and_refused_when_garbled() {
        let tmp = crate::tests::TempDir::new("epochs");
        let dir = tmp.path().to_path_buf();
        let disk = FaultyDisk::new();
        let files = EpochFiles::open(&dir, disk.clone()).unwrap();
        assert_eq!(files.read(ACCEPTED_EPOCH_FILE).unwrap(), None);
        files.write(ACCEPTED_EPOCH_FILE, 7).unwrap();
        files.write(CURRENT_EPOCH_FILE, 6).unwrap();
        assert_eq!(
            fs::read_to_string(dir.join(ACCEPTED_EPOCH_FILE)).unwrap(),
            "7",
            "ZooKeeper's format: the number alone"
        );
        assert_eq!(files.read(ACCEPTED_EPOCH_FILE).unwrap(), Some(7));
        assert_eq!(files.read(CURRENT_EPOCH_FILE).unwrap(), Some(6));
        // A failed write leaves the old value in place.
        disk.fail_syncs(Some(Fault::Io));
        assert!(files.write(ACCEPTED_EPOCH_FILE, 8).is_err());
        disk.fail_syncs(None);
        let reopened = EpochFiles::open(&dir, disk.clone()).unwrap();
        assert_eq!(reopened.read(ACCEPTED_EPOCH_FILE).unwrap(), Some(7));
        assert!(!dir.join("acceptedEpoch.tmp").exists());
        // ZooKeeper's own file, written by a JVM with a newline: read as well.
        fs::write(dir.join(CURRENT_EPOCH_FILE), "12\n").unwrap();
        assert_eq!(reopened.read(CURRENT_EPOCH_FILE).unwrap(), Some(12));
        fs::write(dir.join(CURRENT_EPOCH_FILE), "twelve").unwrap();
        let err = reopened.read(CURRENT_EPOCH_FILE).unwrap_err().to_string();
        assert!(
            err.contains("currentEpoch") && err.contains("twelve"),
            "{err}"
        );
    }
}
