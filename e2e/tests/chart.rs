//! The Helm charts (`charts/soberana`, `charts/soberana-member`) with the real helm and
//! kubeconform: lint, render with the defaults and with every option on, validate strictly
//! against local schemas (the CRDs' and the harness API server's own), match the reviewed
//! snapshot, refuse bad values by name, install into harness API servers, and run the real
//! operator under the charts' ServiceAccounts until it provisions a tenant on a member — while a
//! write the charts do not grant is refused —, then upgrade (the CRDs follow the chart) and
//! uninstall (the CRDs and the institutions' Tenants stay).

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, PersistentVolumeClaim, Secret};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use serde_json::{Value, json};
use soberana_core::resources::tenant::Tenant;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::soberana_install::{request_token, store_kubeconfig, token_kubeconfig};
use soberana_e2e::soberana_manifests::{
    crds_directory, examples_directory, repository_root, wait_established, yaml_documents,
};
use soberana_e2e::state_data_centre::{MemberSite, apply, site};
use soberana_e2e::workspace_binaries::workspace_binary;
use soberana_e2e::{ControlPlane, Suite, wait_until};

mod chart_support;

use chart_support::schemas::{write_builtin_schemas, write_crd_schemas};
use chart_support::tools::{
    NAMESPACE, all_options_on, chart, documents, helm_ok, kubeconform, template, template_output,
};

const MANAGEMENT: &str = "mgmt";
const MEMBER: &str = "member";
/// The reviewed rendering of the soberana chart's defaults, CRDs aside (`make chart`).
const SNAPSHOT: &str = "e2e/tests/snapshots/chart-default.yaml";
/// Kinds whose CRDs (the Prometheus Operator's) are neither in the harness nor available offline:
/// kubeconform skips them, and `monitoring_objects_select_what_the_chart_serves` checks them.
const MONITORING_KINDS: [&str; 2] = ["ServiceMonitor", "PrometheusRule"];

fn main() -> ExitCode {
    Suite::new(&[MANAGEMENT, MEMBER])
        .test(
            "both_charts_lint_and_render_with_defaults_and_every_option_on",
            lint_and_render,
        )
        .test(
            "kubeconform_strict_accepts_every_rendering_with_local_schemas",
            kubeconform_strict,
        )
        .test(
            "the_default_rendering_matches_the_reviewed_snapshot",
            snapshot,
        )
        .test(
            "a_typo_and_a_wrong_type_in_values_are_refused_by_name",
            bad_values_refused,
        )
        .test(
            "the_api_anchors_the_ledger_and_refuses_to_render_without_a_key_or_a_volume",
            ledger_anchoring,
        )
        .test(
            "the_readme_lists_every_value_and_the_schema_closes_every_object",
            readme_and_schema,
        )
        .test(
            "monitoring_objects_select_what_the_chart_serves",
            monitoring_objects,
        )
        .test(
            "the_binaries_accept_every_argument_the_chart_gives_them",
            arguments_accepted,
        )
        .test(
            "the_tuning_values_default_to_the_binaries_defaults_within_their_bounds",
            tuning_values,
        )
        .test(
            "the_installed_charts_are_enough_for_the_operator_to_provision_a_tenant_and_no_more",
            install_and_provision,
        )
        .run()
}

/// A directory for one test's files (Helm's home, renderings, schemas).
fn scratch(plane: &ControlPlane, name: &str) -> Result<std::path::PathBuf> {
    let directory = plane.directory().join(name);
    std::fs::create_dir_all(&directory)
        .with_context(|| format!("creating {}", directory.display()))?;
    Ok(directory)
}

fn kinds(rendered: &str) -> Result<Vec<String>> {
    Ok(documents(rendered)?
        .iter()
        .map(|document| document["kind"].as_str().unwrap_or_default().to_owned())
        .collect())
}

async fn lint_and_render(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "lint")?;
    let soberana = chart("soberana");
    let member = chart("soberana-member");
    let all_on = all_options_on();
    helm_ok(
        &home,
        &[
            "lint",
            "--strict",
            &soberana.to_string_lossy(),
            &member.to_string_lossy(),
        ],
    )?;
    helm_ok(
        &home,
        &[
            "lint",
            "--strict",
            &soberana.to_string_lossy(),
            "--values",
            &all_on.to_string_lossy(),
        ],
    )?;

    let rendered = template(&home, "soberana", &[])?;
    let defaults = kinds(&rendered)?;
    for kind in [
        "CustomResourceDefinition",
        "Deployment",
        "Service",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "PodDisruptionBudget",
    ] {
        ensure!(
            defaults.iter().any(|found| found == kind),
            "the defaults render no {kind}"
        );
    }
    for kind in ["NetworkPolicy", "ServiceMonitor", "PrometheusRule"] {
        ensure!(
            !defaults.iter().any(|found| found == kind),
            "the defaults render a {kind}"
        );
    }
    // The release namespace is left to `--create-namespace`; the one Namespace rendered is the
    // site Secrets' own (operator.siteSecretsNamespace).
    let namespaces: Vec<Value> = documents(&rendered)?
        .into_iter()
        .filter(|document| document["kind"] == "Namespace")
        .map(|document| document["metadata"]["name"].clone())
        .collect();
    ensure!(
        namespaces == [json!("soberana-sites")],
        "the defaults render the Namespaces {namespaces:?}"
    );
    let all = kinds(&template(
        &home,
        "soberana",
        &["--values", &all_on.to_string_lossy()],
    )?)?;
    for kind in ["NetworkPolicy", "ServiceMonitor", "PrometheusRule"] {
        ensure!(
            all.iter().any(|found| found == kind),
            "every option on renders no {kind}"
        );
    }
    let no_crds = kinds(&template(
        &home,
        "soberana",
        &["--set", "crds.enabled=false"],
    )?)?;
    ensure!(
        !no_crds
            .iter()
            .any(|kind| kind == "CustomResourceDefinition")
    );
    let member_kinds = kinds(&template(&home, "soberana-member", &[])?)?;
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    ] {
        ensure!(
            member_kinds.iter().any(|found| found == kind),
            "the member chart renders no {kind}"
        );
    }
    Ok(())
}

