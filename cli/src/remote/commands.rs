//! The CLI's commands against the API: plan, submit, get, list, watch, cancel, sites, tenants,
//! audit. Each prints a table for people or JSON/YAML for scripts, and exits non-zero with the
//! API's message (and every field violation) when the call fails.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use soberana_proto::v1 as proto;
use tonic::Code;
use tonic_types::StatusExt;

use crate::offline::manifests::load_objects;
use crate::remote::connection::{Connection, fresh_request_id};
use crate::remote::output;
use soberana_core::ledger::anchored::verify_anchored;
use soberana_core::ledger::{LedgerRecord, RecordKind, verify};

/// How answers are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Yaml,
}

/// A failed call: what to print and the exit code (2 for bad input, 1 otherwise).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Self {
            message: format!("{error:#}"),
            code: 1,
        }
    }
}

impl From<tonic::Status> for Failure {
    fn from(status: tonic::Status) -> Self {
        let mut message = format!("{:?}: {}", status.code(), status.message());
        if let Some(bad) = status.get_details_bad_request() {
            for violation in bad.field_violations {
                message.push_str(&format!(
                    "\n  {}: {}",
                    violation.field, violation.description
                ));
            }
        }
        Self {
            message,
            code: if status.code() == Code::InvalidArgument {
                2
            } else {
                1
            },
        }
    }
}

fn print(format: Format, value: &Value, table: impl FnOnce() -> String) -> Result<(), Failure> {
    let text = match format {
        Format::Table => table(),
        Format::Json => serde_json::to_string_pretty(value).map_err(anyhow::Error::from)? + "\n",
        Format::Yaml => serde_norway::to_string(value).map_err(anyhow::Error::from)?,
    };
    use std::io::Write;
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(())
}

/// The one Workload in `file`, as the API's spec, and its namespace.
fn workload_from(file: &Path) -> Result<(String, proto::WorkloadSpec), Failure> {
    let manifests = load_objects(&[file.to_path_buf()]).map_err(|errors| Failure {
        message: errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
        code: 2,
    })?;
    let [(workload, origin)] = manifests.workloads.as_slice() else {
        return Err(Failure {
            message: format!(
                "{}: expected exactly one Workload, found {}",
                file.display(),
                manifests.workloads.len()
            ),
            code: 2,
        });
    };
    let namespace = workload.metadata.namespace.clone().ok_or_else(|| Failure {
        message: format!(
            "{origin}: metadata.namespace is required (the tenant namespace, e.g. minsa-prod)"
        ),
        code: 2,
    })?;
    let spec = &workload.spec;
    Ok((
        namespace,
        proto::WorkloadSpec {
            tenant: spec.tenant.clone(),
            classification: spec.classification.clone(),
            resources: Some(proto::Capacity {
                cpu_millicores: spec.resources.cpu_millicores,
                memory_mebibytes: spec.resources.memory_mebibytes,
                storage_gibibytes: spec.resources.storage_gibibytes,
            }),
            replicas: spec.replicas,
            availability_target: spec.availability_target.clone().unwrap_or_default(),
            spread: spec.spread.as_ref().map(|spread| proto::Spread {
                minimum_sites: spread.minimum_sites,
                maximum_sites: spread.maximum_sites.unwrap_or(0),
                across: match spread.across {
                    soberana_core::resources::placement_rule::SpreadDomain::Sites => {
                        proto::SpreadDomain::Sites
                    }
                    soberana_core::resources::placement_rule::SpreadDomain::Zones => {
                        proto::SpreadDomain::Zones
                    }
                    soberana_core::resources::placement_rule::SpreadDomain::Providers => {
                        proto::SpreadDomain::Providers
                    }
                }
                .into(),
            }),
            tolerations: spec.tolerations.clone(),
            migration_source: spec
                .migration_source
                .as_ref()
                .map(|source| proto::MigrationSource {
                    location: match (&source.site, &source.external) {
                        (Some(site), _) => {
                            Some(proto::migration_source::Location::Site(site.clone()))
                        }
                        (None, Some(external)) => Some(
                            proto::migration_source::Location::External(external.clone()),
                        ),
                        (None, None) => None,
                    },
                }),
            labels: spec.labels.clone().into_iter().collect(),
        },
    ))
}

