//! The SLOs end to end, on real servers: a real Prometheus (built by `make test-tools`) scrapes
//! the running operator and API and loads the rules — the objects' rules from the ConfigMap the
//! operator writes, the platform rules from `soberana slo rules --only platform` — then one
//! member site's nodes stop answering (the workload's burn-rate alert must fire), then its API
//! server is stopped. Prometheus' HTTP API must show the outage in the site's
//! series and recording rules and the site-unreachable alert pending or firing, and
//! `soberana sla report` against that Prometheus must show the site and the workload on it below
//! 100 %.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

mod common;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use soberana_core::resources::workload::{Workload, WorkloadPhase};
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::state_data_centre::apply;
use soberana_e2e::workspace_binaries::workspace_binary;
use soberana_e2e::{Component, ControlPlane, Suite, free_loopback_port, test_tool, wait_until};

use common::{start, tenant, wait_ready};

const CONVERGE: Duration = Duration::from_secs(90);
const NAMESPACE: &str = "rev-prod";
const WORKLOAD: &str = "portal";

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "prometheus_sees_a_stopped_site_alerts_and_the_sla_report_shows_it",
            stopped_site,
        )
        .test(
            "workloads_whose_group_names_collided_still_load_and_a_claimed_tenant_gets_no_rules",
            colliding_workloads,
        )
        .test(
            "a_soberana_slo_config_map_that_is_not_soberanas_is_left_intact_and_reported",
            foreign_config_map,
        )
        .run()
}

