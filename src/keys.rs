//! API keys: who a program is. A key has a name, a token shown once and
//! kept only as its SHA-256 digest (compared in constant time), a webhook
//! secret (the HMAC key of its webhooks, used as given), and optional
//! webhook and MO URLs. Kept in the store (`api_keys`), so `smsgate keys`
//! manages them offline and the admin API online.
//!
//! Owns the keys' records and checks; it never serves HTTP.

use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Store, StoreError, Table};

/// A key as stored: no secret in the clear but the webhook secret, which
/// the gateway needs to sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct KeyRecord {
    name: String,
    /// Lowercase hex SHA-256 of the token.
    token_sha256: String,
    webhook_secret: String,
    webhook_url: Option<String>,
    mo_url: Option<String>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    last_used: Option<DateTime<Utc>>,
    #[serde(default)]
    uses: u64,
}

/// A key as listed: no token, no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub name: String,
    pub webhook_url: Option<String>,
    pub mo_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used: Option<DateTime<Utc>>,
    /// Requests authenticated with it.
    pub uses: u64,
}

/// A key just made: its token and webhook secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NewKey {
    pub name: String,
    pub token: String,
    pub webhook_secret: String,
}

/// What a new key is asked with.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    pub name: String,
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// A Kannel `get-url` style template for incoming SMS (`%p`, `%a`...).
    #[serde(default)]
    pub mo_url: Option<String>,
}

/// Why a key cannot be made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key name is 1 to 64 letters, digits, `-` or `_`")]
    InvalidName,
    #[error("`{0}` is not an http:// or https:// URL")]
    InvalidUrl(String),
    #[error("a token is 32 to 128 letters, digits, `-` or `_`")]
    InvalidToken,
    #[error("a key named `{0}` exists")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A conversation a key opened: its session's secret, never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Owned {
    key: String,
    session: String,
    opened_at: DateTime<Utc>,
}

/// Where a key's events go, and what signs them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookTarget {
    pub webhook_url: Option<String>,
    pub mo_url: Option<String>,
    pub webhook_secret: String,
}

/// The conversation a key last held with a number (on a short code): where
/// its late and stray replies go, and what a Kannel `sendsms` continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub key: String,
    /// The conversation's public id.
    pub conversation: String,
    /// Its session's secret.
    pub session: String,
}

/// A POST answered once, kept for its `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// SHA-256 of what was asked: the same key with another request is
    /// refused, not answered with the first one's answer.
    pub fingerprint: String,
    pub answer: crate::gateway::api::SendAnswer,
    pub at: DateTime<Utc>,
}

/// A message's Kannel `dlr-url` and `dlr-mask`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DlrRequest {
    pub url: String,
    pub mask: u8,
}

/// How long an ended conversation stays known to its key (410 rather than
/// 404, late replies to its pairs sent to the key).
pub const CONVERSATIONS_KEPT: chrono::Duration = chrono::Duration::days(30);

/// How long an `Idempotency-Key` is remembered.
pub const IDEMPOTENCY_KEPT: chrono::Duration = chrono::Duration::hours(24);

/// The keys of the appliance and the conversations they own. Cheap to
/// clone.
#[derive(Clone)]
pub struct ApiKeys {
    table: Table<KeyRecord>,
    conversations: Table<Owned>,
    /// `{number}|{short_code}` → the key's conversation on that pair.
    pairs: Table<Holder>,
    /// `{key}|{number}` → the key's last conversation with that number.
    numbers: Table<Holder>,
    /// `{key}\u{1f}{idempotency key}` → the first answer.
    idempotency: Table<Remembered>,
    /// `{session secret}/{message id}` → its Kannel DLR request.
    dlr: Table<DlrRequest>,
    store: Store,
}

