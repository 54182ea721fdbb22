//! Soberana installed the way users install it: `make images`' archives imported into the
//! management cluster's real node (containerd, kubelet), `helm install --wait` of both charts with
//! the default image references, and then, as a user sees it: the operator's and the API's Pods
//! Ready on that node; a Tenant provisioned on a member site by the in-cluster operator (through
//! a least-privilege kubeconfig Secret whose server is reachable from Pods); the API answering
//! the `soberana` CLI through its NodePort; the leader's Pod deleted, the standby taking the
//! Lease and applying the next Tenant change once; and `helm upgrade` to a new image tag rolling
//! both Deployments while the API keeps answering. Needs root (the real node).

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::{Api, Client};
use serde_json::json;
use soberana_core::resources::tenant::Tenant;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::soberana_install::{request_token, store_kubeconfig, token_kubeconfig_at};
use soberana_e2e::soberana_manifests::{examples_directory, repository_root, yaml_documents};
use soberana_e2e::state_data_centre::{MemberSite, apply, site};
use soberana_e2e::{
    ControlPlane, LoopbackForward, RealNodeOptions, Suite, build_probe_images, serving_certificate,
    test_tool, wait_until,
};
use tokio::sync::Mutex;

const MANAGEMENT: &str = "mgmt";
const MEMBER: &str = "member";
/// The release namespace of both charts.
const NAMESPACE: &str = "soberana-system";
/// How long Pods may take to start on two busy cores.
const TIMEOUT: Duration = Duration::from_secs(240);
/// The images `make images` builds that the chart runs.
const CHART_IMAGES: [&str; 2] = ["soberana-operator", "soberana-api"];

/// What the install left for the tests: the files a user would keep, and the servers it started
/// beside the clusters (the API's etcd, and its forwarder from the node's link).
struct Installed {
    home: PathBuf,
    values: PathBuf,
    api: ApiTarget,
    _etcd_forward: LoopbackForward,
    _etcd: EtcdServer,
}

type Shared = Arc<Mutex<Option<Installed>>>;

/// Where the CLI finds the API from the host: the Service's NodePort on the node's address, with
/// the CA of the API's certificate.
#[derive(Clone, Debug)]
struct ApiTarget {
    server: String,
    ca: PathBuf,
    /// The `soberana` CLI: the binary of its image.
    cli: PathBuf,
}

fn main() -> ExitCode {
    let images = match node_images() {
        Ok(images) => images,
        Err(error) => {
            eprintln!("error: building the images: {error:#}");
            return ExitCode::FAILURE;
        }
    };
    let shared: Shared = Arc::new(Mutex::new(None));
    let (first, second, third) = (shared.clone(), shared.clone(), shared.clone());
    let code = Suite::new(&[MANAGEMENT, MEMBER])
        .with_real_node(
            MANAGEMENT,
            RealNodeOptions {
                images,
                ..RealNodeOptions::default()
            },
        )
        .test(
            "chart_runs_on_the_real_node_provisions_a_member_and_serves_the_cli",
            move |plane| chart_runs_provisions_and_serves(plane, first),
        )
        .test(
            "deleting_the_leader_pod_hands_over_and_the_next_change_is_applied_once",
            move |plane| leader_handover(plane, second),
        )
        .test(
            "helm_upgrade_to_a_new_image_tag_keeps_the_api_serving",
            move |plane| upgrade_keeps_serving(plane, third),
        )
        .run();
    drop(shared);
    code
}

/// The archives the node imports: `make images`' operator and API (built by images/build.sh,
/// which reuses its release build, so that a warm run costs seconds), and the harness' sandbox
/// image.
fn node_images() -> Result<Vec<PathBuf>> {
    let built = build_images()?;
    let mut archives = build_probe_images(
        Path::new(env!("CARGO_BIN_EXE_soberana-node-probe")),
        &PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("node-images"),
    )?;
    // The sandbox image only; the probe is not needed here.
    archives.truncate(1);
    for name in CHART_IMAGES {
        archives.push(
            built
                .get(name)
                .with_context(|| format!("images/build.sh built no {name} archive"))?
                .clone(),
        );
    }
    Ok(archives)
}