async fn stopped_site(plane: Arc<ControlPlane>) -> Result<()> {
    let tools = (test_tool("prometheus")?, test_tool("promtool")?);
    let soberana = workspace_binary("soberana")?;
    let soberana = soberana.to_str().context("a non-UTF-8 path")?;
    let (installation, operator) = start(&plane, "slo-a").await?;
    let client = &installation.management;
    let site = running_workload(client).await?;

    let directory = plane.cluster("mgmt")?.directory().join("prometheus");
    std::fs::create_dir_all(&directory)?;
    // The objects' rules, as the operator wrote them for the live Sites and Workloads.
    let objects = operator_rules(client, &site).await?;
    std::fs::write(directory.join("objects.rules.yaml"), objects)?;
    // The platform rules, with the site-unreachable delay shortened for the test.
    let platform = command(
        soberana,
        &[
            "slo",
            "rules",
            "--only",
            "platform",
            "--site-unreachable-for",
            "10s",
        ],
    )
    .await?;
    std::fs::write(directory.join("platform.rules.yaml"), platform)?;
    let checked = command(
        tools.1.to_str().unwrap(),
        &[
            "check",
            "rules",
            directory.join("objects.rules.yaml").to_str().unwrap(),
            directory.join("platform.rules.yaml").to_str().unwrap(),
        ],
    )
    .await?;
    ensure!(checked.contains("SUCCESS"), "{checked}");

    let etcd = EtcdServer::start().await?;
    let (_api, api_metrics) = start_api(&plane, &etcd, &directory)?;
    let (_prometheus, port) =
        start_prometheus(&tools.0, &directory, operator.metrics_port(), api_metrics)?;
    let prometheus = PrometheusApi { port };
    wait_until(
        "Prometheus to be ready and scrape the operator and the API",
        CONVERGE,
        || async {
            let up = prometheus
                .values("sum(up{job=~\"soberana-operator|soberana-api\"})")
                .await
                .unwrap_or_default();
            Ok(up.first().copied() == Some(2.0))
        },
    )
    .await?;
    let site_up = format!("soberana_site_up{{site=\"{site}\"}}");
    // Some answered probes first, so that the window holds availability as well as the outage.
    let answered = format!(
        "sum(increase(soberana_site_probes_total{{site=\"{site}\",result=\"success\"}}[10m]))"
    );
    wait_until(
        &format!("Prometheus to see {site} answer probes"),
        CONVERGE,
        || async {
            Ok(prometheus
                .values(&answered)
                .await?
                .first()
                .is_some_and(|count| *count >= 3.0))
        },
    )
    .await?;

    // The site's nodes stop answering (its API server still does): the real node-lifecycle
    // controller marks the workload's replica not ready, the operator reports it unavailable, and
    // its burn-rate alert fires. Once the nodes answer again, it is available again.
    let available = format!(
        "soberana_workload_available{{workload=\"{NAMESPACE}/{WORKLOAD}\",site=\"{site}\"}}"
    );
    let burning = format!(
        "ALERTS{{alertname=\"SoberanaWorkloadErrorBudgetBurn\",workload=\"{NAMESPACE}/{WORKLOAD}\",alertstate=\"firing\"}}"
    );
    plane.cluster(&site)?.stop_simulated_nodes();
    let nodes_down = async {
        wait_until(
            "Prometheus to see the workload unavailable",
            CONVERGE,
            || async { Ok(prometheus.values(&available).await?.first().copied() == Some(0.0)) },
        )
        .await?;
        wait_until(
            "SoberanaWorkloadErrorBudgetBurn to fire",
            CONVERGE,
            || async { Ok(!prometheus.values(&burning).await?.is_empty()) },
        )
        .await
    }
    .await;
    plane.cluster(&site)?.start_simulated_nodes()?;
    nodes_down?;
    wait_until("the workload to be available again", CONVERGE, || async {
        Ok(prometheus.values(&available).await?.first().copied() == Some(1.0))
    })
    .await?;

    // The outage.
    plane.cluster(&site)?.stop_api_server();
    wait_until(
        &format!("Prometheus to see {site} down"),
        CONVERGE,
        || async { Ok(prometheus.values(&site_up).await?.first().copied() == Some(0.0)) },
    )
    .await?;
    let error_ratio = format!("soberana:slo_error:ratio_rate5m{{slo=\"site\",site=\"{site}\"}}");
    wait_until(
        "the recorded 5-minute error ratio to show the outage",
        CONVERGE,
        || async {
            Ok(prometheus
                .values(&error_ratio)
                .await?
                .first()
                .is_some_and(|ratio| *ratio > 0.0))
        },
    )
    .await?;
    let alert = format!(
        "ALERTS{{alertname=\"SoberanaSiteUnreachable\",site=\"{site}\",alertstate=~\"pending|firing\"}}"
    );
    wait_until(
        "SoberanaSiteUnreachable to be pending or firing",
        CONVERGE,
        || async { Ok(!prometheus.values(&alert).await?.is_empty()) },
    )
    .await?;
    let workload_down = format!(
        "min_over_time(soberana:slo_workload_available:max{{workload=\"{NAMESPACE}/{WORKLOAD}\"}}[1h])"
    );
    wait_until(
        "the workload to be recorded unavailable",
        CONVERGE,
        || async { Ok(prometheus.values(&workload_down).await?.first() == Some(&0.0)) },
    )
    .await?;

    // What an agency would attach to its SLA review.
    let url = format!("http://127.0.0.1:{port}");
    let report: Value = serde_json::from_str(
        &command(
            soberana,
            &["sla", "report", "--prometheus", &url, "-o", "json"],
        )
        .await?,
    )?;
    let rows = report["rows"].as_array().context("rows")?;
    let availability = |kind: &str, workload: &str, row_site: &str| {
        rows.iter()
            .find(|row| {
                row["kind"] == kind && row["workload"] == workload && row["site"] == row_site
            })
            .and_then(|row| row["availability"].as_f64())
    };
    let site_availability = availability("site", "", &site).context("no row for the site")?;
    ensure!(
        site_availability < 1.0 && site_availability > 0.0,
        "site availability {site_availability}: {report:#}"
    );
    let workload_name = format!("{NAMESPACE}/{WORKLOAD}");
    let workload_availability =
        availability("workload", &workload_name, "").context("no row for the workload")?;
    ensure!(
        workload_availability < 1.0,
        "workload availability {workload_availability}: {report:#}"
    );
    let table = command(soberana, &["sla", "report", "--prometheus", &url]).await?;
    ensure!(
        table.contains(&site) && table.contains(&workload_name) && table.contains("99.9000 %"),
        "{table}"
    );

    plane.cluster(&site)?.start_api_server().await?;
    Ok(())
}

