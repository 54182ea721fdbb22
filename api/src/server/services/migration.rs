//! `MigrationService`: plan with reservations, submit, follow, cancel. A migration is a Workload
//! in the tenant's namespace; what the API reports of it is what the operator wrote to its
//! status. Mutating calls are idempotent per caller and `request_id`.

use soberana_runtime::watch_cache::cached;
use std::collections::BTreeMap;
use std::time::Duration;

use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, ResourceExt};
use prost::Message;
use sha2::{Digest, Sha256};
use soberana_core::placement::{Decision, Outcome, ReasonCode};
use soberana_core::resources::capacity::Capacity;
use soberana_core::resources::site_nodes::free_before_reservations;
use soberana_core::resources::workload::Workload;
use soberana_proto::v1 as proto;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::server::auth::{Access, Caller};
use crate::server::services::migration_watch;
use crate::server::services::placement::decide;
use crate::server::validation::{Violations, dns_label, request_id};
use crate::server::{Shared, convert, kube_status, store_status};
use soberana_core::ledger::{NewRecord, RecordKind};
use soberana_store::{Held, TenantQuota};

/// How long a plan's reservation lasts unless asked otherwise, and at most.
const DEFAULT_TTL: Duration = Duration::from_secs(600);
const MAX_TTL: Duration = Duration::from_secs(3600);
/// How long the first answer to a request is kept for retries.
const ANSWER_TTL: Duration = Duration::from_secs(24 * 3600);
/// Plans re-evaluated when a concurrent plan took the capacity first.
const PLAN_ATTEMPTS: usize = 3;
const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 500;
/// On a submitted Workload: the plan it came from (its reservations are released on cancel).
pub const PLAN_ANNOTATION: &str = "soberana.io/plan";
/// On a submitted Workload: the (caller, request id) key of the submission that created it, so
/// that a retry finding the Workload already there knows it is its own.
pub const REQUEST_ANNOTATION: &str = "soberana.io/submission";

#[derive(Debug)]
pub struct MigrationApi(pub Shared);

type Watch = ReceiverStream<Result<proto::WatchMigrationResponse, Status>>;

impl MigrationApi {
    /// Runs `produce` once per (caller, method, request id): a retry gets the stored answer.
    ///
    /// The lookup and the work run in a task of their own, to the end, even when the caller
    /// stops waiting (its deadline passed or it went away): a retry with the same request id then
    /// finds the answer rather than half-done work (capacity reserved but no plan stored, a
    /// Workload created but no answer). A retry arriving while that task still runs on this
    /// replica joins it.
    async fn once<M>(
        &self,
        caller: &Caller,
        method: &str,
        request: &str,
        produce: impl std::future::Future<Output = Result<M, Status>> + Send + 'static,
    ) -> Result<M, Status>
    where
        M: Message + Default + 'static,
    {
        let key = answer_key(caller, request);
        let store = std::sync::Arc::clone(&self.0.store);
        let owned_method = method.to_owned();
        let stored = self
            .0
            .in_flight
            .join(&format!("{method}/{key}"), async move {
                if let Some(stored) = store
                    .recall(&owned_method, &key)
                    .await
                    .map_err(store_status)?
                {
                    return Ok(stored);
                }
                let answer = produce.await?;
                store
                    .remember(&owned_method, &key, &answer.encode_to_vec(), ANSWER_TTL)
                    .await
                    .map_err(store_status)
            })
            .await?;
        M::decode(stored.as_slice())
            .map_err(|error| Status::internal(format!("a stored answer is unreadable: {error}")))
    }

    /// Appends the record of the request `once` (method and answer key): a retry of a request
    /// whose record was already appended appends nothing, and one whose first attempt stopped
    /// before appending appends it then.
    async fn record(
        &self,
        once: &str,
        kind: RecordKind,
        caller: &Caller,
        subject: &str,
        payload: &impl serde::Serialize,
    ) -> Result<(), Status> {
        let payload_json =
            serde_json::to_string(payload).map_err(|error| Status::internal(error.to_string()))?;
        self.0
            .store
            .append_once(
                once,
                NewRecord {
                    kind,
                    time: rfc3339_now(),
                    actor: caller.user.clone(),
                    subject: subject.to_owned(),
                    payload_json,
                },
            )
            .await
            .map_err(store_status)?;
        self.0.ledger_appended.notify_one();
        Ok(())
    }

