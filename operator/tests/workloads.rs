//! Workloads against real API servers: placed by the engine only on eligible sites, deployed there
//! with their classification, watched until Running, failed over when a site stays down longer
//! than the grace period, never moved to a site their classification forbids, moved when a
//! policy change makes their site ineligible, and explained when unplaceable. Replicas become
//! available on each site's (simulated) node through its own scheduler and controllers. A
//! migration planned and submitted through the API (`soberana-api` beside the operator) is
//! watched with the CLI until its Pods run, and the API's answers name the sites the operator chose.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Pod, Service};
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use soberana_core::ledger::verify;
use soberana_core::placement::ReasonCode;
use soberana_core::resources::site::Site;
use soberana_core::resources::workload::{
    MAX_TEMPLATE_BYTES, Workload, WorkloadPhase, WorkloadSiteState,
};
use soberana_e2e::agency_access::{agency_token, policy_author_token};
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::{OperatorProcess, OperatorSettings};
use soberana_e2e::simulated_nodes::NodeShape;
use soberana_e2e::soberana_manifests::{examples_directory, yaml_documents};
use soberana_e2e::state_data_centre::{MEMBER_SITES, apply, install};
use soberana_e2e::{ControlPlane, Suite, wait_until};
use soberana_store::Store;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;

use common::{ApiProcess, member, start, start_with, tenant, wait_ready, writes};

const CONVERGE: Duration = Duration::from_secs(90);
/// The grace period the tests give workloads before failing over.
const GRACE_SECONDS: u32 = 5;
const SITES: [&str; 3] = ["state-dc", "national-cloud", "public-cloud"];

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "a_migration_submitted_through_the_api_is_watched_until_its_pods_run_on_the_chosen_site",
            migration_through_the_api,
        )
        .test(
            "a_confidential_workload_runs_only_on_eligible_sites_with_its_decision",
            confidential_workload,
        )
        .test(
            "a_failed_site_is_left_after_the_grace_period_for_an_eligible_one",
            failover,
        )
        .test(
            "a_restricted_workload_whose_only_site_fails_stays_degraded",
            stranded,
        )
        .test(
            "a_policy_change_that_makes_the_site_ineligible_moves_the_workload",
            policy_change,
        )
        .test(
            "an_unplaceable_workload_shows_every_sites_reasons",
            unplaceable,
        )
        .test(
            "placement_stays_within_what_the_sites_nodes_hold",
            bounded_by_nodes,
        )
        .test(
            "a_site_whose_nodes_stop_is_left_after_the_grace_period",
            node_failover,
        )
        .test(
            "a_template_over_the_size_limit_is_refused_and_deploys_nothing",
            oversized_template,
        )
        .run()
}

/// A tenant with a `prod` namespace on the management cluster for its Workloads.
async fn tenant_with_namespace(
    client: &Client,
    name: &str,
    short_code: &str,
    ceiling: &str,
    allowed_sites: &[&str],
) -> Result<String> {
    let mut object = tenant(name, short_code, allowed_sites, &["prod"]);
    object["spec"]["highestClassification"] = json!(ceiling);
    apply(client, &object).await?;
    wait_ready(client, name, CONVERGE).await?;
    let namespace = format!("{short_code}-prod");
    let namespaces: Api<Namespace> = Api::all(client.clone());
    if namespaces.get_opt(&namespace).await?.is_none() {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": namespace}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    Ok(namespace)
}

fn workload(name: &str, namespace: &str, tenant: &str, classification: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1",
        "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "tenant": tenant,
            "classification": classification,
            "resources": {"cpuMillicores": 500, "memoryMebibytes": 512},
            "replicas": 2,
            "availabilityTarget": "99.9",
            "failover": {"gracePeriodSeconds": GRACE_SECONDS},
            "template": {
                "deployment": {"template": {"spec": {"containers": [
                    {"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": 8080}]}
                ]}}},
                "service": {"ports": [{"port": 80, "targetPort": 8080}]}
            }
        }
    })
}

