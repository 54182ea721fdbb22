//! Where signed checkpoints go: places etcd's writers cannot rewrite. Each sink is one
//! destination; an external witness (a transparency log, another institution's API) is one more
//! implementation of [`CheckpointSink`].

use std::io::Write;
use std::path::PathBuf;

use soberana_core::ledger::checkpoint::Checkpoint;

/// A destination for checkpoints.
#[async_trait::async_trait]
pub trait CheckpointSink: Send + Sync + std::fmt::Debug {
    /// Publishes `checkpoint`; an error is logged and counted, and the next checkpoint tries
    /// again.
    async fn publish(&self, checkpoint: &Checkpoint) -> Result<(), String>;
}

/// Prints each checkpoint to the log, whose collector keeps a copy outside etcd.
#[derive(Debug)]
pub struct LogSink;

#[async_trait::async_trait]
impl CheckpointSink for LogSink {
    async fn publish(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let json = serde_json::to_string(checkpoint).map_err(|error| error.to_string())?;
        tracing::info!(
            sequence = checkpoint.sequence,
            checkpoint = %json,
            "ledger checkpoint signed"
        );
        Ok(())
    }
}

/// Writes each checkpoint once as `checkpoint-<sequence, 20 digits>.json` in a directory (a
/// volume, or an object-store bucket mounted or synced as one): never overwritten, so the
/// directory only grows, and names sort by sequence.
#[derive(Debug)]
pub struct DirectorySink {
    pub directory: PathBuf,
}

/// The file name of the checkpoint of `sequence`.
pub fn checkpoint_file_name(sequence: u64) -> String {
    format!("checkpoint-{sequence:020}.json")
}

impl DirectorySink {
    /// The newest checkpoint in the directory (none in an empty or missing one), checked
    /// against `key`: the chain must continue from it.
    pub fn latest(&self, key: &ed25519_dalek::VerifyingKey) -> Result<Option<Checkpoint>, String> {
        if !self.directory.exists() {
            return Ok(None);
        }
        Ok(
            soberana_store::checkpoint_files::read_checkpoints(&self.directory, key)?
                .into_iter()
                .map(|(_, checkpoint)| checkpoint)
                .max_by_key(|checkpoint| checkpoint.sequence),
        )
    }
}

#[async_trait::async_trait]
impl CheckpointSink for DirectorySink {
    async fn publish(&self, checkpoint: &Checkpoint) -> Result<(), String> {
        let path = self
            .directory
            .join(checkpoint_file_name(checkpoint.sequence));
        let json = serde_json::to_vec_pretty(checkpoint).map_err(|error| error.to_string())?;
        let shown = path.display().to_string();
        tokio::task::spawn_blocking(move || write_once(&path, &json, checkpoint_hash(&json)))
            .await
            .map_err(|error| error.to_string())?
            .map_err(|error| format!("{shown}: {error}"))
    }
}

fn checkpoint_hash(json: &[u8]) -> Option<String> {
    serde_json::from_slice::<Checkpoint>(json)
        .ok()
        .map(|checkpoint| checkpoint.hash)
}

/// Creates `path` with `json`, unless it exists. An existing checkpoint of the same sequence
/// (another replica signed the same head) is fine; one naming another hash means two ledgers
/// claim the same sequence, which is reported.
fn write_once(path: &std::path::Path, json: &[u8], hash: Option<String>) -> Result<(), String> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(json).map_err(|error| error.to_string())?;
            file.sync_all().map_err(|error| error.to_string())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            let existing = std::fs::read(path).map_err(|error| error.to_string())?;
            if checkpoint_hash(&existing) == hash {
                Ok(())
            } else {
                Err(format!(
                    "a checkpoint of this sequence with another head hash is already there (hash {}); the ledger was rewritten since it was signed",
                    checkpoint_hash(&existing).unwrap_or_else(|| "unreadable".to_owned())
                ))
            }
        }
        Err(error) => Err(error.to_string()),
    }
}
