//! Verifying the ledger against signed checkpoints: the chain must hold link by link (as
//! [`verify`] checks) *and* contain every checkpointed head. That catches what the chain alone
//! cannot: a cut tail (fewer records than a checkpoint saw), a rewritten suffix re-chained
//! consistently, and a chain started again from record 1 (its heads are not the signed ones).
//! Signatures are checked by the caller, which knows the key; this part is pure.

use super::checkpoint::Checkpoint;
use super::{BrokenLink, LedgerRecord, verify};

/// A ledger that verified against its checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    /// Records in the ledger, every link verified.
    pub records: u64,
    /// The highest checkpointed sequence, which the ledger contains as signed (0: none).
    pub anchored_through: u64,
}

/// Walks `records` (from sequence 1, in order) against `checkpoints` (any order), reporting the
/// first record that breaks the chain or contradicts a checkpoint.
pub fn verify_anchored(
    records: &[LedgerRecord],
    checkpoints: &[Checkpoint],
) -> Result<Anchored, BrokenLink> {
    let held = verify(records)?;
    let mut ordered: Vec<&Checkpoint> = checkpoints.iter().collect();
    ordered.sort_by_key(|checkpoint| checkpoint.sequence);
    let mut proven = 0;
    for checkpoint in ordered {
        if checkpoint.sequence == 0 {
            continue;
        }
        let Some(record) = usize::try_from(checkpoint.sequence - 1)
            .ok()
            .and_then(|index| records.get(index))
        else {
            return Err(BrokenLink {
                sequence: held + 1,
                problem: format!(
                    "missing: the checkpoint signed at {} says the ledger held {} records, and it holds {held}: its tail was cut, or the chain was started again",
                    checkpoint.time, checkpoint.sequence
                ),
            });
        };
        if record.hash != checkpoint.hash {
            let range = if proven + 1 == checkpoint.sequence {
                format!("record {}", checkpoint.sequence)
            } else {
                format!("a record from {} to {}", proven + 1, checkpoint.sequence)
            };
            return Err(BrokenLink {
                sequence: checkpoint.sequence,
                problem: format!(
                    "its hash {} is not the {} signed at {}: {range} was rewritten, or the chain was started again",
                    record.hash, checkpoint.hash, checkpoint.time
                ),
            });
        }
        proven = checkpoint.sequence;
    }
    Ok(Anchored {
        records: held,
        anchored_through: proven,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test panics to report a failure")]
mod tests {
    use super::super::NewRecord;
    use super::super::checkpoint::key_pair_pem;
    use super::super::checkpoint::signing_key_from_pem;
    use super::*;

    fn chain(count: u64, actor: &str) -> Vec<LedgerRecord> {
        super::super::sample_chain(count, actor)
    }

    fn checkpoint_of(records: &[LedgerRecord], sequence: u64) -> Checkpoint {
        let (private, _) = key_pair_pem(&[3; 32]).unwrap();
        let key = signing_key_from_pem(&private).unwrap();
        let head = &records[usize::try_from(sequence).unwrap() - 1];
        Checkpoint::sign(sequence, &head.hash, "2026-12-01T11:00:00Z", &key)
    }

    #[test]
    fn a_ledger_holding_its_checkpoints_verifies_and_says_how_far_it_is_anchored() {
        let records = chain(8, "agency");
        let checkpoints = [checkpoint_of(&records, 6), checkpoint_of(&records, 3)];
        assert_eq!(
            verify_anchored(&records, &checkpoints),
            Ok(Anchored {
                records: 8,
                anchored_through: 6
            })
        );
    }

    #[test]
    fn a_cut_tail_is_found_at_the_first_missing_record() {
        let records = chain(8, "agency");
        let checkpoint = checkpoint_of(&records, 8);
        let broken = verify_anchored(&records[..5], &[checkpoint]).unwrap_err();
        assert_eq!(broken.sequence, 6);
        assert!(broken.problem.contains("tail was cut"), "{broken}");
    }

    #[test]
    fn a_consistently_rewritten_suffix_contradicts_the_checkpoint() {
        let records = chain(8, "agency");
        let checkpoints = [checkpoint_of(&records, 4), checkpoint_of(&records, 8)];
        let mut rewritten = records[..5].to_vec();
        for record in chain(8, "someone else").into_iter().skip(5) {
            let last = rewritten.last().unwrap();
            let new = NewRecord {
                kind: record.kind,
                time: record.time,
                actor: record.actor,
                subject: record.subject,
                payload_json: record.payload_json,
            };
            rewritten.push(LedgerRecord::chain(new, last.sequence, &last.hash.clone()));
        }
        // The chain alone holds; the checkpoint does not.
        assert_eq!(verify(&rewritten), Ok(8));
        let broken = verify_anchored(&rewritten, &checkpoints).unwrap_err();
        assert_eq!(broken.sequence, 8);
        assert!(broken.problem.contains("a record from 5 to 8"), "{broken}");
    }

    #[test]
    fn a_chain_started_again_is_found_at_its_first_checkpoint() {
        let records = chain(8, "agency");
        let checkpoints = [checkpoint_of(&records, 1), checkpoint_of(&records, 8)];
        let restarted = chain(2, "someone else");
        let broken = verify_anchored(&restarted, &checkpoints).unwrap_err();
        assert_eq!(broken.sequence, 1);
        assert!(
            broken.problem.contains("record 1 was rewritten"),
            "{broken}"
        );
    }

    #[test]
    fn a_broken_link_is_reported_before_any_checkpoint() {
        let mut records = chain(8, "agency");
        let checkpoint = checkpoint_of(&records, 8);
        records[2].payload_json = "{}".to_owned();
        assert_eq!(
            verify_anchored(&records, &[checkpoint])
                .unwrap_err()
                .sequence,
            3
        );
    }
}
