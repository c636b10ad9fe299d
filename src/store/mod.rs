//! Persistence in sled: the only module that imports sled.
//!
//! The store keeps typed tables (sessions, outbox, delivery references,
//! inbox parts under assembly, out-of-session replies, charges, opt-outs,
//! retired pairs) as JSON values under versioned keys, so the format can
//! evolve: every key starts with its table's version (`v1/`). Writers that
//! acknowledge something to the outside call [`Store::flush`] first:
//! nothing acknowledged is ever lost.

mod dump;
mod table;

use std::path::{Path, PathBuf};

pub use dump::DumpError;
pub use table::Table;

/// Format version written in the `meta` tree; a store with another version
/// is refused rather than misread.
pub const FORMAT: &str = "smsgate-store-1";
/// sled's page cache: small enough for a Raspberry Pi (sled's default is
/// 1 GiB).
pub const DEFAULT_CACHE_BYTES: u64 = 8 * 1024 * 1024;

/// Errors of the store layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store at {path}: {source}")]
    Open { path: PathBuf, source: sled::Error },
    #[error("store at {path} has format {found:?}, this smsgate reads {FORMAT:?}")]
    Format { path: PathBuf, found: String },
    #[error("store: {0}")]
    Sled(#[from] sled::Error),
    #[error("store: a record of {table} cannot be read: {source}")]
    Decode {
        table: &'static str,
        source: serde_json::Error,
    },
    #[error("store: a record of {table} cannot be written: {source}")]
    Encode {
        table: &'static str,
        source: serde_json::Error,
    },
    /// A failure set with [`Store::inject_failures`] (tests of the
    /// paths that must survive a failing disk).
    #[error("store: injected failure")]
    Injected,
}

/// How the store is doing: every error is counted here where it happens
/// (so none can go unseen) and the store is unhealthy from an error until
/// the next flush that succeeds.
#[derive(Debug, Default)]
pub struct Health {
    errors: std::sync::atomic::AtomicU64,
    unhealthy: std::sync::atomic::AtomicBool,
    inject: std::sync::atomic::AtomicBool,
}

