//! The API's answers as the CLI prints them: tables for people, JSON or YAML for scripts.

use serde_json::{Value, json};
use soberana_proto::v1 as proto;

fn capacity(capacity: Option<&proto::Capacity>) -> Value {
    capacity.map_or(Value::Null, |capacity| {
        json!({"cpuMillicores": capacity.cpu_millicores, "memoryMebibytes": capacity.memory_mebibytes, "storageGibibytes": capacity.storage_gibibytes})
    })
}

fn time(time: Option<&prost_types::Timestamp>) -> Value {
    time.and_then(|time| k8s_openapi::jiff::Timestamp::new(time.seconds, time.nanos).ok())
        .map_or(Value::Null, |time| Value::String(time.to_string()))
}

pub fn decision(decision: &proto::Decision) -> Value {
    json!({
        "chosenSites": decision.chosen_sites,
        "eligible": decision.eligible.iter().map(|score| json!({
            "site": score.site, "total": score.total,
            "criteria": score.criteria.iter().map(|criterion| json!({
                "criterion": criterion.criterion, "weight": criterion.weight, "score": criterion.score,
                "weighted": criterion.weighted, "basis": criterion.basis})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "rejected": decision.rejected.iter().map(|rejection| json!({
            "site": rejection.site,
            "reasons": rejection.reasons.iter().map(|reason| json!({
                "code": reason.code().as_str_name(), "required": reason.required, "actual": reason.actual,
                "source": reason.source, "message": reason.message})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "matchedRules": decision.matched_rules,
        "unplaceable": (!decision.unplaceable_code.is_empty()).then(|| json!({"code": decision.unplaceable_code, "message": decision.unplaceable_message})),
    })
}

pub fn plan(plan: &proto::Plan) -> Value {
    json!({
        "planId": plan.plan_id,
        "namespace": plan.namespace,
        "decision": plan.decision.as_ref().map(decision),
        "reservations": plan.reservations.iter().map(|reservation| json!({
            "site": reservation.site, "capacity": capacity(reservation.capacity.as_ref()),
            "expireTime": time(reservation.expire_time.as_ref())})).collect::<Vec<_>>(),
    })
}

pub fn migration(migration: &proto::Migration) -> Value {
    json!({
        "name": migration.name,
        "tenant": migration.tenant,
        "classification": migration.classification,
        "phase": migration.phase().as_str_name(),
        "chosenSites": migration.chosen_sites,
        "sites": migration.sites.iter().map(|site| json!({
            "site": site.site, "state": site.state, "desiredReplicas": site.desired_replicas,
            "availableReplicas": site.available_replicas, "message": site.message})).collect::<Vec<_>>(),
        "decision": migration.decision.as_ref().map(decision),
        "createTime": time(migration.create_time.as_ref()),
    })
}

pub fn site(site: &proto::Site) -> Value {
    json!({
        "name": site.name, "provider": site.provider, "sovereigntyTier": site.sovereignty_tier().as_str_name(),
        "jurisdiction": site.jurisdiction, "certifications": site.certifications,
        "offeredAvailability": site.offered_availability, "measuredAvailability": site.measured_availability,
        "ready": site.ready, "capacity": capacity(site.capacity.as_ref()), "allocated": capacity(site.allocated.as_ref()),
        "allowedClassifications": site.allowed_classifications,
    })
}

pub fn tenant(tenant: &proto::Tenant) -> Value {
    json!({
        "name": tenant.name, "displayName": tenant.display_name, "shortCode": tenant.short_code,
        "highestClassification": tenant.highest_classification, "environments": tenant.environments,
        "ready": tenant.ready,
        "sites": tenant.sites.iter().map(|site| json!({"site": site.site, "state": site.state, "message": site.message})).collect::<Vec<_>>(),
    })
}

pub fn record(record: &proto::LedgerRecord) -> Value {
    json!({
        "sequence": record.sequence, "kind": record.kind().as_str_name(), "time": time(record.record_time.as_ref()),
        "actor": record.actor, "subject": record.subject, "payloadJson": record.payload_json,
        "previousHash": record.previous_hash, "hash": record.hash,
    })
}

/// One line per migration.
pub fn migrations_table(migrations: &[proto::Migration]) -> String {
    let mut text = format!(
        "{:<44} {:<14} {:<14} SITES\n",
        "NAME", "CLASSIFICATION", "PHASE"
    );
    for migration in migrations {
        text.push_str(&format!(
            "{:<44} {:<14} {:<14} {}\n",
            migration.name,
            migration.classification,
            migration
                .phase()
                .as_str_name()
                .trim_start_matches("MIGRATION_PHASE_"),
            migration.chosen_sites.join(", ")
        ));
    }
    text
}

/// A plan for people: where, what is held, and why every other site was rejected.
pub fn plan_text(plan: &proto::Plan) -> String {
    let mut text = format!("Plan {} in {}\n", plan.plan_id, plan.namespace);
    if let Some(decision) = &plan.decision {
        if decision.chosen_sites.is_empty() {
            text.push_str(&format!(
                "Unplaceable ({}): {}\n",
                decision.unplaceable_code, decision.unplaceable_message
            ));
        } else {
            text.push_str(&format!("Chosen: {}\n", decision.chosen_sites.join(", ")));
        }
        for score in &decision.eligible {
            text.push_str(&format!(
                "  eligible {:<20} score {}\n",
                score.site, score.total
            ));
        }
        for rejection in &decision.rejected {
            for reason in &rejection.reasons {
                text.push_str(&format!(
                    "  rejected {:<20} {}\n",
                    rejection.site, reason.message
                ));
            }
        }
    }
    for reservation in &plan.reservations {
        let held = reservation.capacity.unwrap_or_default();
        text.push_str(&format!(
            "Reserved on {}: {}m CPU, {} MiB until {}\n",
            reservation.site,
            held.cpu_millicores,
            held.memory_mebibytes,
            time(reservation.expire_time.as_ref())
                .as_str()
                .unwrap_or("-")
        ));
    }
    if !plan.reservations.is_empty() {
        text.push_str(&format!(
            "Submit with: soberana submit {} --name <workload-name>\n",
            plan.plan_id
        ));
    }
    text
}
