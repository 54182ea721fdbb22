//! Residency enforced inside every member cluster: the operator compiles the classifications into
//! each site's admission policies; the sites' own API servers then refuse misplaced data, also
//! while the operator is stopped; the violation scan finds what existed before a policy tightened;
//! and admission agrees with the placement engine (`soberana evaluate`) on every site.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

mod common;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use soberana_core::placement::{Objects, Snapshot, evaluate};
use soberana_core::residency::SiteResidency;
use soberana_core::residency::violation::ObjectLabels;
use soberana_core::resources::data_classification::DataClassification;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_core::resources::workload::Workload;
use soberana_e2e::state_data_centre::{Installation, apply};
use soberana_e2e::{ControlPlane, Suite, wait_until};

use common::{condition, member, start, tenant, wait_ready};

/// How long the operator may take to bring policies and scans up to date.
const CONVERGE: Duration = Duration::from_secs(90);
/// A classification requiring only provider-managed keys, added by the parity test.
const KEYED: &str = "keyed";
/// What each harness site may host under the example classifications.
const HOSTS: [(&str, &[&str]); 3] = [
    (
        "state-dc",
        &["public", "internal", "confidential", "restricted"],
    ),
    ("national-cloud", &["public", "internal", "confidential"]),
    ("public-cloud", &["public", "internal"]),
];

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "every_site_gets_its_policies_and_reports_the_revision_in_force",
            policies_in_force,
        )
        .test(
            "member_clusters_enforce_residency_while_the_operator_is_stopped",
            enforced_without_operator,
        )
        .test(
            "tightening_a_classification_updates_policies_and_the_scan_reports_violators",
            tightening,
        )
        .test(
            "admission_and_the_placement_engine_agree_on_every_site",
            parity,
        )
        .run()
}

/// Waits until every site reports policies in force for the current classifications, then
/// returns the Sites.
async fn wait_enforced(client: &Client) -> Result<BTreeMap<String, Site>> {
    let sites: Api<Site> = Api::all(client.clone());
    let classifications: Vec<DataClassification> = Api::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    wait_until(
        "every site to enforce the current policies",
        CONVERGE,
        || {
            let sites = sites.clone();
            let classifications = classifications.clone();
            async move {
                for site in sites.list(&ListParams::default()).await? {
                    let expected = soberana_core::residency::compile(
                        &SiteResidency::new(&site, &classifications)?,
                        soberana_core::residency::admission_policies::DEFAULT_SOBERANA_IDENTITY,
                    )
                    .revision;
                    let status = site.status.clone().unwrap_or_default();
                    let enforced = condition(&status.conditions, "ResidencyEnforced")
                        .is_some_and(|condition| condition.status == "True");
                    let residency = status.residency.unwrap_or_default();
                    if !enforced
                        || residency.policy_revision.as_deref() != Some(expected.as_str())
                        || residency.scanned_revision.as_deref() != Some(expected.as_str())
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        },
    )
    .await?;
    Ok(sites
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|site| (site.name_any(), site))
        .collect())
}

/// A Deployment labelled with `classification` (object and pod template), or unlabelled.
fn deployment(name: &str, classification: Option<&str>) -> Deployment {
    let labels = match classification {
        Some(value) => json!({"app": name, "soberana.io/classification": value}),
        None => json!({"app": name}),
    };
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "registry.invalid/app:1"}]}
            }
        }
    }))
    .unwrap()
}

/// Creates `object` (server-side dry run when `dry_run`): `Ok(None)` when admitted, the API
/// server's message when refused.
async fn create(
    client: &Client,
    namespace: &str,
    object: &Deployment,
    dry_run: bool,
) -> Result<Option<String>> {
    let api: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let parameters = PostParams {
        dry_run,
        ..PostParams::default()
    };
    match api.create(&parameters, object).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(status)) if status.code == 403 || status.code == 422 => {
            Ok(Some(status.message))
        }
        Err(error) => Err(error.into()),
    }
}

