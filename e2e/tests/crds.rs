//! Soberana's CRDs from `crds/` in a real API server: they install, `kubectl` shows their printer
//! columns and documentation, valid objects are created as `kubectl apply` creates them and take
//! status through server-side apply, and every object of the shared fixture
//! (`e2e/fixtures/crd-verdicts.yaml`) gets the recorded verdict and errors from the server and
//! exactly the same from `soberana evaluate` offline.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::core::Status;
use kube::{Api, Client};
use serde_json::{Value, json};
use soberana_e2e::crd_verdicts::{self, offline_errors, sorted};
use soberana_e2e::soberana_manifests::{self, FIELD_MANAGER};
use soberana_e2e::workspace_binaries::workspace_binary;
use soberana_e2e::{Cluster, ControlPlane, Suite};

fn main() -> ExitCode {
    Suite::new(&["mgmt"])
        .test(
            "crds_install_and_valid_objects_apply",
            crds_install_and_valid_objects_apply,
        )
        .test(
            "the_server_and_evaluate_give_every_fixture_object_the_same_verdict",
            the_server_and_evaluate_give_every_fixture_object_the_same_verdict,
        )
        .test(
            "a_tenant_short_code_cannot_change",
            a_tenant_short_code_cannot_change,
        )
        .test(
            "kubectl_shows_columns_and_field_documentation",
            kubectl_shows_columns_and_field_documentation,
        )
        .test(
            "the_example_scenario_applies_cleanly",
            the_example_scenario_applies_cleanly,
        )
        .run()
}

async fn crds_install_and_valid_objects_apply(plane: Arc<ControlPlane>) -> Result<()> {
    let cluster = plane.cluster("mgmt")?;
    let client = install_crds(cluster).await?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let accepted = crd_verdicts::cases()?
        .into_iter()
        .filter(|case| case.errors.is_empty());
    // Created, as `kubectl apply` creates a new object: server-side apply would also refuse the
    // `null`s that a create prunes, and type-check the `status` a create drops.
    for case in accepted {
        api_for(&client, &case.object)?
            .create(
                &PostParams::default(),
                &serde_json::from_value(case.object.clone())?,
            )
            .await
            .with_context(|| format!("creating {}", case.label()))?;
    }
    // The status subresource takes a status patch; conditions merge by type.
    let sites = api_for(&client, &site("status-site", "CR"))?;
    sites
        .patch(
            "status-site",
            &apply,
            &Patch::Apply(&site("status-site", "CR")),
        )
        .await?;
    let status = json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site",
        "status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "Probed", "message": "readyz ok",
            "lastTransitionTime": "2026-11-22T00:00:00Z"
        }], "kubernetesVersion": "v1.36.3"}
    });
    sites
        .patch_status("status-site", &apply, &Patch::Apply(&status))
        .await?;
    let stored = sites.get("status-site").await?;
    ensure!(
        stored.data["status"]["conditions"][0]["type"] == "Ready",
        "status not stored: {:?}",
        stored.data
    );
    Ok(())
}

async fn the_server_and_evaluate_give_every_fixture_object_the_same_verdict(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let client = install_crds(plane.cluster("mgmt")?).await?;
    let soberana = workspace_binary("soberana")?;
    let cases = crd_verdicts::cases()?;
    ensure!(
        cases.iter().any(|case| case.errors.is_empty())
            && cases.iter().any(|case| !case.errors.is_empty()),
        "the fixture needs objects the server accepts and objects it refuses"
    );
    let mut disagreements = Vec::new();
    for case in &cases {
        let server = sorted(
            server_errors(&client, &case.object)
                .await
                .with_context(|| case.case.clone())?,
        );
        let offline = sorted(offline_errors(&soberana, case, &cases)?);
        let recorded = sorted(case.errors.clone());
        if server != recorded || offline != server {
            disagreements.push(format!(
                "{} ({}):\n  server:   {server:#?}\n  offline:  {offline:#?}\n  recorded: {recorded:#?}",
                case.case,
                case.label()
            ));
        }
    }
    ensure!(disagreements.is_empty(), "{}", disagreements.join("\n"));
    Ok(())
}

