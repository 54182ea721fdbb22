//! The operator against real API servers: a management cluster and three member sites (a
//! state-owned site, a national provider and a foreign public cloud). The operator runs as its
//! own process under the least-privilege RBAC of the Helm charts' files.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use k8s_openapi::api::core::v1::{LimitRange, Namespace, ResourceQuota, Secret};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::Tenant;
use soberana_e2e::soberana_install::{SITE_SECRETS_NAMESPACE, store_kubeconfig};
use soberana_e2e::state_data_centre::{MEMBER_SITES, MemberSite, apply, install};
use soberana_e2e::{ControlPlane, Suite, wait_until};

/// How long provisioning a handful of tenants may take on this machine.
const CONVERGE: Duration = Duration::from_secs(90);
/// The objects each tenant environment gets besides its namespace.
const OBJECTS_PER_NAMESPACE: [&str; 5] = [
    "ResourceQuota/soberana-quota",
    "LimitRange/soberana-defaults",
    "NetworkPolicy/soberana-default-deny-ingress",
    "NetworkPolicy/soberana-allow-same-tenant",
    "NetworkPolicy/soberana-allow-ingress-controller",
];

mod common;

use common::{MANAGEMENT, condition, member, start, start_replica, tenant, wait_ready, writes};

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "sites_are_probed_and_report_version_availability_and_metrics",
            sites_are_probed,
        )
        .test(
            "a_bad_kubeconfig_is_a_site_condition_that_reveals_no_secret",
            bad_kubeconfig,
        )
        .test(
            "a_tenant_is_provisioned_only_on_allowed_sites_with_every_object",
            provisioned_on_allowed_sites,
        )
        .test(
            "a_tenant_whose_ceiling_classification_is_deleted_is_degraded_and_keeps_everything",
            ceiling_deleted,
        )
        .test(
            "objects_deleted_on_a_member_are_restored",
            deleted_objects_restored,
        )
        .test(
            "quota_and_allowed_site_changes_reach_every_site",
            changes_propagate,
        )
        .test(
            "a_stopped_site_is_degraded_alone_and_converges_after_restart",
            stopped_site,
        )
        .test(
            "deleting_tenants_cleans_every_site_per_deletion_policy",
            deletion,
        )
        .test("steady_state_makes_no_writes_for_60_seconds", |plane| {
            quiet_steady_state(plane)
        })
        .test(
            "killed_during_50_tenants_then_restarted_converges_exactly",
            kill_during_provisioning,
        )
        .test(
            "a_second_replica_stays_passive_until_the_leader_dies",
            leader_election,
        )
        .run()
}

/// The tenant's namespaces on a site (by label).
async fn tenant_namespaces(client: &Client, tenant: &str) -> Result<BTreeSet<String>> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = namespaces
        .list(&ListParams::default().labels(&format!("soberana.io/tenant={tenant}")))
        .await?;
    Ok(list
        .items
        .iter()
        .filter(|namespace| namespace.metadata.deletion_timestamp.is_none())
        .map(ResourceExt::name_any)
        .collect())
}

/// Every object Soberana keeps in `namespace`, as `Kind/name`.
async fn objects_in(client: &Client, namespace: &str) -> Result<BTreeSet<String>> {
    let mut found = BTreeSet::new();
    for quota in Api::<ResourceQuota>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
    {
        found.insert(format!("ResourceQuota/{}", quota.name_any()));
    }
    for limits in Api::<LimitRange>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
    {
        found.insert(format!("LimitRange/{}", limits.name_any()));
    }
    for policy in Api::<NetworkPolicy>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
    {
        found.insert(format!("NetworkPolicy/{}", policy.name_any()));
    }
    for binding in Api::<RoleBinding>::namespaced(client.clone(), namespace)
        .list(&ListParams::default())
        .await?
    {
        found.insert(format!("RoleBinding/{}", binding.name_any()));
    }
    Ok(found)
}