/// The example classification's legal basis, as the rejection quotes it (whitespace folded).
async fn legal_basis(client: &Client, classification: &str) -> Result<String> {
    let found: DataClassification = Api::all(client.clone()).get(classification).await?;
    Ok(found
        .spec
        .legal_basis
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

async fn policies_in_force(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "residency-a").await?;
    let sites = wait_enforced(&installation.management).await?;
    for (name, hosts) in HOSTS {
        let residency = sites[name].status.clone().unwrap().residency.unwrap();
        ensure!(
            residency.allowed_classifications == hosts,
            "site {name} reports it may host {:?}, expected {hosts:?}",
            residency.allowed_classifications
        );
        ensure!(residency.applied_time.is_some());
        ensure!(residency.violation_count == 0, "{residency:?}");
        let revision = residency.policy_revision.unwrap();
        let policies: Api<ValidatingAdmissionPolicy> = Api::all(member(&plane, name).await?);
        let live = policies
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=soberana"))
            .await?;
        ensure!(
            live.items.len() == 6,
            "site {name}: {} policies",
            live.items.len()
        );
        for policy in &live.items {
            ensure!(
                policy.labels().get("soberana.io/policy-revision") == Some(&revision),
                "site {name}: policy {} is not at revision {revision}",
                policy.name_any()
            );
            let warnings = policy
                .status
                .as_ref()
                .and_then(|status| status.type_checking.as_ref())
                .and_then(|checking| checking.expression_warnings.clone())
                .unwrap_or_default();
            ensure!(
                warnings.is_empty(),
                "site {name}: {} type-check warnings: {warnings:?}",
                policy.name_any()
            );
        }
        // An administrator's edit of a policy is undone.
        policies
            .patch(
                "soberana-residency",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"validations": [{"expression": "true"}]}})),
            )
            .await?;
    }
    wait_until("edited policies to be restored", CONVERGE, || async {
        for (name, _) in HOSTS {
            let policies: Api<ValidatingAdmissionPolicy> = Api::all(member(&plane, name).await?);
            let policy = policies.get("soberana-residency").await?;
            let validations = policy.spec.unwrap().validations.unwrap_or_default();
            if validations
                .iter()
                .any(|validation| validation.expression == "true")
            {
                return Ok(false);
            }
        }
        Ok(true)
    })
    .await?;
    Ok(())
}