/// `sg_` and 48 hex digits: 192 random bits, URL-safe (letters, digits, `_`).
fn new_secret() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("sg_{}", hex::encode(bytes))
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A token: 32 to 128 letters, digits, `-` or `_`.
pub fn valid_token(token: &str) -> bool {
    (32..=128).contains(&token.len())
        && token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn valid_url(url: &Option<String>) -> Result<(), KeyError> {
    match url.as_deref() {
        None => Ok(()),
        Some(u)
            if (u.starts_with("http://") || u.starts_with("https://"))
                && u.len() > "https://".len()
                && !u.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        Some(u) => Err(KeyError::InvalidUrl(u.to_string())),
    }
}

impl ApiKeys {
    pub fn open(store: &Store) -> Result<ApiKeys, StoreError> {
        Ok(ApiKeys {
            table: store.table("api_keys")?,
            conversations: store.table("api_conversations")?,
            pairs: store.table("api_pairs")?,
            numbers: store.table("api_numbers")?,
            idempotency: store.table("api_idempotency")?,
            dlr: store.table("api_dlr")?,
            store: store.clone(),
        })
    }

    /// Where key `name`'s events go (`None`: it was revoked).
    pub fn hook_target(&self, name: &str) -> Result<Option<HookTarget>, StoreError> {
        Ok(self.table.get(name)?.map(|k| HookTarget {
            webhook_url: k.webhook_url,
            mo_url: k.mo_url,
            webhook_secret: k.webhook_secret,
        }))
    }

    /// Every owned conversation: (key, public id, session secret).
    pub fn owned_conversations(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.conversations
            .iter_range("", None)
            .map(|r| r.map(|(public, o)| (o.key, public, o.session)))
            .collect()
    }

    /// Key `holder.key`'s conversation now holds `number` on `short_code`.
    pub fn hold(&self, number: &str, short_code: &str, holder: &Holder) -> Result<(), StoreError> {
        self.pairs.put(&format!("{number}|{short_code}"), holder)?;
        self.numbers
            .put(&format!("{}|{number}", holder.key), holder)
    }

    /// The key's conversation that last held `number` on `short_code`.
    pub fn holder_of_pair(
        &self,
        number: &str,
        short_code: &str,
    ) -> Result<Option<Holder>, StoreError> {
        self.pairs.get(&format!("{number}|{short_code}"))
    }

    /// Key `key`'s last conversation with `number` (live or not).
    pub fn holder_of_number(&self, key: &str, number: &str) -> Result<Option<Holder>, StoreError> {
        self.numbers.get(&format!("{key}|{number}"))
    }

    fn idempotency_key(key: &str, idem: &str) -> String {
        format!("{key}\u{1f}{idem}")
    }

    /// The first answer to key `key`'s request `idem`, if it is still
    /// remembered.
    pub fn remembered(&self, key: &str, idem: &str) -> Result<Option<Remembered>, StoreError> {
        self.idempotency.get(&Self::idempotency_key(key, idem))
    }

    /// Remembers the answer to key `key`'s request `idem` (flushed with
    /// the send it answers).
    pub fn remember(&self, key: &str, idem: &str, r: &Remembered) -> Result<(), StoreError> {
        self.idempotency.put(&Self::idempotency_key(key, idem), r)
    }

    /// Forgets answers older than [`IDEMPOTENCY_KEPT`], and conversations
    /// opened more than [`CONVERSATIONS_KEPT`] ago that `live` says have
    /// ended, with the pairs they held (their late replies then reach no
    /// key); returns how many records went.
    pub fn prune(
        &self,
        now: DateTime<Utc>,
        live: impl Fn(&str) -> bool,
    ) -> Result<u64, StoreError> {
        let mut n = 0;
        for item in self.idempotency.iter_range("", None) {
            let (k, r) = item?;
            if now - r.at > IDEMPOTENCY_KEPT {
                self.idempotency.remove(&k)?;
                n += 1;
            }
        }
        let mut gone = std::collections::HashSet::new();
        for item in self.conversations.iter_range("", None) {
            let (public, o) = item?;
            if now - o.opened_at > CONVERSATIONS_KEPT && !live(&o.session) {
                self.conversations.remove(&public)?;
                gone.insert(public);
                n += 1;
            }
        }
        if !gone.is_empty() {
            for table in [&self.pairs, &self.numbers] {
                for item in table.iter_range("", None) {
                    let (k, h) = item?;
                    if gone.contains(&h.conversation) {
                        table.remove(&k)?;
                        n += 1;
                    }
                }
            }
        }
        Ok(n)
    }

    /// Message `message` of session `session` asked for Kannel DLRs.
    pub fn want_dlr(
        &self,
        session: &str,
        message: &str,
        dlr: &DlrRequest,
    ) -> Result<(), StoreError> {
        self.dlr.put(&format!("{session}/{message}"), dlr)
    }

    /// The DLR request of message `message` of session `session`.
    pub fn dlr_of(&self, session: &str, message: &str) -> Result<Option<DlrRequest>, StoreError> {
        self.dlr.get(&format!("{session}/{message}"))
    }

    /// Drops the DLR requests of session `session` (it ended).
    pub fn drop_dlrs(&self, session: &str) -> Result<(), StoreError> {
        let start = format!("{session}/");
        let end = format!("{session}0");
        for item in self.dlr.iter_range(&start, Some(&end)) {
            let (k, _) = item?;
            self.dlr.remove(&k)?;
        }
        Ok(())
    }

    /// Key `key` owns the session whose secret is `session`, known to it as
    /// `public` (the session's public id).
    pub fn own(
        &self,
        key: &str,
        public: &str,
        session: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.conversations.put(
            public,
            &Owned {
                key: key.to_string(),
                session: session.to_string(),
                opened_at: now,
            },
        )
    }

    /// The secret of conversation `public` when key `key` owns it.
    pub fn owned(&self, key: &str, public: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conversations
            .get(public)?
            .filter(|o| o.key == key)
            .map(|o| o.session))
    }

    /// Makes what was changed durable (before a key is shown or a
    /// revocation confirmed).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.store.flush_blocking()
    }

    /// Makes key `req.name`; its token and webhook secret are in the answer
    /// and nowhere else in the clear (the token is kept as a digest).
    pub fn add(&self, req: &KeyRequest, now: DateTime<Utc>) -> Result<NewKey, KeyError> {
        self.add_with_token(req, None, now)
    }

    /// [`ApiKeys::add`] with the token given (the development key of the
    /// embedded network, whose token a test configuration may fix): at
    /// least 32 URL-safe characters.
    pub fn add_with_token(
        &self,
        req: &KeyRequest,
        token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<NewKey, KeyError> {
        if token.is_some_and(|t| !valid_token(t)) {
            return Err(KeyError::InvalidToken);
        }
        if !valid_name(&req.name) {
            return Err(KeyError::InvalidName);
        }
        valid_url(&req.webhook_url)?;
        valid_url(&req.mo_url)?;
        if self.table.contains(&req.name)? {
            return Err(KeyError::Exists(req.name.clone()));
        }
        let token = token.map_or_else(new_secret, str::to_string);
        let webhook_secret = new_secret();
        self.table.put(
            &req.name,
            &KeyRecord {
                name: req.name.clone(),
                token_sha256: digest(&token),
                webhook_secret: webhook_secret.clone(),
                webhook_url: req.webhook_url.clone(),
                mo_url: req.mo_url.clone(),
                created_at: now,
                last_used: None,
                uses: 0,
            },
        )?;
        Ok(NewKey {
            name: req.name.clone(),
            token,
            webhook_secret,
        })
    }

    /// Every key, by name, without secrets.
    pub fn list(&self) -> Result<Vec<KeyInfo>, StoreError> {
        self.table
            .iter_range("", None)
            .map(|r| r.map(|(_, k)| info(&k)))
            .collect()
    }

    /// Revokes key `name`: its token stops working at once. `false` when
    /// there is none.
    pub fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.table.remove(name)?.is_some())
    }

    /// The key `token` belongs to (and, when given, that is named `name`),
    /// counting the use. Every key's digest is compared in constant time,
    /// so the answer's timing tells nothing of how close a guess was.
    pub fn authenticate(
        &self,
        name: Option<&str>,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<KeyInfo>, StoreError> {
        let presented = digest(token);
        let mut found = None;
        for item in self.table.iter_range("", None) {
            let (_, k) = item?;
            let same: bool = k.token_sha256.as_bytes().ct_eq(presented.as_bytes()).into();
            if same && name.is_none_or(|n| n == k.name) {
                found = Some(k);
            }
        }
        let Some(mut k) = found else {
            return Ok(None);
        };
        k.last_used = Some(now);
        k.uses += 1;
        self.table.put(&k.name, &k)?;
        Ok(Some(info(&k)))
    }
}