pub async fn plan(
    connection: &Connection,
    file: &Path,
    ttl: u64,
    request_id: Option<String>,
    format: Format,
) -> Result<u8, Failure> {
    let (namespace, workload) = workload_from(file)?;
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let request = proto::PlanMigrationRequest {
        request_id: request_id.unwrap_or_else(fresh_request_id),
        namespace,
        workload: Some(workload),
        reservation_ttl: Some(prost_types::Duration {
            seconds: i64::try_from(ttl).unwrap_or(i64::MAX),
            nanos: 0,
        }),
    };
    let plan = client
        .plan_migration(connection.request(request)?)
        .await?
        .into_inner()
        .plan
        .unwrap_or_default();
    print(format, &output::plan(&plan), || output::plan_text(&plan))?;
    Ok(u8::from(plan.reservations.is_empty()))
}

pub async fn submit(
    connection: &Connection,
    plan_id: &str,
    name: &str,
    request_id: Option<String>,
    format: Format,
) -> Result<u8, Failure> {
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let request = proto::SubmitMigrationRequest {
        request_id: request_id.unwrap_or_else(fresh_request_id),
        plan_id: plan_id.to_owned(),
        workload_name: name.to_owned(),
    };
    let migration = client
        .submit_migration(connection.request(request)?)
        .await?
        .into_inner()
        .migration
        .unwrap_or_default();
    print(format, &output::migration(&migration), || {
        format!(
            "Submitted {}: follow it with `soberana watch {}`\n",
            migration.name, migration.name
        )
    })?;
    Ok(0)
}

pub async fn get(connection: &Connection, name: &str, format: Format) -> Result<u8, Failure> {
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let migration = client
        .get_migration(connection.request(proto::GetMigrationRequest {
            name: name.to_owned(),
        })?)
        .await?
        .into_inner()
        .migration
        .unwrap_or_default();
    print(format, &output::migration(&migration), || {
        output::migrations_table(std::slice::from_ref(&migration))
    })?;
    Ok(0)
}

pub async fn list(connection: &Connection, namespace: &str, format: Format) -> Result<u8, Failure> {
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = proto::ListMigrationsRequest {
            namespace: namespace.to_owned(),
            page_size: 0,
            page_token: page_token.clone(),
        };
        let page = client
            .list_migrations(connection.request(request)?)
            .await?
            .into_inner();
        all.extend(page.migrations);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let value = Value::Array(all.iter().map(output::migration).collect());
    print(format, &value, || output::migrations_table(&all))?;
    Ok(0)
}

pub async fn watch(connection: &Connection, name: &str, format: Format) -> Result<u8, Failure> {
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let mut stream = client
        .watch_migration(connection.request(proto::WatchMigrationRequest {
            name: name.to_owned(),
        })?)
        .await?
        .into_inner();
    let started = std::time::Instant::now();
    let mut last = None;
    while let Some(update) = stream.message().await? {
        let migration = update.migration.unwrap_or_default();
        print(format, &output::migration(&migration), || {
            let rollout: Vec<String> = migration
                .sites
                .iter()
                .map(|site| {
                    format!(
                        "{} {} {}/{}",
                        site.site, site.state, site.available_replicas, site.desired_replicas
                    )
                })
                .collect();
            format!(
                "[{:>6.1}s] {:<28} {}{}\n",
                started.elapsed().as_secs_f64(),
                migration
                    .phase()
                    .as_str_name()
                    .trim_start_matches("MIGRATION_PHASE_"),
                migration.chosen_sites.join(", "),
                if rollout.is_empty() {
                    String::new()
                } else {
                    format!("  ({})", rollout.join("; "))
                }
            )
        })?;
        last = Some(migration.phase());
    }
    Ok(match last {
        Some(proto::MigrationPhase::Running) => 0,
        _ => 1,
    })
}

