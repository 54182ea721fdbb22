//! Residency enforced at each member cluster's own front door. From the DataClassifications and a
//! Site's facts, [`compile`] builds that site's `ValidatingAdmissionPolicy` objects and bindings:
//! the cluster's API server then refuses misplaced data by itself, whether Soberana is running or
//! not. [`SiteResidency::judge`] applies the same rules to objects that already exist, for the
//! violation scan.
//!
//! What a tenant contributes (its classification ceiling and default classification) travels on
//! its namespaces' labels, which only Soberana may change; so the compiled policies depend on the
//! classifications and the site alone, and tenants coming and going never rewrite them.

pub mod admission_policies;
pub mod cel;
pub mod foreign_policies;
pub mod site_residency;
pub mod violation;

pub use admission_policies::{AdmissionObject, CompiledPolicies, compile};
pub use foreign_policies::{MEMBER_CHART_POLICIES, foreign_blocking_policies};
pub use site_residency::SiteResidency;
pub use violation::{Violation, ViolationKind};