fn info(k: &KeyRecord) -> KeyInfo {
    KeyInfo {
        name: k.name.clone(),
        webhook_url: k.webhook_url.clone(),
        mo_url: k.mo_url.clone(),
        created_at: k.created_at,
        last_used: k.last_used,
        uses: k.uses,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(name: &str) -> KeyRequest {
        KeyRequest {
            name: name.into(),
            webhook_url: Some("http://127.0.0.1:9/hook".into()),
            mo_url: None,
        }
    }

    #[test]
    fn a_key_is_made_shown_once_used_and_revoked() {
        let store = Store::temporary().unwrap();
        let keys = ApiKeys::open(&store).unwrap();
        let now = crate::gateway::t(0);
        let k = keys.add(&req("crm"), now).unwrap();
        assert!(k.token.len() >= 32);
        assert!(k
            .token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(k.token, k.webhook_secret);
        // Stored as a digest: the token is nowhere in the store.
        let dump = {
            let mut out = Vec::new();
            store.export_all(&mut out).unwrap();
            String::from_utf8_lossy(&out).into_owned()
        };
        assert!(!dump.contains(&k.token));
        assert!(matches!(
            keys.add(&req("crm"), now),
            Err(KeyError::Exists(_))
        ));
        let used = keys.authenticate(None, &k.token, now).unwrap().unwrap();
        assert_eq!(used.name, "crm");
        assert!(keys
            .authenticate(Some("crm"), &k.token, now)
            .unwrap()
            .is_some());
        assert!(keys
            .authenticate(Some("other"), &k.token, now)
            .unwrap()
            .is_none());
        assert!(keys.authenticate(None, "sg_wrong", now).unwrap().is_none());
        let listed = keys.list().unwrap();
        assert_eq!(listed[0].uses, 2);
        assert_eq!(listed[0].last_used, Some(now));
        assert!(keys.revoke("crm").unwrap());
        assert!(keys.authenticate(None, &k.token, now).unwrap().is_none());
        assert!(!keys.revoke("crm").unwrap());
    }

    #[test]
    fn names_and_urls_are_checked() {
        let store = Store::temporary().unwrap();
        let keys = ApiKeys::open(&store).unwrap();
        let now = crate::gateway::t(0);
        for bad in ["", "a b", "ñ", &"x".repeat(65)] {
            assert!(
                matches!(keys.add(&req(bad), now), Err(KeyError::InvalidName)),
                "{bad:?}"
            );
        }
        let mut r = req("ok");
        r.webhook_url = Some("ftp://x".into());
        assert!(matches!(keys.add(&r, now), Err(KeyError::InvalidUrl(_))));
        assert!(keys.list().unwrap().is_empty(), "nothing made");
    }

    #[test]
    fn old_ended_conversations_and_their_pairs_are_forgotten() {
        let store = Store::temporary().unwrap();
        let keys = ApiKeys::open(&store).unwrap();
        let t0 = crate::gateway::t(0);
        let holder = |c: &str, s: &str| Holder {
            key: "crm".into(),
            conversation: c.into(),
            session: s.into(),
        };
        keys.own("crm", "old", "s-old", t0).unwrap();
        keys.hold("+18095551234", "2222", &holder("old", "s-old"))
            .unwrap();
        keys.own("crm", "live", "s-live", t0).unwrap();
        keys.hold("+18295551234", "2222", &holder("live", "s-live"))
            .unwrap();
        let later = t0 + CONVERSATIONS_KEPT + chrono::Duration::days(1);
        let r = Remembered {
            fingerprint: "f".into(),
            answer: crate::gateway::api::SendAnswer {
                session: crate::gateway::api::SessionRef {
                    id: "s-old".into(),
                    expires_at: t0,
                },
                message: None,
                recipients: vec![],
            },
            at: t0,
        };
        keys.remember("crm", "k1", &r).unwrap();
        // Three records of the old conversation and the idempotency answer.
        assert_eq!(keys.prune(later, |s| s == "s-live").unwrap(), 4);
        assert_eq!(keys.owned("crm", "old").unwrap(), None);
        assert!(keys
            .holder_of_pair("+18095551234", "2222")
            .unwrap()
            .is_none());
        assert!(keys
            .holder_of_number("crm", "+18095551234")
            .unwrap()
            .is_none());
        assert!(keys.remembered("crm", "k1").unwrap().is_none());
        // The live one stays, however old.
        assert_eq!(
            keys.owned("crm", "live").unwrap().as_deref(),
            Some("s-live")
        );
        assert!(keys
            .holder_of_pair("+18295551234", "2222")
            .unwrap()
            .is_some());
        assert_eq!(keys.prune(t0, |_| false).unwrap(), 0, "nothing young goes");
    }
}
