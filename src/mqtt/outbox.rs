//! What smsgate publishes that must not be lost (received SMS, sent
//! results, statuses): written to the store by whoever makes it, in the
//! same flush as the change it reports, and taken out in order by the
//! bridge once the broker acknowledged it (QoS 1).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::store::{Store, StoreError, Table};

/// One publication.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Publication {
    /// The topic after `{prefix}/` (`received`, `sent`, `status`).
    pub topic: String,
    pub payload: String,
}

/// The durable queue of publications. Cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    table: Table<Publication>,
    store: Store,
    wake: Arc<Notify>,
}

impl Outbox {
    pub fn open(store: &Store) -> Result<Outbox, StoreError> {
        Ok(Outbox {
            table: store.table("mqtt_outbox")?,
            store: store.clone(),
            wake: Arc::new(Notify::new()),
        })
    }

    /// Queues `payload` for `{prefix}/{topic}` (durable with the next
    /// flush) and wakes the bridge.
    pub fn push(&self, topic: &str, payload: serde_json::Value) -> Result<(), StoreError> {
        let seq = self.store.next_id()?;
        self.table.put(
            &format!("{seq:020}"),
            &Publication {
                topic: topic.to_string(),
                payload: payload.to_string(),
            },
        )?;
        self.wake.notify_one();
        Ok(())
    }

    /// The oldest publication, with its queue key.
    pub fn head(&self) -> Result<Option<(String, Publication)>, StoreError> {
        self.table.iter_range("", None).next().transpose()
    }

    /// The broker has it.
    pub fn done(&self, key: &str) -> Result<(), StoreError> {
        self.table.remove(key).map(|_| ())
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.table.count()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Resolves when something was pushed since the last call.
    pub async fn pushed(&self) {
        self.wake.notified().await
    }

    /// Makes what was pushed durable (before an incoming publish is
    /// acknowledged).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush().await
    }
}