impl Health {
    /// Store errors since start.
    pub fn errors(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// False from a store error until a flush succeeds again.
    pub fn is_healthy(&self) -> bool {
        !self.unhealthy.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn failed(&self) {
        self.errors
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.unhealthy
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn flushed(&self) {
        self.unhealthy
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    fn injecting(&self) -> bool {
        self.inject.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Counts `r`'s error, if any, and hands it on.
    pub(crate) fn watch<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if r.is_err() {
            self.failed();
        }
        r
    }

    /// Fails with [`StoreError::Injected`] while failures are injected.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        if self.injecting() {
            Err(StoreError::Injected)
        } else {
            Ok(())
        }
    }
}

/// Period of sled's background thread (its default: 500 ms). What is
/// acknowledged is flushed before its answer (group commit, [`Store::flush`])
/// and other writes are flushed in the background right after them, so the
/// thread only cleans segments and catches a write nobody flushed. At the
/// default it woke an idle appliance 4 times a second (and called `fsync`
/// twice) for nothing.
pub const BACKGROUND_FLUSH_MS: u64 = 10_000;

/// The open store.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    path: PathBuf,
    flusher: std::sync::Arc<Flusher>,
    health: std::sync::Arc<Health>,
    /// sled's log file (`DIR/db`). sled 0.34's `flush` writes its log with
    /// `sync_file_range` on Linux (`pagecache/iobuf.rs`), which neither
    /// flushes the device's write cache nor the file's metadata; only its
    /// background thread calls `fsync`. An `fdatasync` of
    /// the same file after each flush makes what was flushed survive a
    /// power cut, not only a killed process. `None` for temporary stores.
    log: Option<std::sync::Arc<std::fs::File>>,
}

/// Group commit: callers that ask for a flush while one runs share the next
/// one. sled 0.34's `flush_async` can deadlock when called concurrently
/// (sled issues #1241, #1308), so flushes are blocking calls run off the
/// async threads, one at a time.
///
/// Each flush writes at least the log's last page again (sled's flush ends
/// in `sync_file_range`, then `fdatasync`): on an SD card the number of
/// flushes, not the bytes of the entries, is what a message costs.
#[derive(Default)]
struct Flusher {
    lock: tokio::sync::Mutex<()>,
    requested: std::sync::atomic::AtomicU64,
    done: std::sync::atomic::AtomicU64,
    /// Flushes done (`/metrics`, the write-count guard).
    syncs: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: dir.to_path_buf(),
            source: sled::Error::Io(e),
        })?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::LowSpace)
            .flush_every_ms(Some(BACKGROUND_FLUSH_MS))
            .open()
            .map_err(|source| StoreError::Open {
                path: dir.to_path_buf(),
                source,
            })?;
        let meta = db.open_tree("meta")?;
        match meta.get("format")? {
            None => {
                meta.insert("format", FORMAT)?;
                db.flush()?;
            }
            Some(v) if v.as_ref() == FORMAT.as_bytes() => {}
            Some(v) => {
                return Err(StoreError::Format {
                    path: dir.to_path_buf(),
                    found: String::from_utf8_lossy(&v).into_owned(),
                })
            }
        }
        let log = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dir.join("db"))
            .map_err(|e| StoreError::Open {
                path: dir.join("db"),
                source: sled::Error::Io(e),
            })?;
        Ok(Store {
            db,
            path: dir.to_path_buf(),
            flusher: Default::default(),
            health: Default::default(),
            log: Some(std::sync::Arc::new(log)),
        })
    }

    /// A store in a temporary directory that disappears with it (tests).
    pub fn temporary() -> Result<Store, StoreError> {
        let db = sled::Config::new().temporary(true).open()?;
        db.open_tree("meta")?.insert("format", FORMAT)?;
        Ok(Store {
            db,
            path: PathBuf::new(),
            flusher: Default::default(),
            health: Default::default(),
            log: None,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A typed table named `name`.
    pub fn table<T: serde::Serialize + serde::de::DeserializeOwned + 'static>(
        &self,
        name: &'static str,
    ) -> Result<Table<T>, StoreError> {
        let tree = self
            .health
            .watch(self.db.open_tree(name).map_err(StoreError::from))?;
        Ok(Table::new(name, tree, self.health.clone()))
    }

    /// A new unique, increasing id (survives restarts).
    pub fn next_id(&self) -> Result<u64, StoreError> {
        self.health.watch(
            self.health
                .check()
                .and_then(|()| Ok(self.db.generate_id()?)),
        )
    }

    /// Errors and health of this store.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Makes every write and flush fail from now on (`true`) or work again
    /// (`false`): for tests of what a failing disk must not break.
    pub fn inject_failures(&self, on: bool) {
        self.health
            .inject
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Makes every write so far durable. Call before acknowledging.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let r = self.flush_inner().await;
        if r.is_ok() {
            self.health.flushed();
        }
        self.health.watch(r)
    }

    /// Flushes done since the store was opened.
    pub fn flushes(&self) -> u64 {
        self.flusher
            .syncs
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn flush_inner(&self) -> Result<(), StoreError> {
        self.health.check()?;
        use std::sync::atomic::Ordering::SeqCst;
        let f = &self.flusher;
        // Every write of this caller happened before this number was taken.
        let mine = f.requested.fetch_add(1, SeqCst) + 1;
        let _turn = f.lock.lock().await;
        if f.done.load(SeqCst) >= mine {
            return Ok(()); // a flush that started after our writes covered them
        }
        let covers = f.requested.load(SeqCst);
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.sync())
            .await
            .map_err(|e| {
                StoreError::Sled(sled::Error::Io(std::io::Error::other(e.to_string())))
            })??;
        f.done.store(covers, SeqCst);
        Ok(())
    }

    /// Blocking flush, for shutdown paths.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let r = self.health.check().and_then(|()| self.sync());
        if r.is_ok() {
            self.health.flushed();
        }
        self.health.watch(r)
    }

    /// sled's flush, then `fdatasync` of its log (see the `log` field).
    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        if let Some(log) = &self.log {
            log.sync_data().map_err(sled::Error::Io)?;
        }
        self.flusher
            .syncs
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }
}

#[cfg(test)]
mod tests;