async fn create_workload(client: &Client, object: &Value) -> Result<()> {
    let namespace = object["metadata"]["namespace"].as_str().unwrap();
    let name = object["metadata"]["name"].as_str().unwrap();
    Api::<Workload>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply("soberana-e2e").force(),
            &Patch::Apply(object),
        )
        .await?;
    Ok(())
}

/// Waits until the Workload's status satisfies `done`, then returns it.
async fn wait_workload(
    client: &Client,
    namespace: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    done: impl Fn(&Workload) -> bool,
) -> Result<Workload> {
    let api: Api<Workload> = Api::namespaced(client.clone(), namespace);
    wait_until(
        &format!("Workload {namespace}/{name}: {what}"),
        timeout,
        || async { Ok(done(&api.get(name).await?)) },
    )
    .await?;
    Ok(api.get(name).await?)
}

fn phase(workload: &Workload) -> Option<WorkloadPhase> {
    workload.status.as_ref().and_then(|status| status.phase)
}

fn chosen(workload: &Workload) -> Vec<String> {
    workload.status.clone().unwrap_or_default().chosen_sites
}

/// A tenant allowed `state-dc` and `national-cloud` only, and its confidential Workload `name`
/// running on one of them: its namespace, the site it runs on, and the other.
async fn confidential_on_either_state_site(
    client: &Client,
    tenant: &str,
    short_code: &str,
    name: &str,
) -> Result<(String, String, &'static str)> {
    let namespace = tenant_with_namespace(
        client,
        tenant,
        short_code,
        "restricted",
        &["state-dc", "national-cloud"],
    )
    .await?;
    let (_, site) = running_workload(client, &namespace, tenant, name, "confidential").await?;
    let other = if site == "state-dc" {
        "national-cloud"
    } else {
        "state-dc"
    };
    Ok((namespace, site, other))
}

/// Where the workload's Deployment exists.
async fn deployed_on(plane: &ControlPlane, namespace: &str, name: &str) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for site in SITES {
        let client = member(plane, site).await?;
        if Api::<Deployment>::namespaced(client, namespace)
            .get_opt(name)
            .await?
            .is_some()
        {
            found.push(site.to_owned());
        }
    }
    Ok(found)
}

/// Places a confidential workload and brings it to Running on its chosen site.
async fn running_workload(
    client: &Client,
    namespace: &str,
    tenant_name: &str,
    name: &str,
    classification: &str,
) -> Result<(Workload, String)> {
    create_workload(
        client,
        &workload(name, namespace, tenant_name, classification),
    )
    .await?;
    // Its replicas run on the chosen site's node: nothing here stands in for a kubelet.
    let running = wait_workload(client, namespace, name, "running", CONVERGE, |workload| {
        phase(workload) == Some(WorkloadPhase::Running) && !chosen(workload).is_empty()
    })
    .await?;
    let site = chosen(&running)[0].clone();
    Ok((running, site))
}

