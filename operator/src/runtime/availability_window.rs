//! Measured availability: the share of successful probes over a rolling window.

use std::collections::VecDeque;

use soberana_core::resources::availability::Availability;

/// The outcomes of the last `capacity` probes.
#[derive(Clone, Debug)]
pub struct AvailabilityWindow {
    outcomes: VecDeque<bool>,
    capacity: usize,
}

impl AvailabilityWindow {
    pub fn new(capacity: usize) -> Self {
        Self {
            outcomes: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
        }
    }

    pub fn record(&mut self, success: bool) {
        if self.outcomes.len() == self.capacity {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back(success);
    }

    /// Availability over the window, or `None` before the first probe.
    pub fn measured(&self) -> Option<Availability> {
        let total = u64::try_from(self.outcomes.len())
            .ok()
            .filter(|total| *total > 0)?;
        let successes =
            u64::try_from(self.outcomes.iter().filter(|success| **success).count()).ok()?;
        let parts_per_million = u32::try_from(successes * 1_000_000 / total).ok()?;
        Some(Availability::from_parts_per_million(parts_per_million))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_old_probes() {
        let mut window = AvailabilityWindow::new(4);
        assert_eq!(window.measured(), None);
        for success in [false, true, true, true] {
            window.record(success);
        }
        assert_eq!(
            window.measured().map(|value| value.to_string()),
            Some("75%".to_owned())
        );
        window.record(true);
        assert_eq!(
            window.measured().map(|value| value.to_string()),
            Some("100%".to_owned())
        );
    }
}
