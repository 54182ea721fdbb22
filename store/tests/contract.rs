//! The API's store, the etcd one against a real etcd from the harness and its in-memory twin
//! with the same checks: reservations never overbook a site (also when plans race), expire by
//! themselves, retries get the first answer, the ledger chains and detects tampering, and a
//! stopped etcd is reported unavailable and then recovered with nothing lost. Two etcd stores on
//! one etcd (two API replicas) count each other's reservations through their watches.

#![allow(
    clippy::too_many_lines,
    reason = "a scenario reads top to bottom as one story"
)]
#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use soberana_core::ledger::{NewRecord, RecordKind, verify};
use soberana_core::resources::capacity::Capacity;
use soberana_e2e::etcd_server::EtcdServer;
use soberana_store::etcd::EtcdStore;
use soberana_store::etcd_security::EtcdSecurity;
use soberana_store::memory::MemoryStore;
use soberana_store::{Held, Store, StoreError, TenantQuota};

fn cpu(millicores: u64) -> Capacity {
    Capacity {
        cpu_millicores: millicores,
        memory_mebibytes: 0,
        storage_gibibytes: 0,
    }
}

fn quota() -> TenantQuota {
    TenantQuota::unlimited("agency")
}

fn free() -> BTreeMap<String, Capacity> {
    BTreeMap::from([
        ("state-dc".to_owned(), cpu(1000)),
        ("national".to_owned(), cpu(500)),
    ])
}

fn record(index: u32) -> NewRecord {
    NewRecord {
        kind: RecordKind::Plan,
        time: format!("2026-11-23T10:00:{index:02}Z"),
        actor: "system:serviceaccount:minsa:migrator".to_owned(),
        subject: "minsa-prod/citas".to_owned(),
        payload_json: format!("{{\"plan\":{index}}}"),
    }
}

const TTL: Duration = Duration::from_secs(600);

async fn reservations_never_overbook(store: &dyn Store) {
    let first = store
        .reserve(
            "plan-1",
            &quota(),
            &[("state-dc".to_owned(), cpu(600))],
            &free(),
            TTL,
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    let refused = store
        .reserve(
            "plan-2",
            &quota(),
            &[("state-dc".to_owned(), cpu(600))],
            &free(),
            TTL,
        )
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        StoreError::Exhausted {
            site: "state-dc".to_owned(),
            needed: cpu(600),
            free: cpu(400)
        }
    );
    // All or nothing: national fits, state-dc does not, so nothing is held for plan-3.
    let partial = store
        .reserve(
            "plan-3",
            &quota(),
            &[
                ("national".to_owned(), cpu(100)),
                ("state-dc".to_owned(), cpu(500)),
            ],
            &free(),
            TTL,
        )
        .await;
    assert!(matches!(partial, Err(StoreError::Exhausted { .. })));
    let held = store.reservations().await.unwrap();
    assert!(
        held.iter().all(|reservation| reservation.plan == "plan-1"),
        "{held:?}"
    );
    store
        .reserve(
            "plan-2",
            &quota(),
            &[("state-dc".to_owned(), cpu(400))],
            &free(),
            TTL,
        )
        .await
        .unwrap();
    store.release("plan-1").await.unwrap();
    store.release("plan-2").await.unwrap();
    assert!(store.reservations().await.unwrap().is_empty());
}

async fn a_retried_plan_replaces_what_it_held(store: &dyn Store) {
    for _ in 0..2 {
        store
            .reserve(
                "retried",
                &quota(),
                &[("state-dc".to_owned(), cpu(600))],
                &free(),
                TTL,
            )
            .await
            .expect("the plan's own reservation does not stand in its way");
    }
    let held = store.reservations().await.unwrap();
    assert_eq!(
        held.iter()
            .map(|held| (held.plan.as_str(), held.capacity.cpu_millicores))
            .collect::<Vec<_>>(),
        [("retried", 600)]
    );
    // Decided again, the plan chose another site: it holds that one alone.
    store
        .reserve(
            "retried",
            &quota(),
            &[("national".to_owned(), cpu(500))],
            &free(),
            TTL,
        )
        .await
        .unwrap();
    let held = store.reservations().await.unwrap();
    assert_eq!(
        held.iter()
            .map(|held| (held.site.as_str(), held.capacity.cpu_millicores))
            .collect::<Vec<_>>(),
        [("national", 500)]
    );
    store.release("retried").await.unwrap();
}

