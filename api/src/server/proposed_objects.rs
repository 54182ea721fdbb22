//! The objects a what-if proposes, read from the request's documents exactly as the CLI reads
//! manifest files (`soberana_core::resources::manifest`), and their references checked against
//! the data centre as it would be (`soberana_core::resources::references`). Every problem is a
//! field violation at `documents[i].<field>`.

use kube::ResourceExt;
use serde_json::Value;
use soberana_core::placement::SnapshotError;
use soberana_core::placement::what_if::Proposal;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::manifest::{Object, Schemas, read_object};
use soberana_core::resources::references::{Defined, rule_references, tenant_references};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use tonic::Status;

use crate::server::validation::Violations;

/// Most documents one request may propose.
pub const MAX_DOCUMENTS: usize = 100;

/// One proposed object: its document, and what authorizing a change of it asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed {
    /// Position in `documents`.
    pub index: usize,
    pub kind: &'static str,
    /// The resource RBAC knows it by, e.g. `dataclassifications`.
    pub resource: &'static str,
    pub name: String,
}

/// The proposal, and each object's document.
#[derive(Clone, Debug, Default)]
pub struct ProposedObjects {
    pub proposal: Proposal,
    pub objects: Vec<Proposed>,
}

impl ProposedObjects {
    /// `documents[i]` of the proposed `kind` `name`.
    pub fn document(&self, kind: &str, name: &str) -> Option<String> {
        self.objects
            .iter()
            .find(|object| object.kind == kind && object.name == name)
            .map(|object| format!("documents[{}]", object.index))
    }
}

/// Reads every document; `INVALID_ARGUMENT` listing each problem when any is wrong.
pub fn read(documents: &[String]) -> Result<ProposedObjects, Status> {
    let mut violations = Violations::default();
    if documents.is_empty() {
        violations.add("documents", "propose at least one object");
    }
    if documents.len() > MAX_DOCUMENTS {
        let count = documents.len();
        violations.add(
            "documents",
            format!("{count} documents; at most {MAX_DOCUMENTS}"),
        );
    }
    violations.into_result()?;
    let mut violations = Violations::default();
    let schemas = Schemas::default();
    let mut read = ProposedObjects::default();
    for (index, document) in documents.iter().enumerate() {
        let path = format!("documents[{index}]");
        match object(document, &schemas) {
            Ok(object) => add(&mut read, index, object, &mut violations),
            Err((field, problem)) if field.is_empty() => violations.add(path, problem),
            Err((field, problem)) => violations.add(format!("{path}.{field}"), problem),
        }
    }
    violations.into_result()?;
    Ok(read)
}

/// One document as an object, or the field at fault and the problem.
fn object(document: &str, schemas: &Schemas) -> Result<Object, (String, String)> {
    let value: Value = serde_norway::from_str(document).map_err(|error| {
        let problem = format!("not one YAML or JSON document: {error}");
        (String::new(), problem)
    })?;
    read_object(&value, schemas).map_err(|error| {
        let problem = match error.object {
            Some(object) => format!("{object}: {}", error.problem),
            None => error.problem,
        };
        (error.field, problem)
    })
}

fn add(read: &mut ProposedObjects, index: usize, object: Object, violations: &mut Violations) {
    let (kind, resource, name) = match &object {
        Object::Site(site) => ("Site", "sites", site.name_any()),
        Object::DataClassification(it) => {
            ("DataClassification", "dataclassifications", it.name_any())
        }
        Object::PlacementRule(rule) => ("PlacementRule", "placementrules", rule.name_any()),
        Object::Tenant(tenant) => ("Tenant", "tenants", tenant.name_any()),
        Object::Workload(_) => {
            let problem = "a proposal holds Sites, DataClassifications, PlacementRules and Tenants; Workloads are what it is judged on";
            violations.add(format!("documents[{index}].kind"), problem);
            return;
        }
        Object::DataExchange(_) => {
            let problem = "a proposal holds Sites, DataClassifications, PlacementRules and Tenants; a DataExchange is an agreement, not placement policy";
            violations.add(format!("documents[{index}].kind"), problem);
            return;
        }
    };
    if let Some(first) = read.document(kind, &name) {
        let problem = format!("{kind} {name} is proposed twice (first in {first})");
        violations.add(format!("documents[{index}].metadata.name"), problem);
        return;
    }
    read.objects.push(Proposed {
        index,
        kind,
        resource,
        name,
    });
    let proposal = &mut read.proposal;
    match object {
        Object::Site(site) => proposal.sites.push(*site),
        Object::DataClassification(it) => proposal.classifications.push(*it),
        Object::PlacementRule(rule) => proposal.rules.push(*rule),
        Object::Tenant(tenant) => proposal.tenants.push(*tenant),
        Object::Workload(_) | Object::DataExchange(_) => {}
    }
}