/// Runs images/build.sh (`make images`) and returns its archives by image name.
fn build_images() -> Result<BTreeMap<String, PathBuf>> {
    let started = Instant::now();
    let output = Command::new("bash")
        .arg(repository_root().join("images/build.sh"))
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running images/build.sh")?;
    ensure!(
        output.status.success(),
        "images/build.sh failed: {}",
        output.status
    );
    eprintln!("images/build.sh took {:.1?}", started.elapsed());
    let mut archives = BTreeMap::new();
    for line in String::from_utf8(output.stdout)?.lines() {
        let path = PathBuf::from(line.trim());
        let Some(file) = path.file_name().and_then(|file| file.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".oci.tar") else {
            continue;
        };
        // <name>-<version>
        if let Some((name, _)) = stem.rsplit_once('-') {
            archives.insert(name.to_owned(), path);
        }
    }
    Ok(archives)
}

/// The workspace's version: the chart's appVersion, hence the images' default tag.
fn version() -> Result<String> {
    let manifest = std::fs::read_to_string(repository_root().join("Cargo.toml"))?;
    manifest
        .lines()
        .skip_while(|line| line.trim() != "[workspace.package]")
        .find_map(|line| line.strip_prefix("version = "))
        .map(|version| version.trim_matches('"').to_owned())
        .context("no version in Cargo.toml's [workspace.package]")
}