async fn confidential_workload(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "workloads-a").await?;
    let client = &installation.management;
    let namespace = tenant_with_namespace(client, "hospital", "hosp", "restricted", &[]).await?;
    let (running, site) = running_workload(
        client,
        &namespace,
        "hospital",
        "clinical-records",
        "confidential",
    )
    .await?;
    ensure!(
        ["state-dc", "national-cloud"].contains(&site.as_str()),
        "confidential data placed on {site}"
    );
    ensure!(
        deployed_on(&plane, &namespace, "clinical-records").await? == [site.clone()],
        "deployed elsewhere too"
    );

    // What runs there carries the classification the site's admission policies check.
    let member_client = member(&plane, &site).await?;
    let deployment = Api::<Deployment>::namespaced(member_client.clone(), &namespace)
        .get("clinical-records")
        .await?;
    ensure!(
        deployment
            .labels()
            .get("soberana.io/classification")
            .map(String::as_str)
            == Some("confidential")
    );
    let spec = deployment.spec.unwrap();
    ensure!(spec.replicas == Some(2));
    ensure!(
        spec.template
            .metadata
            .unwrap()
            .labels
            .unwrap()
            .get("soberana.io/classification")
            .map(String::as_str)
            == Some("confidential")
    );
    Api::<Service>::namespaced(member_client, &namespace)
        .get("clinical-records")
        .await
        .context("the Service")?;

    // The decision is in the status, with every rejected site's reasons.
    let status = running.status.unwrap();
    let decision = status.decision.unwrap();
    let public = decision
        .rejected
        .iter()
        .find(|rejection| rejection.site == "public-cloud")
        .context("public-cloud is rejected")?;
    ensure!(
        public
            .reasons
            .iter()
            .any(|reason| reason.code == ReasonCode::JurisdictionNotAllowed),
        "{public:?}"
    );
    ensure!(
        decision
            .eligible
            .iter()
            .all(|score| score.site != "public-cloud")
    );
    let entry = status
        .sites
        .iter()
        .find(|entry| entry.site == site)
        .unwrap();
    ensure!(
        entry.state.as_str() == "Running"
            && entry.desired_replicas == 2
            && entry.available_replicas == 2,
        "{entry:?}"
    );

    let labels = [
        ("tenant", "hospital"),
        ("workload", "hosp-prod/clinical-records"),
        ("site", site.as_str()),
    ];
    ensure!(
        operator
            .metric("soberana_workload_available", &labels)
            .await?
            == 1.0
    );
    let target = operator
        .metric(
            "soberana_workload_availability_target_ratio",
            &[("workload", "hosp-prod/clinical-records")],
        )
        .await?;
    ensure!(
        (target - 0.999).abs() < 1e-9,
        "availability target {target}"
    );

    // Running and unchanged, it costs reads only: no write to any cluster.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = writes(&operator).await?;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = writes(&operator).await?;
    ensure!(
        after == before,
        "{} writes while the workload was steady",
        after - before
    );

    // Deleting the Workload removes it from the site.
    Api::<Workload>::namespaced(client.clone(), &namespace)
        .delete("clinical-records", &Default::default())
        .await?;
    wait_until("the copy to be removed", CONVERGE, || async {
        Ok(deployed_on(&plane, &namespace, "clinical-records")
            .await?
            .is_empty())
    })
    .await?;
    Ok(())
}

