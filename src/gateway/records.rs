//! What the gateway persists besides the session core's state: outbox
//! entries, the TP-MR references that map delivery reports back, and the
//! per-recipient progress of multipart deliveries.

use crate::modem::types::PartRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One message to one recipient that a modem still has to send (or that
/// failed for good, kept for the admin).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxRecord {
    pub message_id: u64,
    pub session_id: String,
    pub to: String,
    pub short_code: String,
    pub text: String,
    pub concat_ref: u8,
    pub queued_at: DateTime<Utc>,
    /// `None` while queued; the reason once it failed for good.
    pub failed: Option<String>,
    /// Tries that failed for a passing reason so far.
    #[serde(default)]
    pub attempts: u32,
}

impl OutboxRecord {
    /// Its key: message order first, so a restart sends in order.
    pub fn key(&self) -> String {
        outbox_key(self.message_id, &self.to)
    }
}

pub fn outbox_key(message_id: u64, to: &str) -> String {
    format!("{message_id:020}/{to}")
}

/// A sent part waiting for its delivery report: `{short_code}/{mr}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefRecord {
    pub message_id: u64,
    pub session_id: String,
    pub to: String,
    pub parts: usize,
}

pub fn ref_key(short_code: &str, part: &PartRef) -> String {
    format!("{short_code}/{part}")
}

/// Reports seen so far for (message, recipient): delivered when every part
/// is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub delivered_parts: usize,
}
