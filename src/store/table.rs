//! A typed table: serde values under versioned string keys in one sled tree.

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;

/// Version prefix of every key; bump it (and migrate) to change a format.
const KEY_VERSION: &str = "v1/";

/// Values of type `T` by key.
#[derive(Clone)]
pub struct Table<T> {
    name: &'static str,
    tree: sled::Tree,
    _t: PhantomData<fn() -> T>,
}

fn key(k: &str) -> Vec<u8> {
    let mut out = KEY_VERSION.as_bytes().to_vec();
    out.extend_from_slice(k.as_bytes());
    out
}

impl<T: Serialize + DeserializeOwned> Table<T> {
    pub(super) fn new(name: &'static str, tree: sled::Tree) -> Self {
        Table {
            name,
            tree,
            _t: PhantomData,
        }
    }

    pub fn put(&self, k: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|source| StoreError::Encode {
            table: self.name,
            source,
        })?;
        self.tree.insert(key(k), bytes)?;
        Ok(())
    }

    pub fn get(&self, k: &str) -> Result<Option<T>, StoreError> {
        match self.tree.get(key(k))? {
            None => Ok(None),
            Some(bytes) => self.decode(&bytes).map(Some),
        }
    }

    pub fn remove(&self, k: &str) -> Result<Option<T>, StoreError> {
        match self.tree.remove(key(k))? {
            None => Ok(None),
            Some(bytes) => self.decode(&bytes).map(Some),
        }
    }

    pub fn contains(&self, k: &str) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(key(k))?)
    }

    /// Every (key, value) in key order. A record that cannot be read is an
    /// error, never silently skipped.
    pub fn all(&self) -> Result<Vec<(String, T)>, StoreError> {
        self.range_from("")
    }

    /// Every (key, value) with key ≥ `start`, in key order.
    pub fn range_from(&self, start: &str) -> Result<Vec<(String, T)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.range(key(start)..) {
            let (k, v) = item?;
            let Some(k) = k.strip_prefix(KEY_VERSION.as_bytes()) else {
                continue;
            };
            out.push((String::from_utf8_lossy(k).into_owned(), self.decode(&v)?));
        }
        Ok(out)
    }

    pub fn len(&self) -> usize {
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