async fn enforced_without_operator(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, mut operator) = start(&plane, "residency-b").await?;
    let client = &installation.management;
    // Ceiling restricted: on public-cloud only residency refuses; obs is confidential at most.
    let mut tribunal = tenant("tribunal", "tse", &[], &["prod"]);
    tribunal["spec"]["highestClassification"] = json!("restricted");
    apply(client, &tribunal).await?;
    let mut defaulted = tenant("observatory", "obs", &[], &["prod"]);
    defaulted["spec"]["defaultClassification"] = json!("public");
    apply(client, &defaulted).await?;
    wait_ready(client, "tribunal", CONVERGE).await?;
    wait_ready(client, "observatory", CONVERGE).await?;
    wait_enforced(client).await?;
    operator.kill();
    ensure!(!operator.is_running(), "the operator is stopped");

    let public_cloud = member(&plane, "public-cloud").await?;
    let refusal = create(
        &public_cloud,
        "tse-prod",
        &deployment("padron", Some("restricted")),
        false,
    )
    .await?
    .context("public-cloud admitted a restricted Deployment")?;
    let basis = legal_basis(client, "restricted").await?;
    for expected in [
        "data classified restricted may not be hosted on site public-cloud",
        "jurisdiction requires one of CR, the site has US",
        "sovereignty tier requires one of StateOwned, the site has ForeignPublic",
        &format!("Legal basis: {basis}"),
    ] {
        ensure!(
            refusal.contains(expected),
            "the refusal lacks {expected:?}: {refusal}"
        );
    }
    ensure!(
        create(
            &public_cloud,
            "tse-prod",
            &deployment("portal", Some("public")),
            false
        )
        .await?
        .is_none(),
        "public-cloud refused a public Deployment"
    );

    // Unlabelled workloads: refused in a tenant namespace, unless the Tenant sets a default.
    let unlabelled = create(
        &public_cloud,
        "tse-prod",
        &deployment("anonymous", None),
        false,
    )
    .await?
    .context("an unlabelled Deployment was admitted in a tenant namespace")?;
    ensure!(
        unlabelled.contains("every workload in tenant namespace tse-prod must carry the label soberana.io/classification"),
        "{unlabelled}"
    );
    ensure!(
        create(
            &public_cloud,
            "obs-prod",
            &deployment("anonymous", None),
            false
        )
        .await?
        .is_none(),
        "the tenant's default classification (public) should admit an unlabelled Deployment"
    );
    ensure!(
        create(
            &public_cloud,
            "default",
            &deployment("system-tool", None),
            false
        )
        .await?
        .is_none(),
        "outside tenant namespaces unlabelled workloads are not Soberana's business"
    );

    // Above the tenant's ceiling (confidential) even where the site could host it.
    let state_dc = member(&plane, "state-dc").await?;
    let above = create(
        &state_dc,
        "obs-prod",
        &deployment("padron", Some("restricted")),
        false,
    )
    .await?
    .context("state-dc admitted restricted data for a confidential tenant")?;
    ensure!(
        above.contains("data classified restricted may not run in namespace obs-prod: tenant observatory may handle data up to confidential"),
        "{above}"
    );
    ensure!(
        create(
            &state_dc,
            "obs-prod",
            &deployment("expedientes", Some("confidential")),
            false
        )
        .await?
        .is_none(),
        "state-dc refused confidential data of a confidential tenant"
    );

    // Pods are judged by their own label, and so are pod templates.
    let pods: Api<Pod> = Api::namespaced(public_cloud.clone(), "tse-prod");
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "direct", "labels": {"soberana.io/classification": "confidential"}},
        // Restricted, as the tenant namespace's Pod Security level requires, so that only
        // residency can refuse it.
        "spec": {
            "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "app", "image": "registry.invalid/app:1",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}
            }]
        }
    }))?;
    match pods.create(&PostParams::default(), &pod).await {
        Err(kube::Error::Api(status))
            if status.message.contains(
                "data classified confidential may not be hosted on site public-cloud",
            ) => {}
        other => bail!("a confidential Pod on public-cloud: {other:?}"),
    }
    let mut mismatched = deployment("mismatched", Some("public"));
    mismatched
        .spec
        .as_mut()
        .unwrap()
        .template
        .metadata
        .as_mut()
        .unwrap()
        .labels = Some(BTreeMap::from([(
        "app".to_owned(),
        "mismatched".to_owned(),
    )]));
    let refusal = create(&public_cloud, "tse-prod", &mismatched, false)
        .await?
        .context("a Deployment whose pods would carry no classification was admitted")?;
    ensure!(
        refusal.contains(
            "the pod template's soberana.io/classification is none but the workload has public"
        ),
        "{refusal}"
    );

    // Only Soberana may make a namespace a tenant's, or change what a tenant namespace is.
    let namespaces: Api<Namespace> = Api::all(public_cloud.clone());
    let relabel = namespaces
        .patch(
            "tse-prod",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"soberana.io/classification-ceiling": "public"}}}),
            ),
        )
        .await;
    match relabel {
        Err(kube::Error::Api(status))
            if status
                .message
                .contains("only Soberana may set or change the labels") => {}
        other => bail!("an administrator changed a tenant namespace's ceiling: {other:?}"),
    }
    let forged: Namespace = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "forged", "labels": {"soberana.io/tenant": "tribunal"}}
    }))?;
    match namespaces.create(&PostParams::default(), &forged).await {
        Err(kube::Error::Api(status)) if status.code == 403 => {}
        other => bail!("a namespace claiming to be a tenant's was created: {other:?}"),
    }
    // Other labels stay the namespace owners' business.
    namespaces
        .patch(
            "tse-prod",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"team": "padron"}}})),
        )
        .await
        .context("an ordinary label on a tenant namespace")?;
    Ok(())
}

async fn tightening(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "residency-c").await?;
    let client = &installation.management;
    apply(client, &tenant("roads", "roads", &[], &["prod"])).await?;
    wait_ready(client, "roads", CONVERGE).await?;
    wait_enforced(client).await?;
    let public_cloud = member(&plane, "public-cloud").await?;
    ensure!(
        create(
            &public_cloud,
            "roads-prod",
            &deployment("tolls", Some("internal")),
            false
        )
        .await?
        .is_none(),
        "internal data may run in the US before the change"
    );

    let result = tighten_and_check(&plane, &installation, &operator).await;
    // Restore the example classification for the other tests, whatever happened.
    set_internal_jurisdictions(client, &["CR", "US"]).await?;
    wait_enforced(client).await?;
    Api::<Deployment>::namespaced(public_cloud, "roads-prod")
        .delete("tolls", &DeleteParams::default())
        .await?;
    result
}