fn expected_objects() -> BTreeSet<String> {
    OBJECTS_PER_NAMESPACE
        .iter()
        .map(|object| (*object).to_owned())
        .chain(["RoleBinding/soberana-tenant-admins".to_owned()])
        .collect()
}

async fn sites_are_probed(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "probe-test").await?;
    let sites: Api<Site> = Api::all(installation.management.clone());
    for member in MEMBER_SITES {
        wait_until(
            &format!("Site {} to be Ready", member.cluster),
            CONVERGE,
            || async {
                let site = sites.get(member.cluster).await?;
                let status = site.status.unwrap_or_default();
                Ok(condition(&status.conditions, "Ready")
                    .is_some_and(|ready| ready.status == "True")
                    && condition(&status.conditions, "Reachable")
                        .is_some_and(|reachable| reachable.status == "True"))
            },
        )
        .await?;
        let status = sites
            .get(member.cluster)
            .await?
            .status
            .context("a probed site has status")?;
        ensure!(
            status.kubernetes_version.as_deref() == Some(plane.kubernetes_version()),
            "version: {:?}",
            status.kubernetes_version
        );
        ensure!(status.last_probe_time.is_some(), "no last probe time");
        ensure!(
            status.measured_availability.as_deref() == Some("100"),
            "measured availability: {:?}",
            status.measured_availability
        );
        ensure!(status.allocated.is_some(), "no allocated capacity");
        let up = operator
            .metric("soberana_site_up", &[("site", member.cluster)])
            .await?;
        ensure!(
            (up - 1.0).abs() < f64::EPSILON,
            "soberana_site_up{{site={}}} = {up}",
            member.cluster
        );
        let probes = operator
            .metric(
                "soberana_site_probes_total",
                &[("site", member.cluster), ("result", "success")],
            )
            .await?;
        ensure!(
            probes >= 1.0,
            "no successful probe counted for {}",
            member.cluster
        );
        let ratio = operator
            .metric(
                "soberana_site_availability_ratio",
                &[("site", member.cluster)],
            )
            .await?;
        ensure!(
            (ratio - 1.0).abs() < f64::EPSILON,
            "availability ratio {ratio}"
        );
        let offered = operator
            .metric(
                "soberana_site_offered_availability_ratio",
                &[("site", member.cluster)],
            )
            .await?;
        ensure!((offered - 0.9995).abs() < 1e-9, "offered ratio {offered}");
        let latency = operator
            .metric(
                "soberana_site_probe_duration_seconds_count",
                &[("site", member.cluster)],
            )
            .await?;
        ensure!(latency >= 1.0, "no probe latency observed");
    }
    let (code, body) = operator.get("/healthz").await?;
    ensure!(
        code == 200 && body.contains("ok"),
        "/healthz: {code} {body}"
    );
    Ok(())
}

