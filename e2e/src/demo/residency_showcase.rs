//! What `make demo` shows of residency: a foreign public-cloud site's own API server refusing a
//! restricted Deployment in a tenant namespace, with its message, and admitting a public one.
//! Both are server-side dry runs, so the demo leaves nothing behind.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use soberana_core::resources::site::Site;
use soberana_core::resources::sovereignty::SovereigntyTier;

use crate::harness::control_plane::ControlPlane;
use crate::harness::wait::wait_until;

/// Lines telling what a foreign public-cloud site of the demo admits; empty when the demo runs
/// no such site.
pub async fn show_refusal(plane: &ControlPlane, management: &Client) -> Result<Vec<String>> {
    let sites: Api<Site> = Api::all(management.clone());
    let Some(site) = sites
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .find(|site| {
            site.spec.sovereignty_tier == SovereigntyTier::ForeignPublic
                && plane.cluster(&site.name_any()).is_ok()
        })
    else {
        return Ok(Vec::new());
    };
    let name = site.name_any();
    wait_until(
        &format!("residency policies in force on {name}"),
        Duration::from_secs(60),
        || async {
            let site = sites.get(&name).await?;
            Ok(site
                .status
                .and_then(|status| status.residency)
                .is_some_and(|residency| residency.policy_revision.is_some()))
        },
    )
    .await?;
    let residency = sites
        .get(&name)
        .await?
        .status
        .and_then(|status| status.residency)
        .unwrap_or_default();
    let member = plane.cluster(&name)?.client().await?;
    // A tenant allowed restricted data, so that the site's residency is the only refusal.
    let namespace = Api::<Namespace>::all(member.clone())
        .list(&ListParams::default().labels("soberana.io/classification-ceiling=restricted"))
        .await?
        .items
        .into_iter()
        .map(|namespace| namespace.name_any())
        .min()
        .with_context(|| format!("no tenant namespace allowed restricted data on {name}"))?;

    let mut lines = vec![
        format!(
            "\nResidency at {name}'s own front door (admission policies revision {}; it may host {}):",
            residency.policy_revision.unwrap_or_default(),
            residency.allowed_classifications.join(", ")
        ),
        format!(
            "  a Deployment labelled soberana.io/classification=restricted in {namespace} (kubectl --context {name} -n {namespace} apply --dry-run=server …):"
        ),
    ];
    let deployments: Api<Deployment> = Api::namespaced(member, &namespace);
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    for classification in ["restricted", "public"] {
        let outcome = match deployments
            .create(&dry_run, &deployment(classification)?)
            .await
        {
            Ok(_) => "admitted".to_owned(),
            Err(kube::Error::Api(status)) => {
                format!("refused by {name}'s own API server: {}", status.message)
            }
            Err(error) => return Err(error.into()),
        };
        if classification == "public" {
            lines.push("  the same Deployment labelled public:".to_owned());
        }
        lines.push(format!("    {outcome}"));
    }
    Ok(lines)
}

fn deployment(classification: &str) -> Result<Deployment> {
    let labels = json!({"app": "registro", "soberana.io/classification": classification});
    Ok(serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "registro", "labels": labels},
        "spec": {
            "selector": {"matchLabels": {"app": "registro"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/registro:1"}]}
            }
        }
    }))?)
}
