//! What the controllers run on: their shared context and watch caches, leader election,
//! `/metrics` and health, Events and status writes, schedules and backoff, and the errors they
//! report.

pub mod availability_window;
pub mod caches;
pub mod context;
pub mod counting_client;
pub mod crd_readiness;
pub mod error;
pub mod events;
pub mod health;
pub mod interval_schedule;
pub mod label_pair;
pub mod leadership;
pub mod metrics;
pub mod retry_backoff;
pub mod shared_watch;
pub mod status_writer;
