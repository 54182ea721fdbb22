//! A member whose API server freezes for 90 s (SIGSTOP: its port and connections stay open,
//! nothing answers) holds up only the work on that site: a new Tenant is provisioned on the healthy sites
//! and its status written within the usual time, with the frozen site reported not provisioned
//! and why; an agreement revoked on a healthy site closes there within the usual time; the Site
//! probe reports the frozen site not ready; the timeouts are counted. Thawed, the site converges.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

mod common;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::ListParams;
use kube::{Api, Client};
use serde_json::{Value, json};
use soberana_core::resources::data_exchange::{DataExchange, ExchangeState};
use soberana_core::resources::site::Site;
use soberana_core::resources::tenant::{ProvisioningState, Tenant};
use soberana_core::resources::workload::Workload;
use soberana_e2e::state_data_centre::apply;
use soberana_e2e::{Cluster, ControlPlane, Suite, wait_until};
use tokio::time::Instant;

use common::{condition, institution, member, start, tenant, wait_ready};

/// How long setting things up may take.
const CONVERGE: Duration = Duration::from_secs(90);
/// How long a healthy site's work usually takes, with room for the frozen site's calls to time
/// out once (`--member-request-timeout`, 10 s by default). Without deadlines, the frozen site holds
/// the work until TCP gives up, far longer.
const USUAL: Duration = Duration::from_secs(30);
/// How long the member stays frozen: longer than any retry interval of the operator.
const FREEZE: Duration = Duration::from_secs(90);
/// The member that freezes, and one that stays healthy.
const FROZEN: &str = "national-cloud";
const HEALTHY: &str = "state-dc";

fn main() -> ExitCode {
    Suite::new(&["mgmt", "state-dc", "national-cloud", "public-cloud"])
        .test(
            "a_frozen_member_holds_up_only_its_own_site_and_converges_once_thawed",
            frozen_member,
        )
        .run()
}

/// Thaws the frozen API server when dropped, so that a failing test leaves no member frozen.
struct Thaw<'a>(&'a Cluster);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        self.0.freeze_api_server(false);
    }
}

