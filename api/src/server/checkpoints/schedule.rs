//! When the API signs a checkpoint of the ledger's head: once `every_records` records were
//! appended since the last one, or `interval` passed with anything new, and on shutdown. A
//! pure decision, with time passed in.

use std::time::{Duration, Instant};

/// How often checkpoints are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointSchedule {
    pub every_records: u64,
    pub interval: Duration,
}

/// The last checkpoint this replica signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signed {
    pub sequence: u64,
    pub at: Instant,
}

impl CheckpointSchedule {
    /// Whether the head at `head` should be signed now. A ledger never signed by this replica
    /// is signed as soon as it holds anything, so the history found at start is anchored.
    pub fn due(&self, head: u64, last: Option<Signed>, now: Instant) -> bool {
        match last {
            None => head > 0,
            Some(last) => {
                head > last.sequence
                    && (head - last.sequence >= self.every_records
                        || now.saturating_duration_since(last.at) >= self.interval)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: CheckpointSchedule = CheckpointSchedule {
        every_records: 100,
        interval: Duration::from_secs(60),
    };

    #[test]
    fn the_history_found_at_start_is_signed_at_once_unless_empty() {
        let now = Instant::now();
        assert!(SCHEDULE.due(7, None, now));
        assert!(!SCHEDULE.due(0, None, now));
    }

    #[test]
    fn enough_new_records_or_enough_time_with_new_records() {
        let start = Instant::now();
        let last = Some(Signed {
            sequence: 10,
            at: start,
        });
        assert!(!SCHEDULE.due(109, last, start + Duration::from_secs(59)));
        assert!(SCHEDULE.due(110, last, start + Duration::from_secs(1)));
        assert!(SCHEDULE.due(11, last, start + Duration::from_secs(60)));
    }

    #[test]
    fn nothing_new_is_never_signed_again() {
        let start = Instant::now();
        let last = Some(Signed {
            sequence: 10,
            at: start,
        });
        assert!(!SCHEDULE.due(10, last, start + Duration::from_secs(3600)));
    }
}
