//! The operator's Prometheus metrics, registered once and shared by the controllers.

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// Every metric the operator exports.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Registry,
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
    pub residency_violations: IntGaugeVec,
    pub residency_scans: IntCounterVec,
    pub residency_policy_applies: IntCounterVec,
    pub residency_last_scan: GaugeVec,
    pub workload_available: IntGaugeVec,
    pub workload_replicas: IntGaugeVec,
    pub workload_availability_target: GaugeVec,
    pub workload_stranded: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let metrics = Self {
            reconciles: IntCounterVec::new(
                Opts::new(
                    "soberana_reconcile_total",
                    "Reconciles by controller and result",
                ),
                &["controller", "result"],
            )?,
            reconcile_errors: IntCounterVec::new(
                Opts::new(
                    "soberana_reconcile_errors_total",
                    "Failed reconciles by controller and error category",
                ),
                &["controller", "category"],
            )?,
            reconcile_duration: HistogramVec::new(
                HistogramOpts::new(
                    "soberana_reconcile_duration_seconds",
                    "Time one reconcile takes",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ]),
                &["controller"],
            )?,
            site_up: IntGaugeVec::new(
                Opts::new(
                    "soberana_site_up",
                    "1 when the site's API server answered its last probe",
                ),
                &["site"],
            )?,
            site_probes: IntCounterVec::new(
                Opts::new("soberana_site_probes_total", "Site probes by result"),
                &["site", "result"],
            )?,
            site_probe_duration: HistogramVec::new(
                HistogramOpts::new(
                    "soberana_site_probe_duration_seconds",
                    "Latency of a site probe (/readyz and /version)",
                )
                .buckets(vec![
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                ]),
                &["site"],
            )?,
            site_availability: GaugeVec::new(
                Opts::new(
                    "soberana_site_availability_ratio",
                    "Measured availability over the rolling window (0–1)",
                ),
                &["site"],
            )?,
            site_offered_availability: GaugeVec::new(
                Opts::new(
                    "soberana_site_offered_availability_ratio",
                    "Availability the site's operator commits to (0–1)",
                ),
                &["site"],
            )?,
            tenant_namespaces: IntGaugeVec::new(
                Opts::new(
                    "soberana_tenant_namespaces",
                    "Tenant namespaces per site by provisioning state",
                ),
                &["site", "state"],
            )?,
            api_requests: IntCounterVec::new(
                Opts::new(
                    "soberana_kube_api_requests_total",
                    "Requests the operator sent to Kubernetes API servers, by cluster and verb",
                ),
                &["cluster", "verb"],
            )?,
            residency_violations: IntGaugeVec::new(
                Opts::new(
                    "soberana_residency_violations",
                    "Existing objects breaking residency at the last scan, by site and classification",
                ),
                &["site", "classification"],
            )?,
            residency_scans: IntCounterVec::new(
                Opts::new(
                    "soberana_residency_scans_total",
                    "Residency violation scans by site and result",
                ),
                &["site", "result"],
            )?,
            residency_policy_applies: IntCounterVec::new(
                Opts::new(
                    "soberana_residency_policy_applies_total",
                    "Times a new revision of the residency admission policies was applied to a site",
                ),
                &["site"],
            )?,
            residency_last_scan: GaugeVec::new(
                Opts::new(
                    "soberana_residency_last_scan_timestamp_seconds",
                    "When each site was last scanned for residency violations (Unix time)",
                ),
                &["site"],
            )?,
            workload_available: IntGaugeVec::new(
                Opts::new(
                    "soberana_workload_available",
                    "1 when every desired replica of the workload is available on the site",
                ),
                &["tenant", "workload", "site"],
            )?,
            workload_replicas: IntGaugeVec::new(
                Opts::new(
                    "soberana_workload_replicas",
                    "Replicas of the workload on the site, desired and available",
                ),
                &["tenant", "workload", "site", "state"],
            )?,
            workload_availability_target: GaugeVec::new(
                Opts::new(
                    "soberana_workload_availability_target_ratio",
                    "The availability the workload must reach (0–1), for SLA computations",
                ),
                &["tenant", "workload"],
            )?,
            workload_stranded: IntGaugeVec::new(
                Opts::new(
                    "soberana_workload_stranded",
                    "1 when the workload should leave a failed or ineligible site but no eligible site can take it",
                ),
                &["tenant", "workload"],
            )?,
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 18] = [
            Box::new(metrics.reconciles.clone()),
            Box::new(metrics.reconcile_errors.clone()),
            Box::new(metrics.reconcile_duration.clone()),
            Box::new(metrics.site_up.clone()),
            Box::new(metrics.site_probes.clone()),
            Box::new(metrics.site_probe_duration.clone()),
            Box::new(metrics.site_availability.clone()),
            Box::new(metrics.site_offered_availability.clone()),
            Box::new(metrics.tenant_namespaces.clone()),
            Box::new(metrics.api_requests.clone()),
            Box::new(metrics.residency_violations.clone()),
            Box::new(metrics.residency_scans.clone()),
            Box::new(metrics.residency_policy_applies.clone()),
            Box::new(metrics.residency_last_scan.clone()),
            Box::new(metrics.workload_available.clone()),
            Box::new(metrics.workload_replicas.clone()),
            Box::new(metrics.workload_availability_target.clone()),
            Box::new(metrics.workload_stranded.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector)?;
        }
        Ok(metrics)
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8_lossy(&buffer).into_owned()
    }
}