async fn frozen_member(plane: Arc<ControlPlane>) -> Result<()> {
    let (installation, operator) = start(&plane, "frozen-member").await?;
    let client = &installation.management;
    let both = [HEALTHY, FROZEN];
    // Before the freeze: a tenant on both sites, so that the operator holds pooled connections
    // to the member that freezes (a half-open connection is the case TCP takes longest over).
    apply(client, &tenant("early-bird", "ebd", &both, &["prod"])).await?;
    wait_ready(client, "early-bird", CONVERGE).await?;
    // An agreement whose path is on the healthy site only.
    let registry = institution(client, "land-registry", "lrg", &[HEALTHY]).await?;
    let clinic = institution(client, "rural-clinic", "rcl", &[HEALTHY]).await?;
    place(client, &registry, "titles", "land-registry").await?;
    place(client, &clinic, "intake", "rural-clinic").await?;
    let in_an_hour = Timestamp::now() + SignedDuration::from_hours(1);
    apply(client, &agreement(in_an_hour)).await?;
    let healthy = member(&plane, HEALTHY).await?;
    wait_until("the agreement's path to open", CONVERGE, || async {
        Ok(!paths(&healthy).await?.is_empty())
    })
    .await?;
    let timeouts_before = operator
        .metric(
            "soberana_member_request_timeouts_total",
            &[("site", FROZEN)],
        )
        .await?;

    let cluster = plane.cluster(FROZEN)?;
    cluster.freeze_api_server(true);
    let thaw = Thaw(cluster);
    let frozen_at = Instant::now();

    // A new tenant on both sites: the healthy one gets its namespace, and the status says so
    // and names why the frozen one is not provisioned, within the usual time.
    apply(client, &tenant("late-comer", "ltc", &both, &["prod"])).await?;
    let namespaces: Api<Namespace> = Api::all(healthy.clone());
    wait_until(
        &format!("the new tenant's namespace on {HEALTHY}"),
        USUAL,
        || async { Ok(namespaces.get_opt("ltc-prod").await?.is_some()) },
    )
    .await?;
    let tenants: Api<Tenant> = Api::all(client.clone());
    let seen = std::sync::Mutex::new(None);
    wait_until(
        &format!("the new tenant's status: {HEALTHY} provisioned, {FROZEN} pending on a timeout"),
        USUAL,
        || async {
            let status = tenants.get("late-comer").await?.status.unwrap_or_default();
            *seen.lock().unwrap() = Some(status.clone());
            let state = |site: &str| {
                status
                    .sites
                    .iter()
                    .find(|entry| entry.site == site)
                    .cloned()
            };
            let frozen_timed_out = state(FROZEN).is_some_and(|entry| {
                entry.state == ProvisioningState::Pending
                    && entry
                        .message
                        .as_deref()
                        .is_some_and(|message| message.contains("did not answer within"))
            });
            Ok(
                state(HEALTHY).map(|entry| entry.state) == Some(ProvisioningState::Provisioned)
                    && frozen_timed_out,
            )
        },
    )
    .await
    .with_context(|| format!("the status last seen: {:?}", seen.lock().unwrap()))?;
    let status = tenants.get("late-comer").await?.status.unwrap_or_default();
    let ready = condition(&status.conditions, "Ready").unwrap();
    let degraded = condition(&status.conditions, "Degraded").unwrap();
    ensure!(ready.status == "False", "{ready:?}");
    ensure!(degraded.status == "True", "{degraded:?}");

    // An agreement revoked meanwhile closes its path on the healthy site within the usual time.
    let mut revoked = agreement(in_an_hour);
    revoked["spec"]["revocation"] =
        json!({"revokedBy": "Data Protection Officer", "reason": "audit finding"});
    apply(client, &revoked).await?;
    wait_until(
        &format!("the revoked agreement's path on {HEALTHY} to close"),
        USUAL,
        || async { Ok(paths(&healthy).await?.is_empty()) },
    )
    .await?;
    let exchanges: Api<DataExchange> = Api::all(client.clone());
    wait_until("the agreement to be reported revoked", USUAL, || async {
        let exchange = exchanges.get("titles-to-intake").await?;
        Ok(exchange.status.and_then(|status| status.state) == Some(ExchangeState::Revoked))
    })
    .await?;

    // The probe reports the frozen site, and the timeouts are counted by site.
    let sites: Api<Site> = Api::all(client.clone());
    wait_until(&format!("Site {FROZEN} to be not ready"), USUAL, || async {
        let status = sites.get(FROZEN).await?.status.unwrap_or_default();
        Ok(condition(&status.conditions, "Ready").is_some_and(|ready| ready.status == "False"))
    })
    .await?;
    let timeouts = operator
        .metric(
            "soberana_member_request_timeouts_total",
            &[("site", FROZEN)],
        )
        .await?;
    ensure!(
        timeouts > timeouts_before,
        "no timeout counted for {FROZEN}: {timeouts_before} then {timeouts}"
    );
    let healthy_timeouts = operator
        .metric(
            "soberana_member_request_timeouts_total",
            &[("site", HEALTHY)],
        )
        .await?;
    ensure!(
        healthy_timeouts == 0.0,
        "{healthy_timeouts} timeouts on {HEALTHY}"
    );

    // For the rest of a long freeze, the healthy site stays served: an edit of a tenant on both
    // sites reaches it within the usual time, and what is provisioned there stays reported so.
    apply(
        client,
        &tenant("early-bird", "ebd", &both, &["prod", "dev"]),
    )
    .await?;
    wait_until(
        &format!("the edited tenant's new namespace on {HEALTHY}"),
        USUAL,
        || async { Ok(namespaces.get_opt("ebd-dev").await?.is_some()) },
    )
    .await?;
    holds_until(
        frozen_at + FREEZE,
        &format!("{HEALTHY} to stay provisioned and ready while {FROZEN} is frozen"),
        || async {
            let late_comer = tenants.get("late-comer").await?.status.unwrap_or_default();
            let provisioned = late_comer.sites.iter().any(|entry| {
                entry.site == HEALTHY && entry.state == ProvisioningState::Provisioned
            });
            let site = sites.get(HEALTHY).await?.status.unwrap_or_default();
            let ready =
                condition(&site.conditions, "Ready").is_some_and(|ready| ready.status == "True");
            Ok(provisioned && ready)
        },
    )
    .await?;

    // Thawed, the frozen site catches up: the new tenant is provisioned there too.
    drop(thaw);
    wait_ready(client, "late-comer", CONVERGE).await?;
    let thawed: Api<Namespace> = Api::all(member(&plane, FROZEN).await?);
    ensure!(
        thawed.get_opt("ltc-prod").await?.is_some(),
        "no namespace on {FROZEN} after the thaw"
    );
    wait_until(
        &format!("Site {FROZEN} to be ready again"),
        CONVERGE,
        || async {
            let status = sites.get(FROZEN).await?.status.unwrap_or_default();
            Ok(condition(&status.conditions, "Ready").is_some_and(|ready| ready.status == "True"))
        },
    )
    .await?;
    Ok(())
}

