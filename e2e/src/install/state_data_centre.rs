//! A small state data centre on a harness control plane, ready for the operator: the CRDs and the
//! example classifications on the management cluster, one `Site` per member cluster with its
//! kubeconfig Secret, and the operator's own kubeconfig under least-privilege RBAC.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use kube::Client;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::harness::control_plane::ControlPlane;
use crate::install::exchange_approvals::apply_agreement;
use crate::install::soberana_install::{
    MANAGEMENT_RBAC, operator_kubeconfig, register_site_credentials,
};
use crate::install::soberana_manifests::{
    FIELD_MANAGER, examples_directory, install_crds, soberana_api, yaml_documents,
};

/// The facts of a member site that decide which tenants it may carry.
#[derive(Clone, Copy, Debug)]
pub struct MemberSite {
    /// The harness cluster that stands for the site; the Site is named after it.
    pub cluster: &'static str,
    pub sovereignty_tier: &'static str,
    pub jurisdiction: &'static str,
}

/// The three member sites the operator's tests and benchmark run against: a state-owned site,
/// a national provider and a foreign public cloud.
pub const MEMBER_SITES: [MemberSite; 3] = [
    MemberSite {
        cluster: "state-dc",
        sovereignty_tier: "StateOwned",
        jurisdiction: "CR",
    },
    MemberSite {
        cluster: "national-cloud",
        sovereignty_tier: "NationalProvider",
        jurisdiction: "CR",
    },
    MemberSite {
        cluster: "public-cloud",
        sovereignty_tier: "ForeignPublic",
        jurisdiction: "US",
    },
];

/// What the tests and the demo need to run the operator against the data centre.
pub struct Installation {
    /// The management cluster, as its administrator.
    pub management: Client,
    /// Kubeconfig authenticating as the operator's ServiceAccount on the management cluster.
    pub operator_kubeconfig: PathBuf,
    /// Per member site, the kubeconfig the operator uses there (its ServiceAccount's token).
    pub site_kubeconfigs: BTreeMap<String, String>,
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Installation")
            .field("operator_kubeconfig", &self.operator_kubeconfig)
            .finish_non_exhaustive()
    }
}

/// Installs everything on `management` and registers `members` as Sites. Idempotent.
pub async fn install(
    plane: &ControlPlane,
    management: &str,
    members: &[MemberSite],
) -> Result<Installation> {
    let management_cluster = plane.cluster(management)?;
    let client = management_cluster.client().await?;
    install_crds(&client).await?;
    let kubeconfig = operator_kubeconfig(management_cluster, MANAGEMENT_RBAC).await?;
    let operator_kubeconfig = management_cluster
        .directory()
        .join("soberana-operator.kubeconfig");
    std::fs::write(&operator_kubeconfig, kubeconfig)
        .with_context(|| format!("writing {}", operator_kubeconfig.display()))?;
    for (_, classification) in yaml_documents(&examples_directory().join("classifications.yaml"))? {
        apply(&client, &classification).await?;
    }
    let mut site_kubeconfigs = BTreeMap::new();
    for member in members {
        let cluster = plane.cluster(member.cluster)?;
        let (secret, kubeconfig) =
            register_site_credentials(&client, member.cluster, cluster).await?;
        apply(&client, &site(member, &secret)).await?;
        site_kubeconfigs.insert(member.cluster.to_owned(), kubeconfig);
    }
    Ok(Installation {
        management: client,
        operator_kubeconfig,
        site_kubeconfigs,
    })
}

/// The Site object standing for `member`.
///
/// Under the example classifications the state-owned site may host every level, the national
/// provider up to `confidential`, and the foreign public cloud `public` and `internal` only.
pub fn site(member: &MemberSite, secret: &str) -> Value {
    let certifications = if member.sovereignty_tier == "StateOwned" {
        vec!["ISO27001", "TierIII"]
    } else {
        vec!["ISO27001"]
    };
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Site",
        "metadata": {"name": member.cluster},
        "spec": {
            "provider": format!("harness cluster {}", member.cluster),
            "sovereigntyTier": member.sovereignty_tier,
            "jurisdiction": member.jurisdiction,
            "zones": ["a", "b"],
            "certifications": certifications,
            "keyCustody": ["StateHeldHsm"],
            "encryptionInTransit": true,
            "backup": {"copies": 2, "jurisdiction": member.jurisdiction},
            "offeredAvailability": "99.95",
            "capacity": {"cpuMillicores": 1_000_000, "memoryMebibytes": 4_000_000, "storageGibibytes": 100_000},
            "connection": {"secretName": secret},
        }
    })
}

/// Server-side applies one Soberana object as the harness (a DataExchange's approvals as their
/// approvers: see [`apply_agreement`]).
pub async fn apply(client: &Client, object: &Value) -> Result<()> {
    if object["kind"] == "DataExchange" {
        return apply_agreement(client, object).await;
    }
    let name = object["metadata"]["name"]
        .as_str()
        .context("an object without metadata.name")?;
    soberana_api(client, object)?
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(object),
        )
        .await
        .with_context(|| format!("applying {} {name}", object["kind"]))?;
    Ok(())
}
