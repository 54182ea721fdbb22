//! Interoperability agreements against real API servers: an approved agreement opens exactly its
//! NetworkPolicy on the sites where both ends run and nowhere else; a consumer whose tenancy
//! reaches a foreign region is refused with the sites' reasons and nothing opens; an agreement
//! closes at `notAfter`; the path follows the provider Workload when it fails over; a policy
//! change that makes an agreement non-compliant closes it; revocation closes it; every
//! transition is in the decision ledger, whose chain verifies; an approval is written only by
//! the identity it names (the management API server refuses any other writer, even an admin),
//! honoured only from an owner of its side, recorded with the approver, and none is honoured
//! while the approval policy is missing.

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

use anyhow::{Context as _, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use soberana_core::ledger::{RecordKind, verify};
use soberana_core::resources::data_exchange::{DataExchange, ExchangeState};
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::Workload;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::state_data_centre::{Installation, MEMBER_SITES, apply, install};
use soberana_e2e::{ControlPlane, Suite, wait_until};
use soberana_store::Store;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;

use common::{MANAGEMENT, institution, member, start, start_with, tenant};

const CONVERGE: Duration = Duration::from_secs(90);
const SITES: [&str; 3] = ["state-dc", "national-cloud", "public-cloud"];
const GRACE_SECONDS: u32 = 5;

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "agreements_open_exactly_their_paths_follow_the_provider_and_close_on_expiry_refusal_and_revocation",
            agreements,
        )
        .test(
            "a_planted_label_is_left_alone_the_real_path_closes_and_nothing_says_closed_before_the_site_does",
            planted_label,
        )
        .test(
            "a_path_admits_only_the_consumer_tenants_namespace_and_an_unresolvable_ceiling_refuses",
            consumer_by_tenant_and_ceiling,
        )
        .test(
            "an_approval_is_written_only_by_whom_it_names_honoured_only_from_an_owner_and_recorded_with_the_approver",
            approvals_prove_who_gave_them,
        )
        // Last: it deletes a Site and puts it back.
        .test(
            "z_a_site_deleted_closes_its_paths_first_and_a_cleared_connection_never_reads_as_closed",
            site_deleted_or_disconnected,
        )
        .run()
}

async fn place(
    client: &Client,
    namespace: &str,
    name: &str,
    tenant: &str,
    spread: u32,
) -> Result<Vec<String>> {
    let object = json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "tenant": tenant, "classification": "confidential", "replicas": 1,
            "resources": {"cpuMillicores": 100, "memoryMebibytes": 128},
            "spread": {"minimumSites": spread},
            "failover": {"gracePeriodSeconds": GRACE_SECONDS},
            "template": {"deployment": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": 8443}]}
            ]}}}}
        }
    });
    let api: Api<Workload> = Api::namespaced(client.clone(), namespace);
    api.patch(
        name,
        &PatchParams::apply("soberana-e2e").force(),
        &Patch::Apply(&object),
    )
    .await?;
    wait_until(
        &format!("Workload {namespace}/{name} to be placed"),
        CONVERGE,
        || async { Ok(chosen(&api.get(name).await?).len() == spread as usize) },
    )
    .await?;
    Ok(chosen(&api.get(name).await?))
}

fn chosen(workload: &Workload) -> Vec<String> {
    workload.status.clone().unwrap_or_default().chosen_sites
}

fn agreement(name: &str, consumer: &str, not_after: Timestamp) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "DataExchange",
        "metadata": {"name": name},
        "spec": {
            "provider": {"tenant": "registry", "environment": "prod", "workload": "identity", "ports": [{"port": 8443}]},
            "consumer": {"tenant": consumer, "environments": ["prod"]},
            "classification": "confidential",
            "purpose": "verify a citizen's identity at registration",
            "legalBasis": "Ley 9999 art. 4",
            "validity": {"notAfter": not_after.to_string()},
            "approvals": {"provider": owners_approval("registry"), "consumer": owners_approval(consumer)},
        }
    })
}

/// An approval by an owner of `tenant` (the tests' tenants are owned by the group
/// `<shortCode>-admins`): its officer, approving as a member of that group.
fn owners_approval(tenant: &str) -> Value {
    let code = match tenant {
        "registry" => "reg",
        "clinic" => "cli",
        "abroad" => "abr",
        "land-registry" => "lnd",
        "tax-office" => "tax",
        "customs" => "cus",
        "port" => "prt",
        "laboratory" => "lab",
        "post-office" => "pst",
        "bank" => "bnk",
        "notary" => "ntr",
        "court" => "crt",
        other => panic!("no short code known for tenant {other}"),
    };
    json!({"approvedBy": format!("{code}-officer"), "groups": [format!("{code}-admins")]})
}

async fn wait_state(
    client: &Client,
    name: &str,
    state: ExchangeState,
    also: impl Fn(&DataExchange) -> bool,
) -> Result<DataExchange> {
    let api: Api<DataExchange> = Api::all(client.clone());
    wait_until(
        &format!("DataExchange {name} to be {state:?}"),
        CONVERGE,
        || async {
            let exchange = api.get(name).await?;
            Ok(
                exchange.status.as_ref().and_then(|status| status.state) == Some(state)
                    && also(&exchange),
            )
        },
    )
    .await?;
    Ok(api.get(name).await?)
}

