//! The Soberana operator: controllers that keep member clusters in line with the policy held in
//! the management cluster. Built on `core` (every decision) and `store` (appending placement
//! decisions to the ledger); it must not depend on the API server or the CLI.

pub mod availability_window;
pub mod caches;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod counting_client;
pub mod crd_manifests;
pub mod crd_readiness;
pub mod drift;
pub mod error;
pub mod events;
pub mod health;
pub mod interval_schedule;
pub mod kubeconfig_safety;
pub mod leadership;
pub mod member_policy_watches;
pub mod metrics;
pub mod residency_controller;
pub mod residency_policies;
pub mod site_connections;
pub mod site_controller;
pub mod status_writer;
pub mod tenant_controller;
pub mod violation_scan;
pub mod whole_replace;
pub mod workload_controller;
pub mod workload_sites;