/// `INVALID_ARGUMENT` when a proposed object names a Site, DataClassification or Tenant that
/// neither the data centre nor the proposal defines.
pub fn check_references(
    proposed: &ProposedObjects,
    sites: &[Site],
    classifications: &[DataClassification],
    tenants: &[Tenant],
) -> Result<(), Status> {
    let proposal = &proposed.proposal;
    let defined = Defined::new(
        &[sites, &proposal.sites].concat(),
        &[classifications, &proposal.classifications].concat(),
        &[tenants, &proposal.tenants].concat(),
    );
    let references = proposal
        .tenants
        .iter()
        .flat_map(tenant_references)
        .chain(proposal.rules.iter().flat_map(rule_references));
    let mut violations = Violations::default();
    for reference in references.filter(|reference| !defined.resolves(reference)) {
        let document = proposed
            .document(reference.kind, &reference.name)
            .unwrap_or_else(|| "documents".to_owned());
        violations.add(
            format!("{document}.{}", reference.field),
            reference.problem(),
        );
    }
    violations.into_result()
}

/// A proposed object the engine cannot use (an availability that is no percentage), as a field
/// violation of its document; `None` for problems with the current objects.
pub fn snapshot_violation(proposed: &ProposedObjects, error: &SnapshotError) -> Option<Status> {
    let SnapshotError::InvalidAvailability {
        kind, name, field, ..
    } = error
    else {
        return None;
    };
    let document = proposed.document(kind, name)?;
    let mut violations = Violations::default();
    violations.add(format!("{document}.{field}"), error.to_string());
    violations.into_result().err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violations(documents: &[&str]) -> Vec<(String, String)> {
        let documents: Vec<String> = documents
            .iter()
            .map(|document| (*document).to_owned())
            .collect();
        let Err(status) = read(&documents) else {
            panic!("accepted {documents:?}");
        };
        use tonic_types::StatusExt;
        status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|violation| (violation.field, violation.description))
                    .collect()
            })
            .unwrap_or_default()
    }

    const CLASSIFICATION: &str = "apiVersion: soberana.io/v1alpha1\nkind: DataClassification\nmetadata: {name: internal}\nspec: {rank: 10, legalBasis: x}\n";

    #[test]
    fn each_bad_document_is_a_violation_at_its_field() {
        let found = violations(&[
            CLASSIFICATION,
            "{\"apiVersion\": \"soberana.io/v1alpha1\", \"kind\": \"Site\", \"metadata\": {\"name\": \"s\"}, \"spec\": {\"jurisdicton\": \"CR\"}}",
            CLASSIFICATION,
            "kind: [unclosed",
            "apiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata: {name: w, namespace: n}\nspec: {tenant: t, classification: c, replicas: 1, resources: {cpuMillicores: 1, memoryMebibytes: 1}}\n",
        ]);
        let fields: Vec<&str> = found.iter().map(|(field, _)| field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "documents[1].spec.jurisdicton",
                "documents[2].metadata.name",
                "documents[3]",
                "documents[4].kind"
            ]
        );
        assert_eq!(found[0].1, "Site s: unknown field");
        assert_eq!(
            found[1].1,
            "DataClassification internal is proposed twice (first in documents[0])"
        );
        assert!(
            found[3].1.starts_with("a proposal holds Sites"),
            "{found:?}"
        );
    }

    #[test]
    fn a_valid_proposal_names_each_object_and_its_resource() {
        let read = read(&[CLASSIFICATION.to_owned()]).unwrap_or_else(|status| panic!("{status:?}"));
        assert_eq!(
            read.objects,
            [Proposed {
                index: 0,
                kind: "DataClassification",
                resource: "dataclassifications",
                name: "internal".to_owned()
            }]
        );
        assert_eq!(read.proposal.classifications.len(), 1);
        assert_eq!(
            violations(&[]),
            [(
                "documents".to_owned(),
                "propose at least one object".to_owned()
            )]
        );
    }
}