async fn set_internal_jurisdictions(client: &Client, jurisdictions: &[&str]) -> Result<()> {
    Api::<DataClassification>::all(client.clone())
        .patch(
            "internal",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"allowedJurisdictions": jurisdictions}})),
        )
        .await?;
    Ok(())
}

async fn tighten_and_check(
    plane: &ControlPlane,
    installation: &Installation,
    operator: &soberana_e2e::operator_process::OperatorProcess,
) -> Result<()> {
    let client = &installation.management;
    set_internal_jurisdictions(client, &["CR"]).await?;
    let sites = wait_enforced(client).await?;
    let status = sites["public-cloud"].status.clone().unwrap();
    let residency = status.residency.clone().unwrap();
    ensure!(
        residency.allowed_classifications == ["public"],
        "{residency:?}"
    );
    let offender = residency
        .offenders
        .iter()
        .find(|offender| offender.name == "tolls")
        .with_context(|| {
            format!("the scan does not name the existing internal Deployment: {residency:?}")
        })?;
    ensure!(offender.kind == "Deployment" && offender.namespace.as_deref() == Some("roads-prod"));
    ensure!(
        offender.classification == "internal" && offender.reason == "NotAllowedOnSite",
        "{offender:?}"
    );
    ensure!(
        offender
            .message
            .contains("data classified internal may not be hosted on site public-cloud"),
        "{offender:?}"
    );
    ensure!(
        residency.violation_count >= 1
            && residency
                .violations_by_classification
                .get("internal")
                .copied()
                .unwrap_or(0)
                >= 1,
        "{residency:?}"
    );
    let compliant = condition(&status.conditions, "ResidencyCompliant")
        .context("no ResidencyCompliant condition")?;
    ensure!(
        compliant.status == "False" && compliant.message.contains("Deployment roads-prod/tolls"),
        "{compliant:?}"
    );
    let gauge = operator
        .metric(
            "soberana_residency_violations",
            &[("site", "public-cloud"), ("classification", "internal")],
        )
        .await?;
    ensure!(
        gauge >= 1.0,
        "soberana_residency_violations for public-cloud/internal is {gauge}"
    );
    for site in ["state-dc", "national-cloud"] {
        let residency = sites[site].status.clone().unwrap().residency.unwrap();
        ensure!(
            !residency
                .violations_by_classification
                .contains_key("internal"),
            "{site}: {residency:?}"
        );
    }

    // The existing Deployment is reported, not deleted; a new one is refused now.
    let public_cloud = member(plane, "public-cloud").await?;
    Api::<Deployment>::namespaced(public_cloud.clone(), "roads-prod")
        .get("tolls")
        .await
        .context("the scan must never delete what it reports")?;
    let refusal = create(
        &public_cloud,
        "roads-prod",
        &deployment("tolls-v2", Some("internal")),
        false,
    )
    .await?
    .context("public-cloud still admits internal data after the change")?;
    ensure!(refusal.contains("data classified internal may not be hosted on site public-cloud: jurisdiction requires one of CR, the site has US"), "{refusal}");

    let events =
        kube::Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), "default")
            .list(&ListParams::default())
            .await?;
    ensure!(
        events.items.iter().any(
            |event| event.reason.as_deref() == Some("ResidencyViolations")
                && event
                    .regarding
                    .as_ref()
                    .and_then(|regarding| regarding.name.as_deref())
                    == Some("public-cloud")
        ),
        "no ResidencyViolations Event on Site public-cloud"
    );
    Ok(())
}

