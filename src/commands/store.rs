//! `smsgate store export FILE` / `smsgate store import FILE`: offline
//! backup and restore of the sled store as JSON lines (see
//! [`crate::store::Store::export_all`]). The store directory comes from the
//! configuration (`store.dir`) or `--dir`. A store held by a running
//! smsgate cannot be opened (sled locks it), and the command says so.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::store::{Store, DEFAULT_CACHE_BYTES};

/// Export or import.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Export,
    Import,
}

/// The store directory: `dir`, or the configuration's `store.dir`. A
/// configuration that cannot be loaded is reported, and the exit code
/// (2) handed back.
pub fn store_dir(config: Option<&Path>, dir: Option<PathBuf>) -> Result<PathBuf, i32> {
    match dir {
        Some(d) => Ok(d),
        None => match Config::load(config) {
            Ok(c) => Ok(c.store.resolved_dir()),
            Err(e) => {
                for p in &e.problems {
                    eprintln!("{p}");
                }
                Err(2)
            }
        },
    }
}

/// Runs one store command; returns the exit code.
pub fn run(direction: Direction, file: &Path, config: Option<&Path>, dir: Option<PathBuf>) -> i32 {
    let dir = match store_dir(config, dir) {
        Ok(d) => d,
        Err(code) => return code,
    };
    if direction == Direction::Export && !dir.exists() {
        eprintln!("smsgate store: no store at {}", dir.display());
        return 1;
    }
    let store = match Store::open(&dir, DEFAULT_CACHE_BYTES) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "smsgate store: cannot open the store at {} ({e}); \
                 if smsgate is running, stop it first (systemctl stop smsgate)",
                dir.display()
            );
            return 1;
        }
    };
    let done = match direction {
        Direction::Export => File::create(file)
            .map_err(Into::into)
            .and_then(|f| store.export_all(BufWriter::new(f))),
        Direction::Import => File::open(file)
            .map_err(Into::into)
            .and_then(|f| store.import_all(BufReader::new(f))),
    };
    match done {
        Ok(n) => {
            let verb = match direction {
                Direction::Export => "exported to",
                Direction::Import => "imported from",
            };
            println!(
                "{n} records {verb} {} (store {})",
                file.display(),
                dir.display()
            );
            0
        }
        Err(e) => {
            eprintln!("smsgate store: {}: {e}", file.display());
            1
        }
    }
}
