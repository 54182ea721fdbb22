//! The custom resources of API group `soberana.io`, version `v1alpha1`. The CRD YAML in `crds/`
//! is generated from these types (`make crds`).

// Each printer column repeats `type_ = …` inside its own `printcolumn(…)`, which this lint takes
// for a duplicated attribute.
#![allow(clippy::duplicated_attributes)]

pub mod availability;
pub mod capacity;
pub mod condition_types;
pub mod data_classification;
pub mod data_exchange;
pub mod jurisdiction;
pub mod manifest;
pub mod placement_rule;
pub mod quantity;
pub mod references;
pub mod schema_formats;
pub mod site;
pub mod site_nodes;
pub mod sovereignty;
pub mod tenant;
pub mod unknown_fields;
pub mod workload;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API group of every Soberana resource.
pub const GROUP: &str = "soberana.io";

/// Every Soberana CRD, in a stable order.
pub fn custom_resource_definitions() -> Vec<CustomResourceDefinition> {
    [
        site::Site::crd(),
        data_classification::DataClassification::crd(),
        placement_rule::PlacementRule::crd(),
        tenant::Tenant::crd(),
        workload::Workload::crd(),
        data_exchange::DataExchange::crd(),
    ]
    .into_iter()
    .map(schema_formats::without_unknown_formats)
    .collect()
}