/// A tenant's workload running on one member site, whose name is returned.
async fn running_workload(client: &Client) -> Result<String> {
    apply(client, &tenant("revenue", "rev", &[], &["prod"])).await?;
    wait_ready(client, "revenue", CONVERGE).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(NAMESPACE).await?.is_none() {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    let workload = json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Workload",
        "metadata": {"name": WORKLOAD, "namespace": NAMESPACE},
        "spec": {
            "tenant": "revenue", "classification": "public", "replicas": 1,
            "resources": {"cpuMillicores": 100, "memoryMebibytes": 128},
            "availabilityTarget": "99.9",
            // It stays on its site through the outages below, to be seen unavailable there.
            "failover": {"gracePeriodSeconds": 3600},
            "template": {"deployment": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.invalid/portal:1"}
            ]}}}}
        }
    });
    let workloads: Api<Workload> = Api::namespaced(client.clone(), NAMESPACE);
    workloads
        .patch(
            WORKLOAD,
            &PatchParams::apply("soberana-e2e").force(),
            &Patch::Apply(&workload),
        )
        .await?;
    let chosen = || async {
        let status = workloads.get(WORKLOAD).await?.status.unwrap_or_default();
        anyhow::Ok((status.phase, status.chosen_sites))
    };
    // Its replica runs on the site's node: scheduled, started and counted available by the
    // site's own scheduler, kubelet and controllers.
    wait_until("the workload to run", CONVERGE, || async {
        Ok(matches!(chosen().await?, (Some(WorkloadPhase::Running), sites) if !sites.is_empty()))
    })
    .await?;
    Ok(chosen().await?.1[0].clone())
}

/// The rule file the operator keeps in the ConfigMap `soberana-slo` (no PrometheusRule API on
/// the harness' clusters), once it holds the site's and the workload's objectives.
async fn operator_rules(client: &Client, site: &str) -> Result<String> {
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "soberana-system");
    let wanted = [
        format!("soberana-slo-site-{site}"),
        format!("soberana-slo-workload-{NAMESPACE}/{WORKLOAD}"),
    ];
    let rules = || async {
        let found = configmaps.get_opt("soberana-slo").await?;
        anyhow::Ok(
            found
                .and_then(|map| map.data)
                .and_then(|mut data| data.remove("soberana-slo.rules.yaml")),
        )
    };
    wait_until(
        "the operator to write the SLO rules of the site and the workload",
        CONVERGE,
        || async {
            Ok(rules()
                .await?
                .is_some_and(|text| wanted.iter().all(|group| text.contains(group.as_str()))))
        },
    )
    .await?;
    rules().await?.context("the rules vanished")
}

