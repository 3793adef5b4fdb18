//! The durable spool: OTLP requests that could not reach PostgreSQL, kept on local disk until
//! they can. One file per request (`<sequence>.otlp`: a signal byte, then the request's protobuf
//! bytes), written to a temporary name, fsync'd, renamed into place and the directory fsync'd, so
//! a file that exists under its final name is complete and durable. Only then is the exporter
//! answered. Replay reads files in sequence order and deletes each only after its transaction
//! committed; a crash between commit and delete replays it again, which is harmless because
//! ingest is idempotent (deterministic keys). The total size is bounded; a full spool refuses.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Which OTLP signal a spooled request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Traces,
    Logs,
    Metrics,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Traces => b'T',
            Kind::Logs => b'L',
            Kind::Metrics => b'M',
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            b'T' => Some(Kind::Traces),
            b'L' => Some(Kind::Logs),
            b'M' => Some(Kind::Metrics),
            _ => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the spool is full ({used} of {limit} bytes used)")]
    Full { used: u64, limit: u64 },
    #[error("spool I/O on {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("spool file {0} is not a spooled OTLP request")]
    Corrupt(PathBuf),
    #[error("the spool {0} is in use by another collector")]
    Locked(PathBuf),
}

/// A spooled request, in replay order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub sequence: u64,
    pub path: PathBuf,
    pub bytes: u64,
}

/// The spool's size and file count. Shared with the blocking writer, which updates them once a
/// file is renamed into place (or given up): a request whose caller went away mid-write (a
/// cancelled gRPC call) still leaves a file, and it must be counted, or replay's removal would
/// take the count below zero.
#[derive(Debug, Default)]
struct Counts {
    used: AtomicU64,
    /// Files under their final name: replay is needed while this is not zero.
    files: AtomicU64,
}