pub async fn cancel(
    connection: &Connection,
    name: &str,
    request_id: Option<String>,
    format: Format,
) -> Result<u8, Failure> {
    let mut client =
        proto::migration_service_client::MigrationServiceClient::new(connection.channel().await?);
    let request = proto::CancelMigrationRequest {
        request_id: request_id.unwrap_or_else(fresh_request_id),
        name: name.to_owned(),
    };
    let migration = client
        .cancel_migration(connection.request(request)?)
        .await?
        .into_inner()
        .migration
        .unwrap_or_default();
    print(format, &output::migration(&migration), || {
        format!("Cancelled {}\n", migration.name)
    })?;
    Ok(0)
}

pub async fn sites(connection: &Connection, format: Format) -> Result<u8, Failure> {
    let mut client =
        proto::inventory_service_client::InventoryServiceClient::new(connection.channel().await?);
    let sites = client
        .list_sites(connection.request(proto::ListSitesRequest {})?)
        .await?
        .into_inner()
        .sites;
    let value = Value::Array(sites.iter().map(output::site).collect());
    print(format, &value, || {
        let mut text = format!(
            "{:<22} {:<18} {:<6} {:<6} {:<9} HOSTS\n",
            "SITE", "TIER", "JURIS.", "READY", "OFFERED"
        );
        for site in &sites {
            text.push_str(&format!(
                "{:<22} {:<18} {:<6} {:<6} {:<9} {}\n",
                site.name,
                site.sovereignty_tier()
                    .as_str_name()
                    .trim_start_matches("SOVEREIGNTY_TIER_"),
                site.jurisdiction,
                site.ready,
                site.offered_availability,
                site.allowed_classifications.join(", ")
            ));
        }
        text
    })?;
    Ok(0)
}

pub async fn tenants(connection: &Connection, format: Format) -> Result<u8, Failure> {
    let mut client =
        proto::tenant_service_client::TenantServiceClient::new(connection.channel().await?);
    let tenants = client
        .list_tenants(connection.request(proto::ListTenantsRequest {})?)
        .await?
        .into_inner()
        .tenants;
    let value = Value::Array(tenants.iter().map(output::tenant).collect());
    print(format, &value, || {
        let mut text = format!(
            "{:<32} {:<16} {:<14} READY\n",
            "TENANT", "SHORT CODE", "CEILING"
        );
        for tenant in &tenants {
            text.push_str(&format!(
                "{:<32} {:<16} {:<14} {}\n",
                tenant.name, tenant.short_code, tenant.highest_classification, tenant.ready
            ));
        }
        text
    })?;
    Ok(0)
}

/// Every ledger record, in order.
async fn ledger(connection: &Connection) -> Result<Vec<proto::LedgerRecord>, Failure> {
    let mut client =
        proto::audit_service_client::AuditServiceClient::new(connection.channel().await?);
    let mut records = Vec::new();
    let mut page_token = String::new();
    loop {
        let request = proto::ListDecisionsRequest {
            page_size: 1000,
            page_token: page_token.clone(),
        };
        let page = client
            .list_decisions(connection.request(request)?)
            .await?
            .into_inner();
        records.extend(page.records);
        if page.next_page_token.is_empty() {
            return Ok(records);
        }
        page_token = page.next_page_token;
    }
}

pub async fn audit_list(connection: &Connection, format: Format) -> Result<u8, Failure> {
    let records = ledger(connection).await?;
    let value = Value::Array(records.iter().map(output::record).collect());
    print(format, &value, || {
        let mut text = format!(
            "{:<6} {:<24} {:<44} {:<40} HASH\n",
            "SEQ", "KIND", "ACTOR", "SUBJECT"
        );
        for record in &records {
            text.push_str(&format!(
                "{:<6} {:<24} {:<44} {:<40} {}\n",
                record.sequence,
                record
                    .kind()
                    .as_str_name()
                    .trim_start_matches("RECORD_KIND_"),
                record.actor,
                record.subject,
                record.hash.get(..12).unwrap_or_default()
            ));
        }
        text
    })?;
    Ok(0)
}

