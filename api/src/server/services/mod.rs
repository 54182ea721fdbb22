//! The six `soberana.v1` services: thin handlers that validate, authorize, call the engine, the
//! store or Kubernetes, and convert back.

pub mod audit;
pub mod exchange;
pub mod inventory;
pub mod migration;
pub mod migration_watch;
pub mod placement;
pub mod tenant;
pub mod what_if;