#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    max_bytes: u64,
    counts: Arc<Counts>,
    next: AtomicU64,
    /// Serialises the size check with the reservation, so concurrent appends cannot overshoot.
    reserve: Mutex<()>,
    /// Holds an exclusive `flock` on `.lock` for the process's lifetime (released by the kernel
    /// even on SIGKILL): two collectors must never replay the same files.
    _lock: File,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Spool {
    /// Opens (creating) the spool directory: removes half-written files of a crash, and counts
    /// what is waiting for replay.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, Error> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock = lock(dir)?;
        let spool = Self {
            dir: dir.to_path_buf(),
            max_bytes,
            counts: Arc::default(),
            next: AtomicU64::new(1),
            reserve: Mutex::new(()),
            _lock: lock,
        };
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let path = entry.map_err(io_err(dir))?.path();
            if path.extension().is_some_and(|e| e == "tmp") {
                // Never acknowledged: the exporter was not answered, so it retries.
                let _ = fs::remove_file(&path);
            }
        }
        let pending = spool.pending()?;
        let used: u64 = pending.iter().map(|e| e.bytes).sum();
        spool.counts.used.store(used, Ordering::SeqCst);
        let files = pending.len() as u64;
        spool.counts.files.store(files, Ordering::SeqCst);
        let last = pending.last().map_or(0, |e| e.sequence);
        spool.next.store(last + 1, Ordering::SeqCst);
        Ok(spool)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Nothing waits for replay.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn used_bytes(&self) -> u64 {
        self.counts.used.load(Ordering::SeqCst)
    }

    pub fn len(&self) -> u64 {
        self.counts.files.load(Ordering::SeqCst)
    }

    /// Writes one request durably. Returns only once the file and its directory entry are on
    /// disk; blocking I/O runs off the async threads, and the counts are updated there too, so
    /// they follow the files even when this future is dropped mid-write.
    pub async fn append(&self, kind: Kind, request: Vec<u8>) -> Result<(), Error> {
        let size = request.len() as u64 + 1;
        {
            let _guard = self.reserve.lock().unwrap_or_else(|p| p.into_inner());
            let used = self.used_bytes();
            if used + size > self.max_bytes {
                return Err(Error::Full {
                    used,
                    limit: self.max_bytes,
                });
            }
            self.counts.used.fetch_add(size, Ordering::SeqCst);
        }
        let sequence = self.next.fetch_add(1, Ordering::SeqCst);
        let dir = self.dir.clone();
        let counts = Arc::clone(&self.counts);
        tokio::task::spawn_blocking(move || {
            let written = write_durably(&dir, sequence, kind, &request);
            match &written {
                Ok(()) => counts.files.fetch_add(1, Ordering::SeqCst),
                Err(_) => counts.used.fetch_sub(size, Ordering::SeqCst),
            };
            written
        })
        .await
        .unwrap_or_else(|e| {
            Err(Error::Io {
                path: self.dir.clone(),
                source: io::Error::other(e.to_string()),
            })
        })
    }

    /// The spooled requests, oldest first.
    pub fn pending(&self) -> Result<Vec<Entry>, Error> {
        let mut entries = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(io_err(&self.dir))? {
            let entry = entry.map_err(io_err(&self.dir))?;
            let path = entry.path();
            let sequence = path
                .extension()
                .filter(|e| *e == "otlp")
                .and_then(|_| path.file_stem()?.to_str()?.parse::<u64>().ok());
            if let Some(sequence) = sequence {
                let bytes = entry.metadata().map_err(io_err(&path))?.len();
                entries.push(Entry {
                    sequence,
                    path,
                    bytes,
                });
            }
        }
        entries.sort();
        Ok(entries)
    }

    /// Reads a spooled request back.
    pub fn read(&self, entry: &Entry) -> Result<(Kind, Vec<u8>), Error> {
        let mut bytes = fs::read(&entry.path).map_err(io_err(&entry.path))?;
        let kind = bytes
            .first()
            .copied()
            .and_then(Kind::from_byte)
            .ok_or_else(|| Error::Corrupt(entry.path.clone()))?;
        bytes.remove(0);
        Ok((kind, bytes))
    }

    /// Forgets a request whose transaction committed.
    pub fn remove(&self, entry: &Entry) -> Result<(), Error> {
        fs::remove_file(&entry.path).map_err(io_err(&entry.path))?;
        self.forget(entry);
        Ok(())
    }

    /// Moves a request that can never be stored (unreadable, or failing while the database is
    /// up) to `failed/` with the reason beside it (`<sequence>.reason.txt`), so it does not
    /// block the requests behind it; kept for a human.
    pub fn quarantine(&self, entry: &Entry, reason: &str) -> Result<PathBuf, Error> {
        let failed = self.failed_dir()?;
        let name = entry.path.file_name().unwrap_or_default();
        let target = failed.join(name);
        write_note(&failed, entry.sequence, "reason", &[reason.to_string()])?;
        fs::rename(&entry.path, &target).map_err(io_err(&entry.path))?;
        self.forget(entry);
        Ok(target)
    }

    /// Forgets a request that was stored except for some records: those are written, one a
    /// line with the reason and the record's content, to `failed/<sequence>.refused.txt`.
    pub fn remove_keeping_refused(&self, entry: &Entry, refused: &[String]) -> Result<(), Error> {
        write_note(&self.failed_dir()?, entry.sequence, "refused", refused)?;
        self.remove(entry)
    }

    fn failed_dir(&self) -> Result<PathBuf, Error> {
        let failed = self.dir.join("failed");
        fs::create_dir_all(&failed).map_err(io_err(&failed))?;
        Ok(failed)
    }

    fn forget(&self, entry: &Entry) {
        let less = |by: u64| move |n: u64| Some(n.saturating_sub(by));
        let (files, used) = (&self.counts.files, &self.counts.used);
        let _ = files.fetch_update(Ordering::SeqCst, Ordering::SeqCst, less(1));
        let _ = used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, less(entry.bytes));
    }
}

fn lock(dir: &Path) -> Result<File, Error> {
    use std::os::fd::AsRawFd;
    let path = dir.join(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    // SAFETY: flock on a file descriptor we own; no memory is passed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(Error::Locked(dir.to_path_buf()));
    }
    Ok(file)
}

