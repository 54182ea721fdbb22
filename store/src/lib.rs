//! What the API keeps between calls, behind one trait with two implementations: etcd for real
//! (capacity reservations bound to etcd leases, idempotency records, the hash-chained decision
//! ledger) and an in-memory twin with the same semantics for unit tests; and the ledger's signed
//! checkpoints on disk. Owns persistence only: it depends on `core` for the domain types and on
//! no gRPC, Kubernetes client or CLI crate, so both the API and the operator can use it.
//!
//! Reservations never overbook a site: `reserve` checks the reservations already held on each
//! site against its free capacity and writes in one transaction that fails if any of those
//! sites' reservations changed in between; the loser re-reads and either fits or gets
//! `Exhausted`.

pub mod checkpoint_files;
pub mod etcd;
pub mod etcd_security;
pub mod memory;
mod reservation_mirror;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use soberana_core::resources::capacity::Capacity;

use soberana_core::ledger::{LedgerRecord, NewRecord};

/// Capacity held on a site for a plan until `expires`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Held {
    pub plan: String,
    /// The tenant whose plan it is (empty in reservations written before tenants were kept).
    #[serde(default)]
    pub tenant: String,
    pub site: String,
    pub capacity: Capacity,
    /// Seconds since the Unix epoch.
    pub expires_unix: u64,
}

/// Why a store call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("site {site} has {free} free after reservations; the plan needs {needed}")]
    Exhausted {
        site: String,
        needed: Capacity,
        free: Capacity,
    },
    #[error("too many concurrent changes to {0}; try again")]
    Contended(String),
    #[error("stored data is not what Soberana wrote: {0}")]
    Corrupt(String),
    #[error("{0}")]
    OverQuota(String),
}

/// How much one tenant may hold in reservations at once, so that one agency cannot reserve
/// the data centre: plans holding reservations, and their capacity summed over sites.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantQuota {
    pub tenant: String,
    pub max_plans: usize,
    pub max_capacity: Capacity,
}

impl TenantQuota {
    /// No limit, for tests of everything else.
    pub fn unlimited(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            max_plans: usize::MAX,
            max_capacity: Capacity {
                cpu_millicores: u64::MAX,
                memory_mebibytes: u64::MAX,
                storage_gibibytes: u64::MAX,
            },
        }
    }

    /// Checks that `plan` holding `wanted` keeps the tenant within this quota, next to what
    /// its other plans hold among `held` (the plan's own earlier reservations are replaced).
    pub fn check(
        &self,
        plan: &str,
        wanted: &[(String, Capacity)],
        held: &[Held],
    ) -> Result<(), StoreError> {
        let others: Vec<&Held> = held
            .iter()
            .filter(|held| held.tenant == self.tenant && held.plan != plan)
            .collect();
        let mut plans: Vec<&str> = others.iter().map(|held| held.plan.as_str()).collect();
        plans.sort_unstable();
        plans.dedup();
        if plans.len() >= self.max_plans {
            return Err(StoreError::OverQuota(format!(
                "tenant {} already holds reservations for {} plans, its limit (--tenant-reservation-plans); submit or cancel one, or let it expire",
                self.tenant,
                plans.len()
            )));
        }
        let holding = others
            .iter()
            .fold(Capacity::default(), |sum, held| sum.plus(held.capacity));
        let adding = wanted
            .iter()
            .fold(Capacity::default(), |sum, (_, capacity)| {
                sum.plus(*capacity)
            });
        if !self.max_capacity.holds(holding.plus(adding)) {
            return Err(StoreError::OverQuota(format!(
                "tenant {} holds {holding} in reservations; this plan's {adding} more would pass its limit of {} (--tenant-reservation-percent of the data centre)",
                self.tenant, self.max_capacity
            )));
        }
        Ok(())
    }
}

/// The API's persistent state.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Every reservation not yet expired.
    async fn reservations(&self) -> Result<Vec<Held>, StoreError>;
    /// Holds `wanted` for `plan` of `quota`'s tenant until `ttl` passes, all or nothing,
    /// provided each site's reservations (these included) stay within its `free` capacity
    /// (capacity net of what is allocated, before reservations) and the tenant's stay within
    /// `quota`. A plan reserving again (a retry) replaces what it held.
    async fn reserve(
        &self,
        plan: &str,
        quota: &TenantQuota,
        wanted: &[(String, Capacity)],
        free: &BTreeMap<String, Capacity>,
        ttl: Duration,
    ) -> Result<Vec<Held>, StoreError>;
    /// Gives up `plan`'s reservations.
    async fn release(&self, plan: &str) -> Result<(), StoreError>;
    /// Stores `response` as the answer to (`method`, `request_id`) for `ttl`, unless an answer
    /// is already stored; returns the stored answer (the first one).
    async fn remember(
        &self,
        method: &str,
        request_id: &str,
        response: &[u8],
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError>;
    /// The stored answer to (`method`, `request_id`), if any.
    async fn recall(&self, method: &str, request_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Appends a record to the ledger, chained to the last one.
    async fn append(&self, record: NewRecord) -> Result<LedgerRecord, StoreError>;
    /// Appends a record unless one was appended under `key` before (a retry of the same
    /// request), in which case that earlier record is returned and nothing is appended.
    async fn append_once(&self, key: &str, record: NewRecord) -> Result<LedgerRecord, StoreError>;
    /// Up to `limit` records from sequence `from` on, in order.
    async fn records(&self, from: u64, limit: usize) -> Result<Vec<LedgerRecord>, StoreError>;
    /// The sequence of the last record (0 while the ledger is empty), read without a scan.
    async fn last_sequence(&self) -> Result<u64, StoreError>;
    /// Whether the store answers now.
    async fn healthy(&self) -> bool;
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// The reservations `plan` makes for `wanted`, expiring after `ttl` (at least a second).
pub(crate) fn held_for(
    plan: &str,
    tenant: &str,
    wanted: &[(String, Capacity)],
    ttl: Duration,
) -> Vec<Held> {
    let expires_unix = unix_now() + ttl.as_secs().max(1);
    wanted
        .iter()
        .map(|(site, capacity)| Held {
            plan: plan.to_owned(),
            tenant: tenant.to_owned(),
            site: site.clone(),
            capacity: *capacity,
            expires_unix,
        })
        .collect()
}

/// Checks that `wanted` fits next to `held` within `free`, site by site.
pub(crate) fn check_fits(
    wanted: &[(String, Capacity)],
    held: &[Held],
    free: &BTreeMap<String, Capacity>,
) -> Result<(), StoreError> {
    let mut needed: BTreeMap<&str, Capacity> = BTreeMap::new();
    for (site, capacity) in wanted {
        let total = needed.entry(site.as_str()).or_default();
        *total = total.plus(*capacity);
    }
    for (site, demand) in needed {
        let mut available = free.get(site).copied().unwrap_or_default();
        for reservation in held.iter().filter(|reservation| reservation.site == site) {
            available = available.minus(reservation.capacity);
        }
        if !available.holds(demand) {
            return Err(StoreError::Exhausted {
                site: site.to_owned(),
                needed: demand,
                free: available,
            });
        }
    }
    Ok(())
}
