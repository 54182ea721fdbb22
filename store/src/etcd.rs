//! The store on etcd. Keys, under a prefix (default `/soberana/`):
//!
//! - `reservations/<site>/<plan>`: a reservation, attached to an etcd lease of its TTL, so it
//!   disappears by itself; `reservation-guards/<site>` changes with every reservation on the
//!   site, and `reserve` commits only if no guard it read moved (optimistic concurrency);
//!   `reservation-tenant-guards/<tenant>` does the same for a tenant's quota;
//! - `requests/<method>/<request id>`: the first answer to a request, on a lease (24 h);
//! - `ledger/records/<sequence, 20 digits>` and `ledger/head` (last sequence and hash): `append`
//!   commits only if the head did not move since it was read; `ledger/appended/<key>` names the
//!   record appended for a retried request, so its retry appends nothing more.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use etcd_client::ConnectOptions;
use etcd_client::{Client, Compare, CompareOp, GetOptions, PutOptions, Txn, TxnOp};
use serde::{Deserialize, Serialize};
use soberana_core::resources::capacity::Capacity;

use super::etcd_security::{EtcdSecurity, describe};
use super::reservation_mirror::ReservationMirror;
use super::{Held, Store, StoreError, TenantQuota, check_fits, held_for, unix_now};
use soberana_core::ledger::{GENESIS, LedgerRecord, NewRecord};

/// Attempts of an optimistic transaction before giving up as contended.
const ATTEMPTS: usize = 16;
/// How long each etcd call may take before the store counts as unavailable.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(3);
/// How often the connection to etcd is pinged.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(5);
/// How long a read waits for the reservation mirror to catch up with this store's last write
/// before reading etcd directly.
const MIRROR_WAIT: Duration = Duration::from_secs(1);

/// The store on an etcd cluster.
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    prefix: String,
    /// Started by the first read of the reservations.
    mirror: Arc<OnceLock<Arc<ReservationMirror>>>,
    /// The etcd revision the reservations read next must reflect: this store's last reservation
    /// write, or the newest reservation it read directly.
    seen: Arc<AtomicI64>,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("EtcdStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Head {
    sequence: u64,
    hash: String,
}