/// The (kind, apiVersion) of every document of `rendered`.
fn kinds_and_versions(rendered: &str) -> Result<BTreeSet<(String, String)>> {
    Ok(documents(rendered)?
        .iter()
        .map(|document| {
            (
                document["kind"].as_str().unwrap_or_default().to_owned(),
                document["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect())
}

async fn kubeconform_strict(plane: Arc<ControlPlane>) -> Result<()> {
    let directory = scratch(&plane, "kubeconform")?;
    let all_on = all_options_on();
    let renderings = [
        (
            "soberana-defaults.yaml",
            template(&directory, "soberana", &[])?,
        ),
        (
            "soberana-all-on.yaml",
            template(
                &directory,
                "soberana",
                &["--values", &all_on.to_string_lossy()],
            )?,
        ),
        (
            "member-defaults.yaml",
            template(&directory, "soberana-member", &[])?,
        ),
    ];

    // Schemas: the CRDs' from crds/, the built-in kinds' from the harness API server.
    let schemas = directory.join("schemas");
    std::fs::create_dir_all(&schemas)?;
    let crds: Vec<Value> = yaml_documents(&crds_directory())?
        .into_iter()
        .map(|(_, crd)| crd)
        .collect();
    let crd_files = write_crd_schemas(&crds, &schemas)?;
    ensure!(crd_files.len() >= crds.len(), "a CRD without a schema");
    let mut wanted = BTreeSet::new();
    for (_, rendered) in &renderings {
        wanted.extend(kinds_and_versions(rendered)?);
    }
    let client = plane.cluster(MANAGEMENT)?.client().await?;
    let openapi: Value = serde_json::from_str(
        &client
            .request_text(http::Request::get("/openapi/v2").body(Vec::new())?)
            .await
            .context("reading the API server's /openapi/v2")?,
    )?;
    let builtin = write_builtin_schemas(&openapi, &wanted, &schemas)?;
    let expected_builtin = wanted
        .iter()
        .filter(|(kind, version)| {
            !version.starts_with("soberana.io/") && !MONITORING_KINDS.contains(&kind.as_str())
        })
        .count();
    ensure!(
        builtin.len() == expected_builtin,
        "the API server's OpenAPI lacks some rendered kinds: wrote {builtin:?} for {wanted:?}"
    );

    for (file, rendered) in &renderings {
        let path = directory.join(file);
        std::fs::write(&path, rendered)?;
        let report = kubeconform(&path, &schemas, &MONITORING_KINDS)?;
        let objects = documents(rendered)?;
        let skipped = objects
            .iter()
            .filter(|object| MONITORING_KINDS.iter().any(|kind| object["kind"] == *kind))
            .count();
        let summary = format!(
            "Valid: {}, Invalid: 0, Errors: 0, Skipped: {skipped}",
            objects.len() - skipped
        );
        ensure!(
            report.contains(&summary),
            "{file}: expected {summary}:\n{report}"
        );
    }

    // The schemas are strict: an unknown field in a Deployment's spec, deep in its pod template
    // (a misspelt security setting) and in a CRD fails.
    let mut tampered =
        renderings[0]
            .1
            .replacen("  replicas: 2\n", "  replicas: 2\n  replicaz: 2\n", 1);
    tampered = tampered.replacen(
        "            readOnlyRootFilesystem: true\n",
        "            readOnlyRootFilesytem: true\n",
        1,
    );
    tampered = tampered.replacen(
        "  group: soberana.io\n",
        "  group: soberana.io\n  groop: soberana.io\n",
        1,
    );
    let path = directory.join("tampered.yaml");
    std::fs::write(&path, &tampered)?;
    let refused = kubeconform(&path, &schemas, &MONITORING_KINDS)
        .err()
        .context("kubeconform -strict accepted unknown fields")?;
    let report = format!("{refused:#}");
    ensure!(
        ["replicaz", "readOnlyRootFilesytem", "groop"]
            .iter()
            .all(|field| report.contains(field)),
        "kubeconform did not name every unknown field:\n{report}"
    );
    Ok(())
}

/// The default rendering with its CRDs left out (the CRD templates have their own drift test in
/// operator/tests/crds_match_the_types.rs), as `make chart` writes it.
fn default_rendering(home: &Path) -> Result<String> {
    template(home, "soberana", &["--set", "crds.enabled=false"])
}

async fn snapshot(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "snapshot")?;
    let rendered = default_rendering(&home)?;
    let path = repository_root().join(SNAPSHOT);
    let reviewed = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: run `make chart`", path.display()))?;
    if rendered != reviewed {
        let difference = rendered
            .lines()
            .zip(reviewed.lines())
            .enumerate()
            .find(|(_, (now, before))| now != before)
            .map_or_else(
                || {
                    format!(
                        "the rendering has {} lines, the snapshot {}",
                        rendered.lines().count(),
                        reviewed.lines().count()
                    )
                },
                |(line, (now, before))| {
                    format!("line {}: snapshot `{before}`, rendered `{now}`", line + 1)
                },
            );
        bail!(
            "the soberana chart's default rendering differs from {SNAPSHOT} ({difference}); \
             review the change and run `make chart` to accept it"
        );
    }
    // The snapshot is the real default: the same objects as the default rendering minus CRDs.
    let defaults = template(&home, "soberana", &[])?;
    let without_crds: Vec<Value> = documents(&defaults)?
        .into_iter()
        .filter(|document| document["kind"] != "CustomResourceDefinition")
        .collect();
    ensure!(
        without_crds == documents(&reviewed)?,
        "{SNAPSHOT} is not the default rendering"
    );
    Ok(())
}

async fn bad_values_refused(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "bad-values")?;
    let cases = [
        (
            "operator.replicaz=3",
            "additional properties 'replicaz' not allowed",
            "/operator",
        ),
        (
            "metrics.serviceMonitor.enabeld=true",
            "'enabeld' not allowed",
            "/metrics/serviceMonitor",
        ),
        (
            "operator.replicas=two",
            "got string, want integer",
            "/operator/replicas",
        ),
        ("crds.keep=maybe", "got string, want boolean", "/crds/keep"),
    ];
    for (setting, error, at) in cases {
        let output = template_output(&home, "soberana", &["--set-string", setting])?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(!output.status.success(), "--set {setting} was accepted");
        ensure!(
            stderr.contains(error) && stderr.contains(&format!("at '{at}'")),
            "--set {setting}: expected helm's schema error naming {at}: {error}, got:\n{stderr}"
        );
    }
    // Values the schema cannot see are refused by the templates, naming the value.
    let output = template_output(&home, "soberana", &["--set", "etcd.endpoints=null"])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success() && stderr.contains("etcd.endpoints"),
        "an API without etcd endpoints was rendered:\n{stderr}"
    );
    // The site Secrets' namespace apart from the release namespace, whose Secrets (the API's
    // TLS key, etcd's credentials) the operator may then not read.
    let setting = format!("operator.siteSecretsNamespace={NAMESPACE}");
    let output = template_output(&home, "soberana", &["--set", &setting])?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    ensure!(
        !output.status.success()
            && stderr.contains("operator.siteSecretsNamespace must not be the release namespace"),
        "site Secrets in the release namespace were rendered:\n{stderr}"
    );
    Ok(())
}

/// The API Deployment of a rendering, and the other objects' kinds and names.
fn api_deployment(rendered: &str) -> Result<(Value, BTreeSet<(String, String)>)> {
    let mut deployment = None;
    let mut others = BTreeSet::new();
    for document in documents(rendered)? {
        let kind = document["kind"].as_str().unwrap_or_default().to_owned();
        let name = document["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        if kind == "Deployment" && name == "soberana-api" {
            deployment = Some(document);
        } else {
            others.insert((kind, name));
        }
    }
    Ok((deployment.context("no soberana-api Deployment")?, others))
}

/// The API container's arguments and the pod's volumes (by name) of an API Deployment.
fn arguments_and_volumes(deployment: &Value) -> (Vec<String>, Vec<Value>) {
    let pod = &deployment["spec"]["template"]["spec"];
    let arguments = pod["containers"][0]["args"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let volumes = pod["volumes"].as_array().cloned().unwrap_or_default();
    (arguments, volumes)
}

fn volume<'a>(volumes: &'a [Value], name: &str) -> Option<&'a Value> {
    volumes.iter().find(|volume| volume["name"] == name)
}

/// An install anchors the ledger: by default the API gets `--ledger-signing-key` from a Secret
/// mounted for it alone and `--checkpoint-dir` on a claim the chart creates and keeps on
/// uninstall; an existing claim or (chosen) an emptyDir instead; without a key or a volume the
/// chart refuses to render, naming the value, unless anchoring is turned off on purpose.
async fn ledger_anchoring(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "ledger-anchoring")?;
    let (deployment, others) = api_deployment(&template(&home, "soberana", &[])?)?;
    let (arguments, volumes) = arguments_and_volumes(&deployment);
    for wanted in [
        "--ledger-signing-key=/etc/soberana/ledger/signing.pem",
        "--checkpoint-dir=/var/lib/soberana/checkpoints",
        "--checkpoint-every=100",
        "--checkpoint-interval-seconds=60",
    ] {
        ensure!(
            arguments.iter().any(|argument| argument == wanted),
            "defaults: {wanted} missing from {arguments:?}"
        );
    }
    let key = volume(&volumes, "ledger-signing-key").context("no signing key volume")?;
    ensure!(
        key["secret"]["secretName"] == "soberana-ledger-signing-key"
            && key["secret"]["items"][0]["key"] == "signing.pem",
        "{key}"
    );
    let checkpoints = volume(&volumes, "ledger-checkpoints").context("no checkpoint volume")?;
    ensure!(
        checkpoints["persistentVolumeClaim"]["claimName"] == "soberana-ledger-checkpoints",
        "{checkpoints}"
    );
    ensure!(
        others.contains(&(
            "PersistentVolumeClaim".to_owned(),
            "soberana-ledger-checkpoints".to_owned()
        )),
        "the claim is not rendered: {others:?}"
    );
    let claim = documents(&template(&home, "soberana", &[])?)?
        .into_iter()
        .find(|document| document["kind"] == "PersistentVolumeClaim")
        .context("no claim")?;
    ensure!(
        claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
            && claim["spec"]["accessModes"] == json!(["ReadWriteMany"]),
        "{claim}"
    );
    // The signing key is the API's alone: the operator's pods do not mount it.
    let rendered = template(&home, "soberana", &[])?;
    let operator = documents(&rendered)?
        .into_iter()
        .find(|document| {
            document["kind"] == "Deployment" && document["metadata"]["name"] == "soberana-operator"
        })
        .context("no operator Deployment")?;
    ensure!(
        !operator.to_string().contains("soberana-ledger-signing-key"),
        "the operator mounts the signing key"
    );

    // An existing claim, or an emptyDir when chosen: no claim of the chart's.
    let (deployment, others) = api_deployment(&template(
        &home,
        "soberana",
        &[
            "--set",
            "ledger.anchoring.checkpoints.volume=existingClaim",
            "--set",
            "ledger.anchoring.checkpoints.existingClaim=worm-checkpoints",
        ],
    )?)?;
    let (_, volumes) = arguments_and_volumes(&deployment);
    ensure!(
        volume(&volumes, "ledger-checkpoints").is_some_and(
            |volume| volume["persistentVolumeClaim"]["claimName"] == "worm-checkpoints"
        ) && !others
            .iter()
            .any(|(kind, _)| kind == "PersistentVolumeClaim"),
        "existingClaim: {volumes:?} {others:?}"
    );
    let (deployment, _) = api_deployment(&template(
        &home,
        "soberana",
        &["--set", "ledger.anchoring.checkpoints.volume=emptyDir"],
    )?)?;
    let (_, volumes) = arguments_and_volumes(&deployment);
    ensure!(
        volume(&volumes, "ledger-checkpoints")
            .is_some_and(|volume| volume["emptyDir"] == json!({})),
        "emptyDir: {volumes:?}"
    );

    // Missing: refused, naming the value.
    for (setting, named) in [
        (
            "ledger.anchoring.signingKey.secretName=",
            "ledger.anchoring.signingKey.secretName is required",
        ),
        (
            "ledger.anchoring.checkpoints.volume=",
            "ledger.anchoring.checkpoints.volume is required",
        ),
        (
            "ledger.anchoring.checkpoints.volume=existingClaim",
            "ledger.anchoring.checkpoints.existingClaim is required",
        ),
    ] {
        let output = template_output(&home, "soberana", &["--set", setting])?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(
            !output.status.success() && stderr.contains(named),
            "--set {setting} was not refused naming the value:\n{stderr}"
        );
    }

    // Turned off on purpose: no key, no checkpoints, no claim.
    let (deployment, others) = api_deployment(&template(
        &home,
        "soberana",
        &[
            "--set",
            "ledger.anchoring.enabled=false",
            "--set",
            "ledger.anchoring.signingKey.secretName=",
        ],
    )?)?;
    let (arguments, volumes) = arguments_and_volumes(&deployment);
    ensure!(
        !arguments
            .iter()
            .any(|argument| argument.starts_with("--ledger-signing-key")
                || argument.starts_with("--checkpoint-dir"))
            && volume(&volumes, "ledger-signing-key").is_none()
            && !others
                .iter()
                .any(|(kind, _)| kind == "PersistentVolumeClaim"),
        "disabled: {arguments:?} {volumes:?}"
    );
    Ok(())
}

