//! Offline: manifests read from files, checked as the API server checks them, and evaluated by
//! the same engine the cluster runs.

pub mod cel_rules;
pub mod crd_validation;
pub mod evaluate;
pub mod exchanges;
pub mod field_error;
pub mod list_maps;
pub mod manifests;
pub mod object_meta;
pub mod references;
pub mod report;
pub mod schema_formats;
pub mod schema_validation;
pub mod server_view;
pub mod slo_rules;
pub mod what_if;
pub mod what_if_report;