async fn failover(plane: Arc<ControlPlane>) -> Result<()> {
    // With a decision ledger: the operator appends each placement decision to it.
    let ledger = EtcdServer::start().await?;
    let settings = OperatorSettings {
        ledger_etcd: Some(ledger.endpoint()),
        ..OperatorSettings::default()
    };
    let (installation, _operator) = start_with(&plane, "workloads-b", &settings).await?;
    let client = &installation.management;
    let (namespace, failed, other) =
        confidential_on_either_state_site(client, "pensions", "pens", "payments").await?;
    let cluster = plane.cluster(&failed)?;
    cluster.stop_api_server();
    let stopped = Instant::now();
    let outcome = async {
        let moved = wait_workload(
            client,
            &namespace,
            "payments",
            "failed over",
            CONVERGE,
            |workload| chosen(workload) == [other.to_owned()],
        )
        .await?;
        let took = stopped.elapsed();
        // Noticing takes a probe (2 s here), then the grace period, then a reconcile.
        ensure!(
            took < Duration::from_secs(u64::from(GRACE_SECONDS) + 30),
            "failover took {took:?}"
        );
        let status = moved.status.unwrap();
        let record = status.last_failover.context("no failover record")?;
        ensure!(
            record.from == [failed.clone()] && record.to == [other.to_owned()],
            "{record:?}"
        );
        ensure!(
            record.reason.contains(&format!(
                "site {failed} has not been Ready for more than {GRACE_SECONDS}s"
            )),
            "{record:?}"
        );
        wait_workload(
            client,
            &namespace,
            "payments",
            "running on the other site",
            CONVERGE,
            |workload| phase(workload) == Some(WorkloadPhase::Running),
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    cluster.start_api_server().await?;
    outcome?;
    // Back: the stale copy is removed, and the workload does not flap back.
    wait_until("the stale copy to be removed", CONVERGE, || async {
        Ok(deployed_on(&plane, &namespace, "payments").await? == [other.to_owned()])
    })
    .await?;
    let sites: Api<Site> = Api::all(client.clone());
    wait_until("the failed site to be Ready again", CONVERGE, || async {
        let site = sites.get(&failed).await?;
        Ok(site
            .status
            .unwrap_or_default()
            .conditions
            .iter()
            .any(|condition| condition.type_ == "Ready" && condition.status == "True"))
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let settled = Api::<Workload>::namespaced(client.clone(), &namespace)
        .get("payments")
        .await?;
    ensure!(
        chosen(&settled) == [other.to_owned()],
        "the workload flapped back: {:?}",
        chosen(&settled)
    );
    ensure!(phase(&settled) == Some(WorkloadPhase::Running));
    let store =
        EtcdStore::connect(&[ledger.endpoint()], "/soberana/", &EtcdSecurity::default()).await?;
    let records = store.records(1, 100).await?;
    ensure!(verify(&records).is_ok(), "{:?}", verify(&records));
    let decisions: Vec<String> = records
        .iter()
        .filter(|record| {
            record.subject == "pens-prod/payments" && record.actor == "soberana-operator"
        })
        .map(|record| {
            serde_json::from_str::<Value>(&record.payload_json)
                .map(|payload| payload["decision"].as_str().unwrap_or_default().to_owned())
        })
        .collect::<Result<_, _>>()?;
    ensure!(
        decisions == ["Placed", "FailedOver"],
        "ledger decisions: {decisions:?}"
    );
    Ok(())
}

async fn stranded(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "workloads-c").await?;
    let client = &installation.management;
    let namespace =
        tenant_with_namespace(client, "electoral-roll", "roll", "restricted", &[]).await?;
    let (_, site) =
        running_workload(client, &namespace, "electoral-roll", "voters", "restricted").await?;
    ensure!(site == "state-dc", "restricted data placed on {site}");
    let cluster = plane.cluster("state-dc")?;
    cluster.stop_api_server();
    let outcome = stranded_checks(&plane, client, &namespace, &operator).await;
    cluster.start_api_server().await?;
    outcome
}

async fn stranded_checks(
    plane: &ControlPlane,
    client: &Client,
    namespace: &str,
    operator: &OperatorProcess,
) -> Result<()> {
    let degraded = wait_workload(
        client,
        namespace,
        "voters",
        "degraded",
        CONVERGE,
        |workload| {
            workload.status.as_ref().is_some_and(|status| {
                status.conditions.iter().any(|condition| {
                    condition.type_ == "Degraded" && condition.reason == "Stranded"
                })
            })
        },
    )
    .await?;
    ensure!(
        chosen(&degraded) == ["state-dc".to_owned()],
        "it left: {:?}",
        chosen(&degraded)
    );
    let condition = degraded
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|condition| condition.type_ == "Degraded")
        .unwrap();
    ensure!(
        condition
            .message
            .contains("site state-dc has not been Ready")
            && condition.message.contains("no other site may host it"),
        "{condition:?}"
    );
    let stranded = operator
        .metric(
            "soberana_workload_stranded",
            &[("workload", "roll-prod/voters")],
        )
        .await?;
    ensure!(stranded == 1.0, "soberana_workload_stranded is {stranded}");
    // Still nowhere else, a while later.
    tokio::time::sleep(Duration::from_secs(u64::from(GRACE_SECONDS))).await;
    for site in ["national-cloud", "public-cloud"] {
        let client = member(plane, site).await?;
        ensure!(
            Api::<Deployment>::namespaced(client, namespace)
                .get_opt("voters")
                .await?
                .is_none(),
            "restricted data was moved to {site}"
        );
    }
    Ok(())
}

async fn policy_change(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "workloads-d").await?;
    let client = &installation.management;
    let (namespace, first, other) =
        confidential_on_either_state_site(client, "revenue", "rev", "returns").await?;
    // The first site loses the certification confidential data requires.
    let sites: Api<Site> = Api::all(client.clone());
    let certifications = sites.get(&first).await?.spec.certifications;
    let without: Vec<&String> = certifications
        .iter()
        .filter(|name| *name != "ISO27001")
        .collect();
    sites
        .patch(
            &first,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"certifications": without}})),
        )
        .await?;
    let outcome = async {
        let moved = wait_workload(
            client,
            &namespace,
            "returns",
            "moved",
            CONVERGE,
            |workload| chosen(workload) == [other.to_owned()],
        )
        .await?;
        let placed = moved
            .status
            .unwrap()
            .conditions
            .into_iter()
            .find(|condition| condition.type_ == "Placed")
            .unwrap();
        ensure!(placed.status == "True", "{placed:?}");
        wait_until(
            "the copy on the ineligible site to be removed",
            CONVERGE,
            || async {
                Ok(deployed_on(&plane, &namespace, "returns").await? == [other.to_owned()])
            },
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    sites
        .patch(
            &first,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"certifications": certifications}})),
        )
        .await?;
    outcome
}