impl EtcdStore {
    /// Connects to `endpoints` (e.g. `https://etcd-0:2379`); keys go under `prefix`. With
    /// `security`, over TLS (etcd's certificate checked against the CA, a client certificate
    /// presented) and as an etcd user. Over TLS or with a user, etcd is asked once here, so a
    /// wrong file, a certificate either side refuses or a wrong password fails the start, named
    /// by its flag; over plaintext without a user nothing is asked until the first call.
    pub async fn connect(
        endpoints: &[String],
        prefix: &str,
        security: &EtcdSecurity,
    ) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new()
            .with_connect_timeout(CALL_TIMEOUT)
            .with_timeout(CALL_TIMEOUT)
            // Pings on the connection, so that a watch on an unreachable etcd ends within
            // seconds instead of serving what it last saw.
            .with_keep_alive(KEEP_ALIVE_INTERVAL, CALL_TIMEOUT)
            .with_keep_alive_while_idle(true);
        let tls = security
            .tls(endpoints)
            .await
            .map_err(StoreError::Unavailable)?;
        let encrypted = tls.is_some();
        if let Some(tls) = tls {
            options = options.with_tls(tls);
        }
        if let Some((user, password)) = security.credentials().map_err(StoreError::Unavailable)? {
            if !encrypted {
                tracing::warn!(
                    %user,
                    "the etcd password goes over plaintext; use https:// endpoints"
                );
            }
            // etcd's tokens expire (after 5 minutes by default, and when etcd restarts): the
            // client authenticates again when etcd says so.
            options = options
                .with_user(user, password)
                .with_auto_token_refresh(true);
        }
        let client = Client::connect(endpoints, Some(options))
            .await
            .map_err(|error| security.refused(&error, encrypted))?;
        if encrypted {
            // A TLS setting etcd refuses fails the start, saying which, rather than every call.
            // (With a user this is the second call: authenticating was the first.)
            client
                .maintenance_client()
                .status()
                .await
                .map_err(|error| security.refused(&error, encrypted))?;
        }
        Ok(Self {
            client,
            prefix: prefix.to_owned(),
            mirror: Arc::default(),
            seen: Arc::default(),
        })
    }

    fn key(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn mirror(&self) -> &ReservationMirror {
        self.mirror.get_or_init(|| {
            ReservationMirror::start(self.client.clone(), self.key("reservations/"))
        })
    }

    /// Notes that reads must now reflect etcd `revision`.
    fn saw(&self, revision: i64) {
        self.seen.fetch_max(revision, Ordering::SeqCst);
    }

    /// The reservations on `site` and the guard revision they were read at.
    async fn site_reservations(&self, site: &str) -> Result<(Vec<Held>, i64), StoreError> {
        let mut kv = self.client.kv_client();
        let guard = kv
            .get(self.key(&format!("reservation-guards/{site}")), None)
            .await
            .map_err(unavailable)?;
        let guard_revision = guard.kvs().first().map_or(0, |kv| kv.mod_revision());
        let (held, newest) = self
            .prefixed_with_revision::<Held>(&format!("reservations/{site}/"))
            .await?;
        self.saw(newest);
        Ok((held, guard_revision))
    }

    async fn prefixed<T: serde::de::DeserializeOwned>(
        &self,
        rest: &str,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self.prefixed_with_revision(rest).await?.0)
    }

    /// The values under `rest`, and the newest revision among them.
    async fn prefixed_with_revision<T: serde::de::DeserializeOwned>(
        &self,
        rest: &str,
    ) -> Result<(Vec<T>, i64), StoreError> {
        let mut kv = self.client.kv_client();
        let response = kv
            .get(self.key(rest), Some(GetOptions::new().with_prefix()))
            .await
            .map_err(unavailable)?;
        let newest = response
            .kvs()
            .iter()
            .map(|kv| kv.mod_revision())
            .max()
            .unwrap_or(0);
        let values = response
            .kvs()
            .iter()
            .map(|kv| {
                serde_json::from_slice(kv.value()).map_err(|error| {
                    StoreError::Corrupt(format!("{}: {error}", String::from_utf8_lossy(kv.key())))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok((values, newest))
    }

    /// Appends `record` chained to the head; with `once`, only if no record was appended under
    /// that key before (then returns that record instead).
    async fn append_keyed(
        &self,
        record: NewRecord,
        once: Option<&str>,
    ) -> Result<LedgerRecord, StoreError> {
        let head_key = self.key("ledger/head");
        let once_key = once.map(|key| self.key(&format!("ledger/appended/{key}")));
        for _ in 0..ATTEMPTS {
            let head = self
                .client
                .kv_client()
                .get(head_key.clone(), None)
                .await
                .map_err(unavailable)?;
            let (previous, revision) = match head.kvs().first() {
                Some(kv) => (
                    serde_json::from_slice::<Head>(kv.value())
                        .map_err(|error| StoreError::Corrupt(format!("ledger head: {error}")))?,
                    kv.mod_revision(),
                ),
                None => (
                    Head {
                        sequence: 0,
                        hash: GENESIS.to_owned(),
                    },
                    0,
                ),
            };
            let chained = LedgerRecord::chain(record.clone(), previous.sequence, &previous.hash);
            let new_head = Head {
                sequence: chained.sequence,
                hash: chained.hash.clone(),
            };
            let record_key = self.key(&format!("ledger/records/{:020}", chained.sequence));
            let mut conditions = vec![
                Compare::mod_revision(head_key.clone(), CompareOp::Equal, revision),
                Compare::create_revision(record_key.clone(), CompareOp::Equal, 0),
            ];
            let mut writes = vec![
                TxnOp::put(record_key.clone(), encode(&chained)?, None),
                TxnOp::put(head_key.clone(), encode(&new_head)?, None),
            ];
            if let Some(once_key) = &once_key {
                conditions.push(Compare::create_revision(
                    once_key.clone(),
                    CompareOp::Equal,
                    0,
                ));
                writes.push(TxnOp::put(
                    once_key.clone(),
                    chained.sequence.to_string(),
                    None,
                ));
            }
            // A record is written once: if the head was deleted or rolled back, the next
            // sequence already exists and appending must fail rather than overwrite history.
            let committed = self
                .client
                .kv_client()
                .txn(Txn::new().when(conditions).and_then(writes))
                .await
                .map_err(unavailable)?
                .succeeded();
            if committed {
                return Ok(chained);
            }
            if let Some(earlier) = self.appended_under(once_key.as_deref()).await? {
                return Ok(earlier);
            }
            let existing = self
                .client
                .kv_client()
                .get(record_key, Some(GetOptions::new().with_count_only()))
                .await
                .map_err(unavailable)?;
            // The record exists: either another appender took this sequence since the head was
            // read (the head moved with it: contention, try again), or the head was deleted or
            // rolled back under an existing record (it did not move: refuse).
            if existing.count() > 0 && self.head_revision(&head_key).await? == revision {
                return Err(StoreError::Corrupt(format!(
                    "ledger record {} already exists but the head says the chain ends at {}: the head was deleted or rolled back; refusing to overwrite history",
                    chained.sequence, previous.sequence
                )));
            }
        }
        Err(StoreError::Contended("the ledger".to_owned()))
    }

    /// The head's modification revision (0 when there is none).
    async fn head_revision(&self, head_key: &str) -> Result<i64, StoreError> {
        let head = self
            .client
            .kv_client()
            .get(head_key, None)
            .await
            .map_err(unavailable)?;
        Ok(head.kvs().first().map_or(0, |kv| kv.mod_revision()))
    }

    /// The record appended under `once_key`, if any.
    async fn appended_under(
        &self,
        once_key: Option<&str>,
    ) -> Result<Option<LedgerRecord>, StoreError> {
        let Some(once_key) = once_key else {
            return Ok(None);
        };
        let found = self
            .client
            .kv_client()
            .get(once_key, None)
            .await
            .map_err(unavailable)?;
        let Some(kv) = found.kvs().first() else {
            return Ok(None);
        };
        let sequence = std::str::from_utf8(kv.value())
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{once_key}: not a sequence")))?;
        let earlier = self.records(sequence, 1).await?;
        match earlier.into_iter().next() {
            Some(record) if record.sequence == sequence => Ok(Some(record)),
            _ => Err(StoreError::Corrupt(format!(
                "{once_key} names ledger record {sequence}, which does not exist"
            ))),
        }
    }

    async fn lease(&self, ttl: Duration) -> Result<i64, StoreError> {
        let seconds = i64::try_from(ttl.as_secs().max(1)).unwrap_or(i64::MAX);
        Ok(self
            .client
            .lease_client()
            .grant(seconds, None)
            .await
            .map_err(unavailable)?
            .id())
    }
}

impl EtcdStore {
    /// One all-or-nothing write of a plan's reservations: it commits only if no site guard and not
    /// the tenant's guard moved since they were read, and it moves them all; it also gives back
    /// what the plan held on sites it no longer wants.
    fn reservation_transaction(
        &self,
        plan: &str,
        (tenant_guard, tenant_revision): (&str, i64),
        guards: &[(&str, i64)],
        made: &[Held],
        elsewhere: &[String],
        lease: i64,
    ) -> Result<Txn, StoreError> {
        let mut compares: Vec<Compare> = guards
            .iter()
            .map(|(site, revision)| {
                Compare::mod_revision(
                    self.key(&format!("reservation-guards/{site}")),
                    CompareOp::Equal,
                    *revision,
                )
            })
            .collect();
        compares.push(Compare::mod_revision(
            tenant_guard.to_owned(),
            CompareOp::Equal,
            tenant_revision,
        ));
        let mut operations = vec![TxnOp::put(
            tenant_guard.to_owned(),
            plan.as_bytes().to_vec(),
            None,
        )];
        for reservation in made {
            operations.push(TxnOp::put(
                self.key(&format!("reservations/{}/{plan}", reservation.site)),
                encode(reservation)?,
                Some(PutOptions::new().with_lease(lease)),
            ));
        }
        for site in elsewhere {
            operations.push(TxnOp::delete(
                self.key(&format!("reservations/{site}/{plan}")),
                None,
            ));
        }
        for (site, _) in guards {
            operations.push(TxnOp::put(
                self.key(&format!("reservation-guards/{site}")),
                plan.as_bytes().to_vec(),
                None,
            ));
        }
        Ok(Txn::new().when(compares).and_then(operations))
    }
}

fn unavailable(error: etcd_client::Error) -> StoreError {
    StoreError::Unavailable(describe(&error))
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}

#[async_trait::async_trait]
impl Store for EtcdStore {
    async fn reservations(&self) -> Result<Vec<Held>, StoreError> {
        let since = self.seen.load(Ordering::SeqCst);
        if let Some(held) = self.mirror().held_since(since, MIRROR_WAIT).await {
            return Ok(held);
        }
        let (held, newest) = self.prefixed_with_revision::<Held>("reservations/").await?;
        self.saw(newest);
        let now = unix_now();
        Ok(held
            .into_iter()
            .filter(|held| held.expires_unix > now)
            .collect())
    }

    async fn reserve(
        &self,
        plan: &str,
        quota: &TenantQuota,
        wanted: &[(String, Capacity)],
        free: &BTreeMap<String, Capacity>,
        ttl: Duration,
    ) -> Result<Vec<Held>, StoreError> {
        let mut sites: Vec<&str> = wanted.iter().map(|(site, _)| site.as_str()).collect();
        sites.sort_unstable();
        sites.dedup();
        // A retry that chose other sites gives back what it held elsewhere, in the same
        // transaction (freeing capacity needs no guard).
        let elsewhere: Vec<String> = self
            .reservations()
            .await?
            .into_iter()
            .filter(|held| held.plan == plan && !sites.contains(&held.site.as_str()))
            .map(|held| held.site)
            .collect();
        let tenant_guard = self.key(&format!("reservation-tenant-guards/{}", quota.tenant));
        for _ in 0..ATTEMPTS {
            let mut held = Vec::new();
            let mut guards = Vec::new();
            // The tenant's guard moves with each of its plans' reservations, so two plans of
            // one tenant racing past its quota cannot both commit.
            let tenant_revision = self
                .client
                .kv_client()
                .get(tenant_guard.clone(), None)
                .await
                .map_err(unavailable)?
                .kvs()
                .first()
                .map_or(0, |kv| kv.mod_revision());
            let everything: Vec<Held> = self.prefixed("reservations/").await?;
            quota.check(plan, wanted, &everything)?;
            for site in &sites {
                let (site_held, revision) = self.site_reservations(site).await?;
                // The plan's own earlier reservations (a retry) are replaced, not added to.
                held.extend(site_held.into_iter().filter(|held| held.plan != plan));
                guards.push((*site, revision));
            }
            check_fits(wanted, &held, free)?;
            let lease = self.lease(ttl).await?;
            let made = held_for(plan, &quota.tenant, wanted, ttl);
            let transaction = self.reservation_transaction(
                plan,
                (&tenant_guard, tenant_revision),
                &guards,
                &made,
                &elsewhere,
                lease,
            )?;
            let response = self
                .client
                .kv_client()
                .txn(transaction)
                .await
                .map_err(unavailable)?;
            if response.succeeded() {
                self.saw(response.header().map_or(0, |header| header.revision()));
                return Ok(made);
            }
            // Someone reserved on one of these sites meanwhile: give the lease back, re-read.
            let _ = self.client.lease_client().revoke(lease).await;
        }
        Err(StoreError::Contended("reservations".to_owned()))
    }

    async fn release(&self, plan: &str) -> Result<(), StoreError> {
        let held: Vec<Held> = self.prefixed("reservations/").await?;
        let mut kv = self.client.kv_client();
        for reservation in held.iter().filter(|held| held.plan == plan) {
            let deleted = kv
                .delete(
                    self.key(&format!("reservations/{}/{plan}", reservation.site)),
                    None,
                )
                .await
                .map_err(unavailable)?;
            if deleted.deleted() > 0 {
                self.saw(deleted.header().map_or(0, |header| header.revision()));
            }
        }
        Ok(())
    }

    async fn remember(
        &self,
        method: &str,
        request_id: &str,
        response: &[u8],
        ttl: Duration,
    ) -> Result<Vec<u8>, StoreError> {
        let key = self.key(&format!("requests/{method}/{request_id}"));
        let lease = self.lease(ttl).await?;
        let outcome = self
            .client
            .kv_client()
            .txn(
                Txn::new()
                    .when(vec![Compare::create_revision(
                        key.clone(),
                        CompareOp::Equal,
                        0,
                    )])
                    .and_then(vec![TxnOp::put(
                        key.clone(),
                        response.to_vec(),
                        Some(PutOptions::new().with_lease(lease)),
                    )])
                    .or_else(vec![TxnOp::get(key, None)]),
            )
            .await
            .map_err(unavailable)?;
        if outcome.succeeded() {
            return Ok(response.to_vec());
        }
        let _ = self.client.lease_client().revoke(lease).await;
        first_value(outcome.op_responses()).ok_or_else(|| {
            StoreError::Corrupt(format!("the answer to request {request_id} vanished"))
        })
    }

    async fn recall(&self, method: &str, request_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let response = self
            .client
            .kv_client()
            .get(self.key(&format!("requests/{method}/{request_id}")), None)
            .await
            .map_err(unavailable)?;
        Ok(response.kvs().first().map(|kv| kv.value().to_vec()))
    }

    async fn append(&self, record: NewRecord) -> Result<LedgerRecord, StoreError> {
        self.append_keyed(record, None).await
    }

    async fn append_once(&self, key: &str, record: NewRecord) -> Result<LedgerRecord, StoreError> {
        self.append_keyed(record, Some(key)).await
    }

    async fn last_sequence(&self) -> Result<u64, StoreError> {
        let head = self
            .client
            .kv_client()
            .get(self.key("ledger/head"), None)
            .await
            .map_err(unavailable)?;
        match head.kvs().first() {
            Some(kv) => serde_json::from_slice::<Head>(kv.value())
                .map(|head| head.sequence)
                .map_err(|error| StoreError::Corrupt(format!("ledger head: {error}"))),
            None => Ok(0),
        }
    }

    async fn records(&self, from: u64, limit: usize) -> Result<Vec<LedgerRecord>, StoreError> {
        let start = self.key(&format!("ledger/records/{:020}", from.max(1)));
        let end = self.key("ledger/records0");
        let options = GetOptions::new()
            .with_range(end)
            .with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        let response = self
            .client
            .kv_client()
            .get(start, Some(options))
            .await
            .map_err(unavailable)?;
        response
            .kvs()
            .iter()
            .map(|kv| {
                serde_json::from_slice(kv.value())
                    .map_err(|error| StoreError::Corrupt(format!("ledger record: {error}")))
            })
            .collect()
    }

    async fn healthy(&self) -> bool {
        self.client.maintenance_client().status().await.is_ok()
    }
}

/// The value of the first `get` among a transaction's responses.
fn first_value(responses: Vec<etcd_client::TxnOpResponse>) -> Option<Vec<u8>> {
    responses.into_iter().find_map(|response| match response {
        etcd_client::TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.value().to_vec()),
        _ => None,
    })
}
