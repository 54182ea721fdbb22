//! The management-cluster objects the controllers read on every reconcile, kept in memory by
//! one watch per kind instead of being listed again and again: Sites, Tenants,
//! DataClassifications, PlacementRules, Workloads (whose placement the agreements follow) and
//! the site kubeconfig Secrets in their namespace (`--site-secrets-namespace`). Each object is
//! held once: the controllers reconcile from these stores and follow their change feeds (see
//! `shared_watch`).

use k8s_openapi::api::core::v1::Secret;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::placement_rule::PlacementRule;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;

use super::shared_watch::{Feed, Shared, as_is, shared};

/// Read side, shared by every reconcile and controller.
#[derive(Clone)]
pub struct Caches {
    pub sites: Shared<Site>,
    pub tenants: Shared<Tenant>,
    pub classifications: Shared<DataClassification>,
    pub rules: Shared<PlacementRule>,
    pub workloads: Shared<Workload>,
    pub secrets: Shared<Secret>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Caches")
            .field("sites", &self.sites.store().state().len())
            .field("tenants", &self.tenants.store().state().len())
            .field(
                "classifications",
                &self.classifications.store().state().len(),
            )
            .field("rules", &self.rules.store().state().len())
            .field("workloads", &self.workloads.store().state().len())
            .field("secrets", &self.secrets.store().state().len())
            .finish()
    }
}

/// Write side: each goes to the one watch that fills its store.
pub struct CacheWriters {
    pub sites: Feed<Site>,
    pub tenants: Feed<Tenant>,
    pub classifications: Feed<DataClassification>,
    pub rules: Feed<PlacementRule>,
    pub workloads: Feed<Workload>,
    pub secrets: Feed<Secret>,
}

impl std::fmt::Debug for CacheWriters {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CacheWriters")
            .finish_non_exhaustive()
    }
}

/// Empty caches and the writers that will fill them. A Workload's template over the size limit
/// is not kept (the Workload is reported instead), so memory stays bounded whatever is written.
pub fn caches() -> (Caches, CacheWriters) {
    let (sites, sites_writer) = shared(as_is);
    let (tenants, tenants_writer) = shared(as_is);
    let (classifications, classifications_writer) = shared(as_is);
    let (rules, rules_writer) = shared(as_is);
    let (workloads, workloads_writer) = shared(|workload: &mut Workload| {
        workload.spec.drop_template_over_limit();
    });
    let (secrets, secrets_writer) = shared(as_is);
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
            self.sites.store().wait_until_ready(),
            self.tenants.store().wait_until_ready(),
            self.classifications.store().wait_until_ready(),
            self.rules.store().wait_until_ready(),
            self.workloads.store().wait_until_ready(),
            self.secrets.store().wait_until_ready(),
        );
    }
}

pub use soberana_runtime::watch_cache::cached;