    async fn plan(
        &self,
        caller: &Caller,
        request: &proto::PlanMigrationRequest,
    ) -> Result<proto::PlanMigrationResponse, Status> {
        let ttl = reservation_ttl(request)?;
        let plan_id = plan_id(caller, &request.request_id);
        for _ in 0..PLAN_ATTEMPTS {
            let (workload, decision) =
                decide(&self.0, &request.namespace, request.workload.as_ref()).await?;
            if decision.outcome == Outcome::Unplaceable {
                if let Some(exhausted) = no_room(&decision) {
                    return Err(exhausted);
                }
                let plan = plan_message(&plan_id, request, &decision, &[]);
                return self.planned(caller, request, plan, &decision).await;
            }
            let demand = workload.spec.resources.times(workload.spec.replicas);
            let wanted: Vec<(String, Capacity)> = decision
                .chosen_sites
                .iter()
                .map(|site| (site.clone(), demand))
                .collect();
            let free = self.free_before_reservations().await?;
            let quota = self.quota(&workload.spec.tenant);
            match self
                .0
                .store
                .reserve(&plan_id, &quota, &wanted, &free, ttl)
                .await
            {
                Ok(held) => {
                    let plan = plan_message(&plan_id, request, &decision, &held);
                    self.0
                        .store
                        .remember("Plan", &plan_id, &plan.encode_to_vec(), ttl)
                        .await
                        .map_err(store_status)?;
                    return self.planned(caller, request, plan, &decision).await;
                }
                // Another plan took the room first: decide again with its reservation counted.
                Err(soberana_store::StoreError::Exhausted { .. }) => {}
                Err(error) => return Err(store_status(error)),
            }
        }
        Err(Status::resource_exhausted(
            "the eligible sites' capacity was taken by concurrent plans; plan again",
        ))
    }

    /// Records the plan's decision in the ledger (once per plan), then answers with the plan.
    async fn planned(
        &self,
        caller: &Caller,
        request: &proto::PlanMigrationRequest,
        plan: proto::Plan,
        decision: &Decision,
    ) -> Result<proto::PlanMigrationResponse, Status> {
        let plan_id = &plan.plan_id;
        self.record(
            &format!("PlanMigration/{plan_id}"),
            RecordKind::Plan,
            caller,
            &format!("{}/(plan {plan_id})", request.namespace),
            decision,
        )
        .await?;
        Ok(proto::PlanMigrationResponse { plan: Some(plan) })
    }

    /// What `tenant` may hold: a number of plans, and a share of the data centre's capacity.
    fn quota(&self, tenant: &str) -> TenantQuota {
        let limits = self.0.reservation_limits;
        let total = cached(&self.0.inventory.sites)
            .iter()
            .fold(Capacity::default(), |sum, site| {
                sum.plus(site.spec.capacity)
            });
        let share = |amount: u64| {
            amount / 100 * u64::from(limits.percent_per_tenant)
                + amount % 100 * u64::from(limits.percent_per_tenant) / 100
        };
        TenantQuota {
            tenant: tenant.to_owned(),
            max_plans: limits.plans_per_tenant,
            max_capacity: Capacity {
                cpu_millicores: share(total.cpu_millicores),
                memory_mebibytes: share(total.memory_mebibytes),
                storage_gibibytes: share(total.storage_gibibytes),
            },
        }
    }

    /// Each site's capacity net of its allocations and of what its nodes lack, before any
    /// reservation.
    async fn free_before_reservations(&self) -> Result<BTreeMap<String, Capacity>, Status> {
        let sites = cached(&self.0.inventory.sites);
        Ok(sites
            .iter()
            .map(|site| (site.name_any(), free_before_reservations(site)))
            .collect())
    }
}