/// Every leaf key of `values` as a dotted path (empty maps and lists are leaves).
fn leaf_keys(prefix: &str, values: &Value, keys: &mut Vec<String>) {
    match values {
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                leaf_keys(&path, value, keys);
            }
        }
        _ => keys.push(prefix.to_owned()),
    }
}

/// The schema objects that do not close themselves: with `properties` but without
/// `additionalProperties: false`, or a map (no properties) without an `additionalProperties`.
fn open_objects(path: &str, schema: &Value, open: &mut Vec<String>) {
    let Some(object) = schema.as_object() else {
        return;
    };
    if object.get("type") == Some(&json!("object")) {
        let closed = match object.get("properties") {
            Some(_) => object.get("additionalProperties") == Some(&json!(false)),
            None => object.contains_key("additionalProperties"),
        };
        if !closed {
            open.push(path.to_owned());
        }
    }
    for (key, property) in object
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        open_objects(&format!("{path}.{key}"), property, open);
    }
    if let Some(items) = object.get("items") {
        open_objects(&format!("{path}[]"), items, open);
    }
}

async fn readme_and_schema(_plane: Arc<ControlPlane>) -> Result<()> {
    for name in ["soberana", "soberana-member"] {
        let directory = chart(name);
        let values: Value =
            serde_norway::from_str(&std::fs::read_to_string(directory.join("values.yaml"))?)?;
        let readme = std::fs::read_to_string(directory.join("README.md"))?;
        let mut keys = Vec::new();
        leaf_keys("", &values, &mut keys);
        let missing: Vec<&String> = keys
            .iter()
            .filter(|key| !readme.contains(&format!("| `{key}` |")))
            .collect();
        ensure!(
            missing.is_empty(),
            "charts/{name}/README.md's values table lacks {missing:?}"
        );
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(
            directory.join("values.schema.json"),
        )?)?;
        let mut open = Vec::new();
        open_objects("values", &schema, &mut open);
        ensure!(
            open.is_empty(),
            "charts/{name}/values.schema.json leaves objects open to typos: {open:?}"
        );
    }
    Ok(())
}