async fn unplaceable(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "workloads-e").await?;
    let client = &installation.management;
    let namespace =
        tenant_with_namespace(client, "tourism", "tour", "restricted", &["public-cloud"]).await?;
    create_workload(
        client,
        &workload("visas", &namespace, "tourism", "restricted"),
    )
    .await?;
    let found = wait_workload(
        client,
        &namespace,
        "visas",
        "unplaceable",
        CONVERGE,
        |workload| phase(workload) == Some(WorkloadPhase::Unplaceable),
    )
    .await?;
    let status = found.status.unwrap();
    ensure!(status.chosen_sites.is_empty());
    let decision = status.decision.unwrap();
    let rejected: Vec<&str> = decision
        .rejected
        .iter()
        .map(|rejection| rejection.site.as_str())
        .collect();
    ensure!(
        rejected
            == SITES
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>(),
        "rejected: {rejected:?}"
    );
    for rejection in &decision.rejected {
        ensure!(
            !rejection.reasons.is_empty(),
            "{} has no reason",
            rejection.site
        );
    }
    let placed = status
        .conditions
        .iter()
        .find(|condition| condition.type_ == "Placed")
        .unwrap();
    ensure!(
        placed.status == "False" && placed.reason == "NoEligibleSite",
        "{placed:?}"
    );
    ensure!(deployed_on(&plane, &namespace, "visas").await?.is_empty());
    let events = Api::<k8s_openapi::api::events::v1::Event>::namespaced(client.clone(), &namespace)
        .list(&Default::default())
        .await?;
    ensure!(
        events
            .items
            .iter()
            .any(|event| event.reason.as_deref() == Some("Unplaceable")),
        "no Unplaceable Event"
    );
    Ok(())
}

