//! The reservations held in etcd, mirrored in memory by a watch on their prefix, so that every
//! `Evaluate` and plan counts them without a round trip to etcd. Writing stays transactional in
//! etcd (`EtcdStore::reserve`); the mirror only serves reads.
//!
//! A read asks for the mirror to reflect at least a revision (the store's own last write or the
//! last reservation it read directly), so a plan that lost a race sees the winner's reservation
//! when it decides again. While the watch is down (etcd unreachable, watch cancelled) the mirror
//! answers nothing and the store reads etcd directly, which fails as etcd does.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::Duration;

use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions};

use super::{Held, unix_now};

/// How long the mirror waits before watching again after its watch broke.
const REWATCH_AFTER: Duration = Duration::from_millis(500);

/// The mirrored reservations.
#[derive(Debug, Default)]
pub(crate) struct ReservationMirror {
    state: RwLock<State>,
    changed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct State {
    /// Whether the watch is running, so that `held` is current.
    live: bool,
    /// The highest etcd revision reflected.
    revision: i64,
    /// By etcd key.
    held: BTreeMap<Vec<u8>, Held>,
}

impl ReservationMirror {
    /// Starts mirroring the keys under `prefix` (in a task that ends with the mirror).
    pub(crate) fn start(client: Client, prefix: String) -> Arc<Self> {
        let mirror = Arc::new(Self::default());
        tokio::spawn(follow_forever(Arc::downgrade(&mirror), client, prefix));
        mirror
    }

    /// The reservations not yet expired, once the mirror reflects etcd `revision` or later;
    /// `None` when the watch is down or does not get there within `wait`.
    pub(crate) async fn held_since(&self, revision: i64, wait: Duration) -> Option<Vec<Held>> {
        // Usually caught up already: answer without registering as a waiter.
        if let Some(answer) = self.held_if_since(revision) {
            return answer;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(answer) = self.held_if_since(revision) {
                return answer;
            }
            tokio::time::timeout_at(deadline, changed).await.ok()?;
        }
    }

    /// `Some(None)` while the watch is down, `Some(held)` once at `revision`, `None` before.
    fn held_if_since(&self, revision: i64) -> Option<Option<Vec<Held>>> {
        let state = read(&self.state);
        if !state.live {
            return Some(None);
        }
        if state.revision < revision {
            return None;
        }
        let now = unix_now();
        Some(Some(
            state
                .held
                .values()
                .filter(|held| held.expires_unix > now)
                .cloned()
                .collect(),
        ))
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        let mut state = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        change(&mut state);
        drop(state);
        self.changed.notify_waiters();
    }
}

fn read(state: &RwLock<State>) -> std::sync::RwLockReadGuard<'_, State> {
    state
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn follow_forever(mirror: Weak<ReservationMirror>, mut client: Client, prefix: String) {
    loop {
        let error = follow(&mirror, &mut client, &prefix).await;
        let Some(strong) = mirror.upgrade() else {
            return;
        };
        strong.update(|state| state.live = false);
        drop(strong);
        tracing::debug!(%error, "the reservation mirror's watch broke; watching again");
        tokio::time::sleep(REWATCH_AFTER).await;
    }
}

/// Lists the prefix, then applies its changes until the watch breaks; returns why it broke.
async fn follow(mirror: &Weak<ReservationMirror>, client: &mut Client, prefix: &str) -> String {
    let listed = match client
        .get(prefix, Some(GetOptions::new().with_prefix()))
        .await
    {
        Ok(listed) => listed,
        Err(error) => return error.to_string(),
    };
    let revision = listed.header().map_or(0, |header| header.revision());
    let mut held = BTreeMap::new();
    for kv in listed.kvs() {
        match decode(kv) {
            Ok(reservation) => held.insert(kv.key().to_vec(), reservation),
            Err(error) => return error,
        };
    }
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(revision + 1);
    let mut watch = match client.watch(prefix, Some(options)).await {
        Ok(watch) => watch,
        Err(error) => return error.to_string(),
    };
    match mirror.upgrade() {
        Some(strong) => strong.update(|state| {
            *state = State {
                live: true,
                revision,
                held,
            }
        }),
        None => return "the store is gone".to_owned(),
    }
    loop {
        let response = match watch.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return "etcd ended the watch".to_owned(),
            Err(error) => return error.to_string(),
        };
        if response.canceled() {
            return format!("etcd cancelled the watch: {}", response.cancel_reason());
        }
        let mut changes = Vec::new();
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            let change = match event.event_type() {
                EventType::Put => match decode(kv) {
                    Ok(reservation) => Some(reservation),
                    Err(error) => return error,
                },
                EventType::Delete => None,
            };
            changes.push((kv.key().to_vec(), kv.mod_revision(), change));
        }
        let Some(strong) = mirror.upgrade() else {
            return "the store is gone".to_owned();
        };
        strong.update(|state| {
            for (key, revision, change) in changes {
                state.revision = state.revision.max(revision);
                match change {
                    Some(reservation) => state.held.insert(key, reservation),
                    None => state.held.remove(&key),
                };
            }
        });
    }
}

fn decode(kv: &KeyValue) -> Result<Held, String> {
    serde_json::from_slice(kv.value())
        .map_err(|error| format!("{}: {error}", String::from_utf8_lossy(kv.key())))
}
