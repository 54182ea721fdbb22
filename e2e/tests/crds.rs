//! Soberana's CRDs from `crds/` in a real API server: they install, `kubectl` shows their printer
//! columns and documentation, valid objects apply with server-side apply, and invalid ones are
//! rejected with messages that name the field and the rule.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]

use std::path::Path;
use std::process::{Command, ExitCode};
use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use kube::api::{DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use soberana_e2e::soberana_manifests::{self, FIELD_MANAGER};
use soberana_e2e::{Cluster, ControlPlane, Suite};

fn main() -> ExitCode {
    Suite::new(&["mgmt"])
        .test(
            "crds_install_and_valid_objects_apply",
            crds_install_and_valid_objects_apply,
        )
        .test(
            "invalid_objects_are_rejected_with_the_rule_message",
            invalid_objects_are_rejected_with_the_rule_message,
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
    for object in valid_objects() {
        let api = api_for(&client, &object)?;
        let name = object["metadata"]["name"]
            .as_str()
            .context("fixture has a name")?;
        api.patch(name, &apply, &Patch::Apply(&object))
            .await
            .with_context(|| format!("applying {name}"))?;
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

async fn invalid_objects_are_rejected_with_the_rule_message(
    plane: Arc<ControlPlane>,
) -> Result<()> {
    let client = install_crds(plane.cluster("mgmt")?).await?;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "a site in 'UK'",
            site("uk-site", "UK"),
            "ISO 3166-1 alpha-2",
        ),
        (
            "negative capacity",
            {
                let mut object = site("negative-site", "CR");
                object["spec"]["capacity"]["cpuMillicores"] = json!(-1);
                object
            },
            "spec.capacity.cpuMillicores",
        ),
        (
            "availability above 100",
            {
                let mut object = site("greedy-site", "CR");
                object["spec"]["offeredAvailability"] = json!("100.5");
                object
            },
            "spec.offeredAvailability",
        ),
        (
            "an unknown sovereignty tier",
            {
                let mut object = site("odd-site", "CR");
                object["spec"]["sovereigntyTier"] = json!("Offshore");
                object
            },
            "spec.sovereigntyTier",
        ),
        (
            "a short code that is not a DNS label",
            tenant("bad-code-tenant", "Min_Salud"),
            "DNS label",
        ),
        (
            "spread minimum above maximum",
            json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": "inverted-spread"},
                "spec": {"constraints": {"spread": {"minimumSites": 3, "maximumSites": 2}}}
            }),
            "minimumSites must not exceed",
        ),
        (
            "a classification without legal basis",
            json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": "baseless"},
                "spec": {"rank": 1, "legalBasis": ""}
            }),
            "spec.legalBasis",
        ),
    ];
    for (what, object, expected) in cases {
        let api = api_for(&client, &object)?;
        let result = api
            .create(&PostParams::default(), &serde_json::from_value(object)?)
            .await;
        let message = rejection(result).with_context(|| format!("{what} was accepted"))?;
        ensure!(
            message.contains(expected),
            "{what}: message {message:?} lacks {expected:?}"
        );
    }

    // shortCode is fixed once set.
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
        names.len() == 5,
        "expected five CRDs in crds/, found {names:?}"
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

fn valid_objects() -> Vec<Value> {
    vec![
        site("state-dc-primary", "CR"),
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification", "metadata": {"name": "restricted"},
            "spec": {
                "rank": 40, "legalBasis": "Ley 8968 de Protección de Datos Personales, art. 9",
                "allowedJurisdictions": ["CR"], "allowedSovereigntyTiers": ["StateOwned"],
                "requiredCertifications": ["ISO27001"], "encryptionAtRest": {"keyCustody": "StateHeldHsm"},
                "encryptionInTransit": true, "backup": {"copies": 2, "sameJurisdiction": true},
                "minimumAvailability": "99.9"
            }
        }),
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "PlacementRule", "metadata": {"name": "health-two-zones"},
            "spec": {
                "priority": 10, "selector": {"tenants": ["ministry-of-health"]},
                "constraints": {"excludedSites": ["public-cloud-us"], "spread": {"minimumSites": 2, "across": "Zones"}},
                "preferences": {"sovereignty": 60, "cost": 10, "availability": 30}
            }
        }),
        tenant("ministry-of-health", "minsa"),
        json!({
            "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
            "metadata": {"name": "expediente-clinico", "namespace": "default"},
            "spec": {
                "tenant": "ministry-of-health", "classification": "restricted", "replicas": 2,
                "resources": {"cpuMillicores": 500, "memoryMebibytes": 1024},
                "availabilityTarget": "99.9", "tolerations": ["maintenance"],
                "migrationSource": {"external": "hospital rack 4"}
            }
        }),
    ]
}
