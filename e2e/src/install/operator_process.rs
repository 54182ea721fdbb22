//! A `soberana-operator` process run against a harness control plane, as the e2e tests and the
//! demo run it: under its own ServiceAccount (not as cluster admin), with its metrics endpoint on
//! a free loopback port, and able to be stopped gracefully or killed outright.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::component::Component;
use crate::harness::ports::free_loopback_port;
use crate::install::soberana_install::{OPERATOR_NAMESPACE, SITE_SECRETS_NAMESPACE};

/// Settings that make the operator react quickly enough for tests and the demo.
#[derive(Clone, Debug)]
pub struct OperatorSettings {
    /// Seconds between probes of a site.
    pub probe_interval: u64,
    /// Seconds a leader's claim lasts.
    pub lease_duration: u64,
    /// Reconciles in flight per controller.
    pub reconcile_concurrency: u16,
    /// Seconds between two checks of a site for deleted tenant objects.
    pub drift_check_interval: u64,
    /// Seconds between two residency violation scans of a site.
    pub residency_scan_interval: u64,
    /// etcd endpoint of the decision ledger, if any.
    pub ledger_etcd: Option<String>,
    /// Labels on the generated SLO rules (`--slo-rule-labels`).
    pub slo_rule_labels: Vec<(String, String)>,
}

impl Default for OperatorSettings {
    fn default() -> Self {
        Self {
            probe_interval: 2,
            lease_duration: 6,
            reconcile_concurrency: 32,
            drift_check_interval: 2,
            residency_scan_interval: 2,
            ledger_etcd: None,
            slo_rule_labels: Vec::new(),
        }
    }
}

/// One running operator replica.
#[derive(Debug)]
pub struct OperatorProcess {
    component: Component,
    identity: String,
    metrics_port: u16,
}

impl OperatorProcess {
    /// Starts replica `identity` of `binary`, reaching the management cluster through
    /// `kubeconfig`; its log is `<directory>/<identity>.log`.
    pub fn start(
        binary: &Path,
        kubeconfig: &Path,
        directory: &Path,
        identity: &str,
        settings: &OperatorSettings,
    ) -> Result<Self> {
        let metrics_port = free_loopback_port()?;
        // The kubeconfig is passed as a flag: a run's leftover processes are found by their
        // command line naming the run directory.
        let mut arguments = vec![
            format!("--kubeconfig={}", kubeconfig.display()),
            format!("--namespace={OPERATOR_NAMESPACE}"),
            format!("--site-secrets-namespace={SITE_SECRETS_NAMESPACE}"),
            format!("--metrics-address=127.0.0.1:{metrics_port}"),
            format!("--probe-interval={}", settings.probe_interval),
            format!("--lease-duration={}", settings.lease_duration),
            format!("--reconcile-concurrency={}", settings.reconcile_concurrency),
            format!("--drift-check-interval={}", settings.drift_check_interval),
            format!(
                "--residency-scan-interval={}",
                settings.residency_scan_interval
            ),
            format!("--identity={identity}"),
        ];
        if let Some(endpoint) = &settings.ledger_etcd {
            arguments.push(format!("--ledger-etcd-endpoints={endpoint}"));
        }
        if !settings.slo_rule_labels.is_empty() {
            let pairs: Vec<String> = settings
                .slo_rule_labels
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            arguments.push(format!("--slo-rule-labels={}", pairs.join(",")));
        }
        let mut component = Component::new(identity, binary, arguments, directory)
            .with_environment("RUST_LOG", "info,kube_lease_manager=warn");
        component.start()?;
        Ok(Self {
            component,
            identity: identity.to_owned(),
            metrics_port,
        })
    }

    /// The loopback port of `/metrics`, `/healthz` and `/readyz`, for a Prometheus to scrape.
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    /// Fetches one endpoint (`/metrics`, `/healthz`, `/readyz`): status code and body.
    pub async fn get(&self, path: &str) -> Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.metrics_port))
            .await
            .with_context(|| format!("connecting to {}'s endpoints", self.identity))?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .context("a response without headers")?;
        let code = head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("a response without a status code")?;
        Ok((code, body.to_owned()))
    }

    /// The value of one sample in `/metrics` (`name{labels}` exactly as exported), summed over
    /// every series whose labels include all of `labels`.
    pub async fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Result<f64> {
        let (_, text) = self.get("/metrics").await?;
        Ok(sum_samples(&text, name, labels))
    }

    /// Waits until `/readyz` answers 200 with a body containing `what` (e.g. "leading"); fails
    /// at once, with its log tail, if the process exits.
    pub async fn wait_for_readiness(&mut self, what: &str, timeout: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.component.exited() {
                bail!(
                    "{} exited ({status}):\n{}",
                    self.identity,
                    self.component.log_tail(40)
                );
            }
            if matches!(self.get("/readyz").await, Ok((200, body)) if body.contains(what)) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "{} did not report {what:?} on /readyz within {timeout:?}:\n{}",
                    self.identity,
                    self.component.log_tail(40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Stops it with SIGTERM (graceful); returns how it ended.
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        self.component.stop()
    }

    /// Kills it with SIGKILL, as a crash or an evicted pod would end.
    pub fn kill(&mut self) -> Option<std::process::ExitStatus> {
        self.component.kill()
    }

    /// The peak resident memory of the process so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let pid = self
            .component
            .pid()
            .context("the operator is not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }

    pub fn is_running(&mut self) -> bool {
        self.component.is_running()
    }

    pub fn log_tail(&self, lines: usize) -> String {
        self.component.log_tail(lines)
    }

    pub fn log_file(&self) -> PathBuf {
        self.component.log_file().to_owned()
    }
}

/// Sums the samples of metric `name` whose label set includes every pair of `labels`.
pub fn sum_samples(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let matches = labels
                .iter()
                .all(|(key, wanted)| label_text.contains(&format!("{key}=\"{wanted}\"")));
            matches.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_summed_over_matching_labels_only() {
        let text = "# HELP x\nsoberana_kube_api_requests_total{cluster=\"management\",verb=\"patch\"} 3\n\
                    soberana_kube_api_requests_total{cluster=\"site-a\",verb=\"patch\"} 4\n\
                    soberana_kube_api_requests_total{cluster=\"site-a\",verb=\"get\"} 9\n";
        assert!(
            (sum_samples(
                text,
                "soberana_kube_api_requests_total",
                &[("verb", "patch")]
            ) - 7.0)
                .abs()
                < f64::EPSILON
        );
        assert!(
            (sum_samples(text, "soberana_kube_api_requests_total", &[]) - 16.0).abs()
                < f64::EPSILON
        );
        assert!(sum_samples(text, "other", &[]).abs() < f64::EPSILON);
    }
}