async fn bad_kubeconfig(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "bad-kubeconfig-test").await?;
    let client = &installation.management;
    let secret_text = "this is not a kubeconfig: s3cr3t-token-value";
    store_kubeconfig(client, "site-broken", secret_text).await?;
    let mut broken = soberana_e2e::state_data_centre::site(
        &MemberSite {
            cluster: "broken-site",
            sovereignty_tier: "StateOwned",
            jurisdiction: "CR",
        },
        "site-broken",
    );
    broken["metadata"]["name"] = "broken-site".into();
    apply(client, &broken).await?;
    let sites: Api<Site> = Api::all(client.clone());
    wait_until(
        "the broken Site to report its connection problem",
        CONVERGE,
        || async {
            let status = sites.get("broken-site").await?.status.unwrap_or_default();
            Ok(condition(&status.conditions, "Reachable")
                .is_some_and(|reachable| reachable.reason == "NoConnection"))
        },
    )
    .await?;
    let status = sites.get("broken-site").await?.status.unwrap_or_default();
    let reachable = condition(&status.conditions, "Reachable").unwrap();
    ensure!(reachable.status == "False", "{reachable:?}");
    ensure!(
        reachable
            .message
            .contains("Secret soberana-sites/site-broken")
            && reachable.message.contains("is not a usable kubeconfig"),
        "the message names the Secret and the problem: {}",
        reachable.message
    );
    ensure!(
        !reachable.message.contains("s3cr3t"),
        "the message leaks the Secret's content: {}",
        reachable.message
    );
    // A missing Secret is named too.
    Api::<Secret>::namespaced(client.clone(), SITE_SECRETS_NAMESPACE)
        .delete("site-broken", &DeleteParams::default())
        .await?;
    wait_until(
        "the Site to report the missing Secret",
        CONVERGE,
        || async {
            let status = sites.get("broken-site").await?.status.unwrap_or_default();
            Ok(condition(&status.conditions, "Reachable")
                .is_some_and(|reachable| reachable.message.contains("does not exist")))
        },
    )
    .await?;
    // A good kubeconfig in the Secret is picked up without a restart: the client is rebuilt.
    store_kubeconfig(
        client,
        "site-broken",
        &installation.site_kubeconfigs["state-dc"],
    )
    .await?;
    wait_until(
        "the Site to become reachable with the repaired Secret",
        CONVERGE,
        || async {
            let status = sites.get("broken-site").await?.status.unwrap_or_default();
            Ok(condition(&status.conditions, "Reachable")
                .is_some_and(|reachable| reachable.status == "True"))
        },
    )
    .await?;
    sites
        .delete("broken-site", &DeleteParams::default())
        .await?;
    Ok(())
}

async fn provisioned_on_allowed_sites(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "provision-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant(
            "tax-office",
            "tax",
            &["state-dc", "national-cloud"],
            &["prod", "dev"],
        ),
    )
    .await?;
    let tenant = wait_ready(client, "tax-office", CONVERGE).await?;
    let sites: Vec<(String, String)> = tenant
        .status
        .unwrap()
        .sites
        .iter()
        .map(|entry| (entry.site.clone(), format!("{:?}", entry.state)))
        .collect();
    ensure!(
        sites
            == [
                ("national-cloud".to_owned(), "Provisioned".to_owned()),
                ("state-dc".to_owned(), "Provisioned".to_owned())
            ],
        "status.sites: {sites:?}"
    );
    for site in ["state-dc", "national-cloud"] {
        let member = member(&plane, site).await?;
        let namespaces = tenant_namespaces(&member, "tax-office").await?;
        ensure!(
            namespaces == BTreeSet::from(["tax-dev".to_owned(), "tax-prod".to_owned()]),
            "{site}: {namespaces:?}"
        );
        let namespace = Api::<Namespace>::all(member.clone())
            .get("tax-prod")
            .await?;
        let labels = namespace.labels();
        ensure!(
            labels.get("soberana.io/environment").map(String::as_str) == Some("prod"),
            "{site}: labels {labels:?}"
        );
        ensure!(
            labels
                .get("soberana.io/classification-ceiling")
                .map(String::as_str)
                == Some("confidential"),
            "{site}: labels {labels:?}"
        );
        for namespace in ["tax-prod", "tax-dev"] {
            let objects = objects_in(&member, namespace).await?;
            ensure!(
                objects == expected_objects(),
                "{site}/{namespace}: {objects:?}"
            );
        }
        let quota = Api::<ResourceQuota>::namespaced(member.clone(), "tax-prod")
            .get("soberana-quota")
            .await?;
        let hard = quota.spec.unwrap().hard.unwrap();
        ensure!(
            hard.get("requests.cpu").map(|quantity| quantity.0.as_str()) == Some("4"),
            "{site}: quota {hard:?}"
        );
        ensure!(
            hard.get("pods").map(|quantity| quantity.0.as_str()) == Some("50"),
            "{site}: quota {hard:?}"
        );
        let binding = Api::<RoleBinding>::namespaced(member.clone(), "tax-prod")
            .get("soberana-tenant-admins")
            .await?;
        ensure!(
            binding.role_ref.name == "soberana-tenant-admin"
                && binding.role_ref.kind == "ClusterRole",
            "{site}: {:?}",
            binding.role_ref
        );
        let subjects = binding.subjects.unwrap_or_default();
        ensure!(
            subjects.len() == 1 && subjects[0].name == "tax-admins" && subjects[0].kind == "Group",
            "{site}: {subjects:?}"
        );
        let deny = Api::<NetworkPolicy>::namespaced(member.clone(), "tax-prod")
            .get("soberana-default-deny-ingress")
            .await?;
        let spec = deny.spec.unwrap();
        ensure!(
            spec.policy_types == Some(vec!["Ingress".to_owned()])
                && spec.ingress.clone().unwrap_or_default().is_empty(),
            "default deny: {spec:?}"
        );
        let managers: Vec<String> = quota
            .metadata
            .managed_fields
            .unwrap_or_default()
            .iter()
            .filter_map(|entry| entry.manager.clone())
            .collect();
        ensure!(
            managers == ["soberana-tenant-controller"],
            "{site}: one field manager, found {managers:?}"
        );
    }
    let public = member(&plane, "public-cloud").await?;
    ensure!(
        tenant_namespaces(&public, "tax-office").await?.is_empty(),
        "the tenant reached a site it is not allowed on"
    );
    let provisioned = operator
        .metric(
            "soberana_tenant_namespaces",
            &[("site", "state-dc"), ("state", "provisioned")],
        )
        .await?;
    ensure!(
        provisioned >= 2.0,
        "soberana_tenant_namespaces{{site=state-dc,state=provisioned}} = {provisioned}"
    );
    let reconciles = operator
        .metric(
            "soberana_reconcile_total",
            &[("controller", "tenant"), ("result", "success")],
        )
        .await?;
    ensure!(reconciles >= 1.0, "no tenant reconcile counted");
    let events = Api::<k8s_openapi::api::events::v1::Event>::all(client.clone())
        .list(&ListParams::default().fields("regarding.name=tax-office"))
        .await?;
    let reasons: BTreeSet<String> = events
        .items
        .iter()
        .filter_map(|event| event.reason.clone())
        .collect();
    ensure!(
        reasons.contains("Provisioned"),
        "events on the tenant: {reasons:?}"
    );
    Ok(())
}

