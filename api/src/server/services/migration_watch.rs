//! The task behind one `WatchMigration` stream: a Kubernetes watch of the one Workload (not a
//! poll), forwarding each change, that ends as soon as the migration settles (Running,
//! Unplaceable, Cancelled, or Placed with no template to deploy) or the client goes away.

use std::pin::pin;

use futures::StreamExt;
use kube::Api;
use kube::runtime::{WatchStreamExt, watcher};
use soberana_core::resources::workload::{Workload, WorkloadPhase};
use soberana_proto::v1 as proto;
use tokio::sync::mpsc::Sender;
use tonic::Status;

use crate::server::convert;
use crate::server::limits::streams::StreamSlot;

/// Whether nothing more will happen to the migration without a new request.
pub fn settled(workload: &Workload) -> bool {
    match workload.status.as_ref().and_then(|status| status.phase) {
        Some(WorkloadPhase::Running | WorkloadPhase::Unplaceable) => true,
        // Placed with nothing to deploy is as far as it goes.
        Some(WorkloadPhase::Placed) => workload.spec.template.is_none(),
        _ => false,
    }
}

/// Sends `first` and then every change of the Workload `name` to `sender`, until it settles,
/// is deleted (reported Cancelled), the client leaves, or `slot`'s lifetime ends (the client
/// watches again). `slot` counts the stream meanwhile.
pub async fn follow(
    api: Api<Workload>,
    name: String,
    first: Workload,
    sender: Sender<Result<proto::WatchMigrationResponse, Status>>,
    slot: StreamSlot,
) {
    let ends_at = slot.ends_at;
    let _slot = slot;
    let mut last = convert::migration(&first);
    let send = |migration: proto::Migration| {
        sender.send(Ok(proto::WatchMigrationResponse {
            migration: Some(migration),
        }))
    };
    if send(last.clone()).await.is_err() || settled(&first) {
        return;
    }
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = pin!(watcher(api, config).default_backoff());
    let mut present_at_start = false;
    loop {
        let event = tokio::select! {
            () = sender.closed() => return,
            () = tokio::time::sleep_until(ends_at) => return,
            event = events.next() => event,
        };
        let workload = match event {
            Some(Ok(watcher::Event::Apply(workload) | watcher::Event::InitApply(workload))) => {
                present_at_start = true;
                workload
            }
            Some(Ok(watcher::Event::Init)) => {
                present_at_start = false;
                continue;
            }
            // Gone before or while watched: the migration was cancelled.
            Some(Ok(watcher::Event::InitDone)) if present_at_start => continue,
            Some(Ok(watcher::Event::Delete(_) | watcher::Event::InitDone)) => {
                last.phase = proto::MigrationPhase::Cancelled.into();
                let _ = send(last).await;
                return;
            }
            Some(Err(error)) => {
                tracing::debug!(workload = %name, %error, "watching a migration failed; retrying");
                continue;
            }
            None => return,
        };
        let now = convert::migration(&workload);
        if now != last {
            last = now.clone();
            if send(now).await.is_err() {
                return;
            }
        }
        if settled(&workload) {
            return;
        }
    }
}
