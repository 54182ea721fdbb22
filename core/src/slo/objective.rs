//! Service level objectives, read from the objects' own targets: each Site's
//! `offeredAvailability`, each Workload's `availabilityTarget` (or, without one, the
//! `minimumAvailability` of its DataClassification), and the API's availability and latency.
//! Each knows its SLI: the PromQL of its error ratio over a window.

use std::collections::BTreeMap;

use kube::ResourceExt;

use super::window::{PERIOD, PromDuration, error_ratio_record};
use crate::resources::availability::Availability;
use crate::resources::data_classification::DataClassification;
use crate::resources::site::Site;
use crate::resources::tenant::Tenant;
use crate::resources::workload::Workload;
use crate::tenancy::tenant_holds_namespace;

/// gRPC codes that are the server's fault; every other code (OK, and the caller's mistakes such as
/// InvalidArgument or PermissionDenied) counts as served.
pub const SERVER_ERROR_CODES: &str =
    "Unknown|DeadlineExceeded|Unimplemented|Internal|Unavailable|DataLoss";

/// What an objective is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// A site's API server answering the operator's probes.
    Site { site: String },
    /// A workload fully available on at least one of its sites.
    Workload { tenant: String, workload: String },
    /// API calls answered without a server error.
    ApiAvailability,
    /// API calls answered within the latency threshold (a histogram bucket bound, in seconds).
    ApiLatency { threshold: String },
}

/// One objective: a subject and the fraction of good events it must reach over the period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Objective {
    pub subject: Subject,
    pub target: Availability,
}

impl Objective {
    /// The value of the `slo` label on everything generated for the objective.
    pub fn kind(&self) -> &'static str {
        match self.subject {
            Subject::Site { .. } => "site",
            Subject::Workload { .. } => "workload",
            Subject::ApiAvailability => "api-availability",
            Subject::ApiLatency { .. } => "api-latency",
        }
    }

    /// The labels identifying the objective's series: `slo` and the subject's own.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([("slo".to_owned(), self.kind().to_owned())]);
        match &self.subject {
            Subject::Site { site } => {
                labels.insert("site".to_owned(), site.clone());
            }
            Subject::Workload { tenant, workload } => {
                labels.insert("tenant".to_owned(), tenant.clone());
                labels.insert("workload".to_owned(), workload.clone());
            }
            Subject::ApiAvailability | Subject::ApiLatency { .. } => {}
        }
        labels
    }

    /// What tells this objective apart from every other of its kind, when there can be several:
    /// a Site's name (unique in the cluster), a Workload's `namespace/name` (unique in the
    /// cluster; a namespace holds no `/`).
    pub fn identity(&self) -> Option<&str> {
        match &self.subject {
            Subject::Site { site } => Some(site),
            Subject::Workload { workload, .. } => Some(workload),
            Subject::ApiAvailability | Subject::ApiLatency { .. } => None,
        }
    }

    /// `{slo="site",site="x"}`: selects this objective's recorded series.
    pub fn selector(&self) -> String {
        selector(&self.labels())
    }

    /// The error budget as a fraction (0.001 for 99.9 %).
    pub fn error_budget(&self) -> f64 {
        f64::from(1_000_000 - self.target.parts_per_million()) / 1_000_000.0
    }

    /// The error ratio over `window`. The period is the average of the 5-minute ratio, as Sloth
    /// computes it (cheaper than a 30-day rate, and the same figure).
    pub fn error_ratio(&self, window: PromDuration) -> String {
        if window == PERIOD {
            let five_minutes = error_ratio_record(PromDuration::minutes(5));
            return format!("avg_over_time({five_minutes}{}[{window}])", self.selector());
        }
        match &self.subject {
            Subject::Site { site } => {
                let site = quoted(site);
                format!(
                    "(sum(rate(soberana_site_probes_total{{site={site},result=\"failure\"}}[{window}])) or vector(0))\n/\nsum(rate(soberana_site_probes_total{{site={site}}}[{window}]))"
                )
            }
            Subject::Workload { .. } => format!(
                "1 - avg_over_time({WORKLOAD_AVAILABLE}{}[{window}])",
                self.selector()
            ),
            Subject::ApiAvailability => format!(
                "(sum(rate(soberana_api_requests_total{{code=~\"{SERVER_ERROR_CODES}\"}}[{window}])) or vector(0))\n/\nsum(rate(soberana_api_requests_total[{window}]))"
            ),
            Subject::ApiLatency { threshold } => format!(
                "1 - (\n  sum(rate(soberana_api_request_duration_seconds_bucket{{le={}}}[{window}]))\n  /\n  sum(rate(soberana_api_request_duration_seconds_count[{window}]))\n)",
                quoted(threshold)
            ),
        }
    }

    /// For workloads: the instant availability the windows average (1 when the workload is fully
    /// available on at least one of its sites), recorded once per evaluation.
    pub fn instant_availability(&self) -> Option<String> {
        match &self.subject {
            Subject::Workload { tenant, workload } => Some(format!(
                "max(soberana_workload_available{{tenant={},workload={}}})",
                quoted(tenant),
                quoted(workload)
            )),
            _ => None,
        }
    }
}

