//! The decision ledger's records and their hash chain. Each record's hash covers its content and
//! the previous record's hash, so changing, removing or reordering any record breaks every later
//! link; `verify` finds the first broken one. Signed checkpoints of the head anchor the chain
//! against rewrites that re-chain consistently (see `checkpoint` and `anchored`).

pub mod anchored;
pub mod checkpoint;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The previous hash of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a record is about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordKind {
    Plan,
    Submission,
    Placement,
    Cancellation,
    /// An interoperability agreement (DataExchange) activated, refused, expired, revoked or
    /// closed.
    Exchange,
}

/// A record before it is chained: what the caller appends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRecord {
    pub kind: RecordKind,
    /// RFC 3339.
    pub time: String,
    pub actor: String,
    pub subject: String,
    pub payload_json: String,
}

/// An immutable ledger record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct LedgerRecord {
    pub sequence: u64,
    pub kind: RecordKind,
    pub time: String,
    pub actor: String,
    pub subject: String,
    pub payload_json: String,
    pub previous_hash: String,
    pub hash: String,
}

impl LedgerRecord {
    /// Chains `record` after the record with `previous` sequence and hash.
    pub fn chain(record: NewRecord, previous_sequence: u64, previous_hash: &str) -> Self {
        let mut chained = Self {
            sequence: previous_sequence + 1,
            kind: record.kind,
            time: record.time,
            actor: record.actor,
            subject: record.subject,
            payload_json: record.payload_json,
            previous_hash: previous_hash.to_owned(),
            hash: String::new(),
        };
        chained.hash = chained.computed_hash();
        chained
    }

    /// Hex SHA-256 over every field but the hash, as a JSON array (unambiguous however the
    /// fields are written).
    pub fn computed_hash(&self) -> String {
        let fields = serde_json::json!([
            self.sequence,
            self.kind,
            self.time,
            self.actor,
            self.subject,
            self.payload_json,
            self.previous_hash,
        ]);
        let digest = Sha256::digest(fields.to_string().as_bytes());
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// The first link of the chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ledger record {sequence}: {problem}")]
pub struct BrokenLink {
    pub sequence: u64,
    pub problem: String,
}

/// Walks `records` (from sequence 1, in order) and reports the first broken link.
pub fn verify(records: &[LedgerRecord]) -> Result<u64, BrokenLink> {
    verify_after(0, GENESIS, records)
}

/// Walks `records`, which must continue the chain after record `sequence` with `hash`, and
/// reports the first broken link; returns the last sequence.
pub fn verify_after(
    sequence: u64,
    hash: &str,
    records: &[LedgerRecord],
) -> Result<u64, BrokenLink> {
    let mut expected_sequence = sequence + 1;
    let mut previous_hash = hash.to_owned();
    for record in records {
        let broken = |problem: String| BrokenLink {
            sequence: record.sequence,
            problem,
        };
        if record.sequence != expected_sequence {
            return Err(broken(format!(
                "expected sequence {expected_sequence}: a record is missing or out of order"
            )));
        }
        if record.previous_hash != previous_hash {
            return Err(broken(format!(
                "previous hash {} does not match record {}'s hash {previous_hash}",
                record.previous_hash,
                expected_sequence - 1
            )));
        }
        let computed = record.computed_hash();
        if record.hash != computed {
            return Err(broken(format!(
                "its content does not match its hash (stored {}, computed {computed}): it was changed",
                record.hash
            )));
        }
        previous_hash = record.hash.clone();
        expected_sequence += 1;
    }
    Ok(expected_sequence - 1)
}

/// `count` plan records by `actor`, chained from the first: what the ledger's tests start from.
#[cfg(test)]
pub(crate) fn sample_chain(count: u64, actor: &str) -> Vec<LedgerRecord> {
    let mut records: Vec<LedgerRecord> = Vec::new();
    for index in 0..count {
        let (sequence, hash) = records.last().map_or((0, GENESIS.to_owned()), |last| {
            (last.sequence, last.hash.clone())
        });
        records.push(LedgerRecord::chain(
            NewRecord {
                kind: RecordKind::Plan,
                time: format!("2026-11-23T10:00:0{index}Z"),
                actor: actor.to_owned(),
                subject: "minsa-prod/citas".to_owned(),
                payload_json: format!("{{\"n\":{index}}}"),
            },
            sequence,
            &hash,
        ));
    }
    records
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::*;

    fn chain(count: u64) -> Vec<LedgerRecord> {
        sample_chain(count, "agency")
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(verify(&[]), Ok(0));
    }

    #[test]
    fn a_changed_record_is_the_first_broken_link() {
        let mut records = chain(5);
        records[2].payload_json = "{\"n\":99}".to_owned();
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.sequence, 3);
        assert!(broken.problem.contains("it was changed"), "{broken}");
    }

    #[test]
    fn a_rehashed_record_breaks_the_next_link_and_a_removed_one_the_sequence() {
        let mut records = chain(5);
        records[1].actor = "someone else".to_owned();
        records[1].hash = records[1].computed_hash();
        assert_eq!(verify(&records).unwrap_err().sequence, 3);
        let mut records = chain(5);
        records.remove(3);
        let broken = verify(&records).unwrap_err();
        assert_eq!(broken.sequence, 5);
        assert!(broken.problem.contains("missing or out of order"));
    }
}
