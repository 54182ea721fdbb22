//! The violation scan: lists what already exists in a member cluster (namespaces and workloads,
//! metadata only, in pages) and judges each object by the site's residency rules, finding what
//! admission can no longer catch: objects created before a policy tightened. It only reads;
//! Soberana never deletes an offender, people decide.

use std::collections::BTreeMap;

use crate::members::paged_list::for_each_live;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Namespace, PersistentVolumeClaim, Pod};
use kube::{Client, Resource};
use soberana_core::residency::SiteResidency;
use soberana_core::residency::violation::ObjectLabels;
use soberana_core::resources::site::ResidencyOffender;

/// Offenders named in the Site's status; the count covers them all.
pub const OFFENDERS_SHOWN: usize = 20;
/// The `classification` of objects without one, in counts and metrics.
pub const UNLABELLED: &str = "unlabelled";

/// What one scan found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScanReport {
    pub count: u32,
    pub by_classification: BTreeMap<String, u32>,
    /// The first offenders in kind/namespace/name order.
    pub offenders: Vec<ResidencyOffender>,
}

/// Scans the site's cluster and judges every namespace and workload, a page at a time.
pub async fn scan(client: &Client, residency: &SiteResidency) -> Result<ScanReport, kube::Error> {
    let mut namespaces: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for_each_live::<Namespace>(client, None, |metadata| {
        namespaces.insert(
            metadata.name.unwrap_or_default(),
            metadata.labels.unwrap_or_default(),
        );
    })
    .await?;
    let mut offenders = Vec::new();
    for (name, labels) in &namespaces {
        judge(
            residency,
            "Namespace",
            None,
            name,
            labels,
            None,
            &mut offenders,
        );
    }
    let scanned = Scanned {
        residency,
        namespaces: &namespaces,
    };
    scanned.kind::<Pod>(client, "Pod", &mut offenders).await?;
    scanned
        .kind::<PersistentVolumeClaim>(client, "PersistentVolumeClaim", &mut offenders)
        .await?;
    scanned
        .kind::<Deployment>(client, "Deployment", &mut offenders)
        .await?;
    scanned
        .kind::<StatefulSet>(client, "StatefulSet", &mut offenders)
        .await?;
    scanned
        .kind::<DaemonSet>(client, "DaemonSet", &mut offenders)
        .await?;
    scanned.kind::<Job>(client, "Job", &mut offenders).await?;
    scanned
        .kind::<CronJob>(client, "CronJob", &mut offenders)
        .await?;
    Ok(report(offenders))
}

/// What every workload kind is judged against: the site's residency and its namespaces' labels.
struct Scanned<'a> {
    residency: &'a SiteResidency,
    namespaces: &'a BTreeMap<String, BTreeMap<String, String>>,
}

impl Scanned<'_> {
    /// Judges every live object of kind `K` as its page arrives.
    async fn kind<K>(
        &self,
        client: &Client,
        kind: &str,
        offenders: &mut Vec<ResidencyOffender>,
    ) -> Result<(), kube::Error>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let empty = BTreeMap::new();
        for_each_live::<K>(client, None, |metadata| {
            let namespace = metadata.namespace.clone().unwrap_or_default();
            let namespace_labels = self.namespaces.get(&namespace).unwrap_or(&empty);
            judge(
                self.residency,
                kind,
                Some(&namespace),
                metadata.name.as_deref().unwrap_or_default(),
                &metadata.labels.unwrap_or_default(),
                Some(namespace_labels),
                offenders,
            );
        })
        .await
    }
}

fn judge(
    residency: &SiteResidency,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    labels: &BTreeMap<String, String>,
    namespace_labels: Option<&BTreeMap<String, String>>,
    offenders: &mut Vec<ResidencyOffender>,
) {
    let verdict = residency.judge(ObjectLabels {
        labels,
        namespace: namespace.zip(namespace_labels),
    });
    if let Some(violation) = verdict {
        offenders.push(ResidencyOffender {
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            classification: violation.classification,
            reason: violation.kind.to_string(),
            message: violation.message,
        });
    }
}

/// Counts every offender and keeps the first few.
fn report(mut offenders: Vec<ResidencyOffender>) -> ScanReport {
    offenders.sort_by(|left, right| {
        (&left.kind, &left.namespace, &left.name).cmp(&(&right.kind, &right.namespace, &right.name))
    });
    let mut by_classification = BTreeMap::new();
    for offender in &offenders {
        let classification = if offender.classification.is_empty() {
            UNLABELLED.to_owned()
        } else {
            offender.classification.clone()
        };
        *by_classification.entry(classification).or_insert(0) += 1;
    }
    let count = u32::try_from(offenders.len()).unwrap_or(u32::MAX);
    offenders.truncate(OFFENDERS_SHOWN);
    ScanReport {
        count,
        by_classification,
        offenders,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offender(kind: &str, name: &str, classification: &str) -> ResidencyOffender {
        ResidencyOffender {
            kind: kind.to_owned(),
            namespace: Some("ns".to_owned()),
            name: name.to_owned(),
            classification: classification.to_owned(),
            reason: "NotAllowedOnSite".to_owned(),
            message: String::new(),
        }
    }

    #[test]
    fn a_report_counts_everything_and_names_the_first_offenders_in_order() {
        let mut offenders: Vec<ResidencyOffender> = (0..30)
            .map(|index| offender("Pod", &format!("p{index:02}"), "restricted"))
            .collect();
        offenders.push(offender("Deployment", "web", ""));
        offenders.reverse();
        let report = report(offenders);
        assert_eq!(report.count, 31);
        assert_eq!(
            report.by_classification,
            BTreeMap::from([(UNLABELLED.to_owned(), 1), ("restricted".to_owned(), 30)])
        );
        assert_eq!(report.offenders.len(), OFFENDERS_SHOWN);
        assert_eq!(report.offenders[0].name, "web");
        assert_eq!(report.offenders[1].name, "p00");
    }
}