/// The recorded instant availability of a workload (see [`Objective::instant_availability`]).
pub const WORKLOAD_AVAILABLE: &str = "soberana:slo_workload_available:max";

/// The API's objectives, which no object carries: the generator's options set them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiObjectives {
    pub availability: Availability,
    pub latency: Availability,
    /// A bucket bound of `soberana_api_request_duration_seconds`, as its `le` label prints it.
    pub latency_threshold: String,
}

impl Default for ApiObjectives {
    /// 99.9 % of calls without a server error; 99 % answered within a second.
    fn default() -> Self {
        Self {
            availability: Availability::from_parts_per_million(999_000),
            latency: Availability::from_parts_per_million(990_000),
            latency_threshold: "1".to_owned(),
        }
    }
}

impl ApiObjectives {
    pub fn objectives(&self) -> [Objective; 2] {
        [
            Objective {
                subject: Subject::ApiAvailability,
                target: self.availability,
            },
            Objective {
                subject: Subject::ApiLatency {
                    threshold: self.latency_threshold.clone(),
                },
                target: self.latency,
            },
        ]
    }
}

/// A target that is not an availability percentage, named by object and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {field} {value:?} is not a percentage between 0 and 100 with up to 4 decimals")]
pub struct InvalidTarget {
    pub object: String,
    pub field: &'static str,
    pub value: String,
}

/// The objectives the objects carry: every Site, and every Workload with a target of its own or
/// from its classification whose `spec.tenant` holds its namespace (see
/// [`tenant_holds_namespace`]: a Workload naming another institution gets no objective, so it
/// can neither speak in that institution's alerts nor collide with them); sorted by subject.
pub fn object_objectives(
    sites: &[Site],
    workloads: &[Workload],
    classifications: &[DataClassification],
    tenants: &[Tenant],
) -> Result<Vec<Objective>, Vec<InvalidTarget>> {
    let mut objectives = Vec::new();
    let mut errors = Vec::new();
    for site in sites {
        let object = format!("Site {}", site.name_any());
        match target(
            object,
            "spec.offeredAvailability",
            &site.spec.offered_availability,
        ) {
            Ok(target) => objectives.push(Objective {
                subject: Subject::Site {
                    site: site.name_any(),
                },
                target,
            }),
            Err(error) => errors.push(error),
        }
    }
    let owned = workloads.iter().filter(|workload| {
        tenant_holds_namespace(
            tenants,
            &workload.spec.tenant,
            &workload.namespace().unwrap_or_default(),
        )
    });
    for workload in owned {
        match workload_target(workload, classifications) {
            Ok(Some(target)) => objectives.push(Objective {
                subject: Subject::Workload {
                    tenant: workload.spec.tenant.clone(),
                    workload: workload_label(workload),
                },
                target,
            }),
            Ok(None) => {}
            Err(error) => errors.push(error),
        }
    }
    objectives.sort_by(|left, right| left.subject.cmp(&right.subject));
    if errors.is_empty() {
        Ok(objectives)
    } else {
        Err(errors)
    }
}

/// The `workload` label the operator's gauges carry: `namespace/name`.
pub fn workload_label(workload: &Workload) -> String {
    format!(
        "{}/{}",
        workload.namespace().unwrap_or_default(),
        workload.name_any()
    )
}

fn workload_target(
    workload: &Workload,
    classifications: &[DataClassification],
) -> Result<Option<Availability>, InvalidTarget> {
    let object = format!("Workload {}", workload_label(workload));
    if let Some(own) = &workload.spec.availability_target {
        return target(object, "spec.availabilityTarget", own).map(Some);
    }
    let classification = classifications
        .iter()
        .find(|classification| classification.name_any() == workload.spec.classification);
    match classification.and_then(|found| found.spec.minimum_availability.as_ref()) {
        Some(minimum) => target(
            format!("DataClassification {}", workload.spec.classification),
            "spec.minimumAvailability",
            minimum,
        )
        .map(Some),
        None => Ok(None),
    }
}

fn target(object: String, field: &'static str, value: &str) -> Result<Availability, InvalidTarget> {
    Availability::parse_percent(value).ok_or_else(|| InvalidTarget {
        object,
        field,
        value: value.to_owned(),
    })
}

/// A PromQL label selector from labels.
pub fn selector(labels: &BTreeMap<String, String>) -> String {
    let matchers: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}={}", quoted(value)))
        .collect();
    format!("{{{}}}", matchers.join(","))
}

/// A PromQL string literal.
fn quoted(value: &str) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| format!("\"{value}\""))
}
