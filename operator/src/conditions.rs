//! Status conditions (metav1.Condition) that only move when something really changed:
//! `lastTransitionTime` is kept unless the status flips, so an unchanged reconcile writes nothing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// A condition of `type_`, carrying over the transition time from `existing` when its status
/// has not changed.
pub fn condition(
    existing: &[Condition],
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = existing
        .iter()
        .find(|condition| condition.type_ == type_ && condition.status == status)
        .map_or_else(
            || Time(Timestamp::now()),
            |condition| condition.last_transition_time.clone(),
        );
    Condition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        observed_generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_moves_only_when_the_status_flips() {
        let first = condition(&[], "Ready", true, "Probed", "ok", Some(1));
        let again = condition(
            std::slice::from_ref(&first),
            "Ready",
            true,
            "Probed",
            "still ok",
            Some(2),
        );
        assert_eq!(again.last_transition_time, first.last_transition_time);
        assert_eq!(again.message, "still ok");
        let flipped = condition(
            std::slice::from_ref(&first),
            "Ready",
            false,
            "Unreachable",
            "down",
            Some(2),
        );
        assert_eq!(flipped.status, "False");
        assert!(flipped.last_transition_time.0 >= first.last_transition_time.0);
    }
}
