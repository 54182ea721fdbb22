//! Requests into core types: every problem found is reported at once as a field violation
//! (`google.rpc.BadRequest`) with the field's path, so tooling can point at it. Never panics on
//! anything a client sends.

use std::collections::BTreeMap;

use soberana_core::resources::availability::Availability;
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::placement_rule::{Spread, SpreadDomain};
use soberana_core::resources::workload::{MigrationSource, WorkloadSpec};
use soberana_proto::v1 as proto;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// Largest replica count a workload may ask for (as the CRD allows).
const MAX_REPLICAS: u32 = 1000;
/// Longest name or label accepted (Kubernetes' own limit for names).
const MAX_NAME: usize = 253;

/// Field violations collected while validating one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push((field.into(), problem.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `INVALID_ARGUMENT` with every violation, or `Ok` when there is none.
    pub fn into_result(self) -> Result<(), Status> {
        if self.0.is_empty() {
            return Ok(());
        }
        let summary = self
            .0
            .iter()
            .map(|(field, problem)| format!("{field}: {problem}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut details = ErrorDetails::new();
        for (field, problem) in &self.0 {
            details.add_bad_request_violation(field.clone(), problem.clone());
        }
        Err(Status::with_error_details(
            Code::InvalidArgument,
            summary,
            details,
        ))
    }
}

/// A DNS label (namespaces, workload names): lowercase letters, digits and '-'.
pub fn dns_label(value: &str, field: &str, violations: &mut Violations) {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value.chars().all(|character| {
            character.is_ascii_lowercase() || character.is_ascii_digit() || character == '-'
        })
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !valid {
        violations.add(
            field,
            format!("{value:?} is not a DNS label (1–63 lowercase letters, digits and '-', not starting or ending with '-')"),
        );
    }
}

/// A non-empty name of at most 253 characters.
pub fn name(value: &str, field: &str, violations: &mut Violations) {
    if value.is_empty() {
        violations.add(field, "is required");
    } else if value.len() > MAX_NAME {
        violations.add(
            field,
            format!("is {} characters long; at most {MAX_NAME}", value.len()),
        );
    }
}

/// Most labels a workload may carry, and the longest key and value (Kubernetes' own limits:
/// a 253-character prefix, '/', a 63-character name; 63-character values), so that a request
/// cannot make the API hold or echo unbounded text.
const MAX_LABELS: usize = 64;
const MAX_LABEL_KEY: usize = 317;
const MAX_LABEL_VALUE: usize = 63;

/// A workload's labels, bounded in number and size.
pub fn workload_labels<'a>(
    labels: impl IntoIterator<Item = (&'a String, &'a String)> + Clone,
    field: &str,
    violations: &mut Violations,
) {
    let count = labels.clone().into_iter().count();
    if count > MAX_LABELS {
        violations.add(field, format!("{count} labels; at most {MAX_LABELS}"));
        return;
    }
    for (key, value) in labels {
        let shown: String = key.chars().take(40).collect();
        if key.is_empty() || key.len() > MAX_LABEL_KEY {
            violations.add(
                format!("{field}[{shown}]"),
                format!(
                    "the key is {} characters long; 1 to {MAX_LABEL_KEY}",
                    key.len()
                ),
            );
        } else if value.len() > MAX_LABEL_VALUE {
            violations.add(
                format!("{field}[{shown}]"),
                format!(
                    "the value is {} characters long; at most {MAX_LABEL_VALUE}",
                    value.len()
                ),
            );
        }
    }
}

/// A request id: what makes a retry recognisable.
pub fn request_id(value: &str, violations: &mut Violations) {
    if value.is_empty() {
        violations.add(
            "request_id",
            "is required: a retry with the same id returns the first result",
        );
    } else if value.len() > 128 || !value.chars().all(|character| character.is_ascii_graphic()) {
        violations.add("request_id", "must be 1–128 printable ASCII characters");
    }
}

/// The core workload spec from the API's, under `field` (e.g. `workload`).
pub fn workload_spec(
    spec: Option<&proto::WorkloadSpec>,
    field: &str,
    violations: &mut Violations,
) -> Option<WorkloadSpec> {
    let Some(spec) = spec else {
        violations.add(field, "is required");
        return None;
    };
    name(&spec.tenant, &format!("{field}.tenant"), violations);
    name(
        &spec.classification,
        &format!("{field}.classification"),
        violations,
    );
    let resources = resources(spec.resources.as_ref(), field, violations);
    if spec.replicas == 0 || spec.replicas > MAX_REPLICAS {
        violations.add(
            format!("{field}.replicas"),
            format!("is {}; must be 1 to {MAX_REPLICAS}", spec.replicas),
        );
    }
    let availability_target = availability_target(&spec.availability_target, field, violations);
    let spread = spec
        .spread
        .as_ref()
        .map(|spread| self::spread(spread, field, violations));
    let migration_source = spec.migration_source.as_ref().and_then(migration_source);
    if spec.tolerations.len() > 16 {
        violations.add(format!("{field}.tolerations"), "at most 16");
    }
    workload_labels(&spec.labels, &format!("{field}.labels"), violations);
    let labels: BTreeMap<String, String> = spec.labels.clone().into_iter().collect();
    Some(WorkloadSpec {
        tenant: spec.tenant.clone(),
        classification: spec.classification.clone(),
        resources,
        replicas: spec.replicas,
        availability_target,
        spread,
        tolerations: spec.tolerations.clone(),
        data_location: None,
        migration_source,
        labels,
        template: None,
        failover: Default::default(),
        template_over_limit: None,
    })
}

