//! The data centre as placement sees it (Sites, DataClassifications, PlacementRules, Tenants),
//! and the agreements between institutions (DataExchanges), kept in memory by watches on the
//! management cluster, so that an `Evaluate`, a plan or a listing costs no list calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use kube::runtime::reflector::{self, Store};
use kube::{Api, Client};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::data_exchange::DataExchange;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_runtime::watch_cache::fill;

/// Read side of the watched objects.
#[derive(Clone)]
pub struct InventoryCache {
    pub sites: Store<Site>,
    pub classifications: Store<DataClassification>,
    pub rules: Store<PlacementRule>,
    pub tenants: Store<Tenant>,
    /// Not part of placement: a change to an agreement leaves the engine's snapshot as it is.
    pub exchanges: Store<DataExchange>,
    /// Counts the changes seen by any of the watches, so that what is derived from the
    /// objects (the engine's snapshot) is rebuilt only when they changed.
    changes: Arc<AtomicU64>,
}

impl std::fmt::Debug for InventoryCache {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("InventoryCache")
            .field("sites", &self.sites.state().len())
            .field("tenants", &self.tenants.state().len())
            .finish_non_exhaustive()
    }
}

impl InventoryCache {
    /// Starts the watches (in tasks of their own, for the life of the process).
    pub fn start(kube: &Client) -> Self {
        let changes = Arc::new(AtomicU64::new(0));
        Self {
            sites: watched(Api::all(kube.clone()), &changes),
            classifications: watched(Api::all(kube.clone()), &changes),
            rules: watched(Api::all(kube.clone()), &changes),
            tenants: watched(Api::all(kube.clone()), &changes),
            exchanges: watched(Api::all(kube.clone()), &Arc::new(AtomicU64::new(0))),
            changes,
        }
    }

    /// How many changes the watches have applied so far: equal counts mean equal objects.
    /// Read before reading the objects (a change is applied before it is counted, so the
    /// objects read are at least as new as the count).
    pub fn version(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Waits until every watch holds its first list.
    pub async fn wait_until_ready(&self) {
        let _ = futures::join!(
            self.sites.wait_until_ready(),
            self.classifications.wait_until_ready(),
            self.rules.wait_until_ready(),
            self.tenants.wait_until_ready(),
            self.exchanges.wait_until_ready(),
        );
    }
}

/// A store filled by its own watch for the life of the process, counting each change.
fn watched<K>(api: Api<K>, changes: &Arc<AtomicU64>) -> Store<K>
where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let changes = Arc::clone(changes);
    let count = move || {
        changes.fetch_add(1, Ordering::SeqCst);
    };
    fill(api, writer, std::future::pending(), count);
    reader
}
