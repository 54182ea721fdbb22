//! Leader election through a Kubernetes Lease, so that of several replicas exactly one writes.
//! Standby replicas keep watching the Lease and take over when the leader stops renewing it.

use std::time::Duration;

use kube::Client;
use kube_lease_manager::{LeaseManagerBuilder, LeaseManagerError};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The field manager the Lease is written with.
const FIELD_MANAGER: &str = "soberana-leader-election";

/// Settings of the election.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This replica's identity as written in the Lease's `holderIdentity`.
    pub identity: String,
    /// How long a leader's claim lasts without renewal; a standby takes over after it.
    pub duration: Duration,
}

/// A running election: `leading` says whether this replica holds the Lease now.
pub struct Election {
    pub leading: watch::Receiver<bool>,
    task: JoinHandle<Result<kube_lease_manager::LeaseManager, LeaseManagerError>>,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Election")
            .field("leading", &*self.leading.borrow())
            .finish_non_exhaustive()
    }
}

impl Election {
    /// Joins the election for the Lease (created when missing).
    pub async fn join(client: Client, settings: &LeaseSettings) -> Result<Self, LeaseManagerError> {
        let seconds = settings.duration.as_secs().max(2);
        let manager = LeaseManagerBuilder::new(client, &settings.name)
            .with_namespace(&settings.namespace)
            .with_identity(&settings.identity)
            .with_duration(seconds)
            // Renew when a third of the claim is left: a slow API server must not cost the lead.
            .with_grace((seconds / 3).max(1))
            .with_field_manager(FIELD_MANAGER)
            .build()
            .await?;
        let (leading, task) = manager.watch().await;
        Ok(Self { leading, task })
    }

    /// Resolves once this replica leads.
    pub async fn acquired(&mut self) -> Result<(), watch::error::RecvError> {
        self.leading.wait_for(|leading| *leading).await.map(|_| ())
    }

    /// Resolves when this replica stops leading (or the election ends).
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut leading = self.leading.clone();
        async move {
            let _ = leading.wait_for(|leading| !*leading).await;
        }
    }

    /// Gives the Lease up so a standby can take over at once rather than after it expires.
    pub async fn resign(self) {
        let Self { leading, task } = self;
        drop(leading);
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released the leader lease"),
            Ok(Ok(Err(error))) => {
                tracing::warn!(%error, "could not release the leader lease; it will expire")
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "the lease task failed; the lease will expire")
            }
            Err(_) => tracing::warn!("releasing the leader lease timed out; it will expire"),
        }
    }
}