async fn racing_plans_get_exactly_what_fits(store: Arc<dyn Store>) {
    let attempts = (0..8).map(|index| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .reserve(
                    &format!("race-{index}"),
                    &quota(),
                    &[("state-dc".to_owned(), cpu(300))],
                    &free(),
                    TTL,
                )
                .await
        })
    });
    let outcomes = futures::future::join_all(attempts).await;
    let granted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Ok(_))))
        .count();
    let exhausted = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, Ok(Err(StoreError::Exhausted { .. }))))
        .count();
    assert_eq!((granted, exhausted), (3, 5), "{outcomes:?}");
    let total: u64 = store
        .reservations()
        .await
        .unwrap()
        .iter()
        .map(|reservation| reservation.capacity.cpu_millicores)
        .sum();
    assert_eq!(total, 900);
    for index in 0..8 {
        store.release(&format!("race-{index}")).await.unwrap();
    }
}

async fn reservations_expire(store: &dyn Store) {
    store
        .reserve(
            "brief",
            &quota(),
            &[("national".to_owned(), cpu(500))],
            &free(),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    assert_eq!(store.reservations().await.unwrap().len(), 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        store.reservations().await.unwrap().is_empty(),
        "the reservation outlived its TTL"
    );
    store
        .reserve(
            "after",
            &quota(),
            &[("national".to_owned(), cpu(500))],
            &free(),
            TTL,
        )
        .await
        .expect("the expired capacity is free again");
    store.release("after").await.unwrap();
}

async fn retries_get_the_first_answer(store: &dyn Store) {
    assert_eq!(store.recall("PlanMigration", "req-1").await.unwrap(), None);
    let first = store
        .remember("PlanMigration", "req-1", b"first", TTL)
        .await
        .unwrap();
    assert_eq!(first, b"first");
    let again = store
        .remember("PlanMigration", "req-1", b"second", TTL)
        .await
        .unwrap();
    assert_eq!(again, b"first");
    assert_eq!(
        store
            .recall("PlanMigration", "req-1")
            .await
            .unwrap()
            .unwrap(),
        b"first"
    );
    assert_eq!(
        store.recall("SubmitMigration", "req-1").await.unwrap(),
        None,
        "per method"
    );
}

async fn the_ledger_chains(store: &dyn Store) -> u64 {
    assert_eq!(store.last_sequence().await.unwrap(), 0, "an empty ledger");
    for index in 1..=5 {
        let appended = store.append(record(index)).await.unwrap();
        assert_eq!(appended.sequence, u64::from(index));
    }
    let records = store.records(1, 100).await.unwrap();
    assert_eq!(verify(&records), Ok(5));
    assert_eq!(store.records(4, 1).await.unwrap()[0].sequence, 4);
    assert_eq!(store.last_sequence().await.unwrap(), 5);
    5
}

/// Appenders racing each other (the operator's controllers and the API replicas do) all land,
/// in one chain without gaps: a lost race is retried, not taken for a rolled-back head.
async fn racing_appends_all_land(store: Arc<dyn Store>) {
    let before = store.last_sequence().await.unwrap();
    let appends = (0..12).map(|index| {
        let store = store.clone();
        tokio::spawn(async move { store.append(record(index)).await })
    });
    for outcome in futures::future::join_all(appends).await {
        outcome.unwrap().unwrap();
    }
    assert_eq!(store.last_sequence().await.unwrap(), before + 12);
    let records = store.records(1, 1000).await.unwrap();
    assert_eq!(verify(&records), Ok(before + 12));
}

/// A tenant past its quota (plans, or capacity summed over sites) is refused naming the limit;
/// its own retry is not counted twice, and other tenants are not affected.
async fn a_tenant_cannot_reserve_past_its_quota(store: &dyn Store) {
    let limited = TenantQuota {
        tenant: "greedy".to_owned(),
        max_plans: 2,
        max_capacity: cpu(500),
    };
    let small = [("national".to_owned(), cpu(100))];
    for plan in ["greedy-1", "greedy-2", "greedy-2"] {
        store
            .reserve(plan, &limited, &small, &free(), TTL)
            .await
            .unwrap();
    }
    let refused = store
        .reserve("greedy-3", &limited, &small, &free(), TTL)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::OverQuota(message) if message.contains("greedy") && message.contains("2 plans")),
        "{refused}"
    );
    let too_big = [
        ("state-dc".to_owned(), cpu(250)),
        ("national".to_owned(), cpu(250)),
    ];
    let refused = store
        .reserve("greedy-2", &limited, &too_big, &free(), TTL)
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::OverQuota(message) if message.contains("limit of 500m CPU") && message.contains("--tenant-reservation-percent")),
        "{refused}"
    );
    store
        .reserve(
            "modest-1",
            &TenantQuota {
                tenant: "modest".to_owned(),
                ..limited.clone()
            },
            &small,
            &free(),
            TTL,
        )
        .await
        .expect("another tenant has its own quota");
    let held = store.reservations().await.unwrap();
    assert!(
        held.iter()
            .any(|held| held.plan == "greedy-2" && held.tenant == "greedy")
    );
    assert!(
        !held.iter().any(|held| held.plan == "greedy-3"),
        "nothing held for the refused plan"
    );
    for plan in ["greedy-1", "greedy-2", "modest-1"] {
        store.release(plan).await.unwrap();
    }
}

