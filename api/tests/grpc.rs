//! The gRPC API against a real management API server (authentication, authorization, the
//! Soberana objects) and a real etcd (reservations, idempotency, ledger), through real tonic
//! clients: agencies act only in their own tenant, retries do nothing twice, concurrent plans do
//! not overbook, reservations expire or are given back on cancel, a stopped etcd makes the API unavailable and NOT_SERVING
//! until it returns with nothing lost, the ledger verifies, and malformed requests get
//! INVALID_ARGUMENT with field paths.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use soberana_api::server::auth::DEFAULT_TOKEN_AUDIENCE;
use soberana_api::server::checkpoints::schedule::CheckpointSchedule;
use soberana_api::server::checkpoints::signer::CheckpointSettings;
use soberana_api::server::checkpoints::sinks::{
    CheckpointSink, DirectorySink, LogSink, checkpoint_file_name,
};
use soberana_api::server::limits::callers::CallerLimitSettings;
use soberana_api::server::serve::{ReservationLimits, Settings, TlsFiles, serve};
use soberana_api::server::services::migration::{PLAN_ANNOTATION, REQUEST_ANNOTATION, answer_key};
use soberana_api::server::transport_policy::Plaintext;
use soberana_core::ledger::{LedgerRecord, RecordKind, verify};
use soberana_e2e::agency_access::{API_AUDIENCE, agency_token, policy_author_token};
use soberana_e2e::etcd_server::EtcdServer;
use soberana_e2e::operator_process::sum_samples;
use soberana_e2e::soberana_install::{API_RBAC, service_account_token, token_kubeconfig};
use soberana_e2e::soberana_manifests::{examples_directory, install_crds, yaml_documents};
use soberana_e2e::state_data_centre::apply;
use soberana_e2e::{ControlPlane, Suite, wait_until};
use soberana_proto::v1 as proto;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;
use tonic::transport::Channel;
use tonic::{Code, Request};
use tonic_types::StatusExt;

fn main() -> ExitCode {
    Suite::new(&["mgmt"])
        .test("agencies_act_only_in_their_own_tenant", own_tenant_only)
        .test(
            "agencies_list_only_their_own_agreements",
            own_agreements_only,
        )
        .test(
            "a_retry_with_the_same_request_id_does_nothing_twice",
            idempotent_retry,
        )
        .test(
            "concurrent_plans_never_overbook_a_nearly_full_site",
            concurrent_plans,
        )
        .test(
            "a_call_past_its_deadline_is_abandoned_and_its_retry_finds_the_answer",
            deadline,
        )
        .test("a_reservation_expires_after_its_ttl", reservation_expiry)
        .test(
            "cancelling_a_migration_gives_back_its_reservation",
            cancel_releases,
        )
        .test(
            "etcd_stopped_means_unavailable_and_not_serving_then_recovery",
            etcd_outage,
        )
        .test(
            "malformed_requests_get_invalid_argument_with_field_paths",
            malformed_requests,
        )
        .test("the_cli_plans_submits_lists_and_verifies_the_ledger", cli)
        .test(
            "a_watch_ends_when_its_client_leaves",
            watch_lifetime,
        )
        .test(
            "an_address_guessing_tokens_is_refused_without_more_token_reviews",
            token_guessing,
        )
        .test(
            "a_tenant_past_its_reservation_quota_is_refused_naming_the_limit",
            reservation_quota,
        )
        .test(
            "a_caller_past_its_rate_or_streams_is_refused_and_others_are_not",
            caller_limits,
        )
        .test(
            "one_token_with_its_whitespace_varied_is_throttled_as_one_caller",
            whitespace_varied_tokens,
        )
        .test(
            "a_caller_refused_again_and_again_costs_one_access_review_per_five_seconds",
            refusals_cached,
        )
        .test(
            "the_cli_sends_a_token_its_service_account_requests_for_the_api_never_the_kubeconfigs_own",
            kubeconfig_token,
        )
        .test(
            "a_rewritten_suffix_a_cut_tail_and_a_restarted_chain_contradict_signed_checkpoints",
            anchored_ledger,
        )
        .test(
            "what_if_answers_a_security_team_allowed_to_update_the_classification_and_refuses_an_agency",
            what_if_live,
        )
        .run()
}

/// A running API with its etcd, and tokens for two agencies.
struct RunningApi {
    channel: Channel,
    endpoint: String,
    metrics_port: u16,
    etcd: EtcdServer,
    agency_a: String,
    agency_b: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RunningApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn site(name: &str, tier: &str, jurisdiction: &str, cpu: u64) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Site", "metadata": {"name": name},
        "spec": {
            "provider": name, "sovereigntyTier": tier, "jurisdiction": jurisdiction,
            "certifications": ["ISO27001", "TierIII"], "keyCustody": ["StateHeldHsm"],
            "encryptionInTransit": true, "backup": {"copies": 2, "jurisdiction": jurisdiction},
            "offeredAvailability": "99.99",
            "capacity": {"cpuMillicores": cpu, "memoryMebibytes": 1_000_000, "storageGibibytes": 10_000}
        }
    })
}

fn tenant(name: &str, short_code: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Tenant", "metadata": {"name": name},
        "spec": {"displayName": name, "shortCode": short_code, "highestClassification": "restricted",
                 "environments": [{"name": "prod"}], "quota": {"cpuMillicores": 1, "memoryMebibytes": 1}}
    })
}

/// Installs the scenario (idempotent) and starts an API with a fresh etcd.
async fn start(plane: &ControlPlane) -> Result<RunningApi> {
    start_with(plane, |_| {}).await
}