/// Runs helm with `arguments` and a Helm home of its own; fails with its output.
fn helm(home: &Path, arguments: &[&str]) -> Result<String> {
    let output = Command::new(test_tool("helm")?)
        .args(arguments)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .stdin(Stdio::null())
        .output()
        .context("running helm")?;
    ensure!(
        output.status.success(),
        "helm {} failed ({}):\n{}{}",
        arguments.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn chart(name: &str) -> String {
    repository_root()
        .join("charts")
        .join(name)
        .display()
        .to_string()
}

/// Installs both charts once for the whole binary (the first test to need it does).
async fn installed(plane: &ControlPlane, shared: &Shared) -> Result<()> {
    let mut guard = shared.lock().await;
    if guard.is_none() {
        *guard = Some(install(plane).await?);
    }
    Ok(())
}

/// What a data centre's operator does to install Soberana on the management cluster and a
/// member: the member chart there; the API's TLS Secret and its etcd; the soberana chart with the
/// values a user sets; the member's kubeconfig Secret (its server as Pods reach it) and its Site.
async fn install(plane: &ControlPlane) -> Result<Installed> {
    let started = Instant::now();
    let management = plane.cluster(MANAGEMENT)?;
    let member = plane.cluster(MEMBER)?;
    let admin = management.client().await?;
    let member_admin = member.client().await?;
    let node = plane.real_node(MANAGEMENT)?;
    let link = management
        .options()
        .real_node_address
        .context("the management cluster has a real node's link")?;
    let home = management.directory().join("chart-on-node");
    std::fs::create_dir_all(&home)?;

    helm(
        &home,
        &[
            "install",
            "soberana-member",
            &chart("soberana-member"),
            "--namespace",
            NAMESPACE,
            "--create-namespace",
            "--kubeconfig",
            &member.kubeconfig().to_string_lossy(),
            "--wait",
        ],
    )?;

    // The API's etcd: outside the cluster, as a data centre runs it, reached from the node's
    // link.
    let etcd = EtcdServer::start().await?;
    let etcd_port: u16 = etcd
        .endpoint()
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .context("etcd's endpoint has a port")?;
    let etcd_forward = LoopbackForward::start(link, etcd_port).await?;

    // The API's serving certificate, for the names its clients dial.
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await
        .context("creating the release namespace")?;
    let (ca_pem, serving) = serving_certificate(
        "soberana-api-ca",
        &[
            node.address().to_string(),
            "soberana-api".to_owned(),
            format!("soberana-api.{NAMESPACE}.svc"),
            "localhost".to_owned(),
        ],
    )?;
    let api_ca = home.join("api-ca.crt");
    std::fs::write(&api_ca, ca_pem)?;
    let tls = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some("soberana-api-tls".to_owned()),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_owned()),
        data: Some(BTreeMap::from([
            (
                "tls.crt".to_owned(),
                ByteString(serving.certificate_pem.into_bytes()),
            ),
            (
                "tls.key".to_owned(),
                ByteString(serving.key_pem.into_bytes()),
            ),
        ])),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(admin.clone(), NAMESPACE)
        .create(&PostParams::default(), &tls)
        .await
        .context("creating the API's TLS Secret")?;

    // The values a user sets: where etcd is, the ledger's anchoring decided, the API reachable
    // from outside the cluster, and both Deployments on the real node (the cluster's other node
    // is simulated and runs nothing).
    let on_node = json!({"kubernetes.io/hostname": node.name()});
    let values = json!({
        "operator": {
            "probeInterval": 2,
            "leaseDuration": 6,
            "nodeSelector": on_node,
        },
        "api": {
            "service": {"type": "NodePort"},
            "nodeSelector": on_node,
        },
        "etcd": {"endpoints": [format!("http://{}", etcd_forward.address())]},
        "ledger": {"anchoring": {"enabled": false}},
    });
    let values_file = home.join("values.yaml");
    std::fs::write(&values_file, serde_json::to_string_pretty(&values)?)?;
    helm(
        &home,
        &[
            "install",
            "soberana",
            &chart("soberana"),
            "--namespace",
            NAMESPACE,
            "--kubeconfig",
            &management.kubeconfig().to_string_lossy(),
            "--values",
            &values_file.to_string_lossy(),
            "--wait",
            "--timeout",
            "5m",
        ],
    )?;
    eprintln!(
        "helm install --wait of both charts: {:.1?}",
        started.elapsed()
    );

    // The member site, as Pods on the node reach it.
    let member_token = request_token(&member_admin, NAMESPACE, "soberana-operator").await?;
    let server = plane.server_for_pods(MEMBER, MANAGEMENT)?;
    store_kubeconfig(
        &admin,
        "site-member",
        &token_kubeconfig_at(member, &server, "soberana-operator", &member_token),
    )
    .await?;
    for (_, classification) in yaml_documents(&examples_directory().join("classifications.yaml"))? {
        apply(&admin, &classification).await?;
    }
    let facts = MemberSite {
        cluster: MEMBER,
        sovereignty_tier: "StateOwned",
        jurisdiction: "CR",
    };
    apply(&admin, &site(&facts, "site-member")).await?;

    let services: Api<Service> = Api::namespaced(admin.clone(), NAMESPACE);
    let node_port = services
        .get("soberana-api")
        .await?
        .spec
        .and_then(|spec| spec.ports)
        .unwrap_or_default()
        .into_iter()
        .find(|port| port.name.as_deref() == Some("grpc"))
        .and_then(|port| port.node_port)
        .context("the API's Service has no NodePort for grpc")?;
    Ok(Installed {
        home,
        values: values_file,
        api: ApiTarget {
            server: format!("https://{}:{node_port}", node.address()),
            ca: api_ca,
            cli: repository_root().join("target/image-build/release/soberana"),
        },
        _etcd_forward: etcd_forward,
        _etcd: etcd,
    })
}

/// The Pods of the chart's component (`operator` or `api`).
async fn component_pods(client: &Client, component: &str) -> Result<Vec<Pod>> {
    Ok(Api::<Pod>::namespaced(client.clone(), NAMESPACE)
        .list(&ListParams::default().labels(&format!(
            "app.kubernetes.io/name=soberana-{component},app.kubernetes.io/instance=soberana"
        )))
        .await?
        .items)
}

fn is_ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none()
        && pod
            .status
            .as_ref()
            .and_then(|status| status.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|condition| condition.type_ == "Ready" && condition.status == "True")
            })
}

