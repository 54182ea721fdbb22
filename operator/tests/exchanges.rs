//! Interoperability agreements against real API servers: an approved agreement opens exactly its
//! NetworkPolicy on the sites where both ends run and nowhere else; a consumer whose tenancy
//! reaches a foreign region is refused with the sites' reasons and nothing opens; an agreement
//! closes at `notAfter`; the path follows the provider Workload when it fails over; a policy
//! change that makes an agreement non-compliant closes it; revocation closes it; every
//! transition is in the decision ledger, whose chain verifies.

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

use anyhow::{Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use soberana_core::ledger::{RecordKind, verify};
use soberana_core::resources::data_exchange::{DataExchange, ExchangeState};
use soberana_core::resources::workload::Workload;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::OperatorSettings;
use soberana_e2e::state_data_centre::apply;
use soberana_e2e::{ControlPlane, Suite, wait_until};
use soberana_store::Store;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;

use common::{member, start_with, tenant, wait_ready};

const CONVERGE: Duration = Duration::from_secs(90);
const SITES: [&str; 3] = ["state-dc", "national-cloud", "public-cloud"];
const GRACE_SECONDS: u32 = 5;

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "agreements_open_exactly_their_paths_follow_the_provider_and_close_on_expiry_refusal_and_revocation",
            agreements,
        )
        .run()
}

/// A tenant with a `prod` namespace on the management cluster for its Workloads.
async fn institution(client: &Client, name: &str, code: &str, allowed: &[&str]) -> Result<String> {
    apply(client, &tenant(name, code, allowed, &["prod"])).await?;
    wait_ready(client, name, CONVERGE).await?;
    let namespace = format!("{code}-prod");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&namespace).await?.is_none() {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    Ok(namespace)
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
            "approvals": {"provider": {"approvedBy": "Registrar General"}, "consumer": {"approvedBy": "Director"}},
        }
    })
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

async fn open_sites(plane: &ControlPlane, exchange: &str) -> Result<Vec<String>> {
    Ok(opened(plane, exchange).await?.into_keys().collect())
}

async fn agreements(plane: Arc<ControlPlane>) -> Result<()> {
    let ledger = EtcdServer::start().await?;
    let settings = OperatorSettings {
        ledger_etcd: Some(ledger.endpoint()),
        ..OperatorSettings::default()
    };
    let (installation, operator) = start_with(&plane, "exchanges", &settings).await?;
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
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": consumer_namespace}}}],
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
