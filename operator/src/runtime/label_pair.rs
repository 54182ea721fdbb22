//! One `key=value` Kubernetes label given on the command line (`--slo-rule-labels`), checked as
//! the API server would check it, so that a typo fails the operator at start naming the label
//! rather than every write of the rules later.

/// Parses `key=value`: the key a qualified name (an optional DNS subdomain prefix and `/`, then
/// a name of at most 63 characters), the value empty or at most 63 characters; names and values
/// start and end with a letter or digit and hold only letters, digits, `-`, `_` and `.`.
pub fn label_pair(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not key=value"))?;
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && !is_dns_subdomain(prefix)
    {
        return Err(format!(
            "label key {key:?}: the prefix {prefix:?} is not a DNS subdomain (lower-case, at most 253 characters)"
        ));
    }
    if name.is_empty() || !is_label_text(name) {
        return Err(format!(
            "label key {key:?}: the name must be 1–63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    if !value.is_empty() && !is_label_text(value) {
        return Err(format!(
            "label {key:?}: the value {value:?} must be at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
        ));
    }
    Ok((key.to_owned(), value.to_owned()))
}

fn is_label_text(text: &str) -> bool {
    text.len() <= 63
        && text.starts_with(|first: char| first.is_ascii_alphanumeric())
        && text.ends_with(|last: char| last.is_ascii_alphanumeric())
        && text
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || "-_.".contains(character))
}

fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|part| {
            !part.is_empty()
                && part.len() <= 63
                && part
                    .starts_with(|first: char| first.is_ascii_lowercase() || first.is_ascii_digit())
                && part.ends_with(|last: char| last.is_ascii_lowercase() || last.is_ascii_digit())
                && part.chars().all(|character| {
                    character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_prometheus_selects_by_are_accepted() {
        assert_eq!(
            label_pair("release=kube-prometheus-stack"),
            Ok(("release".to_owned(), "kube-prometheus-stack".to_owned()))
        );
        assert_eq!(
            label_pair("monitoring.example.org/team=platform_2"),
            Ok((
                "monitoring.example.org/team".to_owned(),
                "platform_2".to_owned()
            ))
        );
        assert_eq!(
            label_pair("prometheus="),
            Ok(("prometheus".to_owned(), String::new()))
        );
    }

    #[test]
    fn malformed_labels_are_refused_naming_the_label_and_the_fault() {
        for (text, expected) in [
            ("release", "is not key=value"),
            ("=x", "the name must be"),
            ("Example.ORG/team=x", "is not a DNS subdomain"),
            ("team-=x", "the name must be"),
            ("release=kube prometheus", "the value \"kube prometheus\""),
            (&format!("release={}", "v".repeat(64)), "at most 63"),
        ] {
            let refused = label_pair(text).unwrap_err();
            assert!(refused.contains(expected), "{text}: {refused}");
        }
    }
}
