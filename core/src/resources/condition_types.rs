//! The status condition types Soberana writes on its objects, one name each, so that a reader
//! (a controller, the engine, a test, `kubectl wait --for=condition=…`) and the writer cannot
//! drift apart on a spelling.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;

/// A condition type on a Site, Tenant, Workload or DataClassification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConditionType {
    /// The object is in force everywhere it should be (Site: reachable and serving).
    Ready,
    /// Site: its API server answered the last probe.
    Reachable,
    /// Something needs a person: a conflict, a hold, a stranded workload.
    Degraded,
    /// Workload: the engine chose its sites.
    Placed,
    /// Residency admission policies are in force on every site.
    ResidencyEnforced,
    /// Nothing running violates residency.
    ResidencyCompliant,
}

impl ConditionType {
    /// The name in `status.conditions[].type`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Reachable => "Reachable",
            Self::Degraded => "Degraded",
            Self::Placed => "Placed",
            Self::ResidencyEnforced => "ResidencyEnforced",
            Self::ResidencyCompliant => "ResidencyCompliant",
        }
    }

    /// Whether `condition` is of this type.
    pub fn is(self, condition: &Condition) -> bool {
        condition.type_ == self.as_str()
    }

    /// Whether `conditions` hold this type with status True.
    pub fn is_true(self, conditions: &[Condition]) -> bool {
        conditions
            .iter()
            .any(|condition| self.is(condition) && condition.status == "True")
    }
}

impl std::fmt::Display for ConditionType {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}
