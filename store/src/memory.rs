//! The in-memory twin of the etcd store, with the same semantics (expiry included), for unit
//! tests of the API's handlers.

use std::collections::BTreeMap;
use std::time::Duration;

use soberana_core::resources::capacity::Capacity;
use tokio::sync::Mutex;

use super::{Held, Store, StoreError, TenantQuota, check_fits, held_for, unix_now};
use soberana_core::ledger::{GENESIS, LedgerRecord, NewRecord};

/// Everything in one lock: each call is one transaction.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    reservations: Vec<Held>,
    /// (method, request id) → (answer, expiry).
    answers: BTreeMap<(String, String), (Vec<u8>, u64)>,
    ledger: Vec<LedgerRecord>,
    /// Sequence appended under each `append_once` key.
    appended: BTreeMap<String, u64>,
}

impl State {
    fn append(&mut self, record: NewRecord) -> LedgerRecord {
        let (sequence, hash) = self.ledger.last().map_or((0, GENESIS.to_owned()), |last| {
            (last.sequence, last.hash.clone())
        });
        let chained = LedgerRecord::chain(record, sequence, &hash);
        self.ledger.push(chained.clone());
        chained
    }

    fn expire(&mut self) {
        let now = unix_now();
        self.reservations.retain(|held| held.expires_unix > now);
        self.answers.retain(|_, (_, expires)| *expires > now);
    }
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    async fn reservations(&self) -> Result<Vec<Held>, StoreError> {
        let mut state = self.state.lock().await;
        state.expire();
        Ok(state.reservations.clone())
    }

    async fn reserve(
        &self,
        plan: &str,
        quota: &TenantQuota,
        wanted: &[(String, Capacity)],
        free: &BTreeMap<String, Capacity>,
        ttl: Duration,
    ) -> Result<Vec<Held>, StoreError> {
        let mut state = self.state.lock().await;
        state.expire();
        let others: Vec<Held> = state
            .reservations
            .iter()
            .filter(|held| held.plan != plan)
            .cloned()
            .collect();
        check_fits(wanted, &others, free)?;
        quota.check(plan, wanted, &others)?;
        let made = held_for(plan, &quota.tenant, wanted, ttl);
        state.reservations = others;
        state.reservations.extend(made.iter().cloned());
        Ok(made)
    }

    async fn release(&self, plan: &str) -> Result<(), StoreError> {
        self.state
            .lock()
            .await
            .reservations
            .retain(|held| held.plan != plan);
        Ok(())
    }

    async fn remember(
        &self,
        method: &str,
        request_id: &str,
        response: &[u8],
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        let mut state = self.state.lock().await;
        state.expire();
        let expires = unix_now() + ttl.as_secs().max(1);
        let (stored, _) = state
            .answers
            .entry((method.to_owned(), request_id.to_owned()))
            .or_insert_with(|| (response.to_vec(), expires));
        Ok(stored.clone())
    }

    async fn recall(&self, method: &str, request_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut state = self.state.lock().await;
        state.expire();
        Ok(state
            .answers
            .get(&(method.to_owned(), request_id.to_owned()))
            .map(|(answer, _)| answer.clone()))
    }

    async fn append(&self, record: NewRecord) -> Result<LedgerRecord, StoreError> {
        Ok(self.state.lock().await.append(record))
    }

    async fn append_once(&self, key: &str, record: NewRecord) -> Result<LedgerRecord, StoreError> {
        let mut state = self.state.lock().await;
        if let Some(sequence) = state.appended.get(key) {
            let index = usize::try_from(*sequence - 1).unwrap_or(usize::MAX);
            return state.ledger.get(index).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("{key} names a record that does not exist"))
            });
        }
        let chained = state.append(record);
        state.appended.insert(key.to_owned(), chained.sequence);
        Ok(chained)
    }

    async fn last_sequence(&self) -> Result<u64, StoreError> {
        let state = self.state.lock().await;
        Ok(state.ledger.last().map_or(0, |last| last.sequence))
    }

    async fn records(&self, from: u64, limit: usize) -> Result<Vec<LedgerRecord>, StoreError> {
        let state = self.state.lock().await;
        Ok(state
            .ledger
            .iter()
            .filter(|record| record.sequence >= from)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn healthy(&self) -> bool {
        true
    }
}
