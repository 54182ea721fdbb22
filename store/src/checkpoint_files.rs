//! Reading signed ledger checkpoints from disk: one file, or every `checkpoint-*.json` in a
//! directory (what the API's `--checkpoint-dir` holds), each checked against the public key.
//! Used by `soberana audit verify` and by the API to resume from its newest checkpoint.

use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use soberana_core::ledger::checkpoint::Checkpoint;

/// The checkpoints at `path` (a file or a directory), each with its file, every signature
/// verified by `key`; an error names the file and what is wrong with it.
pub fn read_checkpoints(
    path: &Path,
    key: &VerifyingKey,
) -> Result<Vec<(PathBuf, Checkpoint)>, String> {
    let files = if path.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|error| format!("{}: {error}", path.display()))?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|file| {
                file.file_name()
                    .map(|name| name.to_string_lossy())
                    .is_some_and(|name| name.starts_with("checkpoint-") && name.ends_with(".json"))
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    files
        .into_iter()
        .map(|file| {
            let text =
                std::fs::read(&file).map_err(|error| format!("{}: {error}", file.display()))?;
            let checkpoint: Checkpoint = serde_json::from_slice(&text)
                .map_err(|error| format!("{}: not a ledger checkpoint: {error}", file.display()))?;
            checkpoint
                .verify_signature(key)
                .map_err(|error| format!("{}: {error}", file.display()))?;
            Ok((file, checkpoint))
        })
        .collect()
}

/// Reads a public key file (SPKI PEM); the error names the file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, String> {
    let pem =
        std::fs::read_to_string(path).map_err(|error| format!("{}: {error}", path.display()))?;
    soberana_core::ledger::checkpoint::verifying_key_from_pem(&pem)
        .map_err(|error| format!("{}: {error}", path.display()))
}
