//! `smsgate keys add|list|revoke`: API keys offline (the admin API does the
//! same online). Opens the store of the configuration (`store.dir`) or
//! `--dir`; a store held by a running smsgate cannot be opened (sled locks
//! it), and the command says so.

use std::path::{Path, PathBuf};

use crate::keys::{ApiKeys, KeyError, KeyRequest};
use crate::store::{Store, DEFAULT_CACHE_BYTES};

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysCommand {
    Add(KeyRequest),
    List,
    Revoke(String),
}

/// Runs one keys command; returns the exit code.
pub fn run(command: KeysCommand, config: Option<&Path>, dir: Option<PathBuf>) -> i32 {
    let dir = match super::store::store_dir(config, dir) {
        Ok(d) => d,
        Err(code) => return code,
    };
    let keys = match Store::open(&dir, DEFAULT_CACHE_BYTES).and_then(|s| ApiKeys::open(&s)) {
        Ok(k) => k,
        Err(e) => {
            eprintln!(
                "smsgate keys: cannot open the store at {} ({e}); \
                 while smsgate runs, use the admin API (POST /admin/api/keys) \
                 or stop it first (systemctl stop smsgate)",
                dir.display()
            );
            return 1;
        }
    };
    let done = match command {
        KeysCommand::Add(req) => keys.add(&req, chrono::Utc::now()).map(|k| {
            println!("key:            {}", k.name);
            println!("token:          {}", k.token);
            println!("webhook secret: {}", k.webhook_secret);
            println!("(shown this once: smsgate keeps the token only as a digest)");
        }),
        KeysCommand::List => keys.list().map_err(KeyError::from).map(|list| {
            if list.is_empty() {
                println!("no API keys");
            }
            for k in list {
                let last = k
                    .last_used
                    .map_or_else(|| "never".to_string(), |t| t.to_rfc3339());
                println!(
                    "{}\tcreated {}\tlast used {last}\t{} uses\twebhook {}\tmo {}",
                    k.name,
                    k.created_at.to_rfc3339(),
                    k.uses,
                    k.webhook_url.as_deref().unwrap_or("-"),
                    k.mo_url.as_deref().unwrap_or("-"),
                );
            }
        }),
        KeysCommand::Revoke(name) => match keys.revoke(&name) {
            Ok(true) => {
                println!("revoked {name}");
                Ok(())
            }
            Ok(false) => {
                eprintln!("smsgate keys: no key named {name}");
                return 1;
            }
            Err(e) => Err(e.into()),
        },
    };
    match done.and_then(|()| keys.flush().map_err(KeyError::from)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("smsgate keys: {e}");
            1
        }
    }
}
