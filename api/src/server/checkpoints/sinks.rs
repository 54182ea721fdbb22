//! Where signed checkpoints go: places etcd's writers cannot rewrite. Each sink is one
//! destination; an external witness (a transparency log, another institution's API) is one more
//! implementation of [`CheckpointSink`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
/// volume, or an object-store bucket mounted or synced as one): atomically (a crash mid-write
/// leaves no half checkpoint to stop the next start) and never overwritten, so the directory
/// only grows, and names sort by sequence.
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
        let directory = self.directory.clone();
        let name = checkpoint_file_name(checkpoint.sequence);
        let json = serde_json::to_vec_pretty(checkpoint).map_err(|error| error.to_string())?;
        let shown = directory.join(&name).display().to_string();
        let hash = checkpoint.hash.clone();
        tokio::task::spawn_blocking(move || {
            write_once(&directory, &name, &json, &hash, |file, bytes| {
                file.write_all(bytes)
            })
        })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| format!("{shown}: {error}"))
    }
}

/// How a checkpoint being written is named until it is complete: never `checkpoint-*.json`, so
/// no reader (the API at start, `soberana audit verify`) takes a half-written file for a
/// checkpoint, and a crash mid-write leaves only a file they ignore.
const PARTIAL_PREFIX: &str = ".partial-";

fn checkpoint_hash(json: &[u8]) -> Option<String> {
    serde_json::from_slice::<Checkpoint>(json)
        .ok()
        .map(|checkpoint| checkpoint.hash)
}

/// Creates `directory/name` holding `json` (the checkpoint of head hash `hash`), atomically and
/// only if it does not exist: written whole to a partial file in the same directory (by
/// `write`), flushed to disk, then linked under its name (a hard link, which fails rather than
/// replace an existing file) and the directory flushed. An existing checkpoint of the same
/// sequence and hash (another replica signed the same head) is fine; one naming another hash
/// means two ledgers claim the same sequence, which is reported, and it is left as it is.
fn write_once(
    directory: &Path,
    name: &str,
    json: &[u8],
    hash: &str,
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> Result<(), String> {
    let path = directory.join(name);
    if path.exists() {
        return same_checkpoint(&path, hash);
    }
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let partial = directory.join(format!(
        "{PARTIAL_PREFIX}{name}.{}.{}",
        std::process::id(),
        WRITES.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .and_then(|mut file| {
            write(&mut file, json)?;
            file.sync_all()
        });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(format!("writing {}: {error}", partial.display()));
    }
    let linked = std::fs::hard_link(&partial, &path);
    let _ = std::fs::remove_file(&partial);
    match linked {
        Ok(()) => std::fs::File::open(directory)
            .and_then(|directory| directory.sync_all())
            .map_err(|error| format!("flushing {}: {error}", directory.display())),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            same_checkpoint(&path, hash)
        }
        Err(error) => Err(format!(
            "linking {} as {name} (the directory must allow hard links): {error}",
            partial.display()
        )),
    }
}

/// Ok if the checkpoint at `path` is of head hash `hash`.
fn same_checkpoint(path: &Path, hash: &str) -> Result<(), String> {
    let existing = std::fs::read(path).map_err(|error| error.to_string())?;
    let found = checkpoint_hash(&existing);
    if found.as_deref() == Some(hash) {
        Ok(())
    } else {
        Err(format!(
            "a checkpoint of this sequence with another head hash is already there (hash {}); the ledger was rewritten since it was signed",
            found.unwrap_or_else(|| "unreadable".to_owned())
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn checkpoint(sequence: u64, hash: &str) -> Checkpoint {
        Checkpoint::sign(sequence, hash, "2026-12-07T17:00:00Z", &key())
    }

    fn sink(directory: &tempfile::TempDir) -> DirectorySink {
        DirectorySink {
            directory: directory.path().to_owned(),
        }
    }

    #[tokio::test]
    async fn a_write_that_stops_half_way_does_not_stop_the_next_start() {
        let directory = tempfile::tempdir().unwrap();
        let sink = sink(&directory);
        sink.publish(&checkpoint(1, "aaa")).await.unwrap();
        // The process dies half-way through writing checkpoint 2 (the write fails after half of
        // it reached the disk), and another died earlier leaving a partial file behind.
        let json = serde_json::to_vec_pretty(&checkpoint(2, "bbb")).unwrap();
        let crashed = write_once(
            directory.path(),
            &checkpoint_file_name(2),
            &json,
            "bbb",
            |file, bytes| {
                file.write_all(&bytes[..bytes.len() / 2])?;
                Err(std::io::Error::other("killed"))
            },
        );
        assert!(crashed.is_err());
        std::fs::write(
            directory
                .path()
                .join(format!("{PARTIAL_PREFIX}{}.1.0", checkpoint_file_name(3))),
            b"{\"sequence\": 3, \"ha",
        )
        .unwrap();
        // The next start reads the directory: the last whole checkpoint is the anchor.
        let latest = sink.latest(&key().verifying_key()).unwrap().unwrap();
        assert_eq!(latest.sequence, 1);
        assert!(!directory.path().join(checkpoint_file_name(2)).exists());
        // And checkpoint 2 is written whole when signed again.
        sink.publish(&checkpoint(2, "bbb")).await.unwrap();
        let latest = sink.latest(&key().verifying_key()).unwrap().unwrap();
        assert_eq!((latest.sequence, latest.hash.as_str()), (2, "bbb"));
    }

    #[tokio::test]
    async fn an_existing_checkpoint_is_never_overwritten() {
        let directory = tempfile::tempdir().unwrap();
        let sink = sink(&directory);
        sink.publish(&checkpoint(5, "aaa")).await.unwrap();
        let file = directory.path().join(checkpoint_file_name(5));
        let before = std::fs::read(&file).unwrap();
        // Another replica signing the same head: fine, nothing changes.
        sink.publish(&checkpoint(5, "aaa")).await.unwrap();
        // A rewritten ledger claiming the same sequence: refused, the first one stays.
        let refused = sink.publish(&checkpoint(5, "zzz")).await.unwrap_err();
        assert!(refused.contains("another head hash"), "{refused}");
        assert_eq!(std::fs::read(&file).unwrap(), before);
        // No partial file is left behind either way.
        let names: Vec<_> = std::fs::read_dir(directory.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, [checkpoint_file_name(5)]);
    }
}