/// Tenant `coll` (namespace `collx-prod`) with Workload `w-1`, and Tenant `coll-collx`
/// (namespace `prod-w`) with Workload `1`: joined with `-`, both rule groups were named
/// `soberana-slo-workload-coll-collx-prod-w-1`, and Prometheus refuses the whole file. A third
/// Workload sits in `collx-prod` but names `coll-collx` as its tenant. The operator's rules must
/// pass `promtool check rules` and hold no objective for the claimed one.
async fn colliding_workloads(plane: Arc<ControlPlane>) -> Result<()> {
    let promtool = test_tool("promtool")?;
    let (installation, _operator) = start(&plane, "slo-b").await?;
    let client = &installation.management;
    apply(client, &tenant("coll", "collx", &[], &["prod"])).await?;
    apply(client, &tenant("coll-collx", "prod", &[], &["w"])).await?;
    let workloads = [
        // Claims another tenant: no objective (applied first, so that it is seen first).
        ("collx-prod", "claims", "coll-collx"),
        ("collx-prod", "w-1", "coll"),
        ("prod-w", "1", "coll-collx"),
    ];
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for namespace in ["collx-prod", "prod-w"] {
        if namespaces.get_opt(namespace).await?.is_none() {
            let object: Namespace =
                serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
            namespaces.create(&PostParams::default(), &object).await?;
        }
    }
    for (namespace, name, owner) in workloads {
        apply(
            client,
            &json!({
                "apiVersion": "soberana.io/v1alpha1",
                "kind": "Workload",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {
                    "tenant": owner, "classification": "public", "replicas": 1,
                    "resources": {"cpuMillicores": 100, "memoryMebibytes": 128},
                    "availabilityTarget": "99.9"
                }
            }),
        )
        .await?;
    }
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "soberana-system");
    let rules = || async {
        anyhow::Ok(
            configmaps
                .get_opt("soberana-slo")
                .await?
                .and_then(|map| map.data)
                .and_then(|mut data| data.remove("soberana-slo.rules.yaml"))
                .unwrap_or_default(),
        )
    };
    wait_until(
        "the operator to write the rules of both workloads",
        CONVERGE,
        || async {
            let text = rules().await?;
            Ok(text.contains("workload: collx-prod/w-1") && text.contains("workload: prod-w/1"))
        },
    )
    .await?;
    let text = rules().await?;
    let directory = plane.cluster("mgmt")?.directory().join("colliding-rules");
    std::fs::create_dir_all(&directory)?;
    let file = directory.join("objects.rules.yaml");
    std::fs::write(&file, &text)?;
    let output = tokio::process::Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "promtool refuses the operator's rules:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    ensure!(
        !text.contains("collx-prod/claims"),
        "a Workload whose tenant does not hold its namespace has rules:\n{text}"
    );
    Ok(())
}

/// Someone else's ConfigMap `soberana-slo` in the operator's namespace (no
/// `app.kubernetes.io/managed-by: soberana-operator`): the operator neither overwrites nor
/// deletes it, says so (a Warning Event on it and `soberana_slo_rules_held`), and writes its
/// rules once that ConfigMap is gone.
async fn foreign_config_map(plane: Arc<ControlPlane>) -> Result<()> {
    let installation = soberana_e2e::state_data_centre::install(
        &plane,
        common::MANAGEMENT,
        &soberana_e2e::state_data_centre::MEMBER_SITES,
    )
    .await?;
    let client = &installation.management;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), "soberana-system");
    // Whatever an earlier operator left; then someone else's, before the operator starts.
    if configmaps.get_opt("soberana-slo").await?.is_some() {
        configmaps
            .delete("soberana-slo", &DeleteParams::default())
            .await?;
    }
    let foreign: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "soberana-slo", "labels": {"team": "observability"}},
        "data": {"dashboards.json": "{\"theirs\": true}"}
    }))?;
    let created = configmaps.create(&PostParams::default(), &foreign).await?;
    let (_installation, operator) = start(&plane, "slo-c").await?;

    let events =
        Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), "soberana-system");
    wait_until(
        "a Warning Event ForeignObject on ConfigMap soberana-slo",
        CONVERGE,
        || async {
            let found = events
                .list(&ListParams::default().fields("regarding.name=soberana-slo"))
                .await?;
            Ok(found.items.iter().any(|event| {
                event.reason.as_deref() == Some("ForeignObject")
                    && event.type_.as_deref() == Some("Warning")
                    && event
                        .note
                        .as_deref()
                        .is_some_and(|note| note.contains("is not Soberana's"))
            }))
        },
    )
    .await?;
    let held = operator
        .metric("soberana_slo_rules_held", &[("reason", "ForeignObject")])
        .await?;
    ensure!(
        held == 1.0,
        "soberana_slo_rules_held{{reason=\"ForeignObject\"}} = {held}"
    );
    let after = configmaps.get("soberana-slo").await?;
    ensure!(
        after.data == created.data
            && after.metadata.labels == created.metadata.labels
            && after.metadata.uid == created.metadata.uid,
        "the foreign ConfigMap was changed: {:?} {:?}",
        after.metadata.labels,
        after.data
    );
    let managers: Vec<String> = after
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|entry| entry.manager)
        .collect();
    ensure!(
        !managers.iter().any(|manager| manager == "soberana-slo"),
        "the operator wrote to the foreign ConfigMap: managers {managers:?}"
    );

    // Once it is gone, the rules are Soberana's to write.
    configmaps
        .delete("soberana-slo", &DeleteParams::default())
        .await?;
    wait_until("the operator to write its own rules", CONVERGE, || async {
        Ok(configmaps
            .get_opt("soberana-slo")
            .await?
            .is_some_and(|map| {
                map.metadata
                    .labels
                    .unwrap_or_default()
                    .get("app.kubernetes.io/managed-by")
                    .is_some_and(|manager| manager == "soberana-operator")
                    && map
                        .data
                        .is_some_and(|data| data.contains_key("soberana-slo.rules.yaml"))
            }))
    })
    .await?;
    let held = operator
        .metric("soberana_slo_rules_held", &[("reason", "ForeignObject")])
        .await?;
    ensure!(
        held == 0.0,
        "still held after the foreign ConfigMap went: {held}"
    );
    Ok(())
}

