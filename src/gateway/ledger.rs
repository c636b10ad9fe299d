//! The ledger: charge records (R10) and out-of-session replies (R7), kept
//! by time so that an admin read costs the range asked for, not the whole
//! history, and old records can be dropped by range (`[store]
//! keep_records`).
//!
//! Every record is derived from a journaled [`crate::session::Change`]:
//! its key is its time and its number from the session core's ledger
//! counters, so a replayed change writes the same record under the same
//! key (idempotent) and a crash between the journal and the ledger loses
//! nothing. The counts live in the session state (`CoreState::ledger`):
//! `/metrics` reads them without a scan.

use chrono::{DateTime, Utc};

use crate::session::{MoOutcome, Routed};
use crate::store::{Store, StoreError, Table};

use super::api::{ChargeItem, OutOfSessionItem};
use super::views;

/// Charges and out-of-session records by time.
#[derive(Clone)]
pub struct Ledger {
    charges: Table<ChargeItem>,
    out_of_session: Table<OutOfSessionItem>,
}

/// A time as a key that sorts as the time does (UTC, fixed width).
pub fn time_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn record_key(t: DateTime<Utc>, n: u64) -> String {
    format!("{}/{n:020}", time_key(t))
}

impl Ledger {
    /// Opens the ledger, moving records of the id-keyed tables of earlier
    /// versions (`charges`, `out_of_session`) into the time-keyed ones.
    pub fn open(store: &Store) -> Result<Ledger, StoreError> {
        let ledger = Ledger {
            charges: store.table("ledger_charges")?,
            out_of_session: store.table("ledger_out_of_session")?,
        };
        let old_charges = store.table::<ChargeItem>("charges")?;
        let old_out = store.table::<OutOfSessionItem>("out_of_session")?;
        if !old_charges.is_empty() || !old_out.is_empty() {
            let mut moved = 0;
            for item in old_charges.iter_range("", None) {
                let (k, c) = item?;
                let n = k.parse().unwrap_or(0);
                ledger.charges.put(&record_key(c.time, n), &c)?;
                moved += 1;
            }
            for item in old_out.iter_range("", None) {
                let (k, r) = item?;
                let n = k.parse().unwrap_or(0);
                ledger
                    .out_of_session
                    .put(&record_key(r.received_at, n), &r)?;
                moved += 1;
            }
            store.flush_blocking()?;
            old_charges.clear()?;
            old_out.clear()?;
            tracing::info!(moved, "ledger records moved to the time-ordered tables");
        }
        Ok(ledger)
    }

    /// Writes the records `outcome` stands for: one charge per part, and
    /// the out-of-session record when it reached no session. Writing them
    /// again (a replay) changes nothing.
    pub fn record(&self, outcome: &MoOutcome) -> Result<(), StoreError> {
        if let Routed::OutOfSession { record } = &outcome.routed {
            let item = OutOfSessionItem {
                from: record.from.0.clone(),
                short_code: record.short_code.0.clone(),
                text: record.text.clone(),
                received_at: record.received_at,
                auto_replied: record.auto_reply.is_some(),
            };
            self.out_of_session
                .put(&record_key(record.received_at, record.id), &item)?;
        }
        for part in 1..=outcome.parts {
            let item = views::charge_item(outcome.first_charge, part, outcome.parts, &outcome.cdr);
            let n = outcome.first_charge + u64::from(part) - 1;
            self.charges.put(&record_key(outcome.cdr.time, n), &item)?;
        }
        Ok(())
    }

    /// Charges with `from` ≤ time < `to`, oldest first, read as they are
    /// consumed.
    pub fn charges(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = Result<ChargeItem, StoreError>> + Send + 'static {
        range(&self.charges, from, to)
    }

    /// Out-of-session replies with `from` ≤ time < `to`, oldest first.
    pub fn out_of_session(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> impl Iterator<Item = Result<OutOfSessionItem, StoreError>> + Send + 'static {
        range(&self.out_of_session, from, to)
    }

    /// Drops every record older than `before`; returns how many.
    pub fn prune(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let end = time_key(before);
        Ok(self.charges.remove_before(&end)? + self.out_of_session.remove_before(&end)?)
    }
}

fn range<T: serde::Serialize + serde::de::DeserializeOwned + Send + 'static>(
    table: &Table<T>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> impl Iterator<Item = Result<T, StoreError>> + Send + 'static {
    let start = from.map(time_key).unwrap_or_default();
    let end = to.map(time_key);
    table
        .iter_range(&start, end.as_deref())
        .map(|r| r.map(|(_, v)| v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::gateway::t;
    use crate::session::{Applied, Change, CoreConfig, SessionCore, ShortCode};

    fn reply(core: &mut SessionCore, from: &str, parts: u32, at: i64) -> MoOutcome {
        let Applied::Reply(out) = core.apply(&Change::Reply {
            from: from.into(),
            short_code: ShortCode("+18095550100".into()),
            text: "hola".into(),
            parts,
            at: t(at),
        }) else {
            panic!("a reply")
        };
        *out
    }

    fn core() -> SessionCore {
        let mut cfg = CoreConfig::from_config(&Config::default()).unwrap();
        cfg.pool = vec![ShortCode("+18095550100".into())];
        SessionCore::new(cfg)
    }

    /// R10: one charge per part; R7: the out-of-session record; a replay
    /// writes nothing twice; reads and pruning follow the time range.
    #[test]
    fn records_by_time_once_each_and_pruned_by_range() {
        let store = Store::temporary().unwrap();
        let ledger = Ledger::open(&store).unwrap();
        let mut c = core();
        let a = reply(&mut c, "+18095551111", 3, 0);
        let b = reply(&mut c, "+18095552222", 1, 3600);
        for o in [&a, &b, &a] {
            ledger.record(o).unwrap();
        }
        assert_eq!(c.state().ledger.charges, 4);
        assert_eq!(c.state().ledger.out_of_session, 2);
        let all: Vec<_> = ledger.charges(None, None).map(Result::unwrap).collect();
        assert_eq!(all.len(), 4);
        let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "2", "3"]);
        let later: Vec<_> = ledger
            .charges(Some(t(60)), Some(t(7200)))
            .map(Result::unwrap)
            .collect();
        assert_eq!(later.len(), 1);
        assert_eq!(later[0].number, "+18095552222");
        assert_eq!(ledger.out_of_session(None, Some(t(1))).count(), 1);
        assert_eq!(ledger.prune(t(60)).unwrap(), 4);
        assert_eq!(ledger.charges(None, None).count(), 1);
        assert_eq!(ledger.out_of_session(None, None).count(), 1);
    }

    /// Stores of earlier versions kept records by id: they move once.
    #[test]
    fn id_keyed_records_of_earlier_versions_move_to_time_order() {
        let store = Store::temporary().unwrap();
        let mut c = core();
        let o = reply(&mut c, "+18095551111", 1, 0);
        store
            .table::<ChargeItem>("charges")
            .unwrap()
            .put("00000000000000000007", &views::charge_item(7, 1, 1, &o.cdr))
            .unwrap();
        let ledger = Ledger::open(&store).unwrap();
        let all: Vec<_> = ledger.charges(None, None).map(Result::unwrap).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, "7");
        assert!(store.table::<ChargeItem>("charges").unwrap().is_empty());
    }
}