/// The key of `caller`'s request `request` (stored answers, ledger records, the Workload's
/// submission annotation): per caller, so request ids of different callers never meet.
pub fn answer_key(caller: &Caller, request: &str) -> String {
    let digest = Sha256::digest(format!("{}\n{request}", caller.user).as_bytes());
    digest
        .iter()
        .take(16)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn plan_id(caller: &Caller, request: &str) -> String {
    format!("plan-{}", answer_key(caller, request))
}

/// Creates `workload` for the submission `request` (see `REQUEST_ANNOTATION`), or finds the one an
/// earlier attempt of that submission created; a Workload of that name from anyone else is
/// ALREADY_EXISTS.
async fn create_unless_done(
    workloads: &Api<Workload>,
    workload: &Workload,
    request: &str,
) -> Result<Workload, Status> {
    let error = match workloads.create(&PostParams::default(), workload).await {
        Ok(created) => return Ok(created),
        Err(error) => error,
    };
    let name = workload.name_any();
    match error {
        kube::Error::Api(status) if status.code == 409 => {
            let existing = workloads.get(&name).await.map_err(kube_status)?;
            if existing
                .annotations()
                .get(REQUEST_ANNOTATION)
                .map(String::as_str)
                == Some(request)
            {
                return Ok(existing);
            }
            Err(Status::already_exists(format!(
                "workload_name: a migration named {name} already exists in {}; choose another name",
                workload.namespace().unwrap_or_default()
            )))
        }
        other => Err(kube_status(other)),
    }
}

/// Deletes the Workload `name` for the cancellation `key`, first noting what it deletes: a retry
/// after the Workload is gone (its first attempt stopped before answering) finds the note and
/// finishes the cancellation, instead of answering NOT_FOUND and never recording it.
async fn cancel_once(
    shared: &Shared,
    workloads: &Api<Workload>,
    name: &str,
    key: &str,
) -> Result<Workload, Status> {
    let noted = shared
        .store
        .recall("CancelIntent", key)
        .await
        .map_err(store_status)?;
    let workload = match workloads.get_opt(name).await.map_err(kube_status)? {
        Some(workload) => {
            let note = serde_json::to_vec(&workload)
                .map_err(|error| Status::internal(error.to_string()))?;
            shared
                .store
                .remember("CancelIntent", key, &note, ANSWER_TTL)
                .await
                .map_err(store_status)?;
            workloads
                .delete(name, &DeleteParams::default())
                .await
                .map_err(kube_status)?;
            workload
        }
        None => {
            let note = noted.ok_or_else(|| {
                Status::not_found(format!("name: there is no migration named {name}"))
            })?;
            serde_json::from_slice(&note).map_err(|error| {
                Status::internal(format!("a cancellation note is unreadable: {error}"))
            })?
        }
    };
    Ok(workload)
}

fn rfc3339_now() -> String {
    k8s_openapi::jiff::Timestamp::now().to_string()
}

/// `namespace/name` into its parts, with field violations for `field`.
fn split_name(value: &str, field: &str) -> Result<(String, String), Status> {
    let mut violations = Violations::default();
    match value.split_once('/') {
        Some((namespace, name)) => {
            dns_label(namespace, field, &mut violations);
            dns_label(name, field, &mut violations);
            violations.into_result()?;
            Ok((namespace.to_owned(), name.to_owned()))
        }
        None => {
            violations.add(field, format!("{value:?} is not namespace/name"));
            violations.into_result()?;
            Err(Status::invalid_argument(format!(
                "{field}: not namespace/name"
            )))
        }
    }
}

#[tonic::async_trait]
impl proto::migration_service_server::MigrationService for MigrationApi {
    async fn plan_migration(
        &self,
        request: Request<proto::PlanMigrationRequest>,
    ) -> Result<Response<proto::PlanMigrationResponse>, Status> {
        self.0
            .measured("PlanMigration", async {
                let body = request.get_ref();
                let mut violations = Violations::default();
                request_id(&body.request_id, &mut violations);
                dns_label(&body.namespace, "namespace", &mut violations);
                violations.into_result()?;
                let caller = self
                    .0
                    .allow(&request, "create", "workloads", &body.namespace)
                    .await?;
                let (api, planner, planned) =
                    (MigrationApi(self.0.clone()), caller.clone(), body.clone());
                let answer = self
                    .once(&caller, "PlanMigration", &body.request_id, async move {
                        api.plan(&planner, &planned).await
                    })
                    .await?;
                Ok(Response::new(answer))
            })
            .await
    }

    async fn submit_migration(
        &self,
        request: Request<proto::SubmitMigrationRequest>,
    ) -> Result<Response<proto::SubmitMigrationResponse>, Status> {
        self.0
            .measured("SubmitMigration", async {
                let body = request.get_ref();
                let mut violations = Violations::default();
                request_id(&body.request_id, &mut violations);
                dns_label(&body.workload_name, "workload_name", &mut violations);
                if body.plan_id.is_empty() {
                    violations.add("plan_id", "is required: the plan_id PlanMigration returned");
                }
                violations.into_result()?;
                let caller = self.0.authenticate(&request).await?;
                let plan = self
                    .0
                    .store
                    .recall("Plan", &body.plan_id)
                    .await
                    .map_err(store_status)?
                    .ok_or_else(|| {
                        Status::not_found(format!(
                            "plan {} does not exist or expired; plan again",
                            body.plan_id
                        ))
                    })?;
                let plan = proto::Plan::decode(plan.as_slice())
                    .map_err(|error| Status::internal(error.to_string()))?;
                crate::server::auth::authorize(
                    &self.0.kube,
                    &caller,
                    &Access::to("create", "workloads", &plan.namespace),
                )
                .await?;
                let (api, submitter, submitted, plan) = (
                    MigrationApi(self.0.clone()),
                    caller.clone(),
                    body.clone(),
                    plan.clone(),
                );
                let answer = self
                    .once(&caller, "SubmitMigration", &body.request_id, async move {
                        let mut violations = Violations::default();
                        let spec = crate::server::validation::workload_spec(
                            plan.workload.as_ref(),
                            "plan.workload",
                            &mut violations,
                        );
                        violations.into_result()?;
                        let spec =
                            spec.ok_or_else(|| Status::internal("the plan lost its workload"))?;
                        let request = answer_key(&submitter, &submitted.request_id);
                        let mut workload = Workload::new(&submitted.workload_name, spec);
                        workload.metadata.namespace = Some(plan.namespace.clone());
                        workload.metadata.annotations = Some(BTreeMap::from([
                            (PLAN_ANNOTATION.to_owned(), plan.plan_id.clone()),
                            (REQUEST_ANNOTATION.to_owned(), request.clone()),
                        ]));
                        let workloads =
                            Api::<Workload>::namespaced(api.0.kube.clone(), &plan.namespace);
                        // An earlier attempt may have created it and stopped before recording
                        // it: recording is keyed by the request, so it happens exactly once.
                        let created = create_unless_done(&workloads, &workload, &request).await?;
                        let name = format!("{}/{}", plan.namespace, submitted.workload_name);
                        api.record(
                            &format!("SubmitMigration/{request}"),
                            RecordKind::Submission,
                            &submitter,
                            &name,
                            &serde_json::json!({"planId": plan.plan_id}),
                        )
                        .await?;
                        Ok(proto::SubmitMigrationResponse {
                            migration: Some(convert::migration(&created)),
                        })
                    })
                    .await?;
                Ok(Response::new(answer))
            })
            .await
    }

    async fn get_migration(
        &self,
        request: Request<proto::GetMigrationRequest>,
    ) -> Result<Response<proto::GetMigrationResponse>, Status> {
        self.0
            .measured("GetMigration", async {
                let (namespace, name) = split_name(&request.get_ref().name, "name")?;
                self.0
                    .allow(&request, "get", "workloads", &namespace)
                    .await?;
                let workload = Api::<Workload>::namespaced(self.0.kube.clone(), &namespace)
                    .get(&name)
                    .await
                    .map_err(kube_status)?;
                Ok(Response::new(proto::GetMigrationResponse {
                    migration: Some(convert::migration(&workload)),
                }))
            })
            .await
    }

    async fn list_migrations(
        &self,
        request: Request<proto::ListMigrationsRequest>,
    ) -> Result<Response<proto::ListMigrationsResponse>, Status> {
        self.0
            .measured("ListMigrations", async {
                let body = request.get_ref();
                let mut violations = Violations::default();
                dns_label(&body.namespace, "namespace", &mut violations);
                if body.page_size > MAX_PAGE {
                    violations.add(
                        "page_size",
                        format!("is {}; at most {MAX_PAGE}", body.page_size),
                    );
                }
                violations.into_result()?;
                self.0
                    .allow(&request, "list", "workloads", &body.namespace)
                    .await?;
                let size = if body.page_size == 0 {
                    DEFAULT_PAGE
                } else {
                    body.page_size
                };
                let mut parameters = ListParams::default().limit(size);
                if !body.page_token.is_empty() {
                    parameters = parameters.continue_token(&body.page_token);
                }
                let page = Api::<Workload>::namespaced(self.0.kube.clone(), &body.namespace)
                    .list(&parameters)
                    .await
                    .map_err(kube_status)?;
                Ok(Response::new(proto::ListMigrationsResponse {
                    migrations: page.items.iter().map(convert::migration).collect(),
                    next_page_token: page.metadata.continue_.unwrap_or_default(),
                }))
            })
            .await
    }

    type WatchMigrationStream = Watch;

    async fn watch_migration(
        &self,
        request: Request<proto::WatchMigrationRequest>,
    ) -> Result<Response<Self::WatchMigrationStream>, Status> {
        self.0
            .measured("WatchMigration", async {
                let (namespace, name) = split_name(&request.get_ref().name, "name")?;
                let caller = self
                    .0
                    .allow(&request, "watch", "workloads", &namespace)
                    .await?;
                let slot = self.0.open_stream("WatchMigration", &caller)?;
                let api = Api::<Workload>::namespaced(self.0.kube.clone(), &namespace);
                let first = api.get(&name).await.map_err(kube_status)?;
                let (sender, receiver) = tokio::sync::mpsc::channel(16);
                tokio::spawn(migration_watch::follow(api, name, first, sender, slot));
                Ok(Response::new(ReceiverStream::new(receiver)))
            })
            .await
    }

    async fn cancel_migration(
        &self,
        request: Request<proto::CancelMigrationRequest>,
    ) -> Result<Response<proto::CancelMigrationResponse>, Status> {
        self.0
            .measured("CancelMigration", async {
                let body = request.get_ref();
                let mut violations = Violations::default();
                request_id(&body.request_id, &mut violations);
                violations.into_result()?;
                let (namespace, name) = split_name(&body.name, "name")?;
                let caller = self
                    .0
                    .allow(&request, "delete", "workloads", &namespace)
                    .await?;
                let (migrations, canceller, cancelled, cancel_key) = (
                    MigrationApi(self.0.clone()),
                    caller.clone(),
                    body.name.clone(),
                    answer_key(&caller, &body.request_id),
                );
                let answer = self
                    .once(&caller, "CancelMigration", &body.request_id, async move {
                        let api =
                            Api::<Workload>::namespaced(migrations.0.kube.clone(), &namespace);
                        let workload = cancel_once(&migrations.0, &api, &name, &cancel_key).await?;
                        if let Some(plan) = workload.annotations().get(PLAN_ANNOTATION) {
                            migrations
                                .0
                                .store
                                .release(plan)
                                .await
                                .map_err(store_status)?;
                        }
                        migrations
                            .record(
                                &format!("CancelMigration/{cancel_key}"),
                                RecordKind::Cancellation,
                                &canceller,
                                &cancelled,
                                &serde_json::json!({}),
                            )
                            .await?;
                        let mut migration = convert::migration(&workload);
                        migration.phase = proto::MigrationPhase::Cancelled.into();
                        Ok(proto::CancelMigrationResponse {
                            migration: Some(migration),
                        })
                    })
                    .await?;
                Ok(Response::new(answer))
            })
            .await
    }
}

/// How long the plan's reservations are held: the request's `reservation_ttl`, within bounds.
fn reservation_ttl(request: &proto::PlanMigrationRequest) -> Result<Duration, Status> {
    match &request.reservation_ttl {
        None => Ok(DEFAULT_TTL),
        Some(ttl) if ttl.seconds > 0 && ttl.seconds as u64 <= MAX_TTL.as_secs() => {
            Ok(Duration::from_secs(ttl.seconds as u64))
        }
        Some(_) => {
            let mut violations = Violations::default();
            violations.add(
                "reservation_ttl",
                format!("must be 1 s to {} s", MAX_TTL.as_secs()),
            );
            violations.into_result()?;
            Ok(DEFAULT_TTL)
        }
    }
}

/// When the only thing keeping an unplaceable workload out is capacity, RESOURCE_EXHAUSTED
/// naming the sites that would take it and how much each has free.
fn no_room(decision: &Decision) -> Option<Status> {
    let full: Vec<String> = decision
        .rejected
        .iter()
        .filter(|rejection| {
            rejection
                .reasons
                .iter()
                .all(|reason| reason.code == ReasonCode::InsufficientCapacity)
        })
        .flat_map(|rejection| {
            rejection
                .reasons
                .iter()
                .map(|reason| reason.message.clone())
        })
        .collect();
    (!full.is_empty()).then(|| {
        Status::resource_exhausted(format!("no eligible site has room: {}", full.join("; ")))
    })
}

/// The plan as the API returns and remembers it: the decision and what it holds, until when.
fn plan_message(
    plan_id: &str,
    request: &proto::PlanMigrationRequest,
    decision: &Decision,
    held: &[Held],
) -> proto::Plan {
    proto::Plan {
        plan_id: plan_id.to_owned(),
        namespace: request.namespace.clone(),
        workload: request.workload.clone(),
        decision: Some(convert::decision(decision.clone())),
        reservations: held
            .iter()
            .map(|reservation| proto::Reservation {
                site: reservation.site.clone(),
                capacity: Some(convert::capacity(reservation.capacity)),
                expire_time: Some(prost_types::Timestamp {
                    seconds: i64::try_from(reservation.expires_unix).unwrap_or(i64::MAX),
                    nanos: 0,
                }),
            })
            .collect(),
    }
}
