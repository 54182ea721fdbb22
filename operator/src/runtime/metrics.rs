//! The operator's Prometheus metrics, registered once and shared by the controllers.

use prometheus::{GaugeVec, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec};
use soberana_runtime::metrics::MetricsRegistry;

/// Every metric the operator exports.
#[derive(Clone, Debug)]
pub struct Metrics {
    pub registry: MetricsRegistry,
    pub reconciles: IntCounterVec,
    pub reconcile_errors: IntCounterVec,
    pub reconcile_duration: HistogramVec,
    pub site_up: IntGaugeVec,
    pub site_probes: IntCounterVec,
    pub site_probe_duration: HistogramVec,
    pub site_availability: GaugeVec,
    pub site_offered_availability: GaugeVec,
    pub tenant_namespaces: IntGaugeVec,
    pub api_requests: IntCounterVec,
    pub member_request_timeouts: IntCounterVec,
    pub management_request_timeouts: IntCounter,
    pub residency_violations: IntGaugeVec,
    pub residency_scans: IntCounterVec,
    pub residency_policy_applies: IntCounterVec,
    pub residency_last_scan: GaugeVec,
    pub workload_available: IntGaugeVec,
    pub workload_replicas: IntGaugeVec,
    pub workload_availability_target: GaugeVec,
    pub workload_stranded: IntGaugeVec,
    pub exchange_active: IntGaugeVec,
    pub exchange_expiring: IntGaugeVec,
    pub workload_unplaceable: IntGaugeVec,
    pub residency_policies_enforced: IntGaugeVec,
    pub slo_rules_held: IntGaugeVec,
    pub build_info: IntGaugeVec,
}

impl Metrics {
    #[allow(
        clippy::too_many_lines,
        reason = "one entry per exported metric: a table, read best whole"
    )]
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricsRegistry::new();
        Ok(Self {
            reconciles: registry.counters(
                "soberana_reconcile_total",
                "Reconciles by controller and result",
                &["controller", "result"],
            )?,
            reconcile_errors: registry.counters(
                "soberana_reconcile_errors_total",
                "Failed reconciles by controller and error category",
                &["controller", "category"],
            )?,
            reconcile_duration: registry.histograms(
                "soberana_reconcile_duration_seconds",
                "Time one reconcile takes",
                &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,],
                &["controller"],
            )?,
            site_up: registry.gauges(
                "soberana_site_up",
                "1 when the site's API server answered its last probe",
                &["site"],
            )?,
            site_probes: registry.counters(
                "soberana_site_probes_total",
                "Site probes by result",
                &["site", "result"],
            )?,
            site_probe_duration: registry.histograms(
                "soberana_site_probe_duration_seconds",
                "Latency of a site probe (/readyz and /version)",
                &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,],
                &["site"],
            )?,
            site_availability: registry.ratios(
                "soberana_site_availability_ratio",
                "Measured availability over the rolling window (0–1)",
                &["site"],
            )?,
            site_offered_availability: registry.ratios(
                "soberana_site_offered_availability_ratio",
                "Availability the site's operator commits to (0–1)",
                &["site"],
            )?,
            tenant_namespaces: registry.gauges(
                "soberana_tenant_namespaces",
                "Tenant namespaces per site by provisioning state",
                &["site", "state"],
            )?,
            api_requests: registry.counters(
                "soberana_kube_api_requests_total",
                "Requests the operator sent to Kubernetes API servers, by cluster and verb",
                &["cluster", "verb"],
            )?,
            member_request_timeouts: registry.counters(
                "soberana_member_request_timeouts_total",
                "Calls to a member API server that did not finish within --member-request-timeout, by site",
                &["site"],
            )?,
            management_request_timeouts: registry.counter(
                "soberana_management_request_timeouts_total",
                "Calls to the management API server that did not finish within --management-request-timeout",
            )?,
            residency_violations: registry.gauges(
                "soberana_residency_violations",
                "Existing objects breaking residency at the last scan, by site and classification",
                &["site", "classification"],
            )?,
            residency_scans: registry.counters(
                "soberana_residency_scans_total",
                "Residency violation scans by site and result",
                &["site", "result"],
            )?,
            residency_policy_applies: registry.counters(
                "soberana_residency_policy_applies_total",
                "Times a new revision of the residency admission policies was applied to a site",
                &["site"],
            )?,
            residency_last_scan: registry.ratios(
                "soberana_residency_last_scan_timestamp_seconds",
                "When each site was last scanned for residency violations (Unix time)",
                &["site"],
            )?,
            workload_available: registry.gauges(
                "soberana_workload_available",
                "1 when every desired replica of the workload is available on the site",
                &["tenant", "workload", "site"],
            )?,
            workload_replicas: registry.gauges(
                "soberana_workload_replicas",
                "Replicas of the workload on the site, desired and available",
                &["tenant", "workload", "site", "state"],
            )?,
            workload_availability_target: registry.ratios(
                "soberana_workload_availability_target_ratio",
                "The availability the workload must reach (0–1), for SLA computations",
                &["tenant", "workload"],
            )?,
            workload_stranded: registry.gauges(
                "soberana_workload_stranded",
                "1 when the workload should leave a failed or ineligible site but no eligible site can take it",
                &["tenant", "workload"],
            )?,
            exchange_active: registry.gauges(
                "soberana_exchange_active",
                "1 when the interoperability agreement (DataExchange) is in force or a site has not yet confirmed its path closed, by agreement, provider and consumer tenant and classification",
                &["exchange", "provider", "consumer", "classification"],
            )?,
            exchange_expiring: registry.gauges(
                "soberana_exchange_expiring_within_14_days",
                "1 when an active agreement's validity.notAfter is less than 14 days away",
                &["exchange", "provider", "consumer"],
            )?,
            workload_unplaceable: registry.gauges(
                "soberana_workload_unplaceable",
                "1 when no site satisfies the workload's classification, rules, target and capacity",
                &["tenant", "workload"],
            )?,
            residency_policies_enforced: registry.gauges(
                "soberana_residency_policies_enforced",
                "1 when the site's current residency admission policies are in force in its cluster",
                &["site"],
            )?,
            slo_rules_held: registry.gauges(
                "soberana_slo_rules_held",
                "1 when the SLO rules are not written and the last good ones stay, by reason (InvalidRules: Prometheus would refuse them; ForeignObject: the soberana-slo object is not Soberana's)",
                &["reason"],
            )?,
            build_info: build_info(&registry)?,
            registry,
        })
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        self.registry.render()
    }
}

/// `soberana_operator_build_info{version}`, 1 from start-up: its absence in Prometheus means no
/// operator is scraped (the other series appear only once there is something to report).
fn build_info(registry: &MetricsRegistry) -> Result<IntGaugeVec, prometheus::Error> {
    let info = registry.gauges(
        "soberana_operator_build_info",
        "Always 1; the operator's version as a label",
        &["version"],
    )?;
    info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
    Ok(info)
}
