//! `soberana what-if` offline: the current estate and a proposal read from files, judged by the
//! core's what-if. The proposal is checked like any manifest (file, document and field named),
//! and the estate it would make must still resolve every reference.

use std::path::PathBuf;

use kube::ResourceExt;
use soberana_core::placement::what_if::{Impact, Proposal, WhatIfError, what_if};
use soberana_core::placement::{Objects, SnapshotError};
use soberana_core::resources::workload::Workload;

use crate::offline::manifests::{InputError, Manifests, load, load_objects};
use crate::offline::references::dangling_references;

/// What the objects in `proposed` would do to the estate in `current`.
pub fn what_if_files(current: &[PathBuf], proposed: &[PathBuf]) -> Result<Impact, Vec<InputError>> {
    let estate = load(current)?;
    let proposal = load_objects(proposed)?;
    let workloads_proposed: Vec<InputError> = proposal
        .workloads
        .iter()
        .map(|(workload, origin)| {
            InputError::new(
                Some(origin.clone()),
                format!(
                    "Workload {}: --proposed takes Sites, DataClassifications, PlacementRules and Tenants; Workloads are what the change is judged on (give them with -f)",
                    workload.name_any()
                ),
            )
        })
        .collect();
    if !workloads_proposed.is_empty() {
        return Err(workloads_proposed);
    }
    let dangling = dangling_references(&overlaid(&estate, &proposal));
    if !dangling.is_empty() {
        return Err(dangling);
    }
    let workloads: Vec<Workload> = estate
        .workloads
        .iter()
        .map(|(workload, _)| workload.clone())
        .collect();
    let objects = Objects {
        sites: &estate.sites,
        classifications: &estate.classifications,
        rules: &estate.rules,
        tenants: &estate.tenants,
        ..Objects::default()
    };
    let changes = Proposal {
        sites: proposal.sites.clone(),
        classifications: proposal.classifications.clone(),
        rules: proposal.rules.clone(),
        tenants: proposal.tenants.clone(),
    };
    what_if(objects, &workloads, &changes).map_err(|error| vec![located(error, &estate, &proposal)])
}

/// The estate's Sites, DataClassifications, PlacementRules and Tenants with the proposal laid
/// over them (each proposed object replacing its namesake, its origin too), for reference
/// checks. Workloads are left out: the proposal only replaces or adds names, so theirs resolve.
fn overlaid(estate: &Manifests, proposal: &Manifests) -> Manifests {
    fn overlay<T: ResourceExt + Clone>(current: &[T], proposed: &[T]) -> Vec<T> {
        let mut objects: Vec<T> = current
            .iter()
            .filter(|object| {
                !proposed
                    .iter()
                    .any(|other| other.name_any() == object.name_any())
            })
            .cloned()
            .collect();
        objects.extend(proposed.iter().cloned());
        objects
    }
    let mut origins = estate.origins.clone();
    origins.extend(proposal.origins.clone());
    Manifests {
        sites: overlay(&estate.sites, &proposal.sites),
        classifications: overlay(&estate.classifications, &proposal.classifications),
        rules: overlay(&estate.rules, &proposal.rules),
        tenants: overlay(&estate.tenants, &proposal.tenants),
        workloads: Vec::new(),
        exchanges: Vec::new(),
        origins,
    }
}

/// A what-if error with the file of the object it names: the proposal's, else the estate's.
fn located(error: WhatIfError, estate: &Manifests, proposal: &Manifests) -> InputError {
    let named = match &error {
        WhatIfError::ProposedTwice { kind, name } => Some((*kind, name.as_str(), proposal)),
        WhatIfError::Current(snapshot) => {
            named_in(snapshot).map(|(kind, name)| (kind, name, estate))
        }
        WhatIfError::Proposed(snapshot) => named_in(snapshot).map(|(kind, name)| {
            let source = if proposal.origin(kind, "", name).is_some() {
                proposal
            } else {
                estate
            };
            (kind, name, source)
        }),
        WhatIfError::MissingName { .. } => None,
    };
    let origin =
        named.and_then(|(kind, name, manifests)| manifests.origin(kind, "", name).cloned());
    InputError::new(origin, error.to_string())
}

fn named_in(error: &SnapshotError) -> Option<(&'static str, &str)> {
    match error {
        SnapshotError::DuplicateName { kind, name }
        | SnapshotError::InvalidAvailability { kind, name, .. } => Some((*kind, name.as_str())),
        SnapshotError::MissingName { .. } => None,
    }
}