async fn monitoring_objects(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "monitoring")?;
    let all_on = all_options_on();
    let rendered = documents(&template(
        &home,
        "soberana",
        &["--values", &all_on.to_string_lossy()],
    )?)?;
    let of_kind = |kind: &str| -> Vec<&Value> {
        rendered
            .iter()
            .filter(|document| document["kind"] == kind)
            .collect()
    };
    let services = of_kind("Service");
    let monitors = of_kind("ServiceMonitor");
    ensure!(monitors.len() == 2, "one ServiceMonitor per component");
    for monitor in monitors {
        ensure!(
            monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack",
            "the ServiceMonitor lacks the user's selector label"
        );
        let selector = monitor["spec"]["selector"]["matchLabels"]
            .as_object()
            .context("a ServiceMonitor without matchLabels")?;
        let port = &monitor["spec"]["endpoints"][0]["port"];
        let selected: Vec<&&Value> = services
            .iter()
            .filter(|service| {
                selector
                    .iter()
                    .all(|(key, value)| &service["metadata"]["labels"][key] == value)
            })
            .collect();
        ensure!(
            selected.len() == 1,
            "ServiceMonitor {} selects {} Services",
            monitor["metadata"]["name"],
            selected.len()
        );
        let ports = selected[0]["spec"]["ports"].as_array().context("ports")?;
        ensure!(
            ports.iter().any(|candidate| &candidate["name"] == port),
            "ServiceMonitor {} scrapes port {port}, which its Service lacks",
            monitor["metadata"]["name"]
        );
    }
    let rules = of_kind("PrometheusRule");
    ensure!(rules.len() == 1, "one PrometheusRule");
    ensure!(rules[0]["metadata"]["labels"]["release"] == "kube-prometheus-stack");
    let file: Value = serde_norway::from_str(&std::fs::read_to_string(
        chart("soberana")
            .join("files")
            .join("prometheus-rules.yaml"),
    )?)?;
    ensure!(
        rules[0]["spec"]["groups"] == file["groups"],
        "the PrometheusRule does not carry files/prometheus-rules.yaml's groups"
    );
    Ok(())
}