/// A Tenant's ceiling (`spec.highestClassification`) is deleted after it was provisioned: the
/// Tenant says so (`Degraded=True`, reason `ClassificationMissing` naming it, a Warning Event)
/// and nothing is removed; restoring the classification clears it.
async fn ceiling_deleted(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "ceiling-test").await?;
    let client = &installation.management;
    let ceiling = json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "DataClassification",
        "metadata": {"name": "ceiling-gone"},
        "spec": {"rank": 25, "legalBasis": "test: a ceiling deleted under a tenant"}
    });
    apply(client, &ceiling).await?;
    let mut manifest = tenant("ceiling-owner", "ceil", &["state-dc"], &["prod"]);
    manifest["spec"]["highestClassification"] = json!("ceiling-gone");
    apply(client, &manifest).await?;
    wait_ready(client, "ceiling-owner", CONVERGE).await?;

    let classifications =
        Api::<soberana_core::resources::data_classification::DataClassification>::all(
            client.clone(),
        );
    classifications
        .delete("ceiling-gone", &DeleteParams::default())
        .await?;
    let tenants: Api<Tenant> = Api::all(client.clone());
    let degraded = || async {
        let tenant = tenants.get("ceiling-owner").await?;
        let conditions = tenant.status.unwrap_or_default().conditions;
        anyhow::Ok((
            condition(&conditions, "Degraded").cloned(),
            condition(&conditions, "Ready").map(|ready| ready.status.clone()),
        ))
    };
    wait_until(
        "Degraded=True ClassificationMissing on the tenant",
        CONVERGE,
        || async {
            Ok(degraded().await?.0.is_some_and(|degraded| {
                degraded.status == "True" && degraded.reason == "ClassificationMissing"
            }))
        },
    )
    .await?;
    let (found, ready) = degraded().await?;
    let message = found.map(|degraded| degraded.message).unwrap_or_default();
    ensure!(
        message.contains("spec.highestClassification \"ceiling-gone\" names no DataClassification"),
        "Degraded message: {message}"
    );
    ensure!(ready.as_deref() == Some("True"), "Ready changed: {ready:?}");
    let events = Api::<k8s_openapi::api::events::v1::Event>::all(client.clone())
        .list(&ListParams::default().fields("regarding.name=ceiling-owner"))
        .await?;
    ensure!(
        events.items.iter().any(|event| {
            event.reason.as_deref() == Some("ClassificationMissing")
                && event.type_.as_deref() == Some("Warning")
                && event
                    .note
                    .as_deref()
                    .is_some_and(|note| note.contains("ceiling-gone"))
        }),
        "no Warning Event ClassificationMissing: {:?}",
        events
            .items
            .iter()
            .map(|event| (event.reason.clone(), event.note.clone()))
            .collect::<Vec<_>>()
    );
    // Nothing was removed: the namespace and its objects are still on the site.
    let state_dc = member(&plane, "state-dc").await?;
    ensure!(
        tenant_namespaces(&state_dc, "ceiling-owner").await?
            == BTreeSet::from(["ceil-prod".to_owned()]),
        "the tenant's namespace on state-dc changed"
    );
    ensure!(
        objects_in(&state_dc, "ceil-prod").await? == expected_objects(),
        "the tenant's objects on state-dc changed"
    );

    // Restored, the warning clears.
    apply(client, &ceiling).await?;
    wait_until("Degraded to clear", CONVERGE, || async {
        Ok(degraded()
            .await?
            .0
            .is_some_and(|degraded| degraded.status == "False"))
    })
    .await?;
    tenants
        .delete("ceiling-owner", &DeleteParams::default())
        .await?;
    wait_until("the tenant to be gone", CONVERGE, || async {
        Ok(tenants.get_opt("ceiling-owner").await?.is_none())
    })
    .await?;
    classifications
        .delete("ceiling-gone", &DeleteParams::default())
        .await?;
    Ok(())
}