/// A retried request appends its record once, however often it is retried.
async fn a_retried_record_is_appended_once(store: &dyn Store) {
    let before = store.last_sequence().await.unwrap();
    let first = store
        .append_once("SubmitMigration/req-9", record(9))
        .await
        .unwrap();
    assert_eq!(first.sequence, before + 1);
    let again = store
        .append_once("SubmitMigration/req-9", record(9))
        .await
        .unwrap();
    assert_eq!(again, first, "the retry gets the record already appended");
    let other = store
        .append_once("CancelMigration/req-9", record(9))
        .await
        .unwrap();
    assert_eq!(other.sequence, before + 2, "another key is another record");
    assert_eq!(store.last_sequence().await.unwrap(), before + 2);
    assert_eq!(
        verify(&store.records(1, 1000).await.unwrap()),
        Ok(before + 2)
    );
}

#[tokio::test]
async fn the_memory_twin_keeps_the_same_promises() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::default());
    reservations_never_overbook(store.as_ref()).await;
    a_retried_plan_replaces_what_it_held(store.as_ref()).await;
    racing_plans_get_exactly_what_fits(store.clone()).await;
    reservations_expire(store.as_ref()).await;
    retries_get_the_first_answer(store.as_ref()).await;
    the_ledger_chains(store.as_ref()).await;
    a_retried_record_is_appended_once(store.as_ref()).await;
    racing_appends_all_land(store.clone()).await;
    a_tenant_cannot_reserve_past_its_quota(store.as_ref()).await;
}

