//! The two ends of an agreement found among the objects: the provider Workload and where it
//! runs, the consumer's namespaces and Workloads and where they run or may run.

use std::collections::BTreeSet;

use kube::ResourceExt;

use super::approval_policy::ApprovalPolicyState;
use crate::placement::Snapshot;
use crate::resources::data_exchange::DataExchangeSpec;
use crate::resources::tenant::TenantSpec;
use crate::resources::workload::Workload;
use crate::tenancy::objects::namespace_name;
use crate::tenancy::sites::sites_for_tenant;

/// What an agreement is judged against: the policy (sites, classifications, tenants) as the
/// placement engine sees it, the Workloads with their placement status, and whether the
/// management cluster proves who gave the approvals.
#[derive(Clone, Copy, Debug)]
pub struct ExchangeObjects<'a> {
    pub snapshot: &'a Snapshot,
    pub workloads: &'a [Workload],
    pub approval_policy: &'a ApprovalPolicyState,
}

/// The provider end, resolved.
#[derive(Debug)]
pub(super) struct ProviderEnd<'a> {
    pub namespace: String,
    pub workload: &'a Workload,
    /// Where the Workload is placed.
    pub sites: BTreeSet<String>,
}

/// The consumer end, resolved.
#[derive(Debug)]
pub(super) struct ConsumerEnd {
    pub namespaces: Vec<String>,
    /// Where the selected consumer Workloads are placed.
    pub running_on: BTreeSet<String>,
    /// Where the consumer runs or may run: its tenancy's sites and where its Workloads are.
    pub may_run_on: BTreeSet<String>,
}

/// The provider tenant's namespace for the agreement's environment and the Workload there, or
/// why they cannot be found.
pub(super) fn provider_end<'a>(
    spec: &DataExchangeSpec,
    tenant: &TenantSpec,
    objects: &ExchangeObjects<'a>,
    reasons: &mut Vec<String>,
) -> Option<ProviderEnd<'a>> {
    let provider = &spec.provider;
    if !has_environment(tenant, &provider.environment) {
        reasons.push(format!(
            "spec.provider.environment {:?} is not an environment of Tenant {}",
            provider.environment, provider.tenant
        ));
        return None;
    }
    let namespace = namespace_name(&tenant.short_code, &provider.environment);
    let Some(workload) = objects.workloads.iter().find(|workload| {
        workload.namespace().as_deref() == Some(namespace.as_str())
            && workload.name_any() == provider.workload
            && workload.spec.tenant == provider.tenant
    }) else {
        reasons.push(format!(
            "spec.provider.workload: Workload {namespace}/{} of Tenant {} does not exist",
            provider.workload, provider.tenant
        ));
        return None;
    };
    let sites = chosen_sites(workload);
    Some(ProviderEnd {
        namespace,
        workload,
        sites,
    })
}

/// The consumer tenant's namespaces for the agreement's environments and where the consumer
/// runs, or why an environment is unknown.
pub(super) fn consumer_end(
    spec: &DataExchangeSpec,
    tenant: &TenantSpec,
    objects: &ExchangeObjects<'_>,
    reasons: &mut Vec<String>,
) -> Option<ConsumerEnd> {
    let consumer = &spec.consumer;
    let unknown: Vec<&String> = consumer
        .environments
        .iter()
        .filter(|environment| !has_environment(tenant, environment))
        .collect();
    if !unknown.is_empty() {
        reasons.push(format!(
            "spec.consumer.environments: {unknown:?} are not environments of Tenant {}",
            consumer.tenant
        ));
        return None;
    }
    let namespaces: Vec<String> = consumer
        .environments
        .iter()
        .map(|environment| namespace_name(&tenant.short_code, environment))
        .collect();
    let running_on: BTreeSet<String> = objects
        .workloads
        .iter()
        .filter(|workload| {
            workload.spec.tenant == consumer.tenant
                && workload
                    .namespace()
                    .is_some_and(|namespace| namespaces.contains(&namespace))
                && (consumer.workloads.is_empty()
                    || consumer.workloads.contains(&workload.name_any()))
        })
        .flat_map(chosen_sites)
        .collect();
    let mut may_run_on: BTreeSet<String> = sites_for_tenant(tenant, objects.snapshot)
        .into_iter()
        .collect();
    may_run_on.extend(running_on.iter().cloned());
    Some(ConsumerEnd {
        namespaces,
        running_on,
        may_run_on,
    })
}

fn has_environment(tenant: &TenantSpec, environment: &str) -> bool {
    tenant
        .environments
        .iter()
        .any(|candidate| candidate.name == environment)
}

fn chosen_sites(workload: &Workload) -> BTreeSet<String> {
    workload
        .status
        .as_ref()
        .map(|status| status.chosen_sites.iter().cloned().collect())
        .unwrap_or_default()
}