/// `failed/<sequence>.<what>.txt`, one line each, fsync'd (the request it explains is deleted
/// or moved right after).
fn write_note(failed: &Path, sequence: u64, what: &str, lines: &[String]) -> Result<(), Error> {
    let path = failed.join(format!("{sequence:020}.{what}.txt"));
    let text: String = lines
        .iter()
        .map(|l| format!("{}\n", l.replace('\n', " ")))
        .collect();
    let write = || -> io::Result<()> {
        let mut file = File::create(&path)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        File::open(failed)?.sync_all()
    };
    write().map_err(io_err(&path))
}

fn write_durably(dir: &Path, sequence: u64, kind: Kind, request: &[u8]) -> Result<(), Error> {
    let name = format!("{sequence:020}");
    let tmp = dir.join(format!("{name}.tmp"));
    let done = dir.join(format!("{name}.otlp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    let result = (|| {
        file.write_all(&[kind.byte()])?;
        file.write_all(request)?;
        file.sync_all()?;
        fs::rename(&tmp, &done)?;
        // The rename is durable only once the directory is.
        File::open(dir)?.sync_all()
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(Error::Io { path: done, source });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_survive_reopening_in_order_and_the_bound_holds() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 100).unwrap();
        assert!(spool.is_empty());
        spool.append(Kind::Traces, vec![1; 10]).await.unwrap();
        spool.append(Kind::Metrics, vec![2; 20]).await.unwrap();
        let full = spool.append(Kind::Logs, vec![3; 80]).await.unwrap_err();
        assert!(matches!(full, Error::Full { used: 32, .. }), "{full}");
        // A crash mid-write leaves a .tmp file: never acknowledged, so dropped on open.
        fs::write(dir.path().join("00000000000000000099.tmp"), b"T junk").unwrap();
        drop(spool);

        let spool = Spool::open(dir.path(), 100).unwrap();
        assert_eq!((spool.len(), spool.used_bytes()), (2, 32));
        let pending = spool.pending().unwrap();
        assert_eq!(
            spool.read(&pending[0]).unwrap(),
            (Kind::Traces, vec![1; 10])
        );
        assert_eq!(
            spool.read(&pending[1]).unwrap(),
            (Kind::Metrics, vec![2; 20])
        );
        spool.remove(&pending[0]).unwrap();
        spool.append(Kind::Logs, vec![3; 5]).await.unwrap();
        let pending = spool.pending().unwrap();
        assert_eq!(pending.len(), 2);
        assert!(pending[0].sequence < pending[1].sequence);
        assert_eq!(spool.read(&pending[1]).unwrap().0, Kind::Logs);
        spool.quarantine(&pending[0], "undecodable").unwrap();
        // The request and its reason.
        assert_eq!(dir.path().join("failed").read_dir().unwrap().count(), 2);
        assert_eq!(spool.len(), 1);
        // A second collector on the same directory is refused while this one runs.
        assert!(matches!(
            Spool::open(dir.path(), 100),
            Err(Error::Locked(_))
        ));
        drop(spool);
        Spool::open(dir.path(), 100).unwrap();
    }

    #[tokio::test]
    async fn a_write_whose_caller_went_away_is_still_counted() {
        // A gRPC call cancelled mid-write drops the append future after the blocking write has
        // started: the file lands, and the counts must follow it (they once went below zero).
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let cancelled = tokio::time::timeout(
            std::time::Duration::ZERO,
            spool.append(Kind::Traces, vec![1; 64]),
        )
        .await;
        // On a loaded machine the write can finish before the cut; the counts must follow the
        // file either way, which is what the rest checks.
        if cancelled.is_ok() {
            eprintln!("the append finished before it could be cut off");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while spool.pending().unwrap().is_empty() || spool.is_empty() {
            assert!(std::time::Instant::now() < deadline, "the write finishes");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!((spool.len(), spool.used_bytes()), (1, 65));
        let pending = spool.pending().unwrap();
        spool.remove(&pending[0]).unwrap();
        assert_eq!((spool.len(), spool.used_bytes()), (0, 0));
        assert!(spool.is_empty());
    }
}