/// For every site, tenant and classification: the site's API server refuses a workload exactly
/// when the placement engine (what `soberana evaluate` runs) finds the site ineligible for it,
/// and the violation scan's judgement agrees with both.
async fn parity(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "residency-d").await?;
    let client = &installation.management;
    let mut narrow = tenant("parks", "parks", &[], &["prod"]);
    narrow["spec"]["highestClassification"] = json!("internal");
    apply(client, &narrow).await?;
    let mut broad = tenant("pensions", "pensions", &[], &["prod"]);
    broad["spec"]["highestClassification"] = json!("restricted");
    apply(client, &broad).await?;
    for name in ["parks", "pensions"] {
        wait_ready(client, name, CONVERGE).await?;
    }
    // Key custody is an order: data that asks only for provider-managed keys may be hosted where
    // the keys are in a state HSM (every harness site), by the engine and by admission alike.
    // (This test runs last in the suite: the classification it adds stays.)
    apply(
        client,
        &json!({"apiVersion": "soberana.io/v1alpha1", "kind": "DataClassification",
                "metadata": {"name": KEYED},
                "spec": {"rank": 15, "legalBasis": "Ley 8968, art. 10",
                         "encryptionAtRest": {"keyCustody": "ProviderManaged"}}}),
    )
    .await?;
    let sites = wait_enforced(client).await?;
    // A member's admission sees a new policy revision a moment after the operator applied it:
    // wait until every site's API server admits the key-custody case (a timeout here fails the
    // test, naming the order), then compare everything.
    wait_until(
        "every site to admit data needing provider-managed keys (its keys are in a state HSM)",
        CONVERGE,
        || {
            let plane = plane.clone();
            async move {
                for site_name in ["state-dc", "national-cloud", "public-cloud"] {
                    let member_client = member(&plane, site_name).await?;
                    let keyed = deployment("keyed-probe", Some(KEYED));
                    if create(&member_client, "pensions-prod", &keyed, true)
                        .await?
                        .is_some()
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        },
    )
    .await?;
    let classifications: Vec<DataClassification> = Api::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let tenants: Vec<Tenant> = Api::<Tenant>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|tenant| ["parks", "pensions"].contains(&tenant.name_any().as_str()))
        .collect();
    // The engine judges the sites' residency facts only: no status (never "not ready"), no
    // rules, no capacity demand — admission enforces residency, not scheduling.
    let bare_sites: Vec<Site> = sites
        .values()
        .map(|site| Site {
            status: None,
            ..site.clone()
        })
        .collect();
    let snapshot = Snapshot::new(Objects {
        sites: &bare_sites,
        classifications: &classifications,
        tenants: &tenants,
        ..Objects::default()
    })?;

    let mut checked = 0;
    let mut refused = 0;
    let mut keyed_admitted = 0;
    for (site_name, site) in &sites {
        let member_client = member(&plane, site_name).await?;
        let residency = SiteResidency::new(site, &classifications)?;
        for tenant in &tenants {
            let namespace = format!("{}-prod", tenant.spec.short_code);
            let namespace_labels = Api::<Namespace>::all(member_client.clone())
                .get(&namespace)
                .await?
                .metadata
                .labels
                .unwrap_or_default();
            for classification in &classifications {
                let name = classification.name_any();
                let workload: Workload = serde_json::from_value(json!({
                    "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
                    "metadata": {"name": format!("parity-{name}"), "namespace": namespace},
                    "spec": {"tenant": tenant.name_any(), "classification": name,
                             "resources": {"cpuMillicores": 1, "memoryMebibytes": 1}, "replicas": 1}
                }))?;
                let decision = evaluate(&snapshot, &workload)?;
                let engine_allows = decision
                    .eligible
                    .iter()
                    .any(|score| &score.site == site_name);
                let answer = create(
                    &member_client,
                    &namespace,
                    &deployment(&format!("parity-{name}"), Some(&name)),
                    true,
                )
                .await?;
                let scan_allows = residency
                    .judge(ObjectLabels {
                        labels: &BTreeMap::from([(
                            "soberana.io/classification".to_owned(),
                            name.clone(),
                        )]),
                        namespace: Some((&namespace, &namespace_labels)),
                    })
                    .is_none();
                ensure!(
                    engine_allows == answer.is_none() && scan_allows == engine_allows,
                    "site {site_name}, tenant {}, classification {name}: engine {}, API server {}, scan {}",
                    tenant.name_any(),
                    if engine_allows {
                        "eligible"
                    } else {
                        "ineligible"
                    },
                    answer.as_deref().unwrap_or("admitted"),
                    if scan_allows {
                        "no violation"
                    } else {
                        "violation"
                    },
                );
                checked += 1;
                refused += usize::from(answer.is_some());
                keyed_admitted += usize::from(
                    name == KEYED && tenant.name_any() == "pensions" && answer.is_none(),
                );
            }
        }
    }
    ensure!(checked == 3 * 2 * 5, "{checked} combinations checked");
    ensure!(
        keyed_admitted == 3,
        "data needing provider-managed keys was admitted on {keyed_admitted} of the 3 sites, whose keys are in a state HSM"
    );
    ensure!(
        refused > 0 && refused < checked,
        "both outcomes occur ({refused} of {checked} refused)"
    );
    Ok(())
}