/// The agreement's NetworkPolicies on every site, as `site: namespace/name`.
async fn opened(
    plane: &ControlPlane,
    exchange: &str,
) -> Result<BTreeMap<String, Vec<NetworkPolicy>>> {
    let mut found = BTreeMap::new();
    for site in SITES {
        let policies = Api::<NetworkPolicy>::all(member(plane, site).await?)
            .list(&ListParams::default().labels(&format!("soberana.io/exchange={exchange}")))
            .await?
            .items;
        if !policies.is_empty() {
            found.insert(site.to_owned(), policies);
        }
    }
    Ok(found)
}

/// One operator replica appending to a ledger in an etcd of its own (kept alive by the caller).
async fn start_with_ledger(
    plane: &ControlPlane,
    identity: &str,
) -> Result<(EtcdServer, Installation, OperatorProcess)> {
    let ledger = EtcdServer::start().await?;
    let settings = OperatorSettings {
        ledger_etcd: Some(ledger.endpoint()),
        ..OperatorSettings::default()
    };
    let (installation, operator) = start_with(plane, identity, &settings).await?;
    Ok((ledger, installation, operator))
}

async fn open_sites(plane: &ControlPlane, exchange: &str) -> Result<Vec<String>> {
    Ok(opened(plane, exchange).await?.into_keys().collect())
}