fn name_of(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap_or_default()
}

/// A token for the API's audience of a ServiceAccount allowed to list Sites and Tenants: what a
/// security team's CLI sends.
async fn cli_token(admin: &Client) -> Result<String> {
    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "soberana-chart-reader"},
        "rules": [{"apiGroups": ["soberana.io"], "resources": ["sites", "tenants"], "verbs": ["get", "list", "watch"]}]
    }))?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "soberana-chart-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "soberana-chart-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "security-team", "namespace": "default"}]
    }))?;
    let account: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "security-team"}}))?;
    let apply = PatchParams::apply("soberana-e2e").force();
    Api::<ClusterRole>::all(admin.clone())
        .patch(
            "soberana-chart-reader",
            &apply,
            &Patch::Apply(&with_kind(
                &role,
                "rbac.authorization.k8s.io/v1",
                "ClusterRole",
            )?),
        )
        .await?;
    Api::<ClusterRoleBinding>::all(admin.clone())
        .patch(
            "soberana-chart-reader",
            &apply,
            &Patch::Apply(&with_kind(
                &binding,
                "rbac.authorization.k8s.io/v1",
                "ClusterRoleBinding",
            )?),
        )
        .await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    accounts
        .patch(
            "security-team",
            &apply,
            &Patch::Apply(&with_kind(&account, "v1", "ServiceAccount")?),
        )
        .await?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            audiences: Some(vec!["soberana-api".to_owned()]),
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    accounts
        .create_token_request("security-team", &PostParams::default(), &request)
        .await?
        .status
        .and_then(|status| status.token)
        .context("a TokenRequest answered without a token")
}

fn with_kind<T: serde::Serialize>(
    object: &T,
    api_version: &str,
    kind: &str,
) -> Result<serde_json::Value> {
    let mut value = serde_json::to_value(object)?;
    value["apiVersion"] = api_version.into();
    value["kind"] = kind.into();
    Ok(value)
}

/// Runs the `soberana` CLI (the binary of its image) against the API; returns its standard
/// output, or fails with its standard error.
async fn cli(api: &ApiTarget, token: &str, arguments: &[&str]) -> Result<String> {
    let output = tokio::process::Command::new(&api.cli)
        .args(arguments)
        .args(["--server", &api.server, "--ca-file"])
        .arg(&api.ca)
        .env("SOBERANA_TOKEN", token)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", api.cli.display()))?;
    ensure!(
        output.status.success(),
        "soberana {} failed ({}): {}",
        arguments.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// A Tenant of the member site.
fn tenant(name: &str, short_code: &str, classification: &str) -> serde_json::Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Tenant",
        "metadata": {"name": name},
        "spec": {
            "displayName": name,
            "shortCode": short_code,
            "owners": [{"kind": "Group", "name": format!("{short_code}-admins")}],
            "highestClassification": classification,
            "environments": [{"name": "prod"}],
            "quota": {"cpuMillicores": 4000, "memoryMebibytes": 8192, "storageGibibytes": 100, "pods": 50},
            "allowedSites": [MEMBER],
        }
    })
}

async fn wait_tenant_ready(tenants: &Api<Tenant>, name: &str) -> Result<()> {
    wait_until(
        &format!("Tenant {name} to be Ready at its generation"),
        TIMEOUT,
        || async { Ok(tenants.get(name).await?.is_ready()) },
    )
    .await
}

/// The current holder of the operator's leader Lease.
async fn lease_holder(client: &Client) -> Result<Option<String>> {
    Ok(Api::<Lease>::namespaced(client.clone(), NAMESPACE)
        .get_opt("soberana-operator")
        .await?
        .and_then(|lease| lease.spec)
        .and_then(|spec| spec.holder_identity))
}

