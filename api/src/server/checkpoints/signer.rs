//! Signs checkpoints of the ledger's head on the [`CheckpointSchedule`] and publishes them to
//! every sink. Before signing a head it checks that the chain since the last checkpoint it
//! knows continues link by link, so a ledger rewritten in etcd is refused (logged, counted)
//! instead of being signed and thereby anchored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ed25519_dalek::SigningKey;
use prometheus::{IntCounter, IntGauge};
use soberana_core::ledger::checkpoint::Checkpoint;
use soberana_core::ledger::verify_after;
use soberana_runtime::metrics::MetricsRegistry;
use tokio::sync::{Mutex, Notify};

use crate::server::checkpoints::schedule::{CheckpointSchedule, Signed};
use crate::server::checkpoints::sinks::CheckpointSink;
use soberana_store::Store;

/// Records read per page while checking the chain since the last checkpoint.
const PAGE: usize = 1000;

/// What signs checkpoints, and how often.
#[derive(Clone, Debug)]
pub struct CheckpointSettings {
    pub key: SigningKey,
    pub schedule: CheckpointSchedule,
    pub sinks: Vec<Arc<dyn CheckpointSink>>,
    /// The newest checkpoint already published (read back from a sink at start), from which
    /// the chain must continue.
    pub anchor: Option<Checkpoint>,
}

#[derive(Debug)]
pub struct CheckpointSigner {
    store: Arc<dyn Store>,
    settings: CheckpointSettings,
    state: Mutex<State>,
    signed_sequence: IntGauge,
    signed_time: IntGauge,
    failures: IntCounter,
}

#[derive(Debug)]
struct State {
    /// The last checkpoint this replica signed, for the schedule.
    signed: Option<Signed>,
    /// The newest head known to be good: (sequence, hash).
    anchor: Option<(u64, String)>,
}

impl CheckpointSigner {
    pub fn new(
        store: Arc<dyn Store>,
        settings: CheckpointSettings,
        registry: &MetricsRegistry,
    ) -> Result<Self> {
        let signed_sequence = registry.gauge(
            "soberana_ledger_checkpoint_sequence",
            "Sequence of the last ledger head this replica signed",
        )?;
        let signed_time = registry.gauge(
            "soberana_ledger_checkpoint_timestamp_seconds",
            "When this replica last signed a ledger checkpoint (Unix seconds)",
        )?;
        let failures = registry.counter(
            "soberana_ledger_checkpoint_failures_total",
            "Checkpoints not signed or not published: a broken chain, an unreachable store or sink",
        )?;
        let anchor = settings
            .anchor
            .as_ref()
            .map(|checkpoint| (checkpoint.sequence, checkpoint.hash.clone()));
        Ok(Self {
            store,
            settings,
            state: Mutex::new(State {
                signed: None,
                anchor,
            }),
            signed_sequence,
            signed_time,
            failures,
        })
    }

    /// Signs on schedule until the task is aborted: woken by `appended` and at each interval.
    pub async fn run(self: Arc<Self>, appended: Arc<Notify>) {
        loop {
            tokio::select! {
                () = appended.notified() => {}
                () = tokio::time::sleep(self.settings.schedule.interval) => {}
            }
            self.sign_if(false).await;
        }
    }

    /// Signs the head if it is due, or (`finally`, at shutdown) if anything is unsigned.
    pub async fn sign_if(&self, finally: bool) {
        if let Err(error) = self.try_sign(finally).await {
            self.failures.inc();
            tracing::error!(error = %format!("{error:#}"), "ledger checkpoint not signed");
        }
    }

    async fn try_sign(&self, finally: bool) -> Result<()> {
        let mut state = self.state.lock().await;
        let head = self.store.last_sequence().await?;
        let now = Instant::now();
        if let Some((anchored, _)) = &state.anchor
            && head < *anchored
        {
            anyhow::bail!(
                "the ledger's head is at record {head}, before the checkpointed record {anchored}: its tail was cut or the chain was started again"
            );
        }
        let unsigned = head > state.signed.map_or(0, |signed| signed.sequence);
        let due = if finally {
            unsigned
        } else {
            self.settings.schedule.due(head, state.signed, now)
        };
        if !due {
            return Ok(());
        }
        let hash = self.continuing_head(state.anchor.as_ref(), head).await?;
        let time = k8s_openapi::jiff::Timestamp::now();
        let checkpoint = Checkpoint::sign(head, &hash, &time.to_string(), &self.settings.key);
        for sink in &self.settings.sinks {
            if let Err(error) = sink.publish(&checkpoint).await {
                self.failures.inc();
                tracing::error!(%error, sink = ?sink, "publishing a ledger checkpoint");
            }
        }
        state.signed = Some(Signed {
            sequence: head,
            at: now,
        });
        state.anchor = Some((head, hash));
        self.signed_sequence
            .set(i64::try_from(head).unwrap_or(i64::MAX));
        self.signed_time.set(time.as_second());
        Ok(())
    }

    /// The hash of record `head`, after checking that the records since `anchor` (or since the
    /// first) continue the chain to it.
    async fn continuing_head(&self, anchor: Option<&(u64, String)>, head: u64) -> Result<String> {
        let (mut sequence, mut hash) = match anchor {
            Some((sequence, hash)) => {
                let at = self.store.records(*sequence, 1).await?;
                let found = at.first().filter(|record| record.sequence == *sequence);
                match found {
                    Some(record) if record.hash == *hash => (*sequence, hash.clone()),
                    Some(record) => anyhow::bail!(
                        "ledger record {sequence} has hash {}, not the {hash} last checkpointed: the ledger was rewritten",
                        record.hash
                    ),
                    None => anyhow::bail!(
                        "ledger record {sequence}, last checkpointed, is gone: the ledger was cut or restarted"
                    ),
                }
            }
            None => (0, soberana_core::ledger::GENESIS.to_owned()),
        };
        while sequence < head {
            let page = self.store.records(sequence + 1, PAGE).await?;
            let page: Vec<_> = page
                .into_iter()
                .take_while(|record| record.sequence <= head)
                .collect();
            let last = verify_after(sequence, &hash, &page)
                .with_context(|| format!("the ledger after checkpointed record {sequence}"))?;
            if last == sequence {
                anyhow::bail!("ledger records after {sequence} up to the head {head} are missing");
            }
            hash = page
                .last()
                .map(|record| record.hash.clone())
                .unwrap_or_default();
            sequence = last;
        }
        Ok(hash)
    }
}

/// How long the final checkpoint at shutdown may take.
pub const FINAL_CHECKPOINT_WAIT: Duration = Duration::from_secs(5);