/// Polls `store`'s reservations until `done` holds of them (a watch is not instantaneous).
async fn eventually(store: &dyn Store, done: impl Fn(&[Held]) -> bool) -> Vec<Held> {
    let mut held = Vec::new();
    for _ in 0..50 {
        held = store.reservations().await.unwrap();
        if done(&held) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    held
}

#[tokio::test]
async fn api_replicas_see_each_others_reservations() {
    let etcd = EtcdServer::start().await.unwrap();
    let endpoints = [etcd.endpoint()];
    let first = EtcdStore::connect(&endpoints, "/soberana/", &EtcdSecurity::default())
        .await
        .unwrap();
    let second = EtcdStore::connect(&endpoints, "/soberana/", &EtcdSecurity::default())
        .await
        .unwrap();
    assert!(second.reservations().await.unwrap().is_empty());
    first
        .reserve(
            "shared",
            &quota(),
            &[("state-dc".to_owned(), cpu(700))],
            &free(),
            TTL,
        )
        .await
        .unwrap();
    let seen = eventually(&second, |held| !held.is_empty()).await;
    assert_eq!(
        seen.iter()
            .map(|held| held.plan.as_str())
            .collect::<Vec<_>>(),
        ["shared"],
        "the second replica does not count the first one's reservation"
    );
    // The second replica cannot overbook what the first one holds, whatever its mirror says.
    assert!(matches!(
        second
            .reserve(
                "greedy",
                &quota(),
                &[("state-dc".to_owned(), cpu(400))],
                &free(),
                TTL
            )
            .await,
        Err(StoreError::Exhausted { .. })
    ));
    first
        .reserve(
            "brief",
            &quota(),
            &[("national".to_owned(), cpu(100))],
            &free(),
            Duration::from_secs(2),
        )
        .await
        .unwrap();
    first.release("shared").await.unwrap();
    let seen = eventually(&second, |held| held.iter().all(|held| held.plan == "brief")).await;
    assert!(
        seen.iter().all(|held| held.plan == "brief"),
        "a released reservation is still counted: {seen:?}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        second.reservations().await.unwrap().is_empty(),
        "an expired reservation is still counted"
    );
}

#[tokio::test]
async fn the_etcd_store_against_a_real_etcd() {
    let etcd = EtcdServer::start().await.unwrap();
    let store: Arc<dyn Store> = Arc::new(
        EtcdStore::connect(&[etcd.endpoint()], "/soberana/", &EtcdSecurity::default())
            .await
            .unwrap(),
    );
    reservations_never_overbook(store.as_ref()).await;
    a_retried_plan_replaces_what_it_held(store.as_ref()).await;
    racing_plans_get_exactly_what_fits(store.clone()).await;
    reservations_expire(store.as_ref()).await;
    retries_get_the_first_answer(store.as_ref()).await;
    the_ledger_chains(store.as_ref()).await;
    a_retried_record_is_appended_once(store.as_ref()).await;
    racing_appends_all_land(store.clone()).await;
    a_tenant_cannot_reserve_past_its_quota(store.as_ref()).await;
    let appended = store.last_sequence().await.unwrap();
    store
        .reserve(
            "kept",
            &quota(),
            &[("state-dc".to_owned(), cpu(100))],
            &free(),
            TTL,
        )
        .await
        .unwrap();

    // Tampering with a stored record is detected at that record.
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap();
    let key = format!("/soberana/ledger/records/{:020}", 3);
    let stored = raw.get(key.clone(), None).await.unwrap();
    let mut tampered: serde_json::Value = serde_json::from_slice(stored.kvs()[0].value()).unwrap();
    tampered["payloadJson"] = serde_json::json!("{\"plan\":999}");
    raw.put(key.clone(), serde_json::to_vec(&tampered).unwrap(), None)
        .await
        .unwrap();
    let broken = verify(&store.records(1, 100).await.unwrap()).unwrap_err();
    assert_eq!(broken.sequence, 3, "{broken}");
    raw.put(key, stored.kvs()[0].value().to_vec(), None)
        .await
        .unwrap();

    // Deleting the head does not restart the chain over old records: appending refuses.
    let head_key = "/soberana/ledger/head";
    let head = raw.get(head_key, None).await.unwrap();
    raw.delete(head_key, None).await.unwrap();
    let refused = store.append(record(6)).await.unwrap_err();
    assert!(
        matches!(&refused, StoreError::Corrupt(message) if message.contains("ledger record 1 already exists")),
        "{refused}"
    );
    assert_eq!(
        verify(&store.records(1, 100).await.unwrap()),
        Ok(appended),
        "no record was overwritten"
    );
    raw.put(head_key, head.kvs()[0].value().to_vec(), None)
        .await
        .unwrap();

    // Stopped: unavailable, and said so. Restarted: everything is still there.
    etcd.stop();
    assert!(!store.healthy().await);
    assert!(matches!(
        store.reservations().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.append(record(6)).await,
        Err(StoreError::Unavailable(_))
    ));
    etcd.start_again().await.unwrap();
    let mut healthy = false;
    for _ in 0..30 {
        if store.healthy().await {
            healthy = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(healthy, "the store did not recover after etcd came back");
    assert_eq!(verify(&store.records(1, 100).await.unwrap()), Ok(appended));
    assert!(
        store
            .reservations()
            .await
            .unwrap()
            .iter()
            .any(|held| held.plan == "kept")
    );
    assert_eq!(
        store.append(record(6)).await.unwrap().sequence,
        appended + 1
    );
}
