//! What Soberana puts on a member site for a placed Workload, and how a placement changes when
//! sites fail or policies change. Pure: the operator applies and watches what this decides.

pub mod member_objects;
pub mod replacement;

pub use member_objects::{MemberObjectError, member_namespace, member_objects};
pub use replacement::{Replacement, SiteHealth, replace};