/// [`start`], with the settings changed by `adjust`.
async fn start_with(
    plane: &ControlPlane,
    adjust: impl FnOnce(&mut Settings),
) -> Result<RunningApi> {
    let admin = plane.cluster("mgmt")?.client().await?;
    install_crds(&admin).await?;
    for (_, classification) in yaml_documents(&examples_directory().join("classifications.yaml"))? {
        apply(&admin, &classification).await?;
    }
    apply(&admin, &site("home", "StateOwned", "CR", 2000)).await?;
    apply(&admin, &site("abroad", "ForeignPublic", "US", 100_000)).await?;
    apply(&admin, &tenant("agency-a", "agna")).await?;
    apply(&admin, &tenant("agency-b", "agnb")).await?;
    let agency_a = agency_token(&admin, "agna-prod", "migrator").await?;
    let agency_b = agency_token(&admin, "agnb-prod", "migrator").await?;
    let etcd = EtcdServer::start().await?;
    let store =
        EtcdStore::connect(&[etcd.endpoint()], "/soberana/", &EtcdSecurity::default()).await?;
    let port = free_port()?;
    let metrics_port = free_port()?;
    let mut settings = Settings {
        address: format!("127.0.0.1:{port}").parse()?,
        metrics_address: format!("127.0.0.1:{metrics_port}").parse()?,
        health_address: None,
        tls: TlsFiles::default(),
        plaintext: Plaintext::Loopback,
        token_audience: DEFAULT_TOKEN_AUDIENCE.to_owned(),
        reflection: true,
        reservation_limits: ReservationLimits::default(),
        caller_limits: CallerLimitSettings::default(),
        checkpoints: None,
        management_request_timeouts: None,
    };
    adjust(&mut settings);
    // The API runs as its own ServiceAccount under the chart's RBAC (charts/soberana/files/rbac/api.yaml).
    let cluster = plane.cluster("mgmt")?;
    let api_token = service_account_token(cluster, API_RBAC, "soberana-api").await?;
    let api_client = cluster.client_with_token(&api_token).await?;
    let server = tokio::spawn(async move {
        let _ = serve(
            settings,
            api_client,
            Arc::new(store),
            std::future::pending(),
        )
        .await;
    });
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut channel = None;
    for _ in 0..50 {
        if let Ok(connected) = Channel::from_shared(endpoint.clone())?.connect().await {
            channel = Some(connected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(RunningApi {
        channel: channel.context("the API did not start")?,
        endpoint,
        metrics_port,
        etcd,
        agency_a,
        agency_b,
        server,
    })
}

/// The API's /metrics page.
async fn metrics_text(port: u16) -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await?;
    let mut text = String::new();
    stream.read_to_string(&mut text).await?;
    Ok(text)
}

/// Requests the management cluster's API server has served for `resource` (any group), by
/// its own `apiserver_request_total`, with verb `verb` (`LIST`, `POST`, …; empty: any).
async fn apiserver_requests(admin: &kube::Client, resource: &str, verb: &str) -> Result<f64> {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    let mut labels = vec![("resource", resource)];
    if !verb.is_empty() {
        labels.push(("verb", verb));
    }
    Ok(sum_samples(&text, "apiserver_request_total", &labels))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn workload(classification: &str, cpu: u64) -> proto::WorkloadSpec {
    proto::WorkloadSpec {
        tenant: "agency-a".to_owned(),
        classification: classification.to_owned(),
        resources: Some(proto::Capacity {
            cpu_millicores: cpu,
            memory_mebibytes: 128,
            storage_gibibytes: 0,
        }),
        replicas: 1,
        ..proto::WorkloadSpec::default()
    }
}

impl RunningApi {
    /// Agency A plans request `id` in its namespace, holding capacity for `ttl_seconds`.
    async fn plan_as_agency_a(
        &self,
        id: &str,
        spec: proto::WorkloadSpec,
        ttl_seconds: i64,
    ) -> Result<proto::Plan, tonic::Status> {
        Migrations::new(self.channel.clone())
            .plan_migration(with_token(
                plan_request(id, "agna-prod", spec, ttl_seconds),
                &self.agency_a,
            ))
            .await
            .map(|response| response.into_inner().plan.unwrap_or_default())
    }
}

fn plan_request(
    id: &str,
    namespace: &str,
    spec: proto::WorkloadSpec,
    ttl_seconds: i64,
) -> proto::PlanMigrationRequest {
    proto::PlanMigrationRequest {
        request_id: id.to_owned(),
        namespace: namespace.to_owned(),
        workload: Some(spec),
        reservation_ttl: Some(prost_types::Duration {
            seconds: ttl_seconds,
            nanos: 0,
        }),
    }
}

type Migrations = proto::migration_service_client::MigrationServiceClient<Channel>;

async fn ledger(api: &RunningApi, token: &str) -> Result<Vec<LedgerRecord>> {
    let mut audit = proto::audit_service_client::AuditServiceClient::new(api.channel.clone());
    let mut records = Vec::new();
    let mut token_page = String::new();
    loop {
        let page = audit
            .list_decisions(with_token(
                proto::ListDecisionsRequest {
                    page_size: 2,
                    page_token: token_page.clone(),
                },
                token,
            ))
            .await?
            .into_inner();
        for record in page.records {
            records.push(LedgerRecord {
                sequence: record.sequence,
                kind: match record.kind() {
                    proto::RecordKind::Plan => RecordKind::Plan,
                    proto::RecordKind::Submission => RecordKind::Submission,
                    proto::RecordKind::Cancellation => RecordKind::Cancellation,
                    _ => RecordKind::Placement,
                },
                time: record
                    .record_time
                    .and_then(|time| {
                        k8s_openapi::jiff::Timestamp::new(time.seconds, time.nanos).ok()
                    })
                    .map(|time| time.to_string())
                    .unwrap_or_default(),
                actor: record.actor,
                subject: record.subject,
                payload_json: record.payload_json,
                previous_hash: record.previous_hash,
                hash: record.hash,
            });
        }
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        token_page = page.next_page_token;
    }
}

async fn own_tenant_only(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let plan = api
        .plan_as_agency_a("a-1", workload("restricted", 500), 600)
        .await?;
    let decision = plan.decision.clone().unwrap();
    ensure!(decision.chosen_sites == ["home"], "{decision:?}");
    let abroad = decision
        .rejected
        .iter()
        .find(|rejection| rejection.site == "abroad")
        .context("abroad is rejected")?;
    ensure!(
        abroad
            .reasons
            .iter()
            .any(|reason| reason.code() == proto::ReasonCode::JurisdictionNotAllowed)
    );
    ensure!(plan.reservations.len() == 1 && plan.reservations[0].site == "home");

    let submitted = migrations
        .submit_migration(with_token(
            proto::SubmitMigrationRequest {
                request_id: "a-2".to_owned(),
                plan_id: plan.plan_id.clone(),
                workload_name: "citas".to_owned(),
            },
            &api.agency_a,
        ))
        .await?
        .into_inner()
        .migration
        .unwrap();
    ensure!(submitted.name == "agna-prod/citas");
    let got = migrations
        .get_migration(with_token(
            proto::GetMigrationRequest {
                name: "agna-prod/citas".to_owned(),
            },
            &api.agency_a,
        ))
        .await?
        .into_inner();
    ensure!(got.migration.unwrap().classification == "restricted");

    // Agency A in its own namespace on B's behalf, or naming a tenant that does not exist: the
    // same refusal, naming the field, so tenants cannot be probed.
    let placements =
        proto::placement_service_client::PlacementServiceClient::new(api.channel.clone());
    for claimed in ["agency-b", "no-such-agency"] {
        let mut spec = workload("public", 100);
        spec.tenant = claimed.to_owned();
        let refused = placements
            .clone()
            .evaluate(with_token(
                proto::EvaluateRequest {
                    namespace: "agna-prod".to_owned(),
                    workload: Some(spec),
                },
                &api.agency_a,
            ))
            .await
            .unwrap_err();
        ensure!(
            refused.code() == Code::InvalidArgument
                && refused.message().contains("workload.tenant")
                && refused.message().contains("must be agency-a"),
            "{claimed}: {refused:?}"
        );
    }

    // Agency A in B's tenant: refused, whether or not the object exists.
    let denied = migrations
        .plan_migration(with_token(
            plan_request("a-3", "agnb-prod", workload("public", 100), 600),
            &api.agency_a,
        ))
        .await
        .unwrap_err();
    ensure!(denied.code() == Code::PermissionDenied, "{denied:?}");
    for name in ["agnb-prod/citas", "agnb-prod/does-not-exist"] {
        let refused = migrations
            .get_migration(with_token(
                proto::GetMigrationRequest {
                    name: name.to_owned(),
                },
                &api.agency_a,
            ))
            .await
            .unwrap_err();
        ensure!(
            refused.code() == Code::PermissionDenied,
            "{name}: {refused:?}"
        );
    }
    let other = migrations
        .list_migrations(with_token(
            proto::ListMigrationsRequest {
                namespace: "agna-prod".to_owned(),
                page_size: 0,
                page_token: String::new(),
            },
            &api.agency_b,
        ))
        .await
        .unwrap_err();
    ensure!(other.code() == Code::PermissionDenied);

    // No token, or a forged one.
    let anonymous = migrations
        .get_migration(proto::GetMigrationRequest {
            name: "agna-prod/citas".to_owned(),
        })
        .await
        .unwrap_err();
    ensure!(anonymous.code() == Code::Unauthenticated, "{anonymous:?}");
    let forged = migrations
        .get_migration(with_token(
            proto::GetMigrationRequest {
                name: "agna-prod/citas".to_owned(),
            },
            "not-a-token",
        ))
        .await
        .unwrap_err();
    ensure!(forged.code() == Code::Unauthenticated, "{forged:?}");
    // A genuine token issued for the Kubernetes API, not for this one: refused, so a token the
    // API receives is never one that could be replayed against the cluster.
    let cluster_token = admin_token(&plane, None).await?;
    let wrong_audience = migrations
        .get_migration(with_token(
            proto::GetMigrationRequest {
                name: "agna-prod/citas".to_owned(),
            },
            &cluster_token,
        ))
        .await
        .unwrap_err();
    ensure!(
        wrong_audience.code() == Code::Unauthenticated
            && wrong_audience
                .message()
                .contains("not valid for audience soberana-api"),
        "{wrong_audience:?}"
    );

    // The ledger has the plan and the submission, and verifies.
    let records = ledger(&api, &api.agency_a).await;
    // Agency A may not list the ledger cluster-wide.
    ensure!(records.is_err(), "an agency read the whole ledger");
    let admin_token = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let records = ledger(&api, &admin_token).await?;
    ensure!(records.len() == 2, "{records:?}");
    ensure!(records[0].kind == RecordKind::Plan && records[1].kind == RecordKind::Submission);
    ensure!(records[0].actor == "system:serviceaccount:agna-prod:migrator");
    ensure!(verify(&records) == Ok(2), "{:?}", verify(&records));

    // RED metrics per method and code.
    let metrics = metrics_text(api.metrics_port).await?;
    for sample in [
        "soberana_api_requests_total{code=\"Ok\",method=\"PlanMigration\"} 1",
        "soberana_api_requests_total{code=\"PermissionDenied\",method=\"PlanMigration\"} 1",
        // No token, a forged one, one for another audience.
        "soberana_api_requests_total{code=\"Unauthenticated\",method=\"GetMigration\"} 3",
        "soberana_api_requests_total{code=\"InvalidArgument\",method=\"Evaluate\"} 2",
        "soberana_api_request_duration_seconds_count{method=\"SubmitMigration\"} 1",
    ] {
        ensure!(
            metrics.contains(sample),
            "/metrics lacks {sample}:\n{metrics}"
        );
    }
    Ok(())
}

/// A token with cluster-wide rights (for reading the whole ledger).
/// A token of a cluster-admin ServiceAccount, issued for `audience` (none: the cluster's own).
async fn admin_token(plane: &ControlPlane, audience: Option<&str>) -> Result<String> {
    let admin = plane.cluster("mgmt")?.client().await?;
    let params = PatchParams::apply("soberana-e2e").force();
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), "default");
    let account: ServiceAccount = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "auditor", "namespace": "default"}}),
    )?;
    accounts
        .patch("auditor", &params, &Patch::Apply(&account))
        .await?;
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "auditor"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "auditor", "namespace": "default"}]
    });
    Api::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>::all(admin)
        .patch("auditor", &params, &Patch::Apply(&binding))
        .await?;
    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            audiences: audience.map(|audience| vec![audience.to_owned()]),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    accounts
        .create_token_request("auditor", &PostParams::default(), &request)
        .await?
        .status
        .and_then(|status| status.token)
        .context("no token")
}