/// Installs `chart_name` into `cluster` with helm (a real apply).
fn helm_install(home: &Path, kubeconfig: &Path, chart_name: &str) -> Result<String> {
    let chart = chart(chart_name);
    helm_ok(
        home,
        &[
            "install",
            chart_name,
            &chart.to_string_lossy(),
            "--namespace",
            NAMESPACE,
            "--create-namespace",
            "--kubeconfig",
            &kubeconfig.to_string_lossy(),
        ],
    )
}

/// Whether `result` is the API server's 403.
fn forbidden<T: std::fmt::Debug>(result: &kube::Result<T>) -> bool {
    matches!(result, Err(kube::Error::Api(status)) if status.code == 403)
}

/// Serves `monitoring.coreos.com/v1` PrometheusRules: a stand-in for the Prometheus Operator's
/// CRD with only what the operator relies on (group, version, kind, a free-form spec).
async fn serve_prometheus_rules(definitions: &Api<CustomResourceDefinition>) -> Result<()> {
    let definition: CustomResourceDefinition = serde_json::from_value(json!({
        "metadata": {"name": "prometheusrules.monitoring.coreos.com"},
        "spec": {
            "group": "monitoring.coreos.com",
            "names": {"kind": "PrometheusRule", "listKind": "PrometheusRuleList",
                      "plural": "prometheusrules", "singular": "prometheusrule"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {
                "type": "object",
                "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }}}]
        }
    }))?;
    definitions
        .create(&PostParams::default(), &definition)
        .await
        .context("creating the PrometheusRule CRD")?;
    wait_established(definitions, "prometheusrules.monitoring.coreos.com").await
}

/// Each Deployment's container arguments, with the defaults and with every option on, parsed by
/// the binary they are for (`--help` last: every argument before it is checked first, values
/// included): a flag the binary does not know would crash-loop its pods.
async fn arguments_accepted(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "arguments")?;
    let all_on = all_options_on();
    let all_on = all_on.to_string_lossy();
    let mut checked = BTreeSet::new();
    for (rendering, extra) in [
        ("defaults", vec![]),
        ("every option on", vec!["-f", &*all_on]),
    ] {
        for document in documents(&template(&home, "soberana", &extra)?)? {
            if document["kind"] != "Deployment" {
                continue;
            }
            for container in document["spec"]["template"]["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let deployment = document["metadata"]["name"].as_str().unwrap_or_default();
                let binary = workspace_binary(deployment)?;
                let mut arguments: Vec<&str> = container["args"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                arguments.push("--help");
                let output = std::process::Command::new(&binary)
                    .args(&arguments)
                    .output()
                    .with_context(|| format!("running {}", binary.display()))?;
                ensure!(
                    output.status.success(),
                    "{deployment} ({rendering}) refuses the chart's arguments {arguments:?}:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
                checked.insert(deployment.to_owned());
            }
        }
    }
    ensure!(
        checked == BTreeSet::from(["soberana-api".to_owned(), "soberana-operator".to_owned()]),
        "checked {checked:?}"
    );
    Ok(())
}

/// The numeric flags the chart exposes as values (`<component>.<key>`), by component.
const TUNING: [(&str, &str, &str); 12] = [
    ("operator", "probeInterval", "--probe-interval"),
    ("operator", "driftCheckInterval", "--drift-check-interval"),
    (
        "operator",
        "residencyScanInterval",
        "--residency-scan-interval",
    ),
    ("operator", "leaseDuration", "--lease-duration"),
    (
        "operator",
        "reconcileConcurrency",
        "--reconcile-concurrency",
    ),
    (
        "operator",
        "memberConnectTimeout",
        "--member-connect-timeout",
    ),
    (
        "operator",
        "memberRequestTimeout",
        "--member-request-timeout",
    ),
    ("operator", "memberConcurrency", "--member-concurrency"),
    (
        "operator",
        "managementConnectTimeout",
        "--management-connect-timeout",
    ),
    (
        "operator",
        "managementRequestTimeout",
        "--management-request-timeout",
    ),
    (
        "api",
        "managementConnectTimeout",
        "--management-connect-timeout",
    ),
    (
        "api",
        "managementRequestTimeout",
        "--management-request-timeout",
    ),
];

/// The `[default: …]` the binary's `--help` gives `flag`.
fn help_default(help: &str, flag: &str) -> Option<String> {
    let start = help.find(&format!("{flag} <"))?;
    let rest = &help[start + flag.len()..];
    let end = rest.find("\n      --").unwrap_or(rest.len());
    let (_, default) = rest[..end].split_once("[default: ")?;
    default.split_once(']').map(|(value, _)| value.to_owned())
}

/// Whether a binary's parser accepts `flag=value` (`--help` last, so nothing runs).
fn binary_accepts(binary: &Path, flag: &str, value: i64) -> Result<bool> {
    let output = std::process::Command::new(binary)
        .arg(format!("{flag}={value}"))
        .arg("--help")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    Ok(output.status.success())
}

/// Each tuning value defaults to what the binary does without it, reaches the binary as its flag,
/// and is bounded by the schema exactly where the binary's parser is: a value the chart accepts
/// never crash-loops the operator, and one it refuses would have.
async fn tuning_values(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "tuning")?;
    let directory = chart("soberana");
    let values: Value =
        serde_norway::from_str(&std::fs::read_to_string(directory.join("values.yaml"))?)?;
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(
        directory.join("values.schema.json"),
    )?)?;
    let rendered = documents(&template(&home, "soberana", &[])?)?;
    for (component, key, flag) in TUNING {
        let deployment = format!("soberana-{component}");
        let binary = workspace_binary(&deployment)?;
        let help = std::process::Command::new(&binary)
            .arg("--help")
            .output()
            .with_context(|| format!("running {}", binary.display()))?;
        let help = String::from_utf8_lossy(&help.stdout).into_owned();
        let object = rendered
            .iter()
            .find(|document| {
                document["kind"] == "Deployment" && document["metadata"]["name"] == *deployment
            })
            .with_context(|| format!("no {deployment} Deployment in the default rendering"))?;
        let (arguments, _) = arguments_and_volumes(object);
        let value = format!("{component}.{key}");
        let default = values[component][key]
            .as_i64()
            .with_context(|| format!("{value} is not an integer in values.yaml"))?;
        let binary_default = help_default(&help, flag)
            .with_context(|| format!("{deployment} --help gives {flag} no default"))?;
        ensure!(
            binary_default == default.to_string(),
            "{value} defaults to {default}, {deployment}'s {flag} to {binary_default}"
        );
        ensure!(
            arguments.contains(&format!("{flag}={default}")),
            "{value} does not reach {deployment} as {flag}: {arguments:?}"
        );
        let bounds = &schema["properties"][component]["properties"][key];
        let (Some(minimum), Some(maximum)) =
            (bounds["minimum"].as_i64(), bounds["maximum"].as_i64())
        else {
            bail!("values.schema.json gives {value} no minimum and maximum");
        };
        for (number, accepted) in [
            (minimum, true),
            (maximum, true),
            (minimum - 1, false),
            (maximum + 1, false),
        ] {
            ensure!(
                binary_accepts(&binary, flag, number)? == accepted,
                "values.schema.json bounds {value} to {minimum}..={maximum}, but {deployment} \
                 {} {flag}={number}",
                if accepted { "refuses" } else { "accepts" }
            );
        }
        let setting = format!("{value}={}", maximum + 1);
        let output = template_output(&home, "soberana", &["--set", &setting])?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        ensure!(
            !output.status.success() && stderr.contains(&format!("at '/{component}/{key}'")),
            "--set {setting} was not refused by the schema naming it:\n{stderr}"
        );
    }
    Ok(())
}

async fn install_and_provision(plane: Arc<ControlPlane>) -> Result<()> {
    let home = scratch(&plane, "install")?;
    let management = plane.cluster(MANAGEMENT)?;
    let member = plane.cluster(MEMBER)?;
    let admin = management.client().await?;
    let member_admin = member.client().await?;

    // A real install of both charts.
    helm_install(&home, management.kubeconfig(), "soberana")?;
    helm_install(&home, member.kubeconfig(), "soberana-member")?;
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), NAMESPACE);
    for name in ["soberana-operator", "soberana-api"] {
        let deployment = deployments.get(name).await?;
        let spec = deployment.spec.context("a Deployment without spec")?;
        ensure!(
            spec.replicas == Some(2),
            "{name} does not ask for 2 replicas"
        );
    }
    let budgets: Api<PodDisruptionBudget> = Api::namespaced(admin.clone(), NAMESPACE);
    ensure!(budgets.get("soberana-operator").await.is_ok());
    let definitions: Api<CustomResourceDefinition> = Api::all(admin.clone());
    // The CRDs belong to the release (so `helm upgrade` updates them) and outlive it.
    let sites = definitions.get("sites.soberana.io").await?;
    let annotations = sites.metadata.annotations.unwrap_or_default();
    ensure!(
        annotations
            .get("helm.sh/resource-policy")
            .map(String::as_str)
            == Some("keep"),
        "the CRDs are not kept on uninstall: {annotations:?}"
    );
    ensure!(
        annotations
            .get("meta.helm.sh/release-name")
            .map(String::as_str)
            == Some("soberana"),
        "the CRDs are not the release's: {annotations:?}"
    );
    wait_established(&definitions, "tenants.soberana.io").await?;

    // The operator under the chart's ServiceAccounts: on the management cluster and the member.
    let operator_token = request_token(&admin, NAMESPACE, "soberana-operator").await?;
    let kubeconfig = management.directory().join("chart-operator.kubeconfig");
    std::fs::write(
        &kubeconfig,
        token_kubeconfig(management, "soberana-operator", &operator_token),
    )?;
    let member_token = request_token(&member_admin, NAMESPACE, "soberana-operator").await?;
    store_kubeconfig(
        &admin,
        "site-member",
        &token_kubeconfig(member, "soberana-operator", &member_token),
    )
    .await?;
    for (_, classification) in yaml_documents(&examples_directory().join("classifications.yaml"))? {
        apply(&admin, &classification).await?;
    }
    let site_facts = MemberSite {
        cluster: MEMBER,
        sovereignty_tier: "StateOwned",
        jurisdiction: "CR",
    };
    apply(&admin, &site(&site_facts, "site-member")).await?;
    apply(
        &admin,
        &json!({
            "apiVersion": "soberana.io/v1alpha1",
            "kind": "Tenant",
            "metadata": {"name": "ministerio-hacienda"},
            "spec": {
                "displayName": "Ministerio de Hacienda",
                "shortCode": "minhac",
                "owners": [{"kind": "Group", "name": "minhac-admins"}],
                "highestClassification": "confidential",
                "environments": [{"name": "prod"}],
                "quota": {"cpuMillicores": 4000, "memoryMebibytes": 8192, "storageGibibytes": 100, "pods": 50},
                "allowedSites": [MEMBER],
            }
        }),
    )
    .await?;
    let settings = OperatorSettings {
        slo_rule_labels: vec![("release".to_owned(), "monitoring".to_owned())],
        ..OperatorSettings::default()
    };
    let mut operator = OperatorProcess::start(
        &workspace_binary("soberana-operator")?,
        &kubeconfig,
        management.directory(),
        "chart-operator",
        &settings,
    )?;
    operator
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    let tenants: Api<Tenant> = Api::all(admin.clone());
    wait_until(
        "Tenant ministerio-hacienda to be Ready",
        Duration::from_secs(90),
        || async { Ok(tenants.get("ministerio-hacienda").await?.is_ready()) },
    )
    .await?;
    let namespace = Api::<Namespace>::all(member_admin.clone())
        .get("minhac-prod")
        .await
        .context("the tenant's namespace on the member")?;
    ensure!(
        namespace.metadata.labels.unwrap_or_default()["soberana.io/tenant"]
            == "ministerio-hacienda"
    );
    // Without the Prometheus Operator, the rules are in a ConfigMap, labelled for the Prometheus
    // that selects them.
    let config_maps: Api<ConfigMap> = Api::namespaced(admin.clone(), NAMESPACE);
    wait_until(
        "the operator's ConfigMap soberana-slo with the site's objective",
        Duration::from_secs(60),
        || async {
            Ok(config_maps
                .get_opt("soberana-slo")
                .await?
                .is_some_and(|map| {
                    map.metadata.labels.unwrap_or_default().get("release")
                        == Some(&"monitoring".to_owned())
                        && map
                            .data
                            .unwrap_or_default()
                            .values()
                            .any(|rules| rules.contains("soberana-slo-site-member"))
                }))
        },
    )
    .await?;
    // Once the Prometheus Operator's API is served, the next look (here: the site's offered
    // availability edited) moves them to a PrometheusRule and the ConfigMap goes, so no
    // Prometheus loads them twice.
    serve_prometheus_rules(&definitions).await?;
    let offered = json!({"spec": {"offeredAvailability": "99.9"}});
    Api::<soberana_core::resources::site::Site>::all(admin.clone())
        .patch(MEMBER, &PatchParams::default(), &Patch::Merge(&offered))
        .await?;
    let rules: Api<DynamicObject> = Api::namespaced_with(
        admin.clone(),
        NAMESPACE,
        &ApiResource::from_gvk(&GroupVersionKind::gvk(
            "monitoring.coreos.com",
            "v1",
            "PrometheusRule",
        )),
    );
    wait_until(
        "the operator's PrometheusRule soberana-slo with the site's objective",
        Duration::from_secs(60),
        || async {
            Ok(rules.get_opt("soberana-slo").await?.is_some_and(|rule| {
                rule.data["spec"]
                    .to_string()
                    .contains("soberana-slo-site-member")
            }))
        },
    )
    .await?;
    let rule = rules.get("soberana-slo").await?;
    ensure!(
        rule.metadata.labels.unwrap_or_default().get("release") == Some(&"monitoring".to_owned()),
        "the PrometheusRule is not labelled for the Prometheus that selects it"
    );
    wait_until(
        "the ConfigMap the PrometheusRule replaced to go",
        Duration::from_secs(60),
        || async { Ok(config_maps.get_opt("soberana-slo").await?.is_none()) },
    )
    .await?;
    // A ConfigMap of that name that is not Soberana's (no label of its) is left alone on every
    // later look: here the one that follows the site's offered availability edited again.
    let foreign: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "soberana-slo", "namespace": NAMESPACE},
        "data": {"owner": "the monitoring team"}
    }))?;
    config_maps.create(&PostParams::default(), &foreign).await?;
    let looks = || operator.metric("soberana_reconcile_total", &[("controller", "slo")]);
    let looks_before = looks().await?;
    let offered = json!({"spec": {"offeredAvailability": "99.5"}});
    Api::<soberana_core::resources::site::Site>::all(admin.clone())
        .patch(MEMBER, &PatchParams::default(), &Patch::Merge(&offered))
        .await?;
    wait_until(
        "the PrometheusRule to follow the site's new offered availability",
        Duration::from_secs(60),
        || async {
            let rule = rules.get("soberana-slo").await?;
            Ok(rule.data["spec"].to_string().contains("vector(0.995)"))
        },
    )
    .await?;
    // The look that wrote it has ended (its removal step included).
    wait_until("the SLO look to end", Duration::from_secs(60), || async {
        Ok(looks().await? > looks_before)
    })
    .await?;
    ensure!(
        config_maps.get_opt("soberana-slo").await?.is_some(),
        "the operator deleted a ConfigMap soberana-slo that is not its own"
    );

    // What the charts do not grant is refused.
    let as_operator = management.client_with_token(&operator_token).await?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "planted", "namespace": "kube-system"},
        "stringData": {"token": "x"}
    }))?;
    let planted = Api::<Secret>::namespaced(as_operator.clone(), "kube-system")
        .create(&PostParams::default(), &secret)
        .await;
    ensure!(
        forbidden(&planted),
        "the chart's operator wrote a Secret in kube-system: {planted:?}"
    );
    // Secrets it may read only in the site Secrets' namespace: not the API's TLS key, not
    // etcd's credentials, nor any other Secret of the release namespace.
    let tls_key = Api::<Secret>::namespaced(as_operator.clone(), NAMESPACE)
        .get("soberana-api-tls")
        .await;
    ensure!(
        forbidden(&tls_key),
        "the chart's operator may read the API's TLS Secret: {tls_key:?}"
    );
    let listed = Api::<Secret>::namespaced(as_operator.clone(), NAMESPACE)
        .list(&kube::api::ListParams::default())
        .await;
    ensure!(
        forbidden(&listed),
        "the chart's operator may list the release namespace's Secrets: {listed:?}"
    );
    let site_secrets = Api::<Secret>::namespaced(as_operator.clone(), "soberana-sites")
        .list(&kube::api::ListParams::default())
        .await?;
    ensure!(
        site_secrets
            .items
            .iter()
            .any(|secret| secret.metadata.name.as_deref() == Some("site-member")),
        "the chart's operator does not see the site kubeconfig Secret"
    );
    let removed = Api::<Node>::all(as_operator.clone())
        .delete("any-node", &DeleteParams::default())
        .await;
    ensure!(
        forbidden(&removed),
        "the chart's operator may delete Nodes: {removed:?}"
    );
    let as_member_operator = member.client_with_token(&member_token).await?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "soberana-escalation"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "soberana-operator", "namespace": NAMESPACE}]
    }))?;
    let escalated = Api::<ClusterRoleBinding>::all(as_member_operator.clone())
        .create(&PostParams::default(), &binding)
        .await;
    ensure!(
        forbidden(&escalated),
        "the member chart's operator bound cluster-admin: {escalated:?}"
    );
    // The member chart's confinement policy, once the API server has loaded it (a dry run
    // shows when), keeps the operator out of the platform's namespaces.
    let reserved: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "kube-chart-test"}}))?;
    let namespaces = Api::<Namespace>::all(as_member_operator);
    wait_until(
        "the member chart's confinement policy to be in force",
        Duration::from_secs(30),
        || async {
            let dry_run = PostParams {
                dry_run: true,
                ..PostParams::default()
            };
            Ok(namespaces.create(&dry_run, &reserved).await.is_err())
        },
    )
    .await?;
    let taken = namespaces.create(&PostParams::default(), &reserved).await;
    match &taken {
        Err(kube::Error::Api(status)) if status.message.contains("reserved for the platform") => {}
        other => bail!("the member chart's operator created namespace kube-chart-test: {other:?}"),
    }
    operator.terminate();
    upgrade_and_uninstall(&home, management.kubeconfig(), &definitions, &tenants).await
}

