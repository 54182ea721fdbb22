//! What every reconcile shares: clients, metrics, settings and the probe history.

use soberana_runtime::locking::lock;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use soberana_core::resources::tenant::Tenant;
use tokio::sync::mpsc;

use crate::members::connections::SiteConnections;
use crate::members::deadline::MemberLimits;
use crate::members::policy_watches::MemberPolicyWatches;
use crate::runtime::availability_window::AvailabilityWindow;
use crate::runtime::caches::Caches;
use crate::runtime::interval_schedule::IntervalSchedule;
use crate::runtime::metrics::Metrics;
use crate::runtime::retry_backoff::RetryBackoff;

/// The first wait after a site's residency work failed (the retry of any transient error).
const RESIDENCY_RETRY_FIRST: Duration = Duration::from_secs(10);
/// The longest wait between two attempts at a site whose residency work keeps failing: how late
/// a recovered member may have its policies checked again.
const RESIDENCY_RETRY_CAP: Duration = Duration::from_secs(120);
/// The first wait after a Tenant's pass left a site unprovisioned.
const TENANT_RETRY_FIRST: Duration = Duration::from_secs(15);
/// The first wait after an agreement's pass failed on a site.
const EXCHANGE_RETRY_FIRST: Duration = Duration::from_secs(10);
/// The longest wait between two passes of a Tenant against a member that keeps answering errors:
/// how late a recovered member gets its work (a Site's recovery does not wake its Tenants).
const TENANT_RETRY_CAP: Duration = Duration::from_secs(60);
/// The same for an agreement: its minute-long resync (paths edited on a member are put back)
/// bounds it anyway.
const EXCHANGE_RETRY_CAP: Duration = Duration::from_secs(60);