async fn idempotent_retry(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let request = plan_request("retry-1", "agna-prod", workload("internal", 300), 600);
    let first = migrations
        .plan_migration(with_token(request.clone(), &api.agency_a))
        .await?
        .into_inner();
    let again = migrations
        .plan_migration(with_token(request, &api.agency_a))
        .await?
        .into_inner();
    ensure!(first == again, "a retried plan differs");
    let submit = proto::SubmitMigrationRequest {
        request_id: "retry-2".to_owned(),
        plan_id: first.plan.unwrap().plan_id,
        workload_name: "portal".to_owned(),
    };
    let created = migrations
        .submit_migration(with_token(submit.clone(), &api.agency_a))
        .await?
        .into_inner();
    let repeated = migrations
        .submit_migration(with_token(submit.clone(), &api.agency_a))
        .await?
        .into_inner();
    ensure!(created == repeated, "a retried submission differs");
    // A replica that stopped after creating the Workload but before storing its answer: the
    // retry finds the Workload its own request created and answers with it.
    forget_answers(&api, "SubmitMigration").await?;
    let after_loss = migrations
        .submit_migration(with_token(submit.clone(), &api.agency_a))
        .await?
        .into_inner();
    ensure!(
        created == after_loss,
        "a retry after a lost answer differs: {after_loss:?}"
    );
    // A replica that stopped after creating the Workload and before recording it: the retry
    // finds that Workload and records the submission then (once).
    let second = api
        .plan_as_agency_a("retry-4", workload("internal", 100), 600)
        .await?;
    let submitter = soberana_api::server::auth::Caller {
        user: "system:serviceaccount:agna-prod:migrator".to_owned(),
        groups: Vec::new(),
        uid: None,
    };
    let admin = plane.cluster("mgmt")?.client().await?;
    let half_done: soberana_core::resources::workload::Workload = serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": "portal-2", "namespace": "agna-prod", "annotations": {
            PLAN_ANNOTATION: second.plan_id,
            REQUEST_ANNOTATION: answer_key(&submitter, "retry-5"),
        }},
        "spec": {"tenant": "agency-a", "classification": "internal",
                 "resources": {"cpuMillicores": 100, "memoryMebibytes": 64}, "replicas": 1}
    }))?;
    let _: soberana_core::resources::workload::Workload = Api::namespaced(admin, "agna-prod")
        .create(&PostParams::default(), &half_done)
        .await?;
    for _ in 0..2 {
        let finished = migrations
            .submit_migration(with_token(
                proto::SubmitMigrationRequest {
                    request_id: "retry-5".to_owned(),
                    plan_id: second.plan_id.clone(),
                    workload_name: "portal-2".to_owned(),
                },
                &api.agency_a,
            ))
            .await?
            .into_inner();
        ensure!(
            finished
                .migration
                .as_ref()
                .map(|migration| migration.name.as_str())
                == Some("agna-prod/portal-2"),
            "{finished:?}"
        );
        forget_answers(&api, "SubmitMigration").await?;
    }
    // Another request for a name already taken is refused, naming the field.
    let taken = migrations
        .submit_migration(with_token(
            proto::SubmitMigrationRequest {
                request_id: "retry-3".to_owned(),
                ..submit
            },
            &api.agency_a,
        ))
        .await
        .unwrap_err();
    ensure!(
        taken.code() == Code::AlreadyExists && taken.message().contains("workload_name"),
        "{taken:?}"
    );
    let admin_token = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let records = ledger(&api, &admin_token).await?;
    let plans = records
        .iter()
        .filter(|record| record.kind == RecordKind::Plan)
        .count();
    let submissions = records
        .iter()
        .filter(|record| record.kind == RecordKind::Submission)
        .count();
    let recorded = |subject: &str| {
        records
            .iter()
            .filter(|record| record.kind == RecordKind::Submission && record.subject == subject)
            .count()
    };
    ensure!(
        (plans, submissions) == (2, 2)
            && recorded("agna-prod/portal") == 1
            && recorded("agna-prod/portal-2") == 1,
        "{records:?}"
    );
    Ok(())
}

/// Deletes the API's stored answers to `method`, as if the replica that did the work had
/// stopped before storing them.
async fn forget_answers(api: &RunningApi, method: &str) -> Result<()> {
    let mut etcd = etcd_client::Client::connect([api.etcd.endpoint()], None).await?;
    let deleted = etcd
        .delete(
            format!("/soberana/requests/{method}/"),
            Some(etcd_client::DeleteOptions::new().with_prefix()),
        )
        .await?;
    ensure!(
        deleted.deleted() > 0,
        "no stored answer to {method} to forget"
    );
    Ok(())
}

/// Cancelling a submitted migration gives its plan's reservation back at once: a plan for the
/// same capacity, which the reservation blocked, then gets it.
async fn cancel_releases(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let plan = api
        .plan_as_agency_a("holder", workload("restricted", 1800), 600)
        .await?;
    ensure!(
        plan.reservations.len() == 1 && plan.reservations[0].site == "home",
        "{plan:?}"
    );
    migrations
        .submit_migration(with_token(
            proto::SubmitMigrationRequest {
                request_id: "holder-submit".to_owned(),
                plan_id: plan.plan_id,
                workload_name: "short-lived".to_owned(),
            },
            &api.agency_a,
        ))
        .await?;
    let blocked = api
        .plan_as_agency_a("waiting-1", workload("restricted", 1800), 600)
        .await
        .unwrap_err();
    ensure!(blocked.code() == Code::ResourceExhausted, "{blocked:?}");
    let cancel = proto::CancelMigrationRequest {
        request_id: "holder-cancel".to_owned(),
        name: "agna-prod/short-lived".to_owned(),
    };
    migrations
        .cancel_migration(with_token(cancel.clone(), &api.agency_a))
        .await?;
    // A replica that stopped after deleting the Workload, before answering: the retry finishes
    // the cancellation (not NOT_FOUND), and the ledger records it once.
    forget_answers(&api, "CancelMigration").await?;
    let retried = migrations
        .cancel_migration(with_token(cancel, &api.agency_a))
        .await?
        .into_inner();
    ensure!(
        retried.migration.map(|migration| migration.phase())
            == Some(proto::MigrationPhase::Cancelled),
        "the retried cancellation"
    );
    let auditor = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let cancellations = ledger(&api, &auditor)
        .await?
        .iter()
        .filter(|record| record.kind == RecordKind::Cancellation)
        .count();
    ensure!(cancellations == 1, "{cancellations} cancellation records");
    let freed = api
        .plan_as_agency_a("waiting-2", workload("restricted", 1800), 600)
        .await?;
    ensure!(
        freed.reservations.len() == 1 && freed.reservations[0].site == "home",
        "{freed:?}"
    );
    Ok(())
}

