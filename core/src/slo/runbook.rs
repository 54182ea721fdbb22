//! Where each alert's runbook is: a section of `docs/operations.md` named after the alert, so
//! that the anchor is the alert name in lower case (as GitHub and most renderers make anchors).

/// The operations guide, as published with the repository.
pub const DEFAULT_RUNBOOK_BASE: &str =
    "https://github.com/soberana/soberana/blob/main/docs/operations.md";

/// The runbook of `alert` under `base`.
pub fn runbook_url(base: &str, alert: &str) -> String {
    format!("{base}#{}", heading_anchor(alert))
}

/// The anchor a Markdown heading gets: lower case, spaces as hyphens, punctuation other than
/// hyphens and underscores dropped.
pub fn heading_anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|character| match character {
            ' ' => Some('-'),
            '-' | '_' => Some(character),
            other if other.is_alphanumeric() => Some(other),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_made_as_markdown_renderers_make_them() {
        assert_eq!(
            heading_anchor("SoberanaSiteUnreachable"),
            "soberanasiteunreachable"
        );
        assert_eq!(heading_anchor("Metrics reference"), "metrics-reference");
        assert_eq!(heading_anchor("Install & upgrade"), "install--upgrade");
        assert_eq!(
            runbook_url("https://x/ops.md", "SoberanaSiteUnreachable"),
            "https://x/ops.md#soberanasiteunreachable"
        );
    }
}