async fn agreements(plane: Arc<ControlPlane>) -> Result<()> {
    let (ledger, installation, operator) = start_with_ledger(&plane, "exchanges").await?;
    let client = &installation.management;
    let sovereign = ["state-dc", "national-cloud"];
    let provider_namespace = institution(client, "registry", "reg", &sovereign).await?;
    let consumer_namespace = institution(client, "clinic", "cli", &sovereign).await?;
    let abroad_namespace = institution(client, "abroad", "abr", &[]).await?;
    let provider_sites = place(client, &provider_namespace, "identity", "registry", 1).await?;
    let consumer_sites = place(client, &consumer_namespace, "portal", "clinic", 2).await?;
    place(client, &abroad_namespace, "forms", "abroad", 1).await?;
    ensure!(consumer_sites.len() == 2, "{consumer_sites:?}");
    let provider_site = provider_sites[0].clone();
    let other = if provider_site == "state-dc" {
        "national-cloud"
    } else {
        "state-dc"
    };

    // Refused: the consumer's tenancy reaches the US region, where confidential data may not go.
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    apply(
        client,
        &agreement("registry-to-abroad", "abroad", in_an_hour),
    )
    .await?;
    let refused = wait_state(client, "registry-to-abroad", ExchangeState::Refused, |_| {
        true
    })
    .await?;
    let reasons = refused.status.unwrap().reasons;
    ensure!(
        reasons
            .iter()
            .any(|reason| reason.starts_with("site public-cloud ") && reason.contains("US")),
        "{reasons:?}"
    );

    // Active: exactly one policy, on the one site where both ends run.
    apply(
        client,
        &agreement("registry-to-clinic", "clinic", in_an_hour),
    )
    .await?;
    let active = wait_state(
        client,
        "registry-to-clinic",
        ExchangeState::Active,
        |exchange| {
            exchange
                .status
                .as_ref()
                .is_some_and(|status| status.open_on == [provider_site.clone()])
        },
    )
    .await?;
    ensure!(active.status.as_ref().unwrap().conditions[0].status == "True");
    let policies = opened(&plane, "registry-to-clinic").await?;
    ensure!(
        policies.keys().collect::<Vec<_>>() == [&provider_site],
        "{policies:?}"
    );
    let policy = &policies[&provider_site];
    ensure!(policy.len() == 1, "{policy:?}");
    // In force, the agreement costs its sites no writes: the next look finds the path as wanted.
    let site_writes = || async {
        let mut total = 0.0;
        for verb in ["create", "update", "patch", "delete"] {
            let labels = [("cluster", provider_site.as_str()), ("verb", verb)];
            total += operator
                .metric("soberana_kube_api_requests_total", &labels)
                .await?;
        }
        anyhow::Ok(total)
    };
    let looks = || {
        operator.metric(
            "soberana_reconcile_total",
            &[("controller", "exchange"), ("result", "success")],
        )
    };
    let (writes_before, looks_before) = (site_writes().await?, looks().await?);
    wait_until("the agreements to be looked at again", CONVERGE, || async {
        Ok(looks().await? >= looks_before + 2.0)
    })
    .await?;
    let writes_after = site_writes().await?;
    ensure!(
        (writes_after - writes_before).abs() < f64::EPSILON,
        "{} writes to site {provider_site} while the agreements stood still",
        writes_after - writes_before
    );
    let spec = serde_json::to_value(policy[0].spec.as_ref().unwrap())?;
    ensure!(policy[0].namespace().as_deref() == Some(provider_namespace.as_str()));
    ensure!(
        spec == json!({
            "podSelector": {"matchLabels": {"soberana.io/workload": "identity"}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": consumer_namespace, "soberana.io/tenant": "clinic"}}}],
                         "ports": [{"port": 8443, "protocol": "TCP"}]}]
        }),
        "{spec}"
    );
    // Neither institution's admins can widen the path: only Soberana writes it.
    let site_cluster = plane.cluster(&provider_site)?;
    let provider_admin = site_cluster.client_as("rosa", &["reg-admins"]).await?;
    let widen = json!({"spec": {"ingress": [{}]}});
    let widened = Api::<NetworkPolicy>::namespaced(provider_admin, &provider_namespace)
        .patch(
            "soberana-exchange-registry-to-clinic",
            &PatchParams::default(),
            &Patch::Merge(&widen),
        )
        .await;
    ensure!(
        matches!(&widened, Err(kube::Error::Api(status)) if status.code == 403),
        "the provider's admin widened the path: {widened:?}"
    );
    let consumer_admin = site_cluster.client_as("carlos", &["cli-admins"]).await?;
    let own_path: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": "let-me-in"},
        "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]}
    }))?;
    let opened_by_consumer = Api::<NetworkPolicy>::namespaced(consumer_admin, &provider_namespace)
        .create(&PostParams::default(), &own_path)
        .await;
    ensure!(
        matches!(&opened_by_consumer, Err(kube::Error::Api(status)) if status.code == 403),
        "the consumer's admin opened a path into the provider: {opened_by_consumer:?}"
    );
    ensure!(
        open_sites(&plane, "registry-to-abroad").await?.is_empty(),
        "a refused agreement opened a path"
    );

    // Expiry: a short agreement opens, then closes at notAfter.
    let soon = Timestamp::now() + SignedDuration::from_secs(20);
    apply(
        client,
        &agreement("registry-to-clinic-trial", "clinic", soon),
    )
    .await?;
    wait_state(
        client,
        "registry-to-clinic-trial",
        ExchangeState::Active,
        |_| true,
    )
    .await?;
    ensure!(
        open_sites(&plane, "registry-to-clinic-trial").await?
            == std::slice::from_ref(&provider_site)
    );
    wait_state(
        client,
        "registry-to-clinic-trial",
        ExchangeState::Expired,
        |_| true,
    )
    .await?;
    wait_until("the expired path to close", CONVERGE, || async {
        Ok(open_sites(&plane, "registry-to-clinic-trial")
            .await?
            .is_empty())
    })
    .await?;

    // Failover: the provider's site stops; the provider moves and the path moves with it.
    let cluster = plane.cluster(&provider_site)?;
    cluster.stop_api_server();
    let moved = async {
        wait_state(
            client,
            "registry-to-clinic",
            ExchangeState::Active,
            |exchange| {
                exchange
                    .status
                    .as_ref()
                    .is_some_and(|status| status.open_on == [other.to_owned()])
            },
        )
        .await?;
        let on_other =
            Api::<NetworkPolicy>::namespaced(member(&plane, other).await?, &provider_namespace)
                .get_opt("soberana-exchange-registry-to-clinic")
                .await?;
        ensure!(on_other.is_some(), "no path where the provider moved to");
        anyhow::Ok(())
    }
    .await;
    cluster.start_api_server().await?;
    moved?;
    // Back: the path on the site the provider left is closed, not left open.
    wait_until("the left site's path to close", CONVERGE, || async {
        Ok(open_sites(&plane, "registry-to-clinic").await? == [other.to_owned()])
    })
    .await?;
    let deployment =
        Api::<Deployment>::namespaced(member(&plane, other).await?, &provider_namespace)
            .get_opt("identity")
            .await?;
    ensure!(
        deployment.is_some(),
        "the provider did not fail over to {other}"
    );

    // A policy change makes the agreement non-compliant: the clinic may now use the US region.
    let widened = tenant(
        "clinic",
        "cli",
        &["state-dc", "national-cloud", "public-cloud"],
        &["prod"],
    );
    apply(client, &widened).await?;
    let closed = wait_state(client, "registry-to-clinic", ExchangeState::Refused, |_| {
        true
    })
    .await?;
    ensure!(
        closed
            .status
            .unwrap()
            .reasons
            .iter()
            .any(|reason| reason.starts_with("site public-cloud ")),
        "refused without the site's reason"
    );
    wait_until("the non-compliant path to close", CONVERGE, || async {
        Ok(open_sites(&plane, "registry-to-clinic").await?.is_empty())
    })
    .await?;
    let refusal_events = kube::Api::<k8s_openapi::api::events::v1::Event>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|event| {
            event
                .regarding
                .as_ref()
                .and_then(|object| object.name.as_deref())
                == Some("registry-to-clinic")
                && event.reason.as_deref() == Some("Refused")
        })
        .count();
    ensure!(refusal_events >= 1, "no Refused Event on the agreement");

    // Revocation closes whatever state the agreement is in, and is recorded.
    apply(client, &tenant("clinic", "cli", &sovereign, &["prod"])).await?;
    wait_state(client, "registry-to-clinic", ExchangeState::Active, |_| {
        true
    })
    .await?;
    let mut revoked = agreement("registry-to-clinic", "clinic", in_an_hour);
    revoked["spec"]["revocation"] =
        json!({"revokedBy": "Data Protection Officer", "reason": "audit finding"});
    apply(client, &revoked).await?;
    wait_state(client, "registry-to-clinic", ExchangeState::Revoked, |_| {
        true
    })
    .await?;
    wait_until("the revoked path to close", CONVERGE, || async {
        Ok(opened(&plane, "registry-to-clinic").await?.is_empty())
    })
    .await?;

    // The ledger: every transition, in a chain that verifies.
    let store =
        EtcdStore::connect(&[ledger.endpoint()], "/soberana/", &EtcdSecurity::default()).await?;
    let records = store.records(1, 1000).await?;
    ensure!(verify(&records).is_ok(), "{:?}", verify(&records));
    let transitions = |subject: &str| -> Vec<String> {
        records
            .iter()
            .filter(|record| record.kind == RecordKind::Exchange && record.subject == subject)
            .map(|record| {
                serde_json::from_str::<Value>(&record.payload_json).unwrap()["transition"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            // The agreement exists before its approvers write their approvals: it may wait
            // first.
            .skip_while(|transition| transition == "Pending")
            .collect()
    };
    ensure!(
        transitions("registry-to-abroad") == ["Refused"],
        "{:?}",
        transitions("registry-to-abroad")
    );
    ensure!(
        transitions("registry-to-clinic-trial") == ["Activated", "Expired"],
        "{:?}",
        transitions("registry-to-clinic-trial")
    );
    let clinic = transitions("registry-to-clinic");
    ensure!(
        clinic.first().map(String::as_str) == Some("Activated")
            && clinic.contains(&"PathsMoved".to_owned())
            && clinic.contains(&"Refused".to_owned())
            && clinic.last().map(String::as_str) == Some("Revoked"),
        "{clinic:?}"
    );
    Ok(())
}

/// An agreement from `provider`'s Workload (environment `prod`, port 8443) to `consumer`.
fn agreement_between(
    name: &str,
    (provider, workload): (&str, &str),
    consumer: &str,
    not_after: Timestamp,
) -> Value {
    let mut object = agreement(name, consumer, not_after);
    object["spec"]["provider"]["tenant"] = json!(provider);
    object["spec"]["provider"]["workload"] = json!(workload);
    object["spec"]["approvals"]["provider"] = owners_approval(provider);
    object
}

/// The agreement's status as the API server holds it (read untyped: what a user sees).
async fn status_of(client: &Client, name: &str) -> Result<Value> {
    let resource = ApiResource::erase::<DataExchange>(&());
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
    let object = api.get(name).await?;
    Ok(object.data["status"].clone())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn condition_of(status: &Value, type_: &str) -> Option<Value> {
    status["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == type_)
        .cloned()
}

/// The Events on the agreement, as `(type, reason, note)`.
async fn events_of(client: &Client, name: &str) -> Result<Vec<(String, String, String)>> {
    Ok(
        Api::<k8s_openapi::api::events::v1::Event>::all(client.clone())
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|event| {
                event
                    .regarding
                    .as_ref()
                    .and_then(|object| object.name.as_deref())
                    == Some(name)
            })
            .map(|event| {
                (
                    event.type_.unwrap_or_default(),
                    event.reason.unwrap_or_default(),
                    event.note.unwrap_or_default(),
                )
            })
            .collect(),
    )
}

/// The agreement's ledger records, as their payloads.
async fn ledger_payloads(ledger: &EtcdServer, subject: &str) -> Result<Vec<Value>> {
    let store =
        EtcdStore::connect(&[ledger.endpoint()], "/soberana/", &EtcdSecurity::default()).await?;
    let records = store.records(1, 1000).await?;
    ensure!(verify(&records).is_ok(), "{:?}", verify(&records));
    records
        .iter()
        .filter(|record| record.kind == RecordKind::Exchange && record.subject == subject)
        .map(|record| Ok(serde_json::from_str(&record.payload_json)?))
        .collect()
}

/// A member's cluster admin who is not `system:masters`: bound to `cluster-admin` by name.
async fn member_admin(plane: &ControlPlane, site: &str, user: &str) -> Result<Client> {
    let cluster = plane.cluster(site)?;
    let binding: ClusterRoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-cluster-admin")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    }))?;
    Api::<ClusterRoleBinding>::all(cluster.client().await?)
        .patch(
            &binding.name_any(),
            &PatchParams::apply("soberana-e2e").force(),
            &Patch::Apply(&binding),
        )
        .await?;
    cluster.client_as(user, &["member-admins"]).await
}

/// Finding: a NetworkPolicy a member admin labelled as the agreement's, in a namespace of their
/// own, kept the real path open on revocation (the operator stopped at the first delete its
/// confinement refused), while the Event said every path was closed, the ledger said `openOn:
/// []` and `soberana_exchange_active` was 0; and the admin could not delete it afterwards.
async fn planted_label(plane: Arc<ControlPlane>) -> Result<()> {
    let (ledger, installation, operator) = start_with_ledger(&plane, "exchanges-planted").await?;
    let client = &installation.management;
    let sovereign = ["state-dc", "national-cloud"];
    let provider_namespace = institution(client, "land-registry", "lnd", &sovereign).await?;
    let consumer_namespace = institution(client, "tax-office", "tax", &sovereign).await?;
    let site = place(client, &provider_namespace, "parcels", "land-registry", 1).await?[0].clone();
    place(client, &consumer_namespace, "assessor", "tax-office", 2).await?;
    let name = "parcels-to-tax";
    let policy_name = format!("soberana-exchange-{name}");
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    let object = agreement_between(name, ("land-registry", "parcels"), "tax-office", in_an_hour);
    apply(client, &object).await?;
    wait_state(client, name, ExchangeState::Active, |exchange| {
        exchange
            .status
            .as_ref()
            .is_some_and(|status| status.open_on == [site.clone()])
    })
    .await?;
    let cluster = plane.cluster(&site)?;
    let masters = cluster.client().await?;
    let real = Api::<NetworkPolicy>::namespaced(masters.clone(), &provider_namespace)
        .get(&policy_name)
        .await?;

    // A member admin plants a copy of it (labels, annotations and all) in a namespace of theirs
    // that sorts first.
    let admin = member_admin(&plane, &site, "mara").await?;
    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": "aaa"}}))?;
    Api::<Namespace>::all(admin.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    let decoy: NetworkPolicy = serde_json::from_value(json!({
        "metadata": {"name": policy_name, "namespace": "aaa",
                     "labels": real.metadata.labels, "annotations": real.metadata.annotations},
        "spec": real.spec,
    }))?;
    Api::<NetworkPolicy>::namespaced(admin.clone(), "aaa")
        .create(&PostParams::default(), &decoy)
        .await?;

    // The site stops answering and the agreement is revoked: nothing may say the path closed.
    cluster.stop_api_server();
    let mut revoked = object.clone();
    revoked["spec"]["revocation"] =
        json!({"revokedBy": "Data Protection Officer", "reason": "audit finding"});
    apply(client, &revoked).await?;
    let while_down = async {
        wait_until("the revocation to be judged", CONVERGE, || async {
            let status = status_of(client, name).await?;
            Ok(status["state"] == "Revoked")
        })
        .await?;
        let status = status_of(client, name).await?;
        ensure!(
            strings(&status["stillOpenOn"]) == [site.clone()],
            "the status does not say the path is still open on {site}: {status}"
        );
        let active = operator
            .metric("soberana_exchange_active", &[("exchange", name)])
            .await?;
        ensure!(
            (active - 1.0).abs() < f64::EPSILON,
            "soberana_exchange_active is {active} while the path is open on {site}"
        );
        let claims: Vec<_> = events_of(client, name)
            .await?
            .into_iter()
            .filter(|(_, _, note)| note.contains("closed") && !note.contains("not yet closed"))
            .collect();
        ensure!(
            claims.is_empty(),
            "an Event claims the path closed while {site} is down: {claims:?}"
        );
        let records = ledger_payloads(&ledger, name).await?;
        let revocation = records
            .iter()
            .find(|record| record["transition"] == "Revoked")
            .context("no Revoked record")?;
        ensure!(
            strings(&revocation["stillOpenOn"]) == [site.clone()],
            "the ledger's Revoked record does not say the path is still open: {revocation}"
        );
        anyhow::Ok(())
    }
    .await;
    cluster.start_api_server().await?;
    while_down?;

    // Back: the real path closes within the usual time; the decoy is left alone and named.
    let real_policies = Api::<NetworkPolicy>::namespaced(masters.clone(), &provider_namespace);
    wait_until("the real path to close", CONVERGE, || async {
        Ok(real_policies.get_opt(&policy_name).await?.is_none())
    })
    .await?;
    wait_until(
        "the agreement to report the path closed",
        CONVERGE,
        || async {
            let status = status_of(client, name).await?;
            Ok(strings(&status["stillOpenOn"]).is_empty()
                && condition_of(&status, "Degraded").is_some_and(|degraded| {
                    degraded["status"] == "True"
                        && degraded["message"]
                            .as_str()
                            .is_some_and(|message| message.contains(&format!("aaa/{policy_name}")))
                }))
        },
    )
    .await?;
    ensure!(
        Api::<NetworkPolicy>::namespaced(masters.clone(), "aaa")
            .get_opt(&policy_name)
            .await?
            .is_some(),
        "the operator deleted a policy that is not its own"
    );
    let events = events_of(client, name).await?;
    ensure!(
        events.iter().any(|(type_, reason, note)| type_ == "Warning"
            && reason == "ForeignObjectsLeftAlone"
            && note.contains(&format!("aaa/{policy_name}"))),
        "no Warning Event names the policy left alone: {events:?}"
    );
    ensure!(
        events.iter().any(|(_, reason, _)| reason == "PathsClosed"),
        "no Event says the path closed once it did: {events:?}"
    );
    let active = operator
        .metric("soberana_exchange_active", &[("exchange", name)])
        .await?;
    ensure!(
        active.abs() < f64::EPSILON,
        "soberana_exchange_active is {active} once closed"
    );
    let transitions: Vec<Value> = ledger_payloads(&ledger, name)
        .await?
        .into_iter()
        .map(|record| record["transition"].clone())
        // The agreement exists before its approvers write their approvals: it may wait first.
        .skip_while(|transition| transition == "Pending")
        .collect();
    ensure!(
        transitions.first() == Some(&json!("Activated"))
            && transitions.contains(&json!("Revoked"))
            && transitions.last() == Some(&json!("PathsClosed")),
        "{transitions:?}"
    );

    // The decoy is its author's: the member admin may delete it.
    Api::<NetworkPolicy>::namespaced(admin, "aaa")
        .delete(&policy_name, &DeleteParams::default())
        .await
        .context("the member admin could not delete their own NetworkPolicy")?;
    Ok(())
}

/// Does `selector` select an object with `labels` (matchLabels and `In`/`NotIn`/`Exists`)?
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let by_label = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(key, value)| labels.get(key) == Some(value));
    let by_expression = selector
        .match_expressions
        .iter()
        .flatten()
        .all(|requirement| {
            let value = labels.get(&requirement.key);
            let values = requirement.values.clone().unwrap_or_default();
            match requirement.operator.as_str() {
                "In" => value.is_some_and(|value| values.contains(value)),
                "NotIn" => value.is_none_or(|value| !values.contains(value)),
                "Exists" => value.is_some(),
                _ => value.is_none(),
            }
        });
    by_label && by_expression
}

/// Findings: a path admitted a namespace by its name alone, so on a site where the consumer's
/// `<code>-prod` belongs to someone else (the tenant in `Conflict` there) it admitted that
/// foreign namespace; and an agreement whose consumer's ceiling classification does not exist
/// skipped the ceiling check.
async fn consumer_by_tenant_and_ceiling(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "exchanges-consumers").await?;
    let client = &installation.management;
    let sovereign = ["state-dc", "national-cloud"];
    let provider_namespace = institution(client, "customs", "cus", &sovereign).await?;
    let site = place(client, &provider_namespace, "manifests", "customs", 1).await?[0].clone();

    // Someone else's `prt-prod` on the provider's site, before the Tenant `port` exists.
    let masters = member(&plane, &site).await?;
    let foreign: Namespace = serde_json::from_value(json!({"metadata": {"name": "prt-prod"}}))?;
    Api::<Namespace>::all(masters.clone())
        .create(&PostParams::default(), &foreign)
        .await?;
    apply(client, &tenant("port", "prt", &sovereign, &["prod"])).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let consumer: Namespace = serde_json::from_value(json!({"metadata": {"name": "prt-prod"}}))?;
    namespaces.create(&PostParams::default(), &consumer).await?;
    place(client, "prt-prod", "cranes", "port", 2).await?;
    let name = "manifests-to-port";
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    apply(
        client,
        &agreement_between(name, ("customs", "manifests"), "port", in_an_hour),
    )
    .await?;
    wait_state(client, name, ExchangeState::Active, |exchange| {
        exchange
            .status
            .as_ref()
            .is_some_and(|status| status.open_on == [site.clone()])
    })
    .await?;
    let path = Api::<NetworkPolicy>::namespaced(masters.clone(), &provider_namespace)
        .get(&format!("soberana-exchange-{name}"))
        .await?;
    let on_site = Api::<Namespace>::all(masters.clone())
        .get("prt-prod")
        .await?;
    let labels = on_site.metadata.labels.clone().unwrap_or_default();
    let admitted: Vec<&LabelSelector> = path
        .spec
        .iter()
        .flat_map(|spec| spec.ingress.iter().flatten())
        .flat_map(|rule| rule.from.iter().flatten())
        .filter_map(|peer| peer.namespace_selector.as_ref())
        .filter(|selector| selects(selector, &labels))
        .collect();
    ensure!(
        admitted.is_empty(),
        "the path on {site} admits namespace prt-prod, which is not Tenant port's there: {admitted:?}"
    );

    // A consumer whose ceiling classification does not exist: refused, naming it.
    let mut withdrawn = tenant("laboratory", "lab", &sovereign, &["prod"]);
    withdrawn["spec"]["highestClassification"] = json!("withdrawn");
    apply(client, &withdrawn).await?;
    let name = "manifests-to-laboratory";
    apply(
        client,
        &agreement_between(name, ("customs", "manifests"), "laboratory", in_an_hour),
    )
    .await?;
    let refused = wait_state(client, name, ExchangeState::Refused, |_| true).await?;
    let reasons = refused.status.unwrap_or_default().reasons;
    ensure!(
        reasons
            .iter()
            .any(|reason| reason.contains("highestClassification")
                && reason.contains("\"withdrawn\" does not exist")),
        "{reasons:?}"
    );
    ensure!(
        open_sites(&plane, name).await?.is_empty(),
        "a path opened for an agreement whose ceiling cannot be checked"
    );
    Ok(())
}

/// Where the agreement's status says its path is, open or not yet confirmed closed.
async fn reported_open(client: &Client, name: &str) -> Result<Vec<String>> {
    let status = status_of(client, name).await?;
    let mut sites = strings(&status["openOn"]);
    sites.extend(strings(&status["stillOpenOn"]));
    Ok(sites)
}

/// Finding: deleting a Site or clearing its connection left its agreement paths open on that
/// member. A Site being deleted now waits (finalizer) until its paths are closed there; a
/// cleared connection cannot close anything, so the path is reported open, never closed.
async fn site_deleted_or_disconnected(plane: Arc<ControlPlane>) -> Result<()> {
    const SITE: &str = "national-cloud";
    let (installation, _operator) = start(&plane, "exchanges-sites").await?;
    let client = &installation.management;
    let provider_namespace = institution(client, "post-office", "pst", &[SITE]).await?;
    let consumer_namespace = institution(client, "bank", "bnk", &[SITE]).await?;
    place(client, &provider_namespace, "parcels", "post-office", 1).await?;
    place(client, &consumer_namespace, "payments", "bank", 1).await?;
    let name = "parcels-to-bank";
    let policy_name = format!("soberana-exchange-{name}");
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    let object = agreement_between(name, ("post-office", "parcels"), "bank", in_an_hour);
    apply(client, &object).await?;
    let is_open_on_site = |exchange: &DataExchange| {
        exchange
            .status
            .as_ref()
            .is_some_and(|status| status.open_on == [SITE.to_owned()])
    };
    wait_state(client, name, ExchangeState::Active, is_open_on_site).await?;
    let on_member =
        Api::<NetworkPolicy>::namespaced(member(&plane, SITE).await?, &provider_namespace);
    ensure!(on_member.get_opt(&policy_name).await?.is_some());

    // The connection is cleared: nothing can be closed through it, and nothing says closed.
    let sites: Api<Site> = Api::all(client.clone());
    let cleared = json!({"spec": {"connection": null}});
    sites
        .patch(SITE, &PatchParams::default(), &Patch::Merge(&cleared))
        .await?;
    wait_until(
        "the agreement to see the cleared connection",
        CONVERGE,
        || async {
            let status = status_of(client, name).await?;
            Ok(condition_of(&status, "Ready").is_some_and(|ready| ready["status"] == "False"))
        },
    )
    .await?;
    let reported = reported_open(client, name).await?;
    ensure!(
        reported == [SITE.to_owned()] && on_member.get_opt(&policy_name).await?.is_some(),
        "the path is open on {SITE}, but the agreement reports it open on {reported:?}"
    );
    install(&plane, MANAGEMENT, &MEMBER_SITES).await?;

    // The Site is deleted: it goes only once its path is closed on the member.
    wait_state(client, name, ExchangeState::Active, |exchange| {
        is_open_on_site(exchange)
            && exchange
                .status
                .as_ref()
                .is_some_and(|status| status.conditions[0].status == "True")
    })
    .await?;
    sites.delete(SITE, &DeleteParams::default()).await?;
    let deleted = async {
        wait_until(
            "the Site's path to close on its member",
            CONVERGE,
            || async { Ok(on_member.get_opt(&policy_name).await?.is_none()) },
        )
        .await?;
        wait_until("the Site to be gone", CONVERGE, || async {
            Ok(sites.get_opt(SITE).await?.is_none())
        })
        .await?;
        wait_until("the agreement to report no path", CONVERGE, || async {
            Ok(reported_open(client, name).await?.is_empty())
        })
        .await
    }
    .await;
    install(&plane, MANAGEMENT, &MEMBER_SITES).await?;
    deleted?;
    wait_until("the Site to be back", CONVERGE, || async {
        Ok(sites.get_opt(SITE).await?.is_some_and(|site| {
            site.status.as_ref().is_some_and(|status| {
                common::condition(&status.conditions, "Ready")
                    .is_some_and(|ready| ready.status == "True")
            })
        }))
    })
    .await?;
    Ok(())
}

/// A write as `client` setting `spec.approvals.<side>` of the agreement `name`.
async fn write_approval(
    client: &Client,
    name: &str,
    side: &str,
    approval: &Value,
) -> kube::Result<DataExchange> {
    Api::<DataExchange>::all(client.clone())
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"approvals": {side: approval}}})),
        )
        .await
}