/// A plan whose caller stops waiting after 300 ms while etcd hangs: the caller gets CANCELLED,
/// the server counts the call as abandoned, and the work it started still completes once etcd
/// answers again, without any retry; a retry with the same request id then gets that plan, and
/// the ledger holds it once.
async fn deadline(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    // Authentication and authorization answers are cached from here on.
    api.plan_as_agency_a("unhurried", workload("public", 100), 600)
        .await?;
    let request = plan_request("hurried", "agna-prod", workload("internal", 300), 600);
    let mut hurried = with_token(request.clone(), &api.agency_a);
    hurried.set_timeout(Duration::from_millis(300));
    api.etcd.freeze(true);
    let refused = migrations.plan_migration(hurried).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    api.etcd.freeze(false);
    let refused = refused.err().context("a plan answered while etcd hung")?;
    ensure!(
        matches!(refused.code(), Code::Cancelled | Code::DeadlineExceeded),
        "{refused:?}"
    );
    let counted = metrics_text(api.metrics_port).await?.lines().any(|line| {
        line.starts_with("soberana_api_requests_total")
            && line.contains("method=\"PlanMigration\"")
            && line.contains("code=\"Cancelled\"")
            && line.ends_with(" 1")
    });
    ensure!(counted, "the abandoned call is not counted as Cancelled");
    let admin_token = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let plan_records = || async {
        anyhow::Ok(
            ledger(&api, &admin_token)
                .await?
                .into_iter()
                .filter(|record| record.kind == RecordKind::Plan)
                .map(|record| record.subject)
                .collect::<Vec<_>>(),
        )
    };
    let mut recorded = Vec::new();
    for _ in 0..50 {
        recorded = plan_records().await?;
        if recorded.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ensure!(
        recorded.len() == 2,
        "the abandoned plan's work did not complete: {recorded:?}"
    );
    let retried = migrations
        .plan_migration(with_token(request.clone(), &api.agency_a))
        .await?
        .into_inner()
        .plan
        .context("no plan")?;
    ensure!(
        retried.reservations.len() == 1 && recorded[1].contains(&retried.plan_id),
        "the retry did not get the abandoned call's plan: {retried:?} vs {recorded:?}"
    );
    ensure!(plan_records().await? == recorded, "the retry planned again");
    Ok(())
}

async fn concurrent_plans(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    // internal may run at home (CR, preferred) or abroad (US): the loser goes abroad.
    let attempts = ["race-1", "race-2"].map(|id| {
        let mut migrations = Migrations::new(api.channel.clone());
        let request = with_token(
            plan_request(id, "agna-prod", workload("internal", 1500), 600),
            &api.agency_a,
        );
        tokio::spawn(async move { migrations.plan_migration(request).await })
    });
    let mut sites = Vec::new();
    for attempt in attempts {
        let plan = match attempt.await? {
            Ok(plan) => plan.into_inner().plan.unwrap(),
            Err(status) => {
                let mut placement = proto::placement_service_client::PlacementServiceClient::new(
                    api.channel.clone(),
                );
                let decision = placement
                    .evaluate(with_token(
                        proto::EvaluateRequest {
                            namespace: "agna-prod".to_owned(),
                            workload: Some(workload("internal", 1500)),
                        },
                        &api.agency_a,
                    ))
                    .await?
                    .into_inner();
                anyhow::bail!("{status:?}; the engine says now: {decision:?}");
            }
        };
        sites.push(
            plan.reservations
                .iter()
                .map(|reservation| reservation.site.clone())
                .collect::<Vec<_>>(),
        );
    }
    sites.sort();
    ensure!(
        sites == [vec!["abroad".to_owned()], vec!["home".to_owned()]],
        "{sites:?}"
    );
    // restricted may only run at home, which has 500m left: a clear RESOURCE_EXHAUSTED.
    let full = api
        .plan_as_agency_a("race-3", workload("restricted", 1500), 600)
        .await
        .unwrap_err();
    ensure!(full.code() == Code::ResourceExhausted, "{full:?}");
    ensure!(full.message().contains("home"), "{}", full.message());
    Ok(())
}

async fn reservation_expiry(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    api.plan_as_agency_a("brief", workload("restricted", 1800), 2)
        .await?;
    let blocked = api
        .plan_as_agency_a("next-1", workload("restricted", 1800), 600)
        .await
        .unwrap_err();
    ensure!(blocked.code() == Code::ResourceExhausted, "{blocked:?}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let plan = api
        .plan_as_agency_a("next-2", workload("restricted", 1800), 600)
        .await?;
    ensure!(
        plan.reservations.len() == 1 && plan.reservations[0].site == "home",
        "{plan:?}"
    );
    Ok(())
}

async fn health(api: &RunningApi) -> Result<i32> {
    let mut client = tonic_health::pb::health_client::HealthClient::new(api.channel.clone());
    Ok(client
        .check(tonic_health::pb::HealthCheckRequest {
            service: "soberana.v1.MigrationService".to_owned(),
        })
        .await?
        .into_inner()
        .status)
}

async fn etcd_outage(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let mut waited = 0;
    while health(&api).await? != serving && waited < 50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += 1;
    }
    ensure!(health(&api).await? == serving, "not SERVING at start");
    api.plan_as_agency_a("before", workload("public", 100), 600)
        .await?;
    api.etcd.stop();
    let failed = api
        .plan_as_agency_a("during", workload("public", 100), 600)
        .await
        .unwrap_err();
    ensure!(failed.code() == Code::Unavailable, "{failed:?}");
    let mut not_serving = false;
    for _ in 0..40 {
        if health(&api).await? != serving {
            not_serving = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(not_serving, "health stayed SERVING with etcd stopped");
    api.etcd.start_again().await?;
    let mut back = false;
    for _ in 0..60 {
        if health(&api).await? == serving {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    ensure!(back, "health did not return to SERVING");
    api.plan_as_agency_a("after", workload("public", 100), 600)
        .await?;
    let admin_token = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let records = ledger(&api, &admin_token).await?;
    ensure!(
        records.len() == 2 && records[0].sequence == 1 && records[1].sequence == 2,
        "{records:?}"
    );
    let _ = verify;
    Ok(())
}

async fn malformed_requests(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let mut bad = workload("restricted", 0);
    bad.resources = None;
    bad.replicas = 0;
    bad.tenant = "x".repeat(300);
    bad.spread = Some(proto::Spread {
        minimum_sites: 1,
        maximum_sites: 0,
        across: 99,
    });
    let status = migrations
        .plan_migration(with_token(
            plan_request("bad-1", "agna-prod", bad, 600),
            &api.agency_a,
        ))
        .await
        .unwrap_err();
    ensure!(status.code() == Code::InvalidArgument, "{status:?}");
    let fields: Vec<String> = status
        .get_details_bad_request()
        .context("no BadRequest details")?
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    for field in [
        "workload.tenant",
        "workload.resources",
        "workload.replicas",
        "workload.spread.across",
    ] {
        ensure!(
            fields.iter().any(|found| found == field),
            "{field} missing from {fields:?}"
        );
    }
    let missing = migrations
        .plan_migration(with_token(
            proto::PlanMigrationRequest {
                request_id: String::new(),
                namespace: "Not A Label".to_owned(),
                workload: None,
                reservation_ttl: None,
            },
            &api.agency_a,
        ))
        .await
        .unwrap_err();
    ensure!(missing.code() == Code::InvalidArgument);
    let fields: Vec<String> = missing
        .get_details_bad_request()
        .unwrap()
        .field_violations
        .into_iter()
        .map(|violation| violation.field)
        .collect();
    ensure!(fields == ["request_id", "namespace"], "{fields:?}");
    // A message over the 4 MiB limit is refused by the transport, not processed.
    let mut huge = workload("public", 100);
    huge.labels
        .insert("padding".to_owned(), "x".repeat(5 * 1024 * 1024));
    let refused = migrations
        .plan_migration(with_token(
            plan_request("bad-2", "agna-prod", huge, 600),
            &api.agency_a,
        ))
        .await
        .unwrap_err();
    ensure!(
        matches!(
            refused.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{refused:?}"
    );
    Ok(())
}

/// The `soberana` CLI, built beside this test by `cargo test --workspace`.
static SOBERANA: std::sync::LazyLock<std::path::PathBuf> = std::sync::LazyLock::new(|| {
    soberana_e2e::workspace_binaries::workspace_binary("soberana").unwrap()
});

/// Runs the CLI against the API as `token`; returns (exit code, stdout, stderr).
async fn soberana(
    api: &RunningApi,
    token: &str,
    arguments: &[&str],
) -> Result<(i32, String, String)> {
    let output = tokio::process::Command::new(&*SOBERANA)
        .args(arguments)
        .args(["--server", &api.endpoint, "--token", token])
        .output()
        .await?;
    Ok((
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

async fn cli(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let directory = std::env::temp_dir().join(format!("soberana-cli-{}", std::process::id()));
    std::fs::create_dir_all(&directory)?;
    let file = directory.join("workload.yaml");
    std::fs::write(
        &file,
        "apiVersion: soberana.io/v1alpha1\nkind: Workload\nmetadata:\n  name: expedientes\n  namespace: agna-prod\nspec:\n  tenant: agency-a\n  classification: restricted\n  resources:\n    cpuMillicores: 200\n    memoryMebibytes: 256\n  replicas: 1\n",
    )?;
    let file = file.display().to_string();

    let (code, table, stderr) = soberana(&api, &api.agency_a, &["plan", "-f", &file]).await?;
    ensure!(code == 0, "plan: {stderr}");
    ensure!(
        table.contains("Chosen: home")
            && table.contains("rejected abroad")
            && table.contains("Reserved on home"),
        "{table}"
    );
    let (code, json_text, stderr) =
        soberana(&api, &api.agency_a, &["plan", "-f", &file, "-o", "json"]).await?;
    ensure!(code == 0, "plan -o json: {stderr}");
    let plan: Value = serde_json::from_str(&json_text)?;
    let plan_id = plan["planId"].as_str().context("no planId")?.to_owned();

    let (code, _, stderr) = soberana(
        &api,
        &api.agency_a,
        &["submit", &plan_id, "--name", "expedientes"],
    )
    .await?;
    ensure!(code == 0, "submit: {stderr}");
    let (code, listed, _) = soberana(
        &api,
        &api.agency_a,
        &["list", "-n", "agna-prod", "-o", "yaml"],
    )
    .await?;
    ensure!(
        code == 0 && listed.contains("agna-prod/expedientes"),
        "{listed}"
    );

    // The watch that follows a migration until it runs needs the operator and member sites'
    // nodes: operator/tests/workloads.rs proves it end to end.

    // Refusals carry the API's code and message; bad input exits 2 with field paths.
    let (code, _, stderr) =
        soberana(&api, &api.agency_b, &["get", "agna-prod/expedientes"]).await?;
    ensure!(code == 1 && stderr.contains("PermissionDenied"), "{stderr}");
    let (code, _, stderr) = soberana(&api, &api.agency_a, &["get", "not-a-name"]).await?;
    ensure!(
        code == 2 && stderr.contains("name: \"not-a-name\" is not namespace/name"),
        "{stderr}"
    );

    let auditor = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let (code, verified, stderr) = soberana(&api, &auditor, &["audit", "verify"]).await?;
    ensure!(
        code == 0 && verified.contains("3 records, every link verified"),
        "{verified} {stderr}"
    );
    let (code, sites, _) = soberana(&api, &auditor, &["sites"]).await?;
    ensure!(
        code == 0 && sites.contains("home") && sites.contains("STATE_OWNED"),
        "{sites}"
    );
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}

/// `WatchMigration` streams being served, by the API's own gauge.
async fn open_watches(api: &RunningApi) -> Result<f64> {
    let text = metrics_text(api.metrics_port).await?;
    Ok(sum_samples(
        &text,
        "soberana_api_open_streams",
        &[("method", "WatchMigration")],
    ))
}

async fn watch_lifetime(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let plan = api
        .plan_as_agency_a("watched", workload("public", 100), 600)
        .await?;
    migrations
        .submit_migration(with_token(
            proto::SubmitMigrationRequest {
                request_id: "watched-submit".to_owned(),
                plan_id: plan.plan_id,
                workload_name: "watched".to_owned(),
            },
            &api.agency_a,
        ))
        .await?;
    let request = || {
        with_token(
            proto::WatchMigrationRequest {
                name: "agna-prod/watched".to_owned(),
            },
            &api.agency_a,
        )
    };

    // A client that leaves mid-watch leaves nothing behind: no task, no watch.
    let mut stream = migrations.watch_migration(request()).await?.into_inner();
    stream.message().await?.context("the first answer")?;
    ensure!(open_watches(&api).await? == 1.0, "one stream open");
    drop(stream);
    wait_until(
        "the abandoned watch to end",
        Duration::from_secs(10),
        || async { Ok(open_watches(&api).await? == 0.0) },
    )
    .await?;

    // Where the stream ends by itself (the operator has placed or deployed it):
    // operator/tests/workloads.rs, with the real operator.
    Ok(())
}

async fn token_guessing(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let get = |token: &str| {
        with_token(
            proto::GetMigrationRequest {
                name: "agna-prod/anything".to_owned(),
            },
            token,
        )
    };
    // Up to the limit, each bad token is reviewed and refused as such…
    for guess in 0..20 {
        let refused = migrations
            .get_migration(get(&format!("guess-{guess}")))
            .await
            .unwrap_err();
        ensure!(
            refused.code() == Code::Unauthenticated,
            "{guess}: {refused:?}"
        );
    }
    // …then the address is refused outright, even with a good token, until its window ends.
    let limited = migrations.get_migration(get("guess-21")).await.unwrap_err();
    ensure!(
        limited.code() == Code::ResourceExhausted
            && limited
                .message()
                .contains("more than 20 failed authentications from this address"),
        "{limited:?}"
    );
    let even_good = migrations
        .get_migration(get(&api.agency_a))
        .await
        .unwrap_err();
    ensure!(even_good.code() == Code::ResourceExhausted, "{even_good:?}");
    let text = metrics_text(api.metrics_port).await?;
    let counted = sum_samples(
        &text,
        "soberana_api_throttled_total",
        &[("reason", "failed_authentications")],
    );
    ensure!(counted >= 2.0, "refusals not counted: {counted}");
    Ok(())
}

/// The API signs a checkpoint after every record into a directory. Three tamperings that keep
/// the hash chain itself intact (so a plain `audit verify` passes) are each found by
/// `audit verify --checkpoint --public-key`, which exits 1 naming the record; the API refuses to
/// sign a chain that does not continue its last checkpoint.
async fn anchored_ledger(plane: Arc<ControlPlane>) -> Result<()> {
    let directory = std::env::temp_dir().join(format!("soberana-anchored-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory)?;
    let (private, public) = (directory.join("signing.pem"), directory.join("public.pem"));
    let keygen = tokio::process::Command::new(&*SOBERANA)
        .args(["audit", "keygen", "--private-key"])
        .arg(&private)
        .arg("--public-key")
        .arg(&public)
        .output()
        .await?;
    ensure!(keygen.status.success(), "keygen: {keygen:?}");
    let again = tokio::process::Command::new(&*SOBERANA)
        .args(["audit", "keygen", "--private-key"])
        .arg(&private)
        .arg("--public-key")
        .arg(&public)
        .output()
        .await?;
    ensure!(
        again.status.code() == Some(2)
            && String::from_utf8_lossy(&again.stderr).contains("signing.pem"),
        "an existing key must not be replaced: {again:?}"
    );
    let key = soberana_core::ledger::checkpoint::signing_key_from_pem(&std::fs::read_to_string(
        &private,
    )?)?;
    let checkpoints = directory.join("checkpoints");
    std::fs::create_dir_all(&checkpoints)?;
    let sinks: Vec<Arc<dyn CheckpointSink>> = vec![
        Arc::new(LogSink),
        Arc::new(DirectorySink {
            directory: checkpoints.clone(),
        }),
    ];
    let api = start_with(&plane, |settings| {
        settings.checkpoints = Some(CheckpointSettings {
            key,
            schedule: CheckpointSchedule {
                every_records: 1,
                interval: Duration::from_secs(3600),
            },
            sinks,
            anchor: None,
        });
    })
    .await?;
    for request in ["anchored-1", "anchored-2", "anchored-3"] {
        api.plan_as_agency_a(request, workload("internal", 10), 60)
            .await?;
    }
    wait_until(
        "the checkpoint of record 3",
        Duration::from_secs(30),
        || async { Ok(checkpoints.join(checkpoint_file_name(3)).exists()) },
    )
    .await?;
    let auditor = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let (checkpoint_arg, key_arg) = (
        checkpoints.display().to_string(),
        public.display().to_string(),
    );
    let anchored = [
        "audit",
        "verify",
        "--checkpoint",
        &checkpoint_arg,
        "--public-key",
        &key_arg,
    ];
    let (code, out, err) = soberana(&api, &auditor, &anchored).await?;
    ensure!(
        code == 0 && out.contains("anchored through record 3"),
        "{out} {err}"
    );

    let mut etcd = etcd_client::Client::connect([api.etcd.endpoint()], None).await?;
    let record_key = |sequence: u64| format!("/soberana/ledger/records/{sequence:020}");
    let head_key = "/soberana/ledger/head";
    let original_head = etcd.get(head_key, None).await?.kvs()[0].value().to_vec();
    let original_third = etcd.get(record_key(3), None).await?.kvs()[0]
        .value()
        .to_vec();
    let put_head =
        |sequence: u64, hash: &str| json!({"sequence": sequence, "hash": hash}).to_string();

    // 1. A rewritten suffix, re-chained: record 3 claims another actor, with a hash to match.
    let mut rewritten: LedgerRecord = serde_json::from_slice(&original_third)?;
    rewritten.actor = "someone-else".to_owned();
    rewritten.hash = rewritten.computed_hash();
    etcd.put(record_key(3), serde_json::to_vec(&rewritten)?, None)
        .await?;
    etcd.put(head_key, put_head(3, &rewritten.hash), None)
        .await?;
    let (code, out, _) = soberana(&api, &auditor, &["audit", "verify"]).await?;
    ensure!(
        code == 0,
        "the chain alone cannot see a consistent rewrite: {out}"
    );
    let (code, out, _) = soberana(&api, &auditor, &anchored).await?;
    ensure!(
        code == 1 && out.contains("ledger record 3") && out.contains("rewritten"),
        "{out}"
    );
    etcd.put(record_key(3), original_third.clone(), None)
        .await?;
    etcd.put(head_key, original_head.clone(), None).await?;

    // 2. A cut tail: record 3 and the head rolled back to record 2.
    let second: LedgerRecord =
        serde_json::from_slice(etcd.get(record_key(2), None).await?.kvs()[0].value())?;
    etcd.delete(record_key(3), None).await?;
    etcd.put(head_key, put_head(2, &second.hash), None).await?;
    let (code, out, _) = soberana(&api, &auditor, &["audit", "verify"]).await?;
    ensure!(code == 0, "the chain alone cannot see a cut tail: {out}");
    let (code, out, _) = soberana(&api, &auditor, &anchored).await?;
    ensure!(
        code == 1 && out.contains("ledger record 3: missing"),
        "{out}"
    );
    etcd.put(record_key(3), original_third, None).await?;
    etcd.put(head_key, original_head, None).await?;
    let (code, out, _) = soberana(&api, &auditor, &anchored).await?;
    ensure!(code == 0, "restored: {out}");

    // 3. The head and every record deleted: the chain starts again at 1 with the next plan.
    etcd.delete(
        "/soberana/ledger/",
        Some(etcd_client::DeleteOptions::new().with_prefix()),
    )
    .await?;
    api.plan_as_agency_a("anchored-4", workload("internal", 10), 60)
        .await?;
    let (code, out, _) = soberana(&api, &auditor, &["audit", "verify"]).await?;
    ensure!(
        code == 0 && out.contains("1 records"),
        "the chain alone cannot see a restart: {out}"
    );
    let (code, out, _) = soberana(&api, &auditor, &anchored).await?;
    ensure!(code == 1 && out.contains("ledger record 1"), "{out}");
    // The API refused to sign the restarted chain, and said so in its metrics.
    wait_until("a refused checkpoint", Duration::from_secs(30), || async {
        let text = metrics_text(api.metrics_port).await?;
        Ok(sum_samples(&text, "soberana_ledger_checkpoint_failures_total", &[]) >= 1.0)
    })
    .await?;
    // The checkpoint of the old record 1 was not replaced by one of the new chain.
    let signed_first: soberana_core::ledger::checkpoint::Checkpoint =
        serde_json::from_slice(&std::fs::read(checkpoints.join(checkpoint_file_name(1)))?)?;
    let new_first: LedgerRecord =
        serde_json::from_slice(etcd.get(record_key(1), None).await?.kvs()[0].value())?;
    ensure!(
        signed_first.hash != new_first.hash,
        "the restarted chain was signed"
    );
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}

/// With at most two plans per tenant and 1 % of the data centre (1020m of 102000m CPU) each,
/// agency A's third plan and a plan bigger than its share are refused with RESOURCE_EXHAUSTED
/// naming the limit; agency B, with its own quota, still plans.
async fn reservation_quota(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start_with(&plane, |settings| {
        settings.reservation_limits = ReservationLimits {
            plans_per_tenant: 2,
            percent_per_tenant: 1,
        };
    })
    .await?;
    let too_big = api
        .plan_as_agency_a("quota-big", workload("internal", 1100), 600)
        .await
        .unwrap_err();
    ensure!(
        too_big.code() == Code::ResourceExhausted
            && too_big.message().contains("agency-a")
            && too_big.message().contains("--tenant-reservation-percent"),
        "{too_big:?}"
    );
    for id in ["quota-1", "quota-2"] {
        api.plan_as_agency_a(id, workload("internal", 100), 600)
            .await?;
    }
    let third = api
        .plan_as_agency_a("quota-3", workload("internal", 100), 600)
        .await
        .unwrap_err();
    ensure!(
        third.code() == Code::ResourceExhausted
            && third.message().contains("--tenant-reservation-plans"),
        "{third:?}"
    );
    // A retry of a plan it holds is not a new plan.
    api.plan_as_agency_a("quota-2", workload("internal", 100), 600)
        .await?;
    let mut migrations = Migrations::new(api.channel.clone());
    let mut request = plan_request("quota-b", "agnb-prod", workload("internal", 100), 600);
    if let Some(workload) = request.workload.as_mut() {
        workload.tenant = "agency-b".to_owned();
    }
    migrations
        .plan_migration(with_token(request, &api.agency_b))
        .await
        .context("agency B has its own quota")?;
    Ok(())
}

/// Per-caller limits: with a burst of 3 at 0.2 calls/s, agency A's fourth quick call is refused
/// naming the rate while agency B is served; with two watches allowed, a third is refused naming
/// streams, and watches end by themselves after their lifetime. (Calls at work at once are
/// tested on the layer itself, where a call can be held deterministically.)
async fn caller_limits(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start_with(&plane, |settings| {
        settings.caller_limits = CallerLimitSettings {
            concurrency: 32,
            // One call per 5 s after the burst: the test's quick calls cannot refill it.
            rate_per_second: 0.2,
            burst: 3,
            streams: 2,
            stream_lifetime: Duration::from_secs(3),
        };
    })
    .await?;
    let migrations = Migrations::new(api.channel.clone());
    let list = |namespace: &str, token: &str| {
        let mut migrations = migrations.clone();
        let request = with_token(
            proto::ListMigrationsRequest {
                namespace: namespace.to_owned(),
                ..Default::default()
            },
            token,
        );
        async move { migrations.list_migrations(request).await }
    };
    let mut codes = Vec::new();
    for _ in 0..6 {
        let answer = list("agna-prod", &api.agency_a).await;
        codes.push(answer.map_or_else(
            |status| (status.code(), status.message().to_owned()),
            |_| (Code::Ok, String::new()),
        ));
    }
    ensure!(
        codes[..3].iter().all(|(code, _)| *code == Code::Ok),
        "{codes:?}"
    );
    ensure!(
        codes[3..]
            .iter()
            .any(|(code, message)| *code == Code::ResourceExhausted
                && message.contains("--caller-rate")),
        "{codes:?}"
    );
    list("agnb-prod", &api.agency_b)
        .await
        .context("agency B has its own limits")?;
    let text = metrics_text(api.metrics_port).await?;
    ensure!(
        sum_samples(&text, "soberana_api_throttled_total", &[("reason", "rate")]) >= 1.0,
        "not counted"
    );

    // Streams, as the auditor (a caller of its own).
    let auditor = admin_token(&plane, Some(API_AUDIENCE)).await?;
    let mut audit = proto::audit_service_client::AuditServiceClient::new(api.channel.clone());
    let watch = || with_token(proto::WatchDecisionsRequest { from_sequence: 0 }, &auditor);
    let mut first = audit.watch_decisions(watch()).await?.into_inner();
    let _second = audit.watch_decisions(watch()).await?.into_inner();
    let third = audit.watch_decisions(watch()).await.unwrap_err();
    ensure!(
        third.code() == Code::ResourceExhausted && third.message().contains("--caller-streams"),
        "{third:?}"
    );
    let text = metrics_text(api.metrics_port).await?;
    ensure!(
        sum_samples(
            &text,
            "soberana_api_throttled_total",
            &[("reason", "streams")]
        ) >= 1.0,
        "the refused watch is not counted"
    );
    let ended = tokio::time::timeout(Duration::from_secs(15), first.message()).await;
    ensure!(
        matches!(ended, Ok(Ok(None))),
        "the watch did not end after its lifetime: {ended:?}"
    );
    wait_until(
        "a watch slot free again",
        Duration::from_secs(15),
        || async { Ok(audit.clone().watch_decisions(watch()).await.is_ok()) },
    )
    .await?;
    Ok(())
}

/// 600 concurrent calls with one token are held to the caller's limits whether the token is
/// spelled the same way each time or with other whitespace after `Bearer` (which
/// authentication trims): the limits key on the credential as authentication reads it, so
/// respelling a token never makes a new caller. Every refusal is counted in the metric.
async fn whitespace_varied_tokens(plane: Arc<ControlPlane>) -> Result<()> {
    const CALLS: usize = 600;
    let api = start(&plane).await?;
    let migrations = Migrations::new(api.channel.clone());
    let call = |authorization: String| {
        let mut migrations = migrations.clone();
        let mut request = Request::new(proto::ListMigrationsRequest {
            namespace: "agna-prod".to_owned(),
            ..Default::default()
        });
        request
            .metadata_mut()
            .insert("authorization", authorization.parse().unwrap());
        async move { migrations.list_migrations(request).await.map(|_| ()) }
    };
    let spelled = |index: usize| {
        let space = if index.is_multiple_of(2) { " " } else { "\t" };
        format!("Bearer {}{}", space.repeat(index % 300), api.agency_a)
    };
    // Each spelling on its own is the agency: authentication accepts it.
    call(spelled(1))
        .await
        .context("a varied spelling is authenticated")?;
    call(spelled(2))
        .await
        .context("a varied spelling is authenticated")?;
    for (label, varied) in [("the same spelling", false), ("varied spellings", true)] {
        let before = sum_samples(
            &metrics_text(api.metrics_port).await?,
            "soberana_api_throttled_total",
            &[],
        );
        let answers = futures::future::join_all((0..CALLS).map(|index| {
            call(if varied {
                spelled(index)
            } else {
                format!("Bearer {}", api.agency_a)
            })
        }))
        .await;
        let refused = answers
            .iter()
            .filter(|answer| {
                answer
                    .as_ref()
                    .is_err_and(|status| status.code() == Code::ResourceExhausted)
            })
            .count();
        let other: Vec<_> = answers
            .iter()
            .filter_map(|answer| answer.as_ref().err())
            .filter(|status| status.code() != Code::ResourceExhausted)
            .collect();
        ensure!(other.is_empty(), "{label}: {other:?}");
        ensure!(
            refused > CALLS / 2,
            "{label}: only {refused} of {CALLS} concurrent calls were refused: the caller was not held to its limits"
        );
        let after = sum_samples(
            &metrics_text(api.metrics_port).await?,
            "soberana_api_throttled_total",
            &[],
        );
        ensure!(
            after - before >= f64::from(u32::try_from(refused)?),
            "{label}: {refused} refused, {} counted",
            after - before
        );
        // The calls at work end before the next round.
        wait_until(
            "the caller admitted again",
            Duration::from_secs(15),
            || async { Ok(call(spelled(0)).await.is_ok()) },
        )
        .await?;
    }
    Ok(())
}

/// A refused authorization is reused like an allowed one, for 5 s: agency B asking again and
/// again to list agency A's migrations costs the management cluster's API server (counted by
/// its own `apiserver_request_total`) at most one SubjectAccessReview per 5 s, and a binding
/// given meanwhile takes effect within that time.
async fn refusals_cached(plane: Arc<ControlPlane>) -> Result<()> {
    const REFUSAL_TTL: Duration = Duration::from_secs(5);
    let api = start(&plane).await?;
    let admin = plane.cluster("mgmt")?.client().await?;
    let migrations = Migrations::new(api.channel.clone());
    let list = || {
        let mut migrations = migrations.clone();
        let request = with_token(
            proto::ListMigrationsRequest {
                namespace: "agna-prod".to_owned(),
                ..Default::default()
            },
            &api.agency_b,
        );
        async move { migrations.list_migrations(request).await }
    };
    let before = apiserver_requests(&admin, "subjectaccessreviews", "").await?;
    let started = std::time::Instant::now();
    for call in 0..30 {
        let refused = list().await.unwrap_err();
        ensure!(
            refused.code() == Code::PermissionDenied
                && refused
                    .message()
                    .contains("may not list workloads.soberana.io in namespace agna-prod"),
            "call {call}: {refused:?}"
        );
    }
    let elapsed = started.elapsed();
    let reviews = apiserver_requests(&admin, "subjectaccessreviews", "").await? - before;
    let windows = (elapsed.as_secs_f64() / REFUSAL_TTL.as_secs_f64()).floor() + 1.0;
    ensure!(
        (1.0..=windows).contains(&reviews),
        "30 refused calls in {elapsed:?} cost {reviews} access reviews"
    );

    // Bound now, B is served within the refusal's time.
    let params = PatchParams::apply("soberana-e2e").force();
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "read-workloads", "namespace": "agna-prod"},
        "rules": [{"apiGroups": ["soberana.io"], "resources": ["workloads"], "verbs": ["list"]}]
    });
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "agency-b-reads", "namespace": "agna-prod"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "read-workloads"},
        "subjects": [{"kind": "ServiceAccount", "name": "migrator", "namespace": "agnb-prod"}]
    });
    let roles = Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(admin.clone(), "agna-prod");
    let bindings =
        Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), "agna-prod");
    roles
        .patch("read-workloads", &params, &Patch::Apply(&role))
        .await?;
    bindings
        .patch("agency-b-reads", &params, &Patch::Apply(&binding))
        .await?;
    let served = wait_until(
        "agency B served once bound",
        REFUSAL_TTL + Duration::from_secs(5),
        || async { Ok(list().await.is_ok()) },
    )
    .await;
    // Other tests rely on B being refused in A's namespace.
    bindings
        .delete("agency-b-reads", &kube::api::DeleteParams::default())
        .await?;
    roles
        .delete("read-workloads", &kube::api::DeleteParams::default())
        .await?;
    served
}

/// The CLI given only a kubeconfig (whose token is for the Kubernetes API) asks the cluster for
/// a token for the API's audience: a ServiceAccount allowed to do so is served; one that is not
/// gets the `kubectl create token` command to run; the kubeconfig's own token never reaches
/// the API (sent as --token, it is refused).
async fn kubeconfig_token(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let cluster = plane.cluster("mgmt")?;
    let admin = cluster.client().await?;
    let params = PatchParams::apply("soberana-e2e").force();
    let role = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "own-token", "namespace": "agna-prod"},
        "rules": [{"apiGroups": [""], "resources": ["serviceaccounts/token"],
                   "verbs": ["create"], "resourceNames": ["migrator"]}]
    });
    Api::<k8s_openapi::api::rbac::v1::Role>::namespaced(admin.clone(), "agna-prod")
        .patch("own-token", &params, &Patch::Apply(&role))
        .await?;
    let binding = json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "own-token", "namespace": "agna-prod"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "own-token"},
        "subjects": [{"kind": "ServiceAccount", "name": "migrator", "namespace": "agna-prod"}]
    });
    Api::<k8s_openapi::api::rbac::v1::RoleBinding>::namespaced(admin.clone(), "agna-prod")
        .patch("own-token", &params, &Patch::Apply(&binding))
        .await?;
    let directory =
        std::env::temp_dir().join(format!("soberana-kubeconfig-{}", std::process::id()));
    std::fs::create_dir_all(&directory)?;
    let run = |namespace: &'static str| {
        let (admin, directory, endpoint) = (admin.clone(), directory.clone(), api.endpoint.clone());
        async move {
            // The kubeconfig holds a token for the Kubernetes API (no audience asked for).
            let kube_token = Api::<ServiceAccount>::namespaced(admin, namespace)
                .create_token_request("migrator", &PostParams::default(), &TokenRequest::default())
                .await?
                .status
                .and_then(|status| status.token)
                .context("no token")?;
            let file = directory.join(format!("{namespace}.kubeconfig"));
            std::fs::write(&file, token_kubeconfig(cluster, "migrator", &kube_token))?;
            let output = tokio::process::Command::new(&*SOBERANA)
                .args([
                    "list",
                    "-n",
                    namespace,
                    "--server",
                    &endpoint,
                    "--kubeconfig",
                ])
                .arg(&file)
                .env_remove("SOBERANA_TOKEN")
                .output()
                .await?;
            anyhow::Ok((output, kube_token))
        }
    };
    let (allowed, kube_token) = run("agna-prod").await?;
    ensure!(allowed.status.success(), "{allowed:?}");
    let (refused, _) = run("agnb-prod").await?;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    ensure!(
        refused.status.code() == Some(1)
            && stderr
                .contains("kubectl create token migrator -n agnb-prod --audience soberana-api"),
        "{stderr}"
    );
    let (code, _, stderr) = soberana(&api, &kube_token, &["list", "-n", "agna-prod"]).await?;
    ensure!(code == 1 && stderr.contains("Unauthenticated"), "{stderr}");
    std::fs::remove_dir_all(&directory)?;
    Ok(())
}