/// Signed checkpoints a ledger must contain: a file or directory of them, and the public key
/// that signed them.
#[derive(Debug, Clone)]
pub struct Anchors {
    pub checkpoints: std::path::PathBuf,
    pub public_key: std::path::PathBuf,
}

/// Walks the whole chain, and with `anchors` checks that it contains every signed checkpoint;
/// exit 0 when it holds, 1 naming the first broken or contradicted record, 2 for unusable
/// checkpoint or key files.
pub async fn audit_verify(
    connection: &Connection,
    anchors: Option<&Anchors>,
) -> Result<u8, Failure> {
    let bad_input = |message: String| Failure { message, code: 2 };
    let checkpoints = match anchors {
        Some(anchors) => {
            let key = soberana_store::checkpoint_files::read_public_key(&anchors.public_key)
                .map_err(|error| bad_input(format!("--public-key {error}")))?;
            let read =
                soberana_store::checkpoint_files::read_checkpoints(&anchors.checkpoints, &key)
                    .map_err(|error| bad_input(format!("--checkpoint {error}")))?;
            if read.is_empty() {
                return Err(bad_input(format!(
                    "--checkpoint {}: no checkpoint-*.json files there",
                    anchors.checkpoints.display()
                )));
            }
            Some(
                read.into_iter()
                    .map(|(_, checkpoint)| checkpoint)
                    .collect::<Vec<_>>(),
            )
        }
        None => None,
    };
    let records = ledger(connection).await?;
    let chain: Vec<LedgerRecord> = records.iter().map(ledger_record).collect::<Result<_>>()?;
    let verified = match &checkpoints {
        Some(checkpoints) => verify_anchored(&chain, checkpoints).map(|anchored| {
            format!(
                "; anchored through record {} by {} signed checkpoint(s){}",
                anchored.anchored_through,
                checkpoints.len(),
                if anchored.records > anchored.anchored_through {
                    format!(
                        " ({} later record(s) chained but not yet checkpointed)",
                        anchored.records - anchored.anchored_through
                    )
                } else {
                    String::new()
                }
            )
        }),
        None => verify(&chain).map(|_| String::new()),
    };
    match verified {
        Ok(anchoring) => {
            let of = |kind: RecordKind| chain.iter().filter(|record| record.kind == kind).count();
            println!(
                "The ledger holds: {} records, every link verified ({} plans, {} submissions, {} placements, {} cancellations, {} agreement changes){anchoring}.",
                chain.len(),
                of(RecordKind::Plan),
                of(RecordKind::Submission),
                of(RecordKind::Placement),
                of(RecordKind::Cancellation),
                of(RecordKind::Exchange)
            );
            if checkpoints.is_none() {
                println!(
                    "Not anchored: pass --checkpoint and --public-key to detect a cut tail, a rewritten suffix or a restarted chain."
                );
            }
            Ok(0)
        }
        Err(broken) => {
            println!("The ledger is BROKEN at {broken}");
            Ok(1)
        }
    }
}

fn ledger_record(record: &proto::LedgerRecord) -> Result<LedgerRecord> {
    let kind = match record.kind() {
        proto::RecordKind::Plan => RecordKind::Plan,
        proto::RecordKind::Submission => RecordKind::Submission,
        proto::RecordKind::Placement => RecordKind::Placement,
        proto::RecordKind::Cancellation => RecordKind::Cancellation,
        proto::RecordKind::Exchange => RecordKind::Exchange,
        proto::RecordKind::Unspecified => bail!("record {} has no kind", record.sequence),
    };
    let time = record
        .record_time
        .as_ref()
        .and_then(|time| k8s_openapi::jiff::Timestamp::new(time.seconds, time.nanos).ok())
        .map(|time| time.to_string())
        .context("a record without time")?;
    Ok(LedgerRecord {
        sequence: record.sequence,
        kind,
        time,
        actor: record.actor.clone(),
        subject: record.subject.clone(),
        payload_json: record.payload_json.clone(),
        previous_hash: record.previous_hash.clone(),
        hash: record.hash.clone(),
    })
}