/// A Site reports what its nodes hold; a workload needing more than their free CPU is not placed
/// there (the declared capacity is far larger), and is once a node joins.
async fn bounded_by_nodes(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "workloads-f").await?;
    let client = &installation.management;
    let sites: Api<Site> = Api::all(client.clone());
    wait_until("public-cloud to report its node", CONVERGE, || async {
        let nodes = sites
            .get("public-cloud")
            .await?
            .status
            .unwrap_or_default()
            .nodes;
        Ok(nodes.is_some_and(|nodes| {
            nodes.ready == 1
                && nodes.allocatable.cpu_millicores == NodeShape::default().cpu_millicores
        }))
    })
    .await?;
    let namespace =
        tenant_with_namespace(client, "census", "cens", "internal", &["public-cloud"]).await?;
    let mut big = workload("tally", &namespace, "census", "internal");
    // 3 × 3 CPUs: more than the site's one 8-CPU node, far less than its declared capacity.
    big["spec"]["replicas"] = json!(3);
    big["spec"]["resources"]["cpuMillicores"] = json!(3_000);
    create_workload(client, &big).await?;
    let refused = wait_workload(
        client,
        &namespace,
        "tally",
        "unplaceable",
        CONVERGE,
        |workload| phase(workload) == Some(WorkloadPhase::Unplaceable),
    )
    .await?;
    let reasons = refused.status.unwrap().decision.unwrap().rejected;
    let capacity = reasons
        .iter()
        .filter(|rejection| rejection.site == "public-cloud")
        .flat_map(|rejection| &rejection.reasons)
        .find(|reason| reason.code == ReasonCode::InsufficientCapacity)
        .context("public-cloud was not refused for capacity")?;
    let free = sites
        .get("public-cloud")
        .await?
        .status
        .and_then(|status| status.nodes)
        .context("no nodes observed")?
        .free;
    ensure!(
        capacity.message.contains("what its nodes have free")
            && capacity.message.contains("needs 9000m CPU")
            && capacity.message.contains(&format!(
                "has {}m CPU, {} MiB memory",
                free.cpu_millicores, free.memory_mebibytes
            )),
        "{} (nodes: {free} free)",
        capacity.message
    );

    plane
        .cluster("public-cloud")?
        .register_simulated_node("public-cloud-node-2", NodeShape::default())
        .await?;
    wait_workload(
        client,
        &namespace,
        "tally",
        "running once a node joined",
        CONVERGE,
        |workload| {
            phase(workload) == Some(WorkloadPhase::Running)
                && chosen(workload) == ["public-cloud".to_owned()]
        },
    )
    .await?;

    // A template asking more of one Pod than any node holds (its Workload declared little): the
    // site's scheduler cannot place it, and the Workload says so with the scheduler's reason.
    let mut oversized = workload("census-archive", &namespace, "census", "internal");
    oversized["spec"]["replicas"] = json!(1);
    oversized["spec"]["resources"]["cpuMillicores"] = json!(100);
    oversized["spec"]["template"]["deployment"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "12"}, "limits": {"cpu": "12"}});
    create_workload(client, &oversized).await?;
    let stuck = wait_workload(
        client,
        &namespace,
        "census-archive",
        "unschedulable",
        CONVERGE,
        |workload| {
            workload.status.as_ref().is_some_and(|status| {
                status
                    .sites
                    .iter()
                    .any(|entry| entry.state == WorkloadSiteState::Unschedulable)
            })
        },
    )
    .await?;
    let degraded = stuck
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|condition| condition.type_ == "Degraded")
        .context("no Degraded condition")?;
    ensure!(
        degraded.status == "True"
            && degraded.reason == "Unschedulable"
            && degraded.message.contains("Insufficient cpu"),
        "{degraded:?}"
    );
    Ok(())
}

/// A site's nodes stop answering (its API server still does): the site is not Ready
/// (`NoReadyNodes`), and after the grace period the workload is moved and runs elsewhere.
async fn node_failover(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "workloads-g").await?;
    let client = &installation.management;
    let (namespace, failed, other) =
        confidential_on_either_state_site(client, "lottery", "lott", "draws").await?;
    let cluster = plane.cluster(&failed)?;
    cluster.stop_simulated_nodes();
    let outcome = async {
        let sites: Api<Site> = Api::all(client.clone());
        wait_until("the site to report no Ready node", CONVERGE, || async {
            let site = sites.get(&failed).await?;
            Ok(site
                .status
                .unwrap_or_default()
                .conditions
                .iter()
                .any(|condition| {
                    condition.type_ == "Ready"
                        && condition.status == "False"
                        && condition.reason == "NoReadyNodes"
                }))
        })
        .await?;
        let moved = wait_workload(
            client,
            &namespace,
            "draws",
            "moved and running",
            CONVERGE,
            |workload| {
                chosen(workload) == [other.to_owned()]
                    && phase(workload) == Some(WorkloadPhase::Running)
            },
        )
        .await?;
        let record = moved
            .status
            .unwrap()
            .last_failover
            .context("no failover record")?;
        ensure!(record.from == [failed.clone()], "{record:?}");
        anyhow::Ok(())
    }
    .await;
    cluster.start_simulated_nodes()?;
    outcome
}