/// Operator settings that controllers read.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where the operator runs (its Lease, its SLO rules).
    pub namespace: String,
    /// Where the site kubeconfig Secrets are, the only Secrets it reads.
    pub site_secrets_namespace: String,
    /// How often each site is probed.
    pub probe_interval: Duration,
    /// How many probes the measured availability covers.
    pub availability_window: usize,
    /// The namespace of each site's ingress controller, allowed to reach tenants.
    pub ingress_namespace: String,
    /// How many objects each controller reconciles at once.
    pub reconcile_concurrency: u16,
    /// How often each site is checked for tenant objects deleted behind Soberana's back.
    pub drift_check_interval: Duration,
    /// How often each site's existing objects are scanned for residency violations.
    pub residency_scan_interval: Duration,
    /// The user name the operator has on member clusters; only it may change the labels of
    /// tenant namespaces there.
    pub member_identity: String,
    /// Labels on the generated SLO rules, for a Prometheus that selects rules by label.
    pub slo_rule_labels: BTreeMap<String, String>,
    /// Deadlines and call slots of every call to a member.
    pub member_limits: MemberLimits,
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    /// The decision ledger, when the operator is given one: placement decisions are appended.
    pub ledger: Option<std::sync::Arc<dyn soberana_store::Store>>,
    pub caches: Caches,
    pub connections: SiteConnections,
    pub metrics: Metrics,
    pub settings: Settings,
    pub recorder: Recorder,
    windows: Mutex<BTreeMap<String, AvailabilityWindow>>,
    /// Per tenant, the provisioning state on each site, behind the namespace gauges.
    tenant_sites: Mutex<BTreeMap<String, Vec<(String, &'static str)>>>,
    /// (tenant, site) pairs found missing objects, to be applied again.
    damaged: Mutex<BTreeSet<(String, String)>>,
    repair_sender: mpsc::UnboundedSender<ObjectRef<Tenant>>,
    repair_receiver: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<Tenant>>>>,
    /// When each site was last checked for missing objects.
    drift_checks: IntervalSchedule,
    /// When each site was last scanned for residency violations.
    pub residency_scans: IntervalSchedule,
    /// Watches of each member's residency policies, waking its residency reconcile on a change.
    pub policy_watches: MemberPolicyWatches,
    /// Sites whose residency work keeps failing, and when each may be tried again.
    pub residency_backoff: RetryBackoff,
    /// Tenants not provisioned on every site, and when each pass is retried.
    pub tenant_backoff: RetryBackoff,
    /// Agreements whose paths failed on a site, and when each pass is retried.
    pub exchange_backoff: RetryBackoff,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Context {
    pub fn new(
        client: Client,
        metrics: Metrics,
        settings: Settings,
        instance: &str,
        caches: Caches,
    ) -> Self {
        let reporter = Reporter {
            controller: "soberana-operator".to_owned(),
            instance: Some(instance.to_owned()),
        };
        let (repair_sender, repair_receiver) = mpsc::unbounded_channel();
        Self {
            ledger: None,
            connections: SiteConnections::new(
                caches.secrets.store().clone(),
                &settings.site_secrets_namespace,
                settings.member_limits,
            ),
            caches,
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            windows: Mutex::new(BTreeMap::new()),
            tenant_sites: Mutex::new(BTreeMap::new()),
            damaged: Mutex::new(BTreeSet::new()),
            repair_sender,
            repair_receiver: Mutex::new(Some(repair_receiver)),
            drift_checks: IntervalSchedule::new(settings.drift_check_interval),
            residency_scans: IntervalSchedule::new(settings.residency_scan_interval),
            policy_watches: MemberPolicyWatches::default(),
            residency_backoff: RetryBackoff::new(RESIDENCY_RETRY_FIRST, RESIDENCY_RETRY_CAP),
            tenant_backoff: RetryBackoff::new(TENANT_RETRY_FIRST, TENANT_RETRY_CAP),
            exchange_backoff: RetryBackoff::new(EXCHANGE_RETRY_FIRST, EXCHANGE_RETRY_CAP),
            settings,
        }
    }

    /// Records a probe of `site` and returns the measured availability so far.
    pub fn record_probe(
        &self,
        site: &str,
        success: bool,
    ) -> Option<soberana_core::resources::availability::Availability> {
        let mut windows = lock(&self.windows);
        let window = windows
            .entry(site.to_owned())
            .or_insert_with(|| AvailabilityWindow::new(self.settings.availability_window));
        window.record(success);
        window.measured()
    }

    /// Records where `tenant` stands on each site (empty when it is gone) and resets the
    /// `soberana_tenant_namespaces{site,state}` gauges to the totals over every tenant.
    pub fn record_tenant_sites(&self, tenant: &str, sites: Vec<(String, &'static str)>) {
        let mut tenants = lock(&self.tenant_sites);
        let previous = if sites.is_empty() {
            tenants.remove(tenant)
        } else {
            tenants.insert(tenant.to_owned(), sites)
        };
        let mut totals: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
        for (site, state) in previous.into_iter().flatten() {
            totals.entry((site, state)).or_default();
        }
        for (site, state) in tenants.values().flatten() {
            *totals.entry((site.clone(), *state)).or_default() += 1;
        }
        for ((site, state), total) in totals {
            self.metrics
                .tenant_namespaces
                .with_label_values(&[site.as_str(), state])
                .set(total);
        }
    }

    /// Whether `site` is due a drift check; if so, records that it is being checked now.
    pub fn drift_check_due(&self, site: &str) -> bool {
        self.drift_checks.due(site)
    }

    /// Marks `tenant` as missing objects on `site` and asks the Tenant controller to apply them.
    pub fn request_repair(&self, tenant: &str, site: &str) {
        lock(&self.damaged).insert((tenant.to_owned(), site.to_owned()));
        let _ = self.repair_sender.send(ObjectRef::new(tenant));
    }

    /// Whether `tenant` must be applied on `site` again although its status says provisioned.
    pub fn needs_repair(&self, tenant: &str, site: &str) -> bool {
        lock(&self.damaged).contains(&(tenant.to_owned(), site.to_owned()))
    }

    /// `tenant` was applied on `site` again.
    pub fn repaired(&self, tenant: &str, site: &str) {
        lock(&self.damaged).remove(&(tenant.to_owned(), site.to_owned()));
    }

    /// The stream of repair requests, for the Tenant controller (taken once).
    pub fn take_repair_requests(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<Tenant>>> {
        lock(&self.repair_receiver).take()
    }
}