/// Checks `condition` every second until `until`: it must hold every time (not a wait: a promise
/// that holds for a while).
async fn holds_until<F, Fut>(until: Instant, what: &str, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    while Instant::now() < until {
        ticks.tick().await;
        ensure!(condition().await?, "expected {what}, and it did not hold");
    }
    Ok(())
}

/// A Workload of `tenant` on one site, placed.
async fn place(client: &Client, namespace: &str, name: &str, tenant: &str) -> Result<()> {
    let object = json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "tenant": tenant, "classification": "confidential", "replicas": 1,
            "resources": {"cpuMillicores": 100, "memoryMebibytes": 128},
            "spread": {"minimumSites": 1},
            "template": {"deployment": {"template": {"spec": {"containers": [
                {"name": "app", "image": "registry.invalid/app:1", "ports": [{"containerPort": 8443}]}
            ]}}}}
        }
    });
    apply(client, &object).await?;
    let api: Api<Workload> = Api::namespaced(client.clone(), namespace);
    wait_until(
        &format!("Workload {namespace}/{name} to be placed"),
        CONVERGE,
        || async {
            let chosen = api.get(name).await?.status.unwrap_or_default().chosen_sites;
            Ok(chosen == [HEALTHY])
        },
    )
    .await
}

/// The land registry's titles service, opened to the rural clinic until `not_after`.
fn agreement(not_after: Timestamp) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "DataExchange",
        "metadata": {"name": "titles-to-intake"},
        "spec": {
            "provider": {"tenant": "land-registry", "environment": "prod", "workload": "titles", "ports": [{"port": 8443}]},
            "consumer": {"tenant": "rural-clinic", "environments": ["prod"]},
            "classification": "confidential",
            "purpose": "check a patient's land title for a subsidy",
            "legalBasis": "Ley 9999 art. 4",
            "validity": {"notAfter": not_after.to_string()},
            // Each side approves as an owner (the group `<shortCode>-admins`), as itself.
            "approvals": {"provider": {"approvedBy": "lrg-officer", "groups": ["lrg-admins"]},
                          "consumer": {"approvedBy": "rcl-officer", "groups": ["rcl-admins"]}},
        }
    })
}

/// The agreement's NetworkPolicies on a member.
async fn paths(member: &Client) -> Result<Vec<NetworkPolicy>> {
    Ok(Api::<NetworkPolicy>::all(member.clone())
        .list(&ListParams::default().labels("soberana.io/exchange=titles-to-intake"))
        .await?
        .items)
}
