//! The `soberana-api` gRPC server: thin handlers that validate requests into core types, call the
//! engine, the store or Kubernetes, and convert back. Every call is authenticated and authorized
//! through the management cluster (see `auth`) and counted (method, code, duration).

pub mod auth;
pub mod caches;
pub mod checkpoints;
pub mod convert;
pub mod in_flight;
pub mod limits;
pub mod proposed_objects;
pub mod rpc_metrics;
pub mod serve;
pub mod services;
pub mod transport_policy;
pub mod validation;

use soberana_runtime::locking::lock;
use std::sync::Arc;

use kube::Client;
use soberana_core::placement::{Reservation, Snapshot};
use tonic::Status;

use crate::server::auth::{Access, Caller};
use crate::server::caches::inventory::InventoryCache;
use crate::server::limits::callers::Refusal;
use rpc_metrics::RpcMetrics;
use soberana_store::{Store, StoreError};

/// What every handler shares.
#[derive(Clone)]
pub struct Shared {
    /// The management cluster, as the API's own ServiceAccount.
    pub kube: Client,
    pub store: Arc<dyn Store>,
    pub metrics: RpcMetrics,
    /// The data centre, watched.
    pub inventory: InventoryCache,
    pub auth: Arc<crate::server::auth::cache::AuthCache>,
    /// Failed authentications per client address, to refuse token guessing.
    pub failures: Arc<crate::server::auth::failures::AuthFailures>,
    pub snapshots: Arc<crate::server::caches::snapshots::SnapshotCache>,
    /// Mutating requests at work on this replica, which retries join.
    pub in_flight: Arc<in_flight::InFlight>,
    /// Woken after each ledger append, so checkpoints follow the ledger's growth.
    pub ledger_appended: Arc<tokio::sync::Notify>,
    pub reservation_limits: serve::ReservationLimits,
    /// Server streams per caller, and how long each lasts.
    pub streams: Arc<crate::server::limits::streams::StreamSlots>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Shared")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The request's caller, unless its address has failed to authenticate too often lately.
    pub async fn authenticate<T>(&self, request: &tonic::Request<T>) -> Result<Caller, Status> {
        let address = request.remote_addr().map(|address| address.ip());
        let now = std::time::Instant::now();
        if let Some(wait) = address.and_then(|address| self.failures.refused_for(address, now)) {
            let refusal = Refusal::FailedAuthentications {
                limit: self.failures.limit(),
                window: self.failures.window(),
                wait,
            };
            return Err(refusal.answer(self.streams.settings(), &self.metrics));
        }
        let result = self.auth.authenticate(&self.kube, request.metadata()).await;
        if let (Err(status), Some(address)) = (&result, address)
            && status.code() == tonic::Code::Unauthenticated
        {
            self.failures.failed(address, now);
        }
        result
    }

    /// A slot for one more `method` stream of `caller` (see [`stream_slots`]).
    pub fn open_stream(
        &self,
        method: &str,
        caller: &Caller,
    ) -> Result<crate::server::limits::streams::StreamSlot, Status> {
        self.streams
            .open(&caller.user, self.metrics.open_stream(method))
            .map_err(|refusal| refusal.answer(self.streams.settings(), &self.metrics))
    }

    /// Authenticates the request's caller and authorizes `verb` on `resource` in `namespace`.
    pub async fn allow<T>(
        &self,
        request: &tonic::Request<T>,
        verb: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<Caller, Status> {
        let caller = self.authenticate(request).await?;
        self.auth
            .authorize(&self.kube, &caller, &Access::to(verb, resource, namespace))
            .await?;
        Ok(caller)
    }

    /// Runs one call of `method`, counting it by status code and timing it (also when it is
    /// abandoned half-way because its deadline passed).
    pub async fn measured<T>(
        &self,
        method: &str,
        call: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let mut unfinished = rpc_metrics::Unfinished {
            metrics: &self.metrics,
            method,
            started: std::time::Instant::now(),
            finished: false,
        };
        let result = call.await;
        unfinished.finished = true;
        self.metrics.observe(method, unfinished.started, &result);
        result
    }

    /// Waits (only right after start) until the watched inventory holds its first list.
    pub async fn inventory_ready(&self) -> Result<&InventoryCache, Status> {
        tokio::time::timeout(INVENTORY_WAIT, self.inventory.wait_until_ready())
            .await
            .map_err(|_| {
                Status::unavailable(
                    "the data centre's inventory has not loaded from the management cluster yet",
                )
            })?;
        Ok(&self.inventory)
    }

    /// The engine's view of the data centre now, counting `reservations`.
    pub async fn snapshot(&self, reservations: Vec<Reservation>) -> Result<Arc<Snapshot>, Status> {
        let inventory = self.inventory_ready().await?;
        self.snapshots
            .snapshot(inventory, reservations)
            .map_err(|error| {
                Status::failed_precondition(format!(
                    "the data centre's objects are inconsistent: {error}"
                ))
            })
    }
}

/// How long a call waits for the inventory's first load (only right after start).
const INVENTORY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A Kubernetes API error as a gRPC status.
pub fn kube_status(error: kube::Error) -> Status {
    match error {
        kube::Error::Api(status) if status.code == 404 => Status::not_found(status.message),
        kube::Error::Api(status) if status.code == 409 => Status::already_exists(status.message),
        kube::Error::Api(status) if status.code == 422 || status.code == 400 => {
            Status::invalid_argument(status.message)
        }
        kube::Error::Api(status) if status.code == 410 => {
            Status::invalid_argument(format!("the page token expired: {}", status.message))
        }
        other => Status::unavailable(format!("the Kubernetes API: {other}")),
    }
}

/// A store error as a gRPC status.
pub fn store_status(error: StoreError) -> Status {
    match error {
        StoreError::Unavailable(_) => Status::unavailable(error.to_string()),
        StoreError::Exhausted { .. } | StoreError::OverQuota(_) => {
            Status::resource_exhausted(error.to_string())
        }
        StoreError::Contended(_) => Status::aborted(error.to_string()),
        StoreError::Corrupt(_) => Status::internal(error.to_string()),
    }
}