fn resources(
    resources: Option<&proto::Capacity>,
    field: &str,
    violations: &mut Violations,
) -> Capacity {
    let Some(resources) = resources else {
        violations.add(format!("{field}.resources"), "is required");
        return Capacity::default();
    };
    if resources.cpu_millicores == 0 && resources.memory_mebibytes == 0 {
        violations.add(
            format!("{field}.resources"),
            "must ask for some CPU or memory",
        );
    }
    Capacity {
        cpu_millicores: resources.cpu_millicores,
        memory_mebibytes: resources.memory_mebibytes,
        storage_gibibytes: resources.storage_gibibytes,
    }
}

fn availability_target(target: &str, field: &str, violations: &mut Violations) -> Option<String> {
    if target.is_empty() {
        return None;
    }
    if Availability::parse_percent(target).is_none() {
        violations.add(
            format!("{field}.availability_target"),
            format!("{target:?} is not a percentage between 0 and 100 with at most four decimals"),
        );
    }
    Some(target.to_owned())
}

fn spread(spread: &proto::Spread, field: &str, violations: &mut Violations) -> Spread {
    let across = match proto::SpreadDomain::try_from(spread.across) {
        Ok(proto::SpreadDomain::Unspecified | proto::SpreadDomain::Sites) => SpreadDomain::Sites,
        Ok(proto::SpreadDomain::Zones) => SpreadDomain::Zones,
        Ok(proto::SpreadDomain::Providers) => SpreadDomain::Providers,
        Err(_) => {
            violations.add(
                format!("{field}.spread.across"),
                format!("{} is not a SpreadDomain", spread.across),
            );
            SpreadDomain::Sites
        }
    };
    if spread.minimum_sites == 0 || spread.minimum_sites > 64 {
        violations.add(format!("{field}.spread.minimum_sites"), "must be 1 to 64");
    }
    if spread.maximum_sites != 0 && spread.maximum_sites < spread.minimum_sites {
        violations.add(
            format!("{field}.spread.maximum_sites"),
            "must not be below minimum_sites",
        );
    }
    Spread {
        minimum_sites: spread.minimum_sites,
        maximum_sites: (spread.maximum_sites != 0).then_some(spread.maximum_sites),
        across,
    }
}

fn migration_source(source: &proto::MigrationSource) -> Option<MigrationSource> {
    match &source.location {
        Some(proto::migration_source::Location::Site(site)) => Some(MigrationSource {
            site: Some(site.clone()),
            external: None,
        }),
        Some(proto::migration_source::Location::External(external)) => Some(MigrationSource {
            site: None,
            external: Some(external.clone()),
        }),
        None => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    #[test]
    fn labels_are_bounded_in_number_and_size() {
        let check = |labels: Vec<(String, String)>| {
            let map: std::collections::HashMap<String, String> = labels.into_iter().collect();
            let mut violations = Violations::default();
            workload_labels(&map, "workload.labels", &mut violations);
            violations
                .into_result()
                .err()
                .map(|status| status.message().to_owned())
        };
        assert_eq!(check(vec![("team".into(), "pagos".into())]), None);
        let many = (0..65)
            .map(|index| (format!("k{index}"), "v".to_owned()))
            .collect();
        assert!(check(many).unwrap().contains("65 labels; at most 64"));
        let long_value = check(vec![("team".into(), "x".repeat(64))]).unwrap();
        assert!(
            long_value.contains("workload.labels[team]: the value is 64 characters long"),
            "{long_value}"
        );
        assert!(
            check(vec![("k".repeat(400), "v".into())])
                .unwrap()
                .contains("the key is 400 characters long")
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_field_path() {
        let spec = proto::WorkloadSpec {
            tenant: String::new(),
            classification: "restricted".to_owned(),
            resources: None,
            replicas: 0,
            availability_target: "120".to_owned(),
            spread: Some(proto::Spread {
                minimum_sites: 2,
                maximum_sites: 1,
                across: 42,
            }),
            ..proto::WorkloadSpec::default()
        };
        let mut violations = Violations::default();
        workload_spec(Some(&spec), "workload", &mut violations);
        let status = violations.into_result().unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .unwrap()
            .field_violations
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(
            fields,
            [
                "workload.tenant",
                "workload.resources",
                "workload.replicas",
                "workload.availability_target",
                "workload.spread.across",
                "workload.spread.maximum_sites",
            ]
        );
    }

    #[test]
    fn names_and_request_ids_are_checked() {
        let mut violations = Violations::default();
        dns_label("Minsa_Prod", "namespace", &mut violations);
        request_id("", &mut violations);
        dns_label("minsa-prod", "namespace", &mut violations);
        let status = violations.into_result().unwrap_err();
        assert!(
            status
                .message()
                .starts_with("namespace: \"Minsa_Prod\" is not a DNS label"),
            "{}",
            status.message()
        );
        assert!(status.message().contains("request_id: is required"));
    }
}