/// A template over the size limit (padded with an environment variable the API server accepts)
/// is reported on the Workload and deployed nowhere; cut to size, the same Workload runs.
async fn oversized_template(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, _operator) = start(&plane, "workloads-h").await?;
    let client = &installation.management;
    let namespace =
        tenant_with_namespace(client, "archives", "arch", "restricted", &["state-dc"]).await?;
    let mut object = workload("scans", &namespace, "archives", "internal");
    let padding = "x".repeat(MAX_TEMPLATE_BYTES + 1024);
    object["spec"]["template"]["deployment"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "PADDING", "value": padding}]);
    create_workload(client, &object).await?;
    let refused = wait_workload(
        client,
        &namespace,
        "scans",
        "refused for its template's size",
        CONVERGE,
        |workload| {
            workload.status.as_ref().is_some_and(|status| {
                status.conditions.iter().any(|condition| {
                    condition.type_ == "Placed"
                        && condition.status == "False"
                        && condition.reason == "Invalid"
                })
            })
        },
    )
    .await?;
    let placed = refused
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|condition| condition.type_ == "Placed")
        .unwrap();
    ensure!(
        placed.message.contains("spec.template is")
            && placed
                .message
                .contains(&format!("at most {MAX_TEMPLATE_BYTES} bytes")),
        "{placed:?}"
    );
    ensure!(
        deployed_on(&plane, &namespace, "scans").await?.is_empty(),
        "an oversized template was deployed"
    );
    object["spec"]["template"]["deployment"]["template"]["spec"]["containers"][0]["env"] =
        json!([{"name": "PADDING", "value": "short"}]);
    create_workload(client, &object).await?;
    wait_workload(
        client,
        &namespace,
        "scans",
        "Running once cut to size",
        CONVERGE,
        |workload| phase(workload) == Some(WorkloadPhase::Running),
    )
    .await?;
    ensure!(deployed_on(&plane, &namespace, "scans").await? == ["state-dc"]);
    Ok(())
}

