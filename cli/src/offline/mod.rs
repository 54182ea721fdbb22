//! Offline: manifests read from files, checked as the API server checks them, and evaluated by
//! the same engine the cluster runs.

pub mod evaluate;
pub mod field_error;
pub mod manifests;
pub mod references;
pub mod report;
pub mod schema_formats;
pub mod schema_validation;
pub mod server_view;
pub mod unknown_fields;
