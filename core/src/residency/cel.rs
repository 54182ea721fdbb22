//! The pieces of CEL the compiled policies share, kept in one place so that every policy reads
//! labels, classifications and ranks the same way (and the same way as [`super::violation`]).

use std::collections::BTreeMap;

use crate::tenancy::labels;

/// A CEL string literal holding `text`.
pub fn string(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for character in text.chars() {
        match character {
            '\\' => literal.push_str("\\\\"),
            '\'' => literal.push_str("\\'"),
            '\n' => literal.push_str("\\n"),
            other => literal.push(other),
        }
    }
    literal.push('\'');
    literal
}

/// A CEL list literal of strings.
pub fn string_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(string).collect();
    format!("[{}]", items.join(", "))
}

/// A CEL map literal from classification name to rank.
pub fn ranks(ranks: &BTreeMap<String, u32>) -> String {
    let entries: Vec<String> = ranks
        .iter()
        .map(|(name, rank)| format!("{}: {rank}", string(name)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// The labels of `path` (an object or its pod template's metadata owner), or an empty map.
pub fn labels_of(metadata: &str) -> String {
    format!("has({metadata}.labels) ? {metadata}.labels : {{}}")
}

/// The labels of the request's namespace, or an empty map for cluster-scoped objects.
pub const NAMESPACE_LABELS: &str = "namespaceObject != null && has(namespaceObject.metadata.labels) ? namespaceObject.metadata.labels : {}";

/// The value of label `key` in the map variable `map`, or `''`.
pub fn label(map: &str, key: &str) -> String {
    let key = string(key);
    format!("{key} in {map} ? {map}[{key}] : ''")
}

/// The effective classification of an object whose labels are in variable `object_labels`: its
/// own label, else its namespace's default, else `''`.
pub fn effective_classification(object_labels: &str) -> String {
    let own = string(labels::CLASSIFICATION);
    let default = string(labels::DEFAULT_CLASSIFICATION);
    format!(
        "{own} in {object_labels} ? {object_labels}[{own}] : ({default} in variables.namespaceLabels ? variables.namespaceLabels[{default}] : '')"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_escape_quotes_and_backslashes() {
        assert_eq!(string("it's"), r"'it\'s'");
        assert_eq!(string(r"a\b"), r"'a\\b'");
        assert_eq!(string("two\nlines"), r"'two\nlines'");
    }

    #[test]
    fn ranks_become_a_map_literal() {
        let ranks_map = BTreeMap::from([("internal".to_owned(), 10), ("public".to_owned(), 0)]);
        assert_eq!(ranks(&ranks_map), "{'internal': 10, 'public': 0}");
    }
}