async fn chart_runs_provisions_and_serves(plane: Arc<ControlPlane>, shared: Shared) -> Result<()> {
    installed(&plane, &shared).await?;
    let guard = shared.lock().await;
    let installed = guard.as_ref().context("installed")?;
    let management = plane.cluster(MANAGEMENT)?;
    let admin = management.client().await?;
    let member_admin = plane.cluster(MEMBER)?.client().await?;
    let node = plane.real_node(MANAGEMENT)?;
    let version = version()?;

    // Both Deployments: 2 Ready Pods each, on the real node, running the chart's default image
    // references, which are exactly what make images tagged.
    for (component, image) in [("operator", "soberana-operator"), ("api", "soberana-api")] {
        let pods = component_pods(&admin, component).await?;
        let ready: Vec<&Pod> = pods.iter().filter(|pod| is_ready(pod)).collect();
        ensure!(
            ready.len() == 2,
            "{component}: {} of {} Pods Ready after helm install --wait",
            ready.len(),
            pods.len()
        );
        for pod in ready {
            let spec = pod.spec.as_ref().context("a Pod without spec")?;
            ensure!(
                spec.node_name.as_deref() == Some(node.name()),
                "Pod {} runs on {:?}, not the real node",
                name_of(pod),
                spec.node_name
            );
            let expected = format!("soberana/{image}:{version}");
            ensure!(
                spec.containers[0].image.as_deref() == Some(expected.as_str()),
                "Pod {} runs {:?}, not the chart's default {expected}",
                name_of(pod),
                spec.containers[0].image
            );
        }
    }
    let operator_pods: Vec<String> = component_pods(&admin, "operator")
        .await?
        .iter()
        .map(name_of)
        .collect();
    wait_until("a leader among the operator's Pods", TIMEOUT, || async {
        Ok(lease_holder(&admin)
            .await?
            .is_some_and(|holder| operator_pods.contains(&holder)))
    })
    .await?;

    // A Tenant applied to the management cluster is provisioned on the member by the operator
    // in its Pod (no operator runs elsewhere).
    let tenants: Api<Tenant> = Api::all(admin.clone());
    apply(
        &admin,
        &tenant("ministerio-hacienda", "minhac", "confidential"),
    )
    .await?;
    wait_tenant_ready(&tenants, "ministerio-hacienda").await?;
    let namespace = Api::<Namespace>::all(member_admin)
        .get("minhac-prod")
        .await
        .context("the tenant's namespace on the member")?;
    ensure!(
        namespace.metadata.labels.unwrap_or_default()["soberana.io/tenant"]
            == "ministerio-hacienda"
    );

    // The API answers a real gRPC client, the CLI, through its Service's NodePort, over TLS,
    // authenticating and authorizing the caller's token.
    let token = cli_token(&admin).await?;
    let sites = cli(&installed.api, &token, &["sites", "-o", "json"]).await?;
    ensure!(
        sites.contains("\"member\""),
        "the API's sites do not list the member: {sites}"
    );
    let tenants_listed = cli(&installed.api, &token, &["tenants", "-o", "json"]).await?;
    ensure!(
        tenants_listed.contains("ministerio-hacienda"),
        "the API's tenants do not list ministerio-hacienda: {tenants_listed}"
    );
    let refused = cli(&installed.api, "not-a-token", &["sites"]).await;
    ensure!(
        refused.is_err(),
        "the API answered a caller with a bad token"
    );
    Ok(())
}