/// `helm upgrade` brings the CRDs to the chart's (they are templates, not Helm's install-once
/// `crds/`) and applies changed values; `helm uninstall` leaves the CRDs, and so every Tenant,
/// in place.
async fn upgrade_and_uninstall(
    home: &Path,
    kubeconfig: &Path,
    definitions: &Api<CustomResourceDefinition>,
    tenants: &Api<Tenant>,
) -> Result<()> {
    const SCHEMA_DESCRIPTION: &str = "/spec/versions/0/schema/openAPIV3Schema/description";
    let description = |crd: CustomResourceDefinition| {
        serde_json::to_value(crd)
            .ok()
            .and_then(|crd| crd.pointer(SCHEMA_DESCRIPTION).cloned())
    };
    let charted = description(definitions.get("sites.soberana.io").await?);
    ensure!(charted.is_some(), "the Site CRD has no schema description");
    // The CRD as an older release left it.
    let mut older = serde_json::to_value(definitions.get("sites.soberana.io").await?)?;
    *older
        .pointer_mut(SCHEMA_DESCRIPTION)
        .context("the Site CRD has no schema description")? = json!("an older release's Site");
    definitions
        .replace(
            "sites.soberana.io",
            &PostParams::default(),
            &serde_json::from_value(older)?,
        )
        .await?;
    let chart = chart("soberana");
    let kubeconfig = kubeconfig.to_string_lossy();
    helm_ok(
        home,
        &[
            "upgrade",
            "soberana",
            &chart.to_string_lossy(),
            "--namespace",
            NAMESPACE,
            "--kubeconfig",
            &kubeconfig,
            "--set",
            "operator.replicas=3",
        ],
    )?;
    ensure!(
        description(definitions.get("sites.soberana.io").await?) == charted,
        "helm upgrade did not bring the Site CRD to the chart's"
    );
    let deployments: Api<Deployment> = Api::namespaced(tenants.clone().into_client(), NAMESPACE);
    let operator = deployments.get("soberana-operator").await?;
    ensure!(
        operator.spec.and_then(|spec| spec.replicas) == Some(3),
        "helm upgrade did not apply operator.replicas=3"
    );
    helm_ok(
        home,
        &[
            "uninstall",
            "soberana",
            "--namespace",
            NAMESPACE,
            "--kubeconfig",
            &kubeconfig,
        ],
    )?;
    ensure!(
        deployments.get_opt("soberana-operator").await?.is_none(),
        "helm uninstall left the operator's Deployment"
    );
    ensure!(
        definitions.get_opt("tenants.soberana.io").await?.is_some()
            && tenants.get_opt("ministerio-hacienda").await?.is_some(),
        "helm uninstall removed the CRDs, and with them the institutions' Tenants"
    );
    let claims: Api<PersistentVolumeClaim> =
        Api::namespaced(tenants.clone().into_client(), NAMESPACE);
    ensure!(
        claims
            .get_opt("soberana-ledger-checkpoints")
            .await?
            .is_some(),
        "helm uninstall removed the claim holding the ledger's signed checkpoints"
    );
    Ok(())
}
