//! Compute and storage amounts in integer base units, so the engine adds and compares them
//! exactly (no floats, no quantity parsing).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// An amount of CPU, memory and storage.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// CPU in millicores (1000 = one core).
    #[serde(default)]
    pub cpu_millicores: u64,
    /// Memory in mebibytes.
    #[serde(default)]
    pub memory_mebibytes: u64,
    /// Persistent storage in gibibytes.
    #[serde(default)]
    pub storage_gibibytes: u64,
}

impl Capacity {
    /// Component-wise sum, saturating rather than wrapping on absurd inputs.
    pub fn plus(self, other: Self) -> Self {
        Self {
            cpu_millicores: self.cpu_millicores.saturating_add(other.cpu_millicores),
            memory_mebibytes: self.memory_mebibytes.saturating_add(other.memory_mebibytes),
            storage_gibibytes: self
                .storage_gibibytes
                .saturating_add(other.storage_gibibytes),
        }
    }

    /// Component-wise difference, floored at zero.
    pub fn minus(self, other: Self) -> Self {
        Self {
            cpu_millicores: self.cpu_millicores.saturating_sub(other.cpu_millicores),
            memory_mebibytes: self.memory_mebibytes.saturating_sub(other.memory_mebibytes),
            storage_gibibytes: self
                .storage_gibibytes
                .saturating_sub(other.storage_gibibytes),
        }
    }

    /// This amount `count` times over.
    pub fn times(self, count: u32) -> Self {
        let count = u64::from(count);
        Self {
            cpu_millicores: self.cpu_millicores.saturating_mul(count),
            memory_mebibytes: self.memory_mebibytes.saturating_mul(count),
            storage_gibibytes: self.storage_gibibytes.saturating_mul(count),
        }
    }

    /// Whether `demand` fits in this amount on every dimension.
    pub fn holds(self, demand: Self) -> bool {
        demand.cpu_millicores <= self.cpu_millicores
            && demand.memory_mebibytes <= self.memory_mebibytes
            && demand.storage_gibibytes <= self.storage_gibibytes
    }
}

impl std::fmt::Display for Capacity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{}m CPU, {} MiB memory, {} GiB storage",
            self.cpu_millicores, self.memory_mebibytes, self.storage_gibibytes
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Capacity = Capacity {
        cpu_millicores: 500,
        memory_mebibytes: 512,
        storage_gibibytes: 1,
    };

    #[test]
    fn demand_fits_only_when_every_dimension_fits() {
        let site = Capacity {
            cpu_millicores: 1000,
            memory_mebibytes: 1024,
            storage_gibibytes: 1,
        };
        assert!(site.holds(SMALL.times(2).minus(Capacity {
            storage_gibibytes: 1,
            ..Capacity::default()
        })));
        assert!(!site.holds(SMALL.times(2)), "storage 2 GiB exceeds 1 GiB");
    }

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(SMALL.minus(SMALL.times(3)), Capacity::default());
        let huge = Capacity {
            cpu_millicores: u64::MAX,
            ..Capacity::default()
        };
        assert_eq!(huge.plus(SMALL).cpu_millicores, u64::MAX);
    }
}