/// The errors the API server answers to creating `object` (a dry run: nothing is stored), each
/// `field: message` as in the fixture; empty when it accepts it.
async fn server_errors(client: &Client, object: &Value) -> Result<Vec<String>> {
    let params = PostParams {
        dry_run: true,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    let result = api_for(client, object)?
        .create(&params, &serde_json::from_value(object.clone())?)
        .await;
    match result {
        Ok(_) => Ok(Vec::new()),
        // The server validates an object before it looks for one of the same name: one that
        // another test of this suite applied for real has passed validation.
        Err(kube::Error::Api(status)) if status.reason == "AlreadyExists" => Ok(Vec::new()),
        Err(kube::Error::Api(status)) if status.code == 422 => {
            let causes = causes(&status);
            ensure!(!causes.is_empty(), "refused without causes: {status:?}");
            Ok(causes)
        }
        Err(other) => Err(other.into()),
    }
}

/// A refusal's causes as `field: message`, or the message alone for the object as a whole.
fn causes(status: &Status) -> Vec<String> {
    status
        .details
        .iter()
        .flat_map(|details| &details.causes)
        .map(|cause| match cause.field.as_str() {
            "" | "<nil>" => cause.message.clone(),
            field => format!("{field}: {}", cause.message),
        })
        .collect()
}

/// An update, which offline evaluation never sees: shortCode is fixed once set.
async fn a_tenant_short_code_cannot_change(plane: Arc<ControlPlane>) -> Result<()> {
    let client = install_crds(plane.cluster("mgmt")?).await?;
    let tenants = api_for(&client, &tenant("fixed-code", "minsa"))?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    tenants
        .patch(
            "fixed-code",
            &apply,
            &Patch::Apply(&tenant("fixed-code", "minsa")),
        )
        .await?;
    let changed = tenants
        .patch(
            "fixed-code",
            &apply,
            &Patch::Apply(&tenant("fixed-code", "salud")),
        )
        .await;
    let message = rejection(changed).context("changing shortCode was accepted")?;
    ensure!(
        message.contains("shortCode is immutable"),
        "message was {message:?}"
    );
    Ok(())
}

async fn kubectl_shows_columns_and_field_documentation(plane: Arc<ControlPlane>) -> Result<()> {
    let cluster = plane.cluster("mgmt")?;
    let client = install_crds(cluster).await?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    let sites = api_for(&client, &site("columns-site", "UY"))?;
    sites
        .patch(
            "columns-site",
            &apply,
            &Patch::Apply(&site("columns-site", "UY")),
        )
        .await?;

    let kubectl = &plane.binaries().kubectl;
    let table = run(
        kubectl,
        cluster.kubeconfig(),
        &["get", "st", "columns-site"],
    )?;
    for column in ["TIER", "JURISDICTION", "READY", "OFFERED"] {
        ensure!(
            table.contains(column),
            "`kubectl get st` lacks {column}:\n{table}"
        );
    }
    ensure!(
        table.contains("StateOwned") && table.contains("UY") && table.contains("99.95"),
        "{table}"
    );
    let category = run(kubectl, cluster.kubeconfig(), &["get", "soberana"])?;
    ensure!(
        category.contains("site.soberana.io/columns-site"),
        "category soberana lists:\n{category}"
    );
    let explained = run(
        kubectl,
        cluster.kubeconfig(),
        &["explain", "sites.spec.jurisdiction"],
    )?;
    ensure!(
        explained.contains("ISO 3166-1 alpha-2"),
        "kubectl explain shows:\n{explained}"
    );
    Ok(())
}

async fn the_example_scenario_applies_cleanly(plane: Arc<ControlPlane>) -> Result<()> {
    let client = install_crds(plane.cluster("mgmt")?).await?;
    let applied =
        soberana_manifests::apply_directory(&client, &soberana_manifests::examples_directory())
            .await?;
    ensure!(applied >= 50, "the scenario has only {applied} objects");
    Ok(())
}

/// Installs the CRDs from `crds/` into the cluster and returns its admin client.
async fn install_crds(cluster: &Cluster) -> Result<Client> {
    let client = cluster.client().await?;
    let names = soberana_manifests::install_crds(&client).await?;
    ensure!(
        names.len() == 6,
        "expected six CRDs in crds/, found {names:?}"
    );
    Ok(client)
}

fn api_for(client: &Client, object: &Value) -> Result<Api<DynamicObject>> {
    soberana_manifests::soberana_api(client, object)
}

fn rejection<T: std::fmt::Debug>(result: kube::Result<T>) -> Result<String> {
    match result {
        Err(kube::Error::Api(status)) => Ok(status.message),
        Err(other) => bail!("expected the API server to reject it, got {other}"),
        Ok(accepted) => bail!("accepted: {accepted:?}"),
    }
}

fn run(kubectl: &Path, kubeconfig: &Path, arguments: &[&str]) -> Result<String> {
    let output = Command::new(kubectl)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(arguments)
        .output()?;
    ensure!(
        output.status.success(),
        "kubectl {}: {}",
        arguments.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn site(name: &str, jurisdiction: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
        "spec": {
            "provider": "Agencia de Gobierno Digital", "sovereigntyTier": "StateOwned",
            "jurisdiction": jurisdiction, "offeredAvailability": "99.95",
            "capacity": {"cpuMillicores": 64000, "memoryMebibytes": 262144, "storageGibibytes": 10000},
            "zones": ["a", "b"], "certifications": ["ISO27001"], "keyCustody": ["StateHeldHsm"],
            "encryptionInTransit": true,
            "taints": [{"key": "maintenance", "reason": "firmware upgrade"}]
        }
    })
}

fn tenant(name: &str, short_code: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {
            "displayName": "Ministerio de Salud", "shortCode": short_code, "sector": "Health",
            "owners": [{"kind": "Group", "name": "minsa-admins"}],
            "highestClassification": "restricted",
            "environments": [{"name": "prod"}, {"name": "staging"}],
            "quota": {"cpuMillicores": 8000, "memoryMebibytes": 16384, "pods": 100},
            "deletionPolicy": "Retain"
        }
    })
}