/// The management API server's refusal of a write, by the approval policy.
fn refused_by_the_approval_policy<T: std::fmt::Debug>(result: &kube::Result<T>) -> bool {
    matches!(result, Err(kube::Error::Api(status))
        if status.code == 403
            && status.message.contains("soberana-exchange-approvals")
            && status.message.contains("must be given by the identity it names"))
}

/// Finding: both sides' approvals were free text anyone who may update the agreement could fill
/// in. Now the management API server refuses an approval written by anyone but the identity it
/// names (an admin too), the operator honours one only from an owner of its side (and says who
/// and why otherwise), records the approvers with the path it opens, and honours none while the
/// approval policy is missing.
async fn approvals_prove_who_gave_them(plane: Arc<ControlPlane>) -> Result<()> {
    let (ledger, installation, _operator) =
        start_with_ledger(&plane, "exchanges-approvals").await?;
    let client = &installation.management;
    let management = plane.cluster(MANAGEMENT)?;
    let sovereign = ["state-dc", "national-cloud"];
    let provider_namespace = institution(client, "notary", "ntr", &sovereign).await?;
    let consumer_namespace = institution(client, "court", "crt", &sovereign).await?;
    let site = place(client, &provider_namespace, "deeds", "notary", 1).await?[0].clone();
    place(client, &consumer_namespace, "filings", "court", 2).await?;
    let name = "deeds-to-court";
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    let mut object = agreement_between(name, ("notary", "deeds"), "court", in_an_hour);
    object["spec"].as_object_mut().unwrap().remove("approvals");
    apply(client, &object).await?;
    wait_state(client, name, ExchangeState::Pending, |_| true).await?;
    let owner = owners_approval("notary");

    // Nobody writes an approval in someone else's name: not the cluster admin
    // (`system:masters`), not an authenticated user who is a member of nothing, and no one
    // claims a group they do not hold.
    let forged = write_approval(client, name, "provider", &owner).await;
    ensure!(
        refused_by_the_approval_policy(&forged),
        "the admin wrote an approval in ntr-officer's name: {forged:?}"
    );
    let nobody = management.client_as("nobody", &[]).await?;
    let forged = write_approval(&nobody, name, "provider", &owner).await;
    ensure!(
        refused_by_the_approval_policy(&forged),
        "a member of nothing wrote an approval in ntr-officer's name: {forged:?}"
    );
    let claimed = json!({"approvedBy": "nobody", "groups": ["ntr-admins"]});
    let forged = write_approval(&nobody, name, "provider", &claimed).await;
    ensure!(
        refused_by_the_approval_policy(&forged),
        "a member of nothing claimed the group ntr-admins: {forged:?}"
    );

    // In their own name they may write it, but a non-owner's approval is not honoured.
    let own = json!({"approvedBy": "nobody"});
    write_approval(&nobody, name, "provider", &own).await?;
    let consumer_owner = management.client_as("crt-officer", &["crt-admins"]).await?;
    write_approval(&consumer_owner, name, "consumer", &owners_approval("court")).await?;
    let waiting = wait_state(client, name, ExchangeState::Pending, |exchange| {
        exchange.status.as_ref().is_some_and(|status| {
            status
                .conditions
                .iter()
                .any(|condition| condition.reason == "ApprovalNotHonoured")
        })
    })
    .await?;
    let reasons = waiting.status.unwrap().reasons;
    ensure!(
        reasons.iter().any(|reason| reason.contains(
            "spec.approvals.provider: user \"nobody\" is not an owner of Tenant notary (owners: group ntr-admins)"
        )),
        "{reasons:?}"
    );
    let events = events_of(client, name).await?;
    ensure!(
        events.iter().any(|(type_, reason, note)| type_ == "Warning"
            && reason == "ApprovalNotHonoured"
            && note.contains("\"nobody\"")),
        "no Warning names the approval not honoured: {events:?}"
    );
    ensure!(
        open_sites(&plane, name).await?.is_empty(),
        "a path opened on a non-owner's approval"
    );

    // The notary's owner approves, as itself: the path opens.
    let provider_owner = management.client_as("ntr-officer", &["ntr-admins"]).await?;
    write_approval(&provider_owner, name, "provider", &owner).await?;
    wait_state(client, name, ExchangeState::Active, |exchange| {
        exchange
            .status
            .as_ref()
            .is_some_and(|status| status.open_on == [site.clone()])
    })
    .await?;
    ensure!(open_sites(&plane, name).await? == std::slice::from_ref(&site));

    // An approval covers the terms it was given on: changing them without approving again is
    // refused, even to the admin.
    let widened = Api::<DataExchange>::all(client.clone())
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"purpose": "any purpose at all"}})),
        )
        .await;
    ensure!(
        refused_by_the_approval_policy(&widened),
        "the terms changed under both approvals: {widened:?}"
    );

    // The ledger records who approved, with the path it opened.
    let records = ledger_payloads(&ledger, name).await?;
    let activated = records
        .iter()
        .find(|record| record["transition"] == "Activated")
        .context("no Activated record")?;
    ensure!(
        activated["approvals"]["provider"] == owner
            && activated["approvals"]["consumer"] == owners_approval("court")
            && strings(&activated["openOn"]) == [site.clone()],
        "the Activated record does not name the approvers: {activated}"
    );

    // Without the policy no approval proves anything: the agreement stops (fail closed) and
    // says why, and starts again once the policy is back.
    let bindings: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
            "admissionregistration.k8s.io",
            "v1",
            "ValidatingAdmissionPolicyBinding",
        )),
    );
    bindings
        .delete("soberana-exchange-approvals", &DeleteParams::default())
        .await?;
    let unproven = async {
        let stopped = wait_state(client, name, ExchangeState::Pending, |exchange| {
            exchange.status.as_ref().is_some_and(|status| {
                status
                    .conditions
                    .iter()
                    .any(|condition| condition.reason == "ApprovalsUnproven")
            })
        })
        .await?;
        let reasons = stopped.status.unwrap().reasons;
        ensure!(
            reasons[0].contains(
                "the ValidatingAdmissionPolicyBinding soberana-exchange-approvals does not exist"
            ),
            "{reasons:?}"
        );
        wait_until("the unproven path to close", CONVERGE, || async {
            Ok(open_sites(&plane, name).await?.is_empty())
        })
        .await
    }
    .await;
    soberana_e2e::exchange_approvals::install_approval_policy(client).await?;
    unproven?;
    wait_state(client, name, ExchangeState::Active, |_| true).await?;
    Ok(())
}