/// `confidential` (from examples/) also requiring SOC2, which neither site holds.
fn confidential_requiring_soc2() -> Result<String> {
    let (_, mut confidential) = yaml_documents(&examples_directory().join("classifications.yaml"))?
        .into_iter()
        .find(|(_, object)| object["metadata"]["name"] == "confidential")
        .context("examples/ define confidential")?;
    confidential["spec"]["requiredCertifications"] = json!(["ISO27001", "SOC2"]);
    Ok(serde_norway::to_string(&confidential)?)
}

async fn what_if_live(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let admin = plane.cluster("mgmt")?.client().await?;
    // Two confidential services of agency A (no other test uses confidential), neither placed
    // yet (no operator runs here; operator/tests/workloads.rs asks what-if about a Workload the
    // operator placed).
    let workloads: Api<soberana_core::resources::workload::Workload> =
        Api::namespaced(admin.clone(), "agna-prod");
    for name in ["expedientes", "archivo"] {
        apply(
            &admin,
            &json!({
                "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
                "metadata": {"name": name, "namespace": "agna-prod"},
                "spec": {"tenant": "agency-a", "classification": "confidential", "replicas": 1,
                         "resources": {"cpuMillicores": 100, "memoryMebibytes": 128}}
            }),
        )
        .await?;
    }
    let security =
        policy_author_token(&admin, "default", "security-team", &["dataclassifications"]).await?;
    let mut placements =
        proto::placement_service_client::PlacementServiceClient::new(api.channel.clone());
    let request = proto::WhatIfRequest {
        documents: vec![confidential_requiring_soc2()?],
    };

    let impact = placements
        .what_if(with_token(request.clone(), &security))
        .await?
        .into_inner();
    ensure!(
        impact.changed_objects == ["DataClassification/confidential"],
        "{impact:?}"
    );
    ensure!(
        impact.workloads_judged == 2,
        "only the confidential workloads: {impact:?}"
    );
    ensure!(impact.tenants.is_empty(), "{impact:?}");
    let summary: Vec<(&str, proto::ImpactKind, &[String], &[String])> = impact
        .workloads
        .iter()
        .map(|item| {
            (
                item.workload.as_str(),
                item.kind(),
                &item.from_sites[..],
                &item.to_sites[..],
            )
        })
        .collect();
    let home = ["home".to_owned()];
    ensure!(
        summary
            == [
                (
                    "agna-prod/archivo",
                    proto::ImpactKind::Unplaceable,
                    &home[..],
                    &[][..]
                ),
                (
                    "agna-prod/expedientes",
                    proto::ImpactKind::Unplaceable,
                    &home[..],
                    &[][..]
                ),
            ],
        "{summary:?}"
    );
    let added = &impact.workloads[1].sites[0].added;
    ensure!(
        impact.workloads[1].sites[0].site == "home"
            && added.len() == 1
            && added[0].code() == proto::ReasonCode::CertificationMissing
            && added[0].required == "SOC2"
            && added[0].source == "DataClassification/confidential",
        "{:?}",
        impact.workloads[1]
    );

    // An agency may not update classifications: refused, naming the object.
    let denied = placements
        .what_if(with_token(request, &api.agency_a))
        .await
        .unwrap_err();
    ensure!(
        denied.code() == Code::PermissionDenied
            && denied
                .message()
                .contains("may not update dataclassifications.soberana.io/confidential"),
        "{denied:?}"
    );
    // Nor may the security team propose a Tenant.
    let tenant = serde_norway::to_string(&tenant("agency-a", "agna"))?;
    let refused = placements
        .what_if(with_token(
            proto::WhatIfRequest {
                documents: vec![tenant],
            },
            &security,
        ))
        .await
        .unwrap_err();
    ensure!(
        refused.code() == Code::PermissionDenied
            && refused
                .message()
                .contains("update tenants.soberana.io/agency-a"),
        "{refused:?}"
    );
    // A misspelt field is INVALID_ARGUMENT at its path.
    let misspelt =
        confidential_requiring_soc2()?.replace("requiredCertifications", "requiredCertificates");
    let invalid = placements
        .what_if(with_token(
            proto::WhatIfRequest {
                documents: vec![misspelt],
            },
            &security,
        ))
        .await
        .unwrap_err();
    let fields: Vec<String> = invalid
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|violation| violation.field)
                .collect()
        })
        .unwrap_or_default();
    ensure!(
        invalid.code() == Code::InvalidArgument
            && fields == ["documents[0].spec.requiredCertificates"],
        "{invalid:?}"
    );

    for name in ["expedientes", "archivo"] {
        workloads
            .delete(name, &kube::api::DeleteParams::default())
            .await?;
    }
    Ok(())
}