async fn leader_handover(plane: Arc<ControlPlane>, shared: Shared) -> Result<()> {
    installed(&plane, &shared).await?;
    let admin = plane.cluster(MANAGEMENT)?.client().await?;
    let member_admin = plane.cluster(MEMBER)?.client().await?;
    let tenants: Api<Tenant> = Api::all(admin.clone());
    apply(
        &admin,
        &tenant("ministerio-salud", "minsal", "confidential"),
    )
    .await?;
    wait_tenant_ready(&tenants, "ministerio-salud").await?;
    let namespaces: Api<Namespace> = Api::all(member_admin);
    let before = namespaces.get("minsal-prod").await?;
    let uid = before.metadata.uid.clone();

    // Every write to the member namespace from here on.
    let ceilings = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let recreated = Arc::new(AtomicBool::new(false));
    let mut stream = namespaces
        .watch(
            &WatchParams::default().fields("metadata.name=minsal-prod"),
            before.metadata.resource_version.as_deref().unwrap_or("0"),
        )
        .await?
        .boxed();
    let watcher = {
        let ceilings = ceilings.clone();
        let recreated = recreated.clone();
        tokio::spawn(async move {
            while let Ok(Some(event)) = stream.try_next().await {
                match event {
                    WatchEvent::Modified(namespace) => {
                        let ceiling = namespace
                            .metadata
                            .labels
                            .unwrap_or_default()
                            .get("soberana.io/classification-ceiling")
                            .cloned()
                            .unwrap_or_default();
                        ceilings
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .push(ceiling);
                    }
                    WatchEvent::Added(_) | WatchEvent::Deleted(_) => {
                        recreated.store(true, Ordering::SeqCst);
                    }
                    WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
                }
            }
        })
    };

    // The leader's Pod deleted, as a node drain or a crash would.
    let leader = lease_holder(&admin)
        .await?
        .context("the operator's Lease has no holder")?;
    let pods: Api<Pod> = Api::namespaced(admin.clone(), NAMESPACE);
    let standby: Vec<String> = component_pods(&admin, "operator")
        .await?
        .iter()
        .map(name_of)
        .filter(|name| *name != leader)
        .collect();
    ensure!(
        !standby.is_empty(),
        "no standby operator Pod beside {leader}"
    );
    pods.delete(&leader, &DeleteParams::default()).await?;
    let deleted = Instant::now();
    let operator_pods = || async {
        anyhow::Ok(
            component_pods(&admin, "operator")
                .await?
                .iter()
                .map(name_of)
                .collect::<Vec<_>>(),
        )
    };
    let taken = wait_until(
        &format!("another replica to take the Lease from {leader}"),
        TIMEOUT,
        || async {
            let holder = lease_holder(&admin).await?;
            Ok(holder.is_some_and(|holder| holder != leader && !holder.is_empty()))
        },
    )
    .await;
    let holder = lease_holder(&admin).await?;
    if let Err(error) = taken {
        bail!(
            "{error:#}: the Lease names {holder:?}; the operator's Pods are {:?}",
            operator_pods().await?
        );
    }
    let holder = holder.unwrap_or_default();
    ensure!(
        operator_pods().await?.contains(&holder),
        "the Lease names {holder}, no Pod of the operator"
    );
    eprintln!(
        "the Lease went from {leader} to {holder} ({}) {:.1?} after the delete",
        if standby.contains(&holder) {
            "the standby"
        } else {
            "the Pod replacing the leader"
        },
        deleted.elapsed()
    );

    // The next change is applied by the new leader, once.
    apply(&admin, &tenant("ministerio-salud", "minsal", "internal")).await?;
    wait_tenant_ready(&tenants, "ministerio-salud").await?;
    wait_until(
        "minsal-prod's classification ceiling to be internal on the member",
        TIMEOUT,
        || async {
            Ok(namespaces
                .get("minsal-prod")
                .await?
                .metadata
                .labels
                .unwrap_or_default()
                .get("soberana.io/classification-ceiling")
                .map(String::as_str)
                == Some("internal"))
        },
    )
    .await?;
    // The new leader has looked again since (its Tenant status is at the new generation): the
    // namespace is the same object, and its ceiling changed once and never back.
    let after = namespaces.get("minsal-prod").await?;
    watcher.abort();
    ensure!(
        after.metadata.uid == uid,
        "the tenant's namespace was recreated"
    );
    ensure!(
        !recreated.load(Ordering::SeqCst),
        "the tenant's namespace was deleted or added during the handover"
    );
    let ceilings = ceilings
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let changes = ceilings
        .iter()
        .fold(
            (String::from("confidential"), 0),
            |(last, changes), ceiling| {
                if *ceiling == last {
                    (last, changes)
                } else {
                    (ceiling.clone(), changes + 1)
                }
            },
        )
        .1;
    ensure!(
        changes == 1 && ceilings.last().map(String::as_str) == Some("internal"),
        "the ceiling label went through {ceilings:?} on the member: not one write"
    );
    Ok(())
}

