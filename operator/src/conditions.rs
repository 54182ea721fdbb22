//! Status conditions (metav1.Condition) that only move when something really changed:
//! `lastTransitionTime` is kept unless the status flips, so an unchanged reconcile writes nothing.
//! Messages are bounded and sanitized: they may carry text from member API servers.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
pub use soberana_core::resources::condition_types::ConditionType;

/// The most characters a condition message keeps, "…" included.
pub const MAX_MESSAGE_CHARS: usize = 512;

/// `message` cut to [`MAX_MESSAGE_CHARS`] characters (on a char boundary, ending in "…" when
/// cut), with control characters (newlines, tabs, escapes) replaced by spaces, so that text from
/// elsewhere (a member API server's answer) cannot bloat or garble status.
pub fn bounded_message(message: &str) -> String {
    let sanitize = |character: char| {
        if character.is_control() {
            ' '
        } else {
            character
        }
    };
    if message.chars().count() <= MAX_MESSAGE_CHARS {
        return message.chars().map(sanitize).collect();
    }
    let mut bounded: String = message
        .chars()
        .take(MAX_MESSAGE_CHARS - 1)
        .map(sanitize)
        .collect();
    bounded.push('…');
    bounded
}

/// A condition of `type_`, carrying over the transition time from `existing` when its status
/// has not changed. The message goes through [`bounded_message`].
pub fn condition(
    existing: &[Condition],
    type_: ConditionType,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    observed_generation: Option<i64>,
) -> Condition {
    let status = if status { "True" } else { "False" };
    let last_transition_time = existing
        .iter()
        .find(|condition| type_.is(condition) && condition.status == status)
        .map_or_else(
            || Time(Timestamp::now()),
            |condition| condition.last_transition_time.clone(),
        );
    Condition {
        type_: type_.as_str().to_owned(),
        status: status.to_owned(),
        reason: reason.to_owned(),
        message: bounded_message(&message.into()),
        observed_generation,
        last_transition_time,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_time_moves_only_when_the_status_flips() {
        let first = condition(&[], ConditionType::Ready, true, "Probed", "ok", Some(1));
        let again = condition(
            std::slice::from_ref(&first),
            ConditionType::Ready,
            true,
            "Probed",
            "still ok",
            Some(2),
        );
        assert_eq!(again.last_transition_time, first.last_transition_time);
        assert_eq!(again.message, "still ok");
        let flipped = condition(
            std::slice::from_ref(&first),
            ConditionType::Ready,
            false,
            "Unreachable",
            "down",
            Some(2),
        );
        assert_eq!(flipped.status, "False");
        assert!(flipped.last_transition_time.0 >= first.last_transition_time.0);
    }

    #[test]
    fn short_messages_are_kept() {
        assert_eq!(
            bounded_message("the API server reports v1.36.0"),
            "the API server reports v1.36.0"
        );
        assert_eq!(bounded_message(""), "");
        let exactly = "é".repeat(MAX_MESSAGE_CHARS);
        assert_eq!(bounded_message(&exactly), exactly);
    }

    #[test]
    fn long_messages_are_cut_on_a_char_boundary_with_an_ellipsis() {
        let long = "ñ".repeat(MAX_MESSAGE_CHARS * 4);
        let bounded = bounded_message(&long);
        assert_eq!(bounded.chars().count(), MAX_MESSAGE_CHARS);
        assert!(bounded.ends_with("ñ…"), "{bounded}");
        let mixed = format!("a{}", "🦀".repeat(MAX_MESSAGE_CHARS));
        let bounded = bounded_message(&mixed);
        assert_eq!(bounded.chars().count(), MAX_MESSAGE_CHARS);
        assert!(bounded.starts_with("a🦀"));
        assert!(bounded.ends_with("🦀…"));
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(
            bounded_message("[-]etcd failed\nreason\twithheld\r\u{1b}[31m\u{7f}\u{85}end"),
            "[-]etcd failed reason withheld  [31m  end"
        );
    }

    #[test]
    fn every_condition_message_is_bounded() {
        let answer = format!("line one\n{}", "x".repeat(10_000));
        let built = condition(&[], ConditionType::Ready, false, "NotReady", answer, None);
        assert_eq!(built.message.chars().count(), MAX_MESSAGE_CHARS);
        assert!(built.message.starts_with("line one x"));
        assert!(built.message.ends_with('…'));
    }
}
