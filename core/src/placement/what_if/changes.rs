//! A proposal laid over the current objects: each proposed object replaces the current one of the
//! same kind and name, or is added. Only objects that differ in what placement reads (labels and
//! spec) count as changed, so proposing an object unchanged changes nothing.

use std::collections::BTreeMap;

use kube::ResourceExt;
use serde::Serialize;

use crate::resources::data_classification::DataClassification;
use crate::resources::placement_rule::PlacementRule;
use crate::resources::site::Site;
use crate::resources::tenant::Tenant;

use super::WhatIfError;

/// One object of the proposal that differs from the current one.
#[derive(Clone, Debug)]
pub struct Changed<'a, T> {
    pub name: String,
    /// The current object; `None` when the proposal adds it.
    pub old: Option<&'a T>,
    pub new: T,
}

/// The objects of one kind after the proposal, and those of them that changed.
#[derive(Clone, Debug)]
pub struct Merged<'a, T> {
    pub objects: Vec<T>,
    pub changed: Vec<Changed<'a, T>>,
}

/// Lays `proposed` over `current` (one kind): a proposed object replaces the current one of its
/// name or is added. `keep` carries over from the current object what the proposal does not
/// decide (a Site's status: capacity allocated and readiness are the data centre's facts, which a
/// policy file never states). Fails when a proposed object has no name or is proposed twice.
pub fn merge<'a, T>(
    kind: &'static str,
    current: &'a [T],
    proposed: &[T],
    keep: impl Fn(&T, &mut T),
) -> Result<Merged<'a, T>, WhatIfError>
where
    T: kube::Resource + Clone + Serialize,
{
    let mut objects: Vec<T> = current.to_vec();
    let index: BTreeMap<String, usize> = current
        .iter()
        .enumerate()
        .map(|(position, object)| (object.name_any(), position))
        .collect();
    let mut seen = BTreeMap::new();
    let mut changed = Vec::new();
    for object in proposed {
        let name = object.meta().name.clone().unwrap_or_default();
        if name.is_empty() {
            return Err(WhatIfError::MissingName { kind });
        }
        if seen.insert(name.clone(), ()).is_some() {
            return Err(WhatIfError::ProposedTwice { kind, name });
        }
        let mut new = object.clone();
        match index.get(&name) {
            Some(&position) => {
                let old = &current[position];
                keep(old, &mut new);
                if placement_view(old) != placement_view(&new) {
                    objects[position] = new.clone();
                    changed.push(Changed {
                        name,
                        old: Some(old),
                        new,
                    });
                }
            }
            None => {
                objects.push(new.clone());
                changed.push(Changed {
                    name,
                    old: None,
                    new,
                });
            }
        }
    }
    Ok(Merged { objects, changed })
}

/// What placement reads of an object: its labels (site selectors match them) and its spec.
fn placement_view<T: kube::Resource + Serialize>(
    object: &T,
) -> (serde_json::Value, serde_json::Value) {
    let spec = serde_json::to_value(object)
        .ok()
        .and_then(|mut value| value.get_mut("spec").map(serde_json::Value::take))
        .unwrap_or_default();
    let labels = serde_json::to_value(&object.meta().labels).unwrap_or_default();
    (labels, spec)
}

/// A proposed Site keeps the current one's status: what is allocated there and whether it is
/// Ready are observed, not proposed.
pub fn keep_site_status(old: &Site, new: &mut Site) {
    if new.status.is_none() {
        new.status.clone_from(&old.status);
    }
}

/// Nothing of the current object carries over.
pub fn keep_nothing<T>(_: &T, _: &mut T) {}

/// The proposal laid over the current objects, kind by kind.
#[derive(Clone, Debug)]
pub struct Changes<'a> {
    pub sites: Merged<'a, Site>,
    pub classifications: Merged<'a, DataClassification>,
    pub rules: Merged<'a, PlacementRule>,
    pub tenants: Merged<'a, Tenant>,
}

impl Changes<'_> {
    /// `Kind/name` of every changed object, kind by kind in proposal order.
    pub fn names(&self) -> Vec<String> {
        let names = |kind: &str, changed: Vec<&String>| {
            changed
                .into_iter()
                .map(|name| format!("{kind}/{name}"))
                .collect::<Vec<_>>()
        };
        let mut all = names("Site", self.sites.changed.iter().map(|c| &c.name).collect());
        all.extend(names(
            "DataClassification",
            self.classifications
                .changed
                .iter()
                .map(|c| &c.name)
                .collect(),
        ));
        all.extend(names(
            "PlacementRule",
            self.rules.changed.iter().map(|c| &c.name).collect(),
        ));
        all.extend(names(
            "Tenant",
            self.tenants.changed.iter().map(|c| &c.name).collect(),
        ));
        all
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn classification(name: &str, rank: u32, label: &str) -> DataClassification {
        serde_json::from_value(json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
            "metadata": {"name": name, "labels": {"scheme": label}},
            "spec": {"rank": rank, "legalBasis": "Ley 8968"}
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_proposed_object_replaces_its_namesake_or_is_added_and_an_identical_one_is_no_change() {
        let current = [
            classification("public", 0, "a"),
            classification("internal", 10, "a"),
        ];
        let proposed = [
            classification("public", 0, "a"),
            classification("internal", 15, "a"),
            classification("secret", 40, "a"),
        ];
        let merged = merge("DataClassification", &current, &proposed, keep_nothing)
            .unwrap_or_else(|error| panic!("{error}"));
        let names: Vec<(&str, u32)> = merged
            .objects
            .iter()
            .map(|object| {
                (
                    object.metadata.name.as_deref().unwrap_or(""),
                    object.spec.rank,
                )
            })
            .collect();
        assert_eq!(names, [("public", 0), ("internal", 15), ("secret", 40)]);
        let changed: Vec<(&str, bool)> = merged
            .changed
            .iter()
            .map(|change| (change.name.as_str(), change.old.is_some()))
            .collect();
        assert_eq!(changed, [("internal", true), ("secret", false)]);
    }

    #[test]
    fn a_label_change_counts_and_a_name_proposed_twice_is_refused() {
        let current = [classification("public", 0, "a")];
        let relabelled = merge(
            "DataClassification",
            &current,
            &[classification("public", 0, "b")],
            keep_nothing,
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(relabelled.changed.len(), 1);
        let twice = merge(
            "DataClassification",
            &current,
            &[classification("x", 0, "a"), classification("x", 1, "a")],
            keep_nothing,
        );
        assert_eq!(
            twice.err().map(|error| error.to_string()),
            Some("DataClassification \"x\" is proposed twice".to_owned())
        );
    }
}
