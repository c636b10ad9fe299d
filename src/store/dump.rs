//! Export and import of a whole store as JSON lines, for backups and moves
//! between machines: a header line (`{"format": ..., "next_id": ...}`),
//! then one line per record, `{"tree": ..., "key": ..., "value": ...}`,
//! every tree and key in order. Keys and values are kept byte for byte:
//! as UTF-8 text when they are (always, for what smsgate writes), else as
//! hex under `key_hex` / `value_hex`. Only offline use: the caller opened
//! the store, so no running smsgate holds it.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, FORMAT};

/// Errors of export and import.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("dump: {0}")]
    Io(#[from] std::io::Error),
    #[error("dump line {line}: {problem}")]
    Bad { line: usize, problem: String },
    #[error("dump has format {found:?}, this smsgate reads {FORMAT:?}")]
    Format { found: String },
    #[error(
        "the target store is not empty (tree {tree:?} has records); import only into a new store"
    )]
    NotEmpty { tree: String },
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    next_id: u64,
}

#[derive(Serialize, Deserialize)]
struct Record {
    tree: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    key_hex: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    value_hex: Option<String>,
}

/// The `meta` tree holds the format marker, which [`Store::open`] wrote.
const META: &str = "meta";

fn text_or_hex(bytes: &[u8]) -> (Option<String>, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (Some(s.to_string()), None),
        Err(_) => (None, Some(hex::encode(bytes))),
    }
}

fn bytes_of(
    text: Option<String>,
    hexed: Option<String>,
    line: usize,
) -> Result<Vec<u8>, DumpError> {
    match (text, hexed) {
        (Some(t), None) => Ok(t.into_bytes()),
        (None, Some(h)) => hex::decode(h).map_err(|e| DumpError::Bad {
            line,
            problem: e.to_string(),
        }),
        _ => Err(DumpError::Bad {
            line,
            problem: "needs exactly one of key/key_hex and of value/value_hex".into(),
        }),
    }
}

impl Store {
    /// Writes every tree, key and value to `out`; returns the record count.
    pub fn export_all(&self, mut out: impl Write) -> Result<u64, DumpError> {
        let header = Header {
            format: FORMAT.to_string(),
            // The id counter, so ids made after an import never repeat one.
            next_id: self.db.generate_id().map_err(StoreError::from)?,
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&header).map_err(std::io::Error::from)?
        )?;
        let mut names = self.db.tree_names();
        names.sort();
        let mut count = 0;
        for name in names {
            let tree_name = String::from_utf8_lossy(&name).into_owned();
            let tree = self.db.open_tree(&name).map_err(StoreError::from)?;
            for item in tree.iter() {
                let (k, v) = item.map_err(StoreError::from)?;
                let (key, key_hex) = text_or_hex(&k);
                let (value, value_hex) = text_or_hex(&v);
                let record = Record {
                    tree: tree_name.clone(),
                    key,
                    key_hex,
                    value,
                    value_hex,
                };
                writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&record).map_err(std::io::Error::from)?
                )?;
                count += 1;
            }
        }
        out.flush()?;
        Ok(count)
    }

    /// Reads a dump made by [`Store::export_all`] into this store, which
    /// must be new (nothing but its format marker), then flushes it.
    /// Returns the record count.
    pub fn import_all(&self, input: impl BufRead) -> Result<u64, DumpError> {
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name).map_err(StoreError::from)?;
            let only_format = name.as_ref() == META.as_bytes() && tree.len() <= 1;
            if !tree.is_empty() && !only_format {
                return Err(DumpError::NotEmpty {
                    tree: String::from_utf8_lossy(&name).into_owned(),
                });
            }
        }
        let mut lines = input.lines().enumerate();
        let header: Header = match lines.next() {
            None => {
                return Err(DumpError::Bad {
                    line: 1,
                    problem: "empty file".into(),
                })
            }
            Some((_, line)) => serde_json::from_str(&line?).map_err(|e| DumpError::Bad {
                line: 1,
                problem: e.to_string(),
            })?,
        };
        if header.format != FORMAT {
            return Err(DumpError::Format {
                found: header.format,
            });
        }
        let mut count = 0;
        for (i, line) in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(&line).map_err(|e| DumpError::Bad {
                line: i + 1,
                problem: e.to_string(),
            })?;
            let key = bytes_of(record.key, record.key_hex, i + 1)?;
            let value = bytes_of(record.value, record.value_hex, i + 1)?;
            let tree = self.db.open_tree(&record.tree).map_err(StoreError::from)?;
            tree.insert(key, value).map_err(StoreError::from)?;
            count += 1;
        }
        // Ids made from now on must be past every imported one.
        while self.db.generate_id().map_err(StoreError::from)? < header.next_id {}
        self.flush_blocking()?;
        Ok(count)
    }
}
