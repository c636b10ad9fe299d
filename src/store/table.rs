//! A typed table: serde values under versioned string keys in one sled tree.
//! Every error goes through the store's [`Health`] on its way out.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{Health, StoreError};

/// Version prefix of every key; bump it (and migrate) to change a format.
const KEY_VERSION: &str = "v1/";

/// Values of type `T` by key.
pub struct Table<T> {
    name: &'static str,
    tree: sled::Tree,
    health: Arc<Health>,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Table<T> {
    fn clone(&self) -> Self {
        Table {
            name: self.name,
            tree: self.tree.clone(),
            health: self.health.clone(),
            _t: PhantomData,
        }
    }
}

fn key(k: &str) -> Vec<u8> {
    let mut out = KEY_VERSION.as_bytes().to_vec();
    out.extend_from_slice(k.as_bytes());
    out
}

/// The end of the versioned key space (every `v1/…` key sorts below it).
fn key_space_end() -> Vec<u8> {
    let mut out = KEY_VERSION.as_bytes().to_vec();
    out.push(0xff);
    out
}

impl<T: Serialize + DeserializeOwned + 'static> Table<T> {
    pub(super) fn new(name: &'static str, tree: sled::Tree, health: Arc<Health>) -> Self {
        Table {
            name,
            tree,
            health,
            _t: PhantomData,
        }
    }

    /// The table's name (for logs).
    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn put(&self, k: &str, value: &T) -> Result<(), StoreError> {
        self.health.watch(self.put_inner(k, value))
    }

    fn put_inner(&self, k: &str, value: &T) -> Result<(), StoreError> {
        self.health.check()?;
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            table: self.name,
            source,
        })?;
        self.tree.insert(key(k), bytes)?;
        Ok(())
    }

    pub fn get(&self, k: &str) -> Result<Option<T>, StoreError> {
        self.health.watch(match self.tree.get(key(k)) {
            Err(e) => Err(e.into()),
            Ok(None) => Ok(None),
            Ok(Some(bytes)) => self.decode(&bytes).map(Some),
        })
    }

    pub fn remove(&self, k: &str) -> Result<Option<T>, StoreError> {
        self.health.watch(
            self.health
                .check()
                .and_then(|()| match self.tree.remove(key(k))? {
                    None => Ok(None),
                    Some(bytes) => self.decode(&bytes).map(Some),
                }),
        )
    }

    pub fn contains(&self, k: &str) -> Result<bool, StoreError> {
        self.health
            .watch(self.tree.contains_key(key(k)).map_err(StoreError::from))
    }

    /// Every (key, value) in key order. A record that cannot be read is an
    /// error, never silently skipped.
    pub fn all(&self) -> Result<Vec<(String, T)>, StoreError> {
        self.range_from("")
    }

    /// Every (key, value) with key ≥ `start`, in key order.
    pub fn range_from(&self, start: &str) -> Result<Vec<(String, T)>, StoreError> {
        self.iter_range(start, None).collect()
    }

    /// (key, value) with `start` ≤ key < `end` (no end: to the last), in
    /// key order, read lazily: only what is asked for is read.
    pub fn iter_range(
        &self,
        start: &str,
        end: Option<&str>,
    ) -> impl Iterator<Item = Result<(String, T), StoreError>> + Send + 'static {
        let end = end.map_or_else(key_space_end, key);
        let this = self.clone();
        self.tree.range(key(start)..end).map(move |item| {
            let (k, v) = this.health.watch(item.map_err(StoreError::from))?;
            let k = k.strip_prefix(KEY_VERSION.as_bytes()).unwrap_or(&k);
            let value = this.health.watch(this.decode(&v))?;
            Ok((String::from_utf8_lossy(k).into_owned(), value))
        })
    }

    /// Removes every key < `end`; returns how many were removed.
    pub fn remove_before(&self, end: &str) -> Result<u64, StoreError> {
        self.health.watch(self.remove_before_inner(end))
    }

    fn remove_before_inner(&self, end: &str) -> Result<u64, StoreError> {
        self.health.check()?;
        let mut n = 0;
        for k in self.tree.range(key("")..key(end)).keys() {
            self.tree.remove(k?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Removes every record.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.health.watch(
            self.health
                .check()
                .and_then(|()| self.tree.clear().map_err(StoreError::from)),
        )
    }

    /// Counts the records: a scan of the whole table, for tests and
    /// one-off migrations, never for a request path.
    pub fn count(&self) -> usize {
        self.tree.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tree.is_empty()
    }

    fn decode(&self, bytes: &[u8]) -> Result<T, StoreError> {
        serde_json::from_slice(bytes).map_err(|source| StoreError::Decode {
            table: self.name,
            source,
        })
    }
}