async fn deleted_objects_restored(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "drift-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant("fire-brigade", "bomberos", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "fire-brigade", CONVERGE).await?;
    let state_dc = member(&plane, "state-dc").await?;
    Api::<NetworkPolicy>::namespaced(state_dc.clone(), "bomberos-prod")
        .delete("soberana-default-deny-ingress", &DeleteParams::default())
        .await?;
    Api::<ResourceQuota>::namespaced(state_dc.clone(), "bomberos-prod")
        .delete("soberana-quota", &DeleteParams::default())
        .await?;
    wait_until("the deleted objects to be back", CONVERGE, || async {
        Ok(objects_in(&state_dc, "bomberos-prod").await? == expected_objects())
    })
    .await?;
    let events = Api::<k8s_openapi::api::events::v1::Event>::all(client.clone())
        .list(&ListParams::default().fields("regarding.name=fire-brigade"))
        .await?;
    let notes: Vec<String> = events
        .items
        .iter()
        .filter(|event| event.reason.as_deref() == Some("ObjectsMissing"))
        .filter_map(|event| event.note.clone())
        .collect();
    // A drift pass may list the NetworkPolicies before the first delete and the quotas after the
    // second: it then finds only the quota missing, and the repair it asks for puts both back.
    // Events with one reason are one series whose note is the first pass's, so the Event names
    // whichever deleted object a pass found first.
    ensure!(
        notes.iter().any(|note| note.contains("site state-dc")
            && (note.contains("NetworkPolicy bomberos-prod/soberana-default-deny-ingress")
                || note.contains("ResourceQuota bomberos-prod/soberana-quota"))),
        "ObjectsMissing events: {notes:?}"
    );
    Ok(())
}