/// A migration as an agency makes it, with the operator doing the rest: planned and submitted
/// through the API with the `soberana` CLI, its watches opened before the operator runs (so they
/// see Pending), then placed and deployed by the operator. The CLI's watch follows the Workload
/// its team gave a template to Running, with its replica available on the chosen site, where its
/// Pod runs on the site's node; the watch of a migration with nothing to deploy ends by itself
/// once the operator has placed it; and the API's answers name the sites the operator chose.
async fn migration_through_the_api(plane: Arc<ControlPlane>) -> Result<()> {
    // The data centre, an agency and the API, but no operator yet.
    let installation = install(&plane, "mgmt", &MEMBER_SITES).await?;
    let client = installation.management.clone();
    let mut agency = tenant("civil-registry", "civr", &[], &["prod"]);
    agency["spec"]["highestClassification"] = json!("restricted");
    apply(&client, &agency).await?;
    let namespace = "civr-prod";
    let token = agency_token(&client, namespace, "migrator").await?;
    let api = ApiProcess::start(&plane).await?;

    let directory = plane.cluster("mgmt")?.directory().join("migration");
    std::fs::create_dir_all(&directory)?;
    let file = directory.join("workload.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata:\n  name: expedientes\n  namespace: {namespace}\nspec:\n  tenant: civil-registry\n  classification: restricted\n  resources:\n    cpuMillicores: 200\n    memoryMebibytes: 256\n  replicas: 1\n"
        ),
    )?;
    let file = file.to_str().context("a non-UTF-8 path")?;
    let (code, table, stderr) = api.cli(&token, &["plan", "-f", file]).await?;
    ensure!(code == 0, "plan: {stderr}");
    ensure!(
        table.contains("Chosen: state-dc")
            && table.contains("rejected public-cloud")
            && table.contains("Reserved on state-dc"),
        "{table}"
    );
    // Two migrations: one its team will give a template, one with nothing to deploy.
    for name in ["expedientes", "registro"] {
        let (code, plan, stderr) = api.cli(&token, &["plan", "-f", file, "-o", "json"]).await?;
        ensure!(code == 0, "plan -o json: {stderr}");
        let plan: Value = serde_json::from_str(&plan)?;
        let plan_id = plan["planId"].as_str().context("no planId")?;
        let (code, _, stderr) = api
            .cli(&token, &["submit", plan_id, "--name", name])
            .await?;
        ensure!(code == 0, "submit {name}: {stderr}");
    }
    let watch = |name: &str| -> Result<_> {
        let mut command = api.cli_command(&token, &["watch", &format!("{namespace}/{name}")])?;
        Ok(async move { command.output().await })
    };
    let running = tokio::spawn(watch("expedientes")?);
    let placed = tokio::spawn(watch("registro")?);
    wait_until("both watches to be open", CONVERGE, || async {
        Ok(api.open_watches().await? == 2.0)
    })
    .await?;
    // The institution's team says what to run (the API's migrations carry no template).
    Api::<Workload>::namespaced(client.clone(), namespace)
        .patch(
            "expedientes",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"spec": {"template": {"deployment": {"template": {"spec": {
                    "containers": [{"name": "app", "image": "registry.invalid/expedientes:1"}]
                }}}}}}),
            ),
        )
        .await?;

    let (_, _operator) = start(&plane, "workloads-api").await?;
    let watched = tokio::time::timeout(CONVERGE, placed).await???;
    let text = String::from_utf8_lossy(&watched.stdout);
    ensure!(
        text.lines()
            .next()
            .is_some_and(|line| line.contains("PENDING"))
            && text
                .lines()
                .last()
                .is_some_and(|line| line.contains("PLACED")),
        "the watch of a migration with nothing to deploy, until it ended: {text}"
    );
    let watched = tokio::time::timeout(CONVERGE, running).await???;
    let text = String::from_utf8_lossy(&watched.stdout);
    ensure!(
        watched.status.success(),
        "watch: {text} {}",
        String::from_utf8_lossy(&watched.stderr)
    );
    ensure!(
        text.lines()
            .next()
            .is_some_and(|line| line.contains("PENDING"))
            && text.lines().last().is_some_and(|line| {
                line.contains("RUNNING") && line.contains("state-dc") && line.contains("1/1")
            }),
        "{text}"
    );
    ensure!(api.open_watches().await? == 0.0, "no stream left open");

    // Its Pod runs on the chosen site's node.
    let pods = Api::<Pod>::namespaced(member(&plane, "state-dc").await?, namespace)
        .list(&kube::api::ListParams::default())
        .await?;
    ensure!(
        pods.items.iter().any(|pod| {
            pod.status
                .as_ref()
                .and_then(|status| status.phase.as_deref())
                == Some("Running")
                && pod
                    .spec
                    .as_ref()
                    .and_then(|spec| spec.node_name.as_ref())
                    .is_some()
        }),
        "no Running Pod of expedientes on state-dc: {:?}",
        pods.items
            .iter()
            .map(ResourceExt::name_any)
            .collect::<Vec<_>>()
    );

    // The API's answers carry the sites the operator chose.
    let (code, got, stderr) = api
        .cli(
            &token,
            &["get", &format!("{namespace}/expedientes"), "-o", "json"],
        )
        .await?;
    ensure!(code == 0, "get: {stderr}");
    let got: Value = serde_json::from_str(&got)?;
    ensure!(got["chosenSites"] == json!(["state-dc"]), "{got}");
    // A security team asks what requiring SOC2 (which no site holds) of `restricted` would do:
    // the workload the operator placed on state-dc would be stranded there.
    let (_, mut restricted) = yaml_documents(&examples_directory().join("classifications.yaml"))?
        .into_iter()
        .find(|(_, object)| object["metadata"]["name"] == "restricted")
        .context("examples/ define restricted")?;
    let required = restricted["spec"]["requiredCertifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    restricted["spec"]["requiredCertifications"] =
        Value::Array(required.into_iter().chain([json!("SOC2")]).collect());
    let proposed = directory.join("restricted.yaml");
    std::fs::write(&proposed, serde_norway::to_string(&restricted)?)?;
    let security = policy_author_token(
        &client,
        "default",
        "security-team",
        &["dataclassifications"],
    )
    .await?;
    let (code, impact, stderr) = api
        .cli(
            &security,
            &[
                "what-if",
                "--proposed",
                proposed.to_str().context("a non-UTF-8 path")?,
                "-o",
                "json",
            ],
        )
        .await?;
    ensure!(code == 1, "what-if (something would change): {stderr}");
    let impact: Value = serde_json::from_str(&impact)?;
    let expedientes = impact["workloads"]
        .as_array()
        .context("no workloads in the impact")?
        .iter()
        .find(|item| item["workload"] == format!("{namespace}/expedientes"))
        .with_context(|| format!("expedientes is not in the impact: {impact}"))?;
    ensure!(
        expedientes["change"] == "Stranded"
            && expedientes["from"] == json!(["state-dc"])
            && expedientes["to"] == json!(["state-dc"]),
        "{expedientes}"
    );
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}
