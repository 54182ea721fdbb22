//! The management-cluster objects the controllers read on every reconcile, kept in memory by
//! watches instead of being listed again and again: Sites, Tenants, DataClassifications,
//! PlacementRules, Workloads (whose placement the agreements follow) and the site kubeconfig
//! Secrets in their namespace (`--site-secrets-namespace`).

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, Store, store::Writer};
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

/// Read side, shared by every reconcile.
#[derive(Clone)]
pub struct Caches {
    pub sites: Store<Site>,
    pub tenants: Store<Tenant>,
    pub classifications: Store<DataClassification>,
    pub rules: Store<PlacementRule>,
    pub workloads: Store<Workload>,
    pub secrets: Store<Secret>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Caches")
            .field("sites", &self.sites.state().len())
            .field("tenants", &self.tenants.state().len())
            .field("classifications", &self.classifications.state().len())
            .field("rules", &self.rules.state().len())
            .field("workloads", &self.workloads.state().len())
            .field("secrets", &self.secrets.state().len())
            .finish()
    }
}

/// Write side: each goes to the one watch stream that fills its store.
pub struct CacheWriters {
    pub sites: Writer<Site>,
    pub tenants: Writer<Tenant>,
    pub classifications: Writer<DataClassification>,
    pub rules: Writer<PlacementRule>,
    pub workloads: Writer<Workload>,
    pub secrets: Writer<Secret>,
}

impl std::fmt::Debug for CacheWriters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CacheWriters")
            .finish_non_exhaustive()
    }
}

/// Empty caches and the writers that will fill them.
pub fn caches() -> (Caches, CacheWriters) {
    let (sites, sites_writer) = reflector::store();
    let (tenants, tenants_writer) = reflector::store();
    let (classifications, classifications_writer) = reflector::store();
    let (rules, rules_writer) = reflector::store();
    let (workloads, workloads_writer) = reflector::store();
    let (secrets, secrets_writer) = reflector::store();
    (
        Caches {
            sites,
            tenants,
            classifications,
            rules,
            workloads,
            secrets,
        },
        CacheWriters {
            sites: sites_writer,
            tenants: tenants_writer,
            classifications: classifications_writer,
            rules: rules_writer,
            workloads: workloads_writer,
            secrets: secrets_writer,
        },
    )
}

impl Caches {
    /// Resolves once every cache holds its first list (or its watch is gone, at shutdown).
    pub async fn wait_until_ready(&self) {
        let _ = futures::join!(
            self.sites.wait_until_ready(),
            self.tenants.wait_until_ready(),
            self.classifications.wait_until_ready(),
            self.rules.wait_until_ready(),
            self.workloads.wait_until_ready(),
            self.secrets.wait_until_ready(),
        );
    }
}

pub use soberana_runtime::watch_cache::cached;
