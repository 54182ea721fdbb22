//! Offline: manifests read from files, checked and evaluated by the same engine the cluster runs.

pub mod evaluate;
pub mod manifests;
pub mod references;
pub mod report;
pub mod unknown_fields;