async fn changes_propagate(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "changes-test").await?;
    let client = &installation.management;
    let mut object = tenant(
        "education-ministry",
        "mep",
        &["state-dc", "national-cloud", "public-cloud"],
        &["prod"],
    );
    object["spec"]["deletionPolicy"] = "Delete".into();
    apply(client, &object).await?;
    wait_ready(client, "education-ministry", CONVERGE).await?;
    object["spec"]["quota"]["cpuMillicores"] = 6500.into();
    object["spec"]["allowedSites"] = json!(["state-dc", "public-cloud"]);
    apply(client, &object).await?;
    wait_ready(client, "education-ministry", CONVERGE).await?;
    for site in ["state-dc", "public-cloud"] {
        let member = member(&plane, site).await?;
        wait_until(&format!("the new quota on {site}"), CONVERGE, || async {
            let quota = Api::<ResourceQuota>::namespaced(member.clone(), "mep-prod")
                .get("soberana-quota")
                .await?;
            Ok(quota
                .spec
                .and_then(|spec| spec.hard)
                .and_then(|hard| hard.get("requests.cpu").cloned())
                .map(|quantity| quantity.0)
                == Some("6500m".to_owned()))
        })
        .await?;
    }
    let national = member(&plane, "national-cloud").await?;
    wait_until(
        "the tenant's namespace to be gone from national-cloud",
        CONVERGE,
        || async {
            Ok(Api::<Namespace>::all(national.clone())
                .get_opt("mep-prod")
                .await?
                .is_none())
        },
    )
    .await?;
    Ok(())
}

async fn stopped_site(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "outage-test").await?;
    let client = &installation.management;
    let national = plane.cluster("national-cloud")?;
    national.stop_api_server();
    let outcome = async {
        let sites: Api<Site> = Api::all(client.clone());
        wait_until(
            "national-cloud to be reported unreachable",
            CONVERGE,
            || async {
                let status = sites
                    .get("national-cloud")
                    .await?
                    .status
                    .unwrap_or_default();
                Ok(condition(&status.conditions, "Reachable")
                    .is_some_and(|reachable| reachable.status == "False"))
            },
        )
        .await?;
        apply(
            client,
            &tenant(
                "civil-registry",
                "tse",
                &["state-dc", "national-cloud"],
                &["prod"],
            ),
        )
        .await?;
        let tenants: Api<Tenant> = Api::all(client.clone());
        wait_until(
            "state-dc provisioned while national-cloud is pending",
            CONVERGE,
            || async {
                let tenant = tenants.get("civil-registry").await?;
                let status = tenant.status.unwrap_or_default();
                let state = |site: &str| {
                    status
                        .sites
                        .iter()
                        .find(|entry| entry.site == site)
                        .map(|entry| format!("{:?}", entry.state))
                };
                Ok(state("state-dc").as_deref() == Some("Provisioned")
                    && state("national-cloud").as_deref() == Some("Pending")
                    && condition(&status.conditions, "Degraded").is_some_and(|degraded| {
                        degraded.status == "True" && degraded.message.contains("national-cloud")
                    })
                    && condition(&status.conditions, "Ready")
                        .is_some_and(|ready| ready.status == "False"))
            },
        )
        .await?;
        let state_dc = member(&plane, "state-dc").await?;
        ensure!(
            tenant_namespaces(&state_dc, "civil-registry").await?
                == BTreeSet::from(["tse-prod".to_owned()]),
            "state-dc not provisioned"
        );
        anyhow::Ok(())
    }
    .await;
    national.start_api_server().await?;
    outcome?;
    wait_ready(client, "civil-registry", Duration::from_secs(120)).await?;
    let national_client = member(&plane, "national-cloud").await?;
    ensure!(
        objects_in(&national_client, "tse-prod").await? == expected_objects(),
        "national-cloud incomplete after restart"
    );
    Ok(())
}