/// `soberana-api` on loopback with its own etcd; returns it and its metrics port.
fn start_api(
    plane: &ControlPlane,
    etcd: &EtcdServer,
    directory: &Path,
) -> Result<(Component, u16)> {
    let metrics_port = free_loopback_port()?;
    let mut api = Component::new(
        "soberana-api",
        &workspace_binary("soberana-api")?,
        vec![
            format!("--address=127.0.0.1:{}", free_loopback_port()?),
            "--insecure-listen".to_owned(),
            format!("--metrics-address=127.0.0.1:{metrics_port}"),
            format!("--etcd-endpoints={}", etcd.endpoint()),
            format!(
                "--kubeconfig={}",
                plane.cluster("mgmt")?.kubeconfig().display()
            ),
        ],
        directory,
    );
    api.start()?;
    Ok((api, metrics_port))
}

/// Prometheus scraping the operator and the API every second and evaluating the rules as often.
fn start_prometheus(
    binary: &Path,
    directory: &Path,
    operator: u16,
    api: u16,
) -> Result<(Component, u16)> {
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [objects.rules.yaml, platform.rules.yaml]\nscrape_configs:\n  - job_name: soberana-operator\n    static_configs: [{{targets: ['127.0.0.1:{operator}']}}]\n  - job_name: soberana-api\n    static_configs: [{{targets: ['127.0.0.1:{api}']}}]\n"
    );
    std::fs::write(directory.join("prometheus.yml"), config)?;
    let port = free_loopback_port()?;
    let mut prometheus = Component::new(
        "prometheus",
        binary,
        vec![
            format!(
                "--config.file={}",
                directory.join("prometheus.yml").display()
            ),
            format!("--storage.tsdb.path={}", directory.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ],
        directory,
    );
    prometheus.start()?;
    Ok((prometheus, port))
}

/// Runs a program to completion; its standard output, or an error with its standard error.
async fn command(program: &str, arguments: &[&str]) -> Result<String> {
    let output = tokio::process::Command::new(program)
        .args(arguments)
        .output()
        .await?;
    ensure!(
        output.status.success(),
        "{program} {}: {}\n{}",
        arguments.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

/// Instant queries against the Prometheus HTTP API.
struct PrometheusApi {
    port: u16,
}

impl PrometheusApi {
    /// The values of the instant vector `promql` evaluates to now.
    async fn values(&self, promql: &str) -> Result<Vec<f64>> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let encoded: String = promql
            .bytes()
            .map(|byte| {
                if byte.is_ascii_alphanumeric() {
                    char::from(byte).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            })
            .collect();
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        stream
            .write_all(
                format!("GET /api/v1/query?query={encoded} HTTP/1.0\r\nHost: localhost\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let body = response.split_once("\r\n\r\n").context("no body")?.1;
        let answer: Value =
            serde_json::from_str(body).with_context(|| format!("{promql}: {body}"))?;
        ensure!(answer["status"] == "success", "{promql}: {answer}");
        Ok(answer["data"]["result"]
            .as_array()
            .context("no result")?
            .iter()
            .filter_map(|sample| sample["value"][1].as_str()?.parse().ok())
            .collect())
    }
}
