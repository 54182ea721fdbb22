//! Signed checkpoints of the ledger's head. The hash chain shows that records were not changed
//! *relative to each other*; whoever can write etcd can still rewrite a suffix and its head
//! consistently, cut the tail, or start the chain again. A checkpoint is the API's Ed25519
//! signature over `(sequence, hash, time)` of the head, kept where etcd writers cannot reach
//! (a file, an object store, a log, a witness), so a verifier holding the public key can tell
//! that the ledger it reads still contains what was signed.

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What the signature covers, versioned so the format can change without ambiguity.
const SIGNED_PREFIX: &str = "soberana ledger checkpoint v1";

/// A signed statement that the ledger held `sequence` records, the last with `hash`, at `time`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    pub sequence: u64,
    pub hash: String,
    /// RFC 3339, when it was signed.
    pub time: String,
    /// [`key_id`] of the signing key, so a verifier can tell which key to use after rotation.
    pub key_id: String,
    /// Hex Ed25519 signature over [`Checkpoint::signed_message`].
    pub signature: String,
}

/// Why a key or checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("not an Ed25519 private key in PKCS#8 PEM (`openssl genpkey -algorithm ed25519`): {0}")]
    PrivateKey(String),
    #[error("not an Ed25519 public key in SPKI PEM (`openssl pkey -pubout`): {0}")]
    PublicKey(String),
    #[error("signed by key {signed_by}, not by the given public key {given}")]
    OtherKey { signed_by: String, given: String },
    #[error("its signature does not verify: the checkpoint was altered or forged")]
    BadSignature,
}

impl Checkpoint {
    /// Signs the head `(sequence, hash)` at `time`.
    pub fn sign(sequence: u64, hash: &str, time: &str, key: &SigningKey) -> Self {
        let signature = key.sign(Self::signed_message(sequence, hash, time).as_bytes());
        Self {
            sequence,
            hash: hash.to_owned(),
            time: time.to_owned(),
            key_id: key_id(&key.verifying_key()),
            signature: hex(&signature.to_bytes()),
        }
    }

    /// The exact bytes signed: one field per line after a versioned prefix.
    pub fn signed_message(sequence: u64, hash: &str, time: &str) -> String {
        format!("{SIGNED_PREFIX}\nsequence {sequence}\nhash {hash}\ntime {time}\n")
    }

    /// Checks that `key` signed this checkpoint as it stands.
    pub fn verify_signature(&self, key: &VerifyingKey) -> Result<(), CheckpointError> {
        let given = key_id(key);
        if self.key_id != given {
            return Err(CheckpointError::OtherKey {
                signed_by: self.key_id.clone(),
                given,
            });
        }
        let bytes: [u8; 64] = unhex(&self.signature)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(CheckpointError::BadSignature)?;
        key.verify(
            Self::signed_message(self.sequence, &self.hash, &self.time).as_bytes(),
            &Signature::from_bytes(&bytes),
        )
        .map_err(|_| CheckpointError::BadSignature)
    }
}

/// A short, stable name of a public key: the first 16 hex digits of the SHA-256 of its bytes.
pub fn key_id(key: &VerifyingKey) -> String {
    hex(&Sha256::digest(key.as_bytes())[..8])
}

/// Reads a PKCS#8 PEM private key (what `openssl genpkey -algorithm ed25519` writes).
pub fn signing_key_from_pem(pem: &str) -> Result<SigningKey, CheckpointError> {
    SigningKey::from_pkcs8_pem(pem).map_err(|error| CheckpointError::PrivateKey(error.to_string()))
}

/// Reads an SPKI PEM public key (what `openssl pkey -pubout` writes).
pub fn verifying_key_from_pem(pem: &str) -> Result<VerifyingKey, CheckpointError> {
    VerifyingKey::from_public_key_pem(pem)
        .map_err(|error| CheckpointError::PublicKey(error.to_string()))
}

/// A key pair from 32 secret bytes, as (private PKCS#8 PEM, public SPKI PEM).
pub fn key_pair_pem(secret: &[u8; 32]) -> Result<(String, String), CheckpointError> {
    let key = SigningKey::from_bytes(secret);
    let private = key
        .to_pkcs8_pem(Default::default())
        .map_err(|error| CheckpointError::PrivateKey(error.to_string()))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .map_err(|error| CheckpointError::PublicKey(error.to_string()))?;
    Ok((private.to_string(), public))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn keys(seed: u8) -> (SigningKey, VerifyingKey) {
        let (private, public) = key_pair_pem(&[seed; 32]).unwrap();
        (
            signing_key_from_pem(&private).unwrap(),
            verifying_key_from_pem(&public).unwrap(),
        )
    }

    #[test]
    fn a_checkpoint_verifies_with_its_key_and_survives_json() {
        let (private, public) = keys(7);
        let checkpoint = Checkpoint::sign(12, "ab12", "2026-12-01T10:00:00Z", &private);
        let text = serde_json::to_string(&checkpoint).unwrap();
        let read: Checkpoint = serde_json::from_str(&text).unwrap();
        assert_eq!(read.verify_signature(&public), Ok(()));
    }

    #[test]
    fn any_changed_field_breaks_the_signature() {
        let (private, public) = keys(7);
        let signed = Checkpoint::sign(12, "ab12", "2026-12-01T10:00:00Z", &private);
        let mut changed = signed.clone();
        changed.sequence = 11;
        assert_eq!(
            changed.verify_signature(&public),
            Err(CheckpointError::BadSignature)
        );
        let mut changed = signed.clone();
        changed.hash = "ab13".to_owned();
        assert_eq!(
            changed.verify_signature(&public),
            Err(CheckpointError::BadSignature)
        );
        let mut changed = signed;
        changed.signature = "zz".to_owned();
        assert_eq!(
            changed.verify_signature(&public),
            Err(CheckpointError::BadSignature)
        );
    }

    #[test]
    fn another_key_is_named_not_just_refused() {
        let (private, _) = keys(7);
        let (_, other) = keys(8);
        let checkpoint = Checkpoint::sign(1, "ab", "2026-12-01T10:00:00Z", &private);
        assert!(matches!(
            checkpoint.verify_signature(&other),
            Err(CheckpointError::OtherKey { .. })
        ));
    }

    #[test]
    fn keys_that_are_not_pem_are_refused_with_the_expected_format() {
        let error = signing_key_from_pem("not a key").unwrap_err();
        assert!(error.to_string().contains("PKCS#8 PEM"), "{error}");
        let error = verifying_key_from_pem("not a key").unwrap_err();
        assert!(error.to_string().contains("SPKI PEM"), "{error}");
    }
}
