//! What `soberana-demo` (`make demo`) shows once Soberana runs: sites and tenants converging, a
//! foreign site refusing restricted data, the engine's placements, the interoperability
//! agreements, a site failing over, and an agency planning a migration through the API.

pub mod api_showcase;
pub mod convergence_report;
pub mod exchange_showcase;
pub mod residency_showcase;
pub mod workload_showcase;