async fn deletion(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "deletion-test").await?;
    let client = &installation.management;
    let all_sites = ["state-dc", "national-cloud", "public-cloud"];
    let mut deleted = tenant("tourism-board", "ict", &all_sites, &["prod", "dev"]);
    deleted["spec"]["deletionPolicy"] = "Delete".into();
    apply(client, &deleted).await?;
    // Retain is the default: deleting a Tenant object never deletes an institution's data.
    let retained = tenant("statistics-institute", "inec", &all_sites, &["prod"]);
    apply(client, &retained).await?;
    wait_ready(client, "tourism-board", CONVERGE).await?;
    wait_ready(client, "statistics-institute", CONVERGE).await?;
    let tenants: Api<Tenant> = Api::all(client.clone());
    tenants
        .delete("tourism-board", &DeleteParams::default())
        .await?;
    tenants
        .delete("statistics-institute", &DeleteParams::default())
        .await?;
    for name in ["tourism-board", "statistics-institute"] {
        wait_until(&format!("Tenant {name} to be gone"), CONVERGE, || async {
            Ok(tenants.get_opt(name).await?.is_none())
        })
        .await?;
    }
    for site in all_sites {
        let member = member(&plane, site).await?;
        let namespaces: Api<Namespace> = Api::all(member.clone());
        wait_until(
            &format!("the deleted tenant's namespaces to be gone from {site}"),
            CONVERGE,
            || async {
                Ok(namespaces.get_opt("ict-prod").await?.is_none()
                    && namespaces.get_opt("ict-dev").await?.is_none())
            },
        )
        .await?;
        let kept = namespaces
            .get("inec-prod")
            .await
            .with_context(|| format!("{site}: the retained namespace is gone"))?;
        ensure!(
            kept.metadata.deletion_timestamp.is_none(),
            "{site}: the retained namespace is being deleted"
        );
        ensure!(
            !kept.labels().contains_key("soberana.io/tenant")
                && !kept.labels().contains_key("app.kubernetes.io/managed-by"),
            "{site}: the retained namespace still carries Soberana's labels: {:?}",
            kept.labels()
        );
    }
    Ok(())
}

async fn quiet_steady_state(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "quiet-test").await?;
    let client = &installation.management;
    apply(
        client,
        &tenant(
            "water-utility",
            "aya",
            &["state-dc", "national-cloud", "public-cloud"],
            &["prod", "dev"],
        ),
    )
    .await?;
    wait_ready(client, "water-utility", CONVERGE).await?;
    // Settle: every site probed and reported, every tenant reconciled once after start.
    let deadline = tokio::time::Instant::now() + CONVERGE;
    let mut previous = writes(&operator).await?;
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now = writes(&operator).await?;
        if (now - previous).abs() < f64::EPSILON {
            break;
        }
        ensure!(
            tokio::time::Instant::now() < deadline,
            "the operator kept writing for {CONVERGE:?}"
        );
        previous = now;
    }
    let before = writes(&operator).await?;
    let reads_before = operator
        .metric("soberana_kube_api_requests_total", &[("verb", "get")])
        .await?;
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = writes(&operator).await?;
    let reads_after = operator
        .metric("soberana_kube_api_requests_total", &[("verb", "get")])
        .await?;
    ensure!(
        reads_after > reads_before,
        "the operator made no requests at all: is it probing?"
    );
    ensure!(
        after == before,
        "the operator wrote {} times in 60 s of steady state",
        after - before
    );
    Ok(())
}