/// An agreement between `provider` and `consumer` (the API lists them whatever the operator
/// would judge).
fn exchange(name: &str, provider: &str, consumer: &str) -> Value {
    json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "DataExchange", "metadata": {"name": name},
        "spec": {
            "provider": {"tenant": provider, "environment": "prod", "workload": "registry", "ports": [{"port": 8443}]},
            "consumer": {"tenant": consumer, "environments": ["prod"]},
            "classification": "confidential", "purpose": "identity checks", "legalBasis": "Ley 1",
            "validity": {"notAfter": "2030-01-01T00:00:00Z"},
        }
    })
}

async fn own_agreements_only(plane: Arc<ControlPlane>) -> Result<()> {
    let api = start(&plane).await?;
    let admin = plane.cluster("mgmt")?.client().await?;
    apply(&admin, &exchange("a-with-z", "agency-a", "agency-z")).await?;
    apply(&admin, &exchange("a-to-b", "agency-a", "agency-b")).await?;
    let mut exchanges =
        proto::exchange_service_client::ExchangeServiceClient::new(api.channel.clone());
    let list = |tenant: &str, token: &str| {
        with_token(
            proto::ListExchangesRequest {
                tenant: tenant.to_owned(),
            },
            token,
        )
    };
    let names = |response: proto::ListExchangesResponse| -> Vec<String> {
        response
            .exchanges
            .into_iter()
            .map(|exchange| exchange.name)
            .collect()
    };
    // Served from the API's watch of the agreements: they appear once the watch has seen them.
    wait_until(
        "both agreements listed",
        Duration::from_secs(15),
        || async {
            let listed = exchanges
                .clone()
                .list_exchanges(list("agency-a", &api.agency_a))
                .await?
                .into_inner();
            Ok(names(listed) == ["a-to-b", "a-with-z"])
        },
    )
    .await?;
    let own = exchanges
        .list_exchanges(list("agency-a", &api.agency_a))
        .await?
        .into_inner();
    // Listing costs the management cluster no list call: every answer comes from the watch.
    let lists_before = apiserver_requests(&admin, "dataexchanges", "LIST").await?;
    ensure!(
        lists_before >= 1.0,
        "the API server counts no list of dataexchanges, not even the watch's first"
    );
    for _ in 0..10 {
        exchanges
            .list_exchanges(list("agency-a", &api.agency_a))
            .await?;
    }
    let lists = apiserver_requests(&admin, "dataexchanges", "LIST").await? - lists_before;
    ensure!(lists == 0.0, "10 listings made {lists} list calls");
    let first = &own.exchanges[0];
    ensure!(
        first.provider_tenant == "agency-a"
            && first.consumer_tenant == "agency-b"
            && first.ports == ["8443/TCP"]
            && first.state() == proto::ExchangeState::Unspecified,
        "{first:?}"
    );
    // B sees the agreement it is party to, and nothing of A's other agreements.
    let consumer = exchanges
        .list_exchanges(list("agency-b", &api.agency_b))
        .await?
        .into_inner();
    ensure!(names(consumer) == ["a-to-b"]);
    // Another institution's tenant and one that does not exist get the same answer, in the
    // same words (but for the name asked about): it tells neither which tenants exist nor their
    // short codes.
    let mut answers = Vec::new();
    for tenant in ["agency-a", "agency-z", "no-such-tenant"] {
        let refused = exchanges
            .list_exchanges(list(tenant, &api.agency_b))
            .await
            .unwrap_err();
        answers.push((
            refused.code(),
            refused.message().replace(tenant, "<tenant>"),
        ));
    }
    ensure!(
        answers.iter().all(|answer| *answer == answers[0])
            && answers[0].0 == Code::PermissionDenied
            && answers[0]
                .1
                .ends_with("may not list the agreements of tenant <tenant>")
            && !answers[0].1.contains("agna"),
        "{answers:?}"
    );
    // The same through the CLI: the rows of the offline command, and the refusal in its words.
    let (code, text, stderr) = soberana(
        &api,
        &api.agency_b,
        &["exchanges", "--tenant", "agency-b", "-o", "json"],
    )
    .await?;
    ensure!(code == 0, "exchanges: {stderr}");
    let rows: Value = serde_json::from_str(&text)?;
    ensure!(
        rows[0]["name"] == "a-to-b"
            && rows[0]["provider"] == "agency-a/prod/registry"
            && rows[0]["consumer"] == "agency-b (prod)"
            && rows[0]["state"] == "-"
            && rows.as_array().map(Vec::len) == Some(1),
        "{rows}"
    );
    let (code, _, stderr) =
        soberana(&api, &api.agency_b, &["exchanges", "--tenant", "agency-a"]).await?;
    ensure!(
        code == 1 && stderr.contains("may not list the agreements of tenant agency-a"),
        "{code}: {stderr}"
    );
    let malformed = exchanges
        .list_exchanges(list("", &api.agency_a))
        .await
        .unwrap_err();
    ensure!(
        malformed.code() == Code::InvalidArgument
            && malformed.message().contains("tenant: is required"),
        "{malformed:?}"
    );
    Ok(())
}