async fn upgrade_keeps_serving(plane: Arc<ControlPlane>, shared: Shared) -> Result<()> {
    installed(&plane, &shared).await?;
    let guard = shared.lock().await;
    let installed = guard.as_ref().context("installed")?;
    let management = plane.cluster(MANAGEMENT)?;
    let admin = management.client().await?;
    let node = plane.real_node(MANAGEMENT)?;
    let version = version()?;
    let tag = format!("{version}-upgrade");
    // The same archives under a second tag, as a registry would serve a new release.
    for image in CHART_IMAGES {
        node.tag_image(
            &format!("docker.io/soberana/{image}:{version}"),
            &format!("docker.io/soberana/{image}:{tag}"),
        )
        .await?;
    }
    let token = cli_token(&admin).await?;
    cli(&installed.api, &token, &["sites"]).await?;

    // The API is called without pause during the rollout; every call must be answered.
    let calls = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let caller = {
        let calls = calls.clone();
        let stop = stop.clone();
        let api = installed.api.clone();
        let token = token.clone();
        tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                cli(&api, &token, &["sites", "-o", "json"]).await?;
                calls.fetch_add(1, Ordering::SeqCst);
            }
            anyhow::Ok(())
        })
    };
    let upgrade = {
        let home = installed.home.clone();
        let values = installed.values.clone();
        let kubeconfig = management.kubeconfig().to_owned();
        let tag = tag.clone();
        tokio::task::spawn_blocking(move || {
            helm(
                &home,
                &[
                    "upgrade",
                    "soberana",
                    &chart("soberana"),
                    "--namespace",
                    NAMESPACE,
                    "--kubeconfig",
                    &kubeconfig.to_string_lossy(),
                    "--values",
                    &values.to_string_lossy(),
                    "--set",
                    &format!("operator.image.tag={tag}"),
                    "--set",
                    &format!("api.image.tag={tag}"),
                    "--wait",
                    "--timeout",
                    "5m",
                ],
            )
        })
    };
    let upgraded = upgrade.await?;
    stop.store(true, Ordering::SeqCst);
    let served = caller.await?;
    upgraded?;
    served.context("the API failed a call during the rollout")?;

    for (component, image) in [("operator", "soberana-operator"), ("api", "soberana-api")] {
        let expected = format!("soberana/{image}:{tag}");
        let pods = component_pods(&admin, component).await?;
        let running: Vec<String> = pods
            .iter()
            .filter(|pod| is_ready(pod))
            .filter_map(|pod| pod.spec.as_ref()?.containers[0].image.clone())
            .collect();
        ensure!(
            running.len() == 2 && running.iter().all(|image| *image == expected),
            "{component} after the upgrade runs {running:?}, not 2 × {expected}"
        );
    }
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    ensure!(
        deployments
            .get("soberana-api")
            .await?
            .status
            .and_then(|status| status.updated_replicas)
            == Some(2)
    );
    ensure!(
        calls.load(Ordering::SeqCst) > 0,
        "no call to the API completed during the rollout"
    );
    eprintln!(
        "{} calls answered during the rollout",
        calls.load(Ordering::SeqCst)
    );
    Ok(())
}