async fn kill_during_provisioning(plane: Arc<ControlPlane>) -> Result<()> {
    let installation = install(&plane, MANAGEMENT, &MEMBER_SITES).await?;
    let client = &installation.management;
    let sites = ["state-dc", "national-cloud", "public-cloud"];
    let names: Vec<String> = (0..50)
        .map(|index| format!("municipality-{index:02}"))
        .collect();
    let mut first = start_replica(&plane, &installation, "crash-test-1")?;
    first
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    for (index, name) in names.iter().enumerate() {
        apply(
            client,
            &tenant(name, &format!("muni{index:02}"), &sites, &["prod", "dev"]),
        )
        .await?;
    }
    // Kill it once some, but not all, tenants are done.
    let tenants: Api<Tenant> = Api::all(client.clone());
    wait_until("some tenants to be provisioned", CONVERGE, || async {
        Ok(tenants
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|tenant| tenant.name_any().starts_with("municipality-") && tenant.is_ready())
            .count()
            >= 3)
    })
    .await?;
    first.kill();
    let ready = tenants
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|tenant| tenant.name_any().starts_with("municipality-") && tenant.is_ready())
        .count();
    if ready == names.len() {
        bail!("all 50 tenants were done before the kill; the test proves nothing");
    }
    let mut second = start_replica(&plane, &installation, "crash-test-2")?;
    second
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    for name in &names {
        wait_ready(client, name, Duration::from_secs(300)).await?;
    }
    for site in sites {
        let member = member(&plane, site).await?;
        let namespaces = Api::<Namespace>::all(member.clone())
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=soberana"))
            .await?;
        let found: BTreeSet<String> = namespaces
            .items
            .iter()
            .map(ResourceExt::name_any)
            .filter(|name| name.starts_with("muni"))
            .collect();
        let wanted: BTreeSet<String> = (0..50)
            .flat_map(|index| {
                [
                    format!("muni{index:02}-prod"),
                    format!("muni{index:02}-dev"),
                ]
            })
            .collect();
        ensure!(
            found == wanted,
            "{site}: missing {:?}, unexpected {:?}",
            wanted.difference(&found).collect::<Vec<_>>(),
            found.difference(&wanted).collect::<Vec<_>>()
        );
        for namespace in &wanted {
            let objects = objects_in(&member, namespace).await?;
            ensure!(
                objects == expected_objects(),
                "{site}/{namespace}: {objects:?}"
            );
        }
    }
    // Clean up so later tests see a small data centre.
    for name in &names {
        tenants.delete(name, &DeleteParams::default()).await?;
    }
    wait_until(
        "the 50 tenants to be gone",
        Duration::from_secs(300),
        || async {
            Ok(!tenants
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .any(|tenant| tenant.name_any().starts_with("municipality-")))
        },
    )
    .await?;
    drop(second);
    Ok(())
}

async fn leader_election(plane: Arc<ControlPlane>) -> Result<()> {
    let installation = install(&plane, MANAGEMENT, &MEMBER_SITES).await?;
    let client = &installation.management;
    let mut leader = start_replica(&plane, &installation, "replica-a")?;
    leader
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    let mut standby = start_replica(&plane, &installation, "replica-b")?;
    standby
        .wait_for_readiness("standing by", Duration::from_secs(60))
        .await?;
    apply(
        client,
        &tenant("post-office", "correos", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "post-office", CONVERGE).await?;
    let standby_writes = writes(&standby).await?;
    ensure!(
        standby_writes == 0.0,
        "the standby replica wrote {standby_writes} times"
    );
    let (_, standby_readyz) = standby.get("/readyz").await?;
    ensure!(
        standby_readyz.contains("standing by"),
        "standby /readyz: {standby_readyz}"
    );

    leader.kill();
    standby
        .wait_for_readiness("leading", Duration::from_secs(60))
        .await?;
    apply(
        client,
        &tenant("customs-service", "aduana", &["state-dc"], &["prod"]),
    )
    .await?;
    wait_ready(client, "customs-service", CONVERGE).await?;
    ensure!(
        writes(&standby).await? > 0.0,
        "the new leader did not provision the new tenant"
    );

    // SIGTERM hands the lead over at once instead of after the Lease expires.
    let mut third = start_replica(&plane, &installation, "replica-c")?;
    third
        .wait_for_readiness("standing by", Duration::from_secs(60))
        .await?;
    let status = standby.terminate().context("the leader was running")?;
    ensure!(status.success(), "SIGTERM ended the leader with {status}");
    third
        .wait_for_readiness("leading", Duration::from_secs(10))
        .await?;
    Ok(())
}
