//! The engine's prepared view of the data centre, built once per change of the watched objects
//! or of the reservations held, and shared by every call until the next change: an `Evaluate`
//! then costs the decision itself, not a copy of the inventory and its preparation.

use soberana_runtime::watch_cache::cached;
use std::sync::{Arc, Mutex};

use soberana_core::placement::{Objects, Reservation, Snapshot, SnapshotError};

use crate::server::caches::inventory::InventoryCache;
use crate::server::lock;

/// The last snapshot built, with what it was built from.
#[derive(Debug, Default)]
pub struct SnapshotCache {
    last: Mutex<Option<Built>>,
}

#[derive(Debug)]
struct Built {
    inventory_version: u64,
    reservations: Vec<Reservation>,
    snapshot: Arc<Snapshot>,
}

impl SnapshotCache {
    /// The snapshot of `inventory` now, counting `reservations`.
    pub fn snapshot(
        &self,
        inventory: &InventoryCache,
        reservations: Vec<Reservation>,
    ) -> Result<Arc<Snapshot>, SnapshotError> {
        let inventory_version = inventory.version();
        if let Some(built) = lock(&self.last).as_ref()
            && built.inventory_version == inventory_version
            && built.reservations == reservations
        {
            return Ok(Arc::clone(&built.snapshot));
        }
        let snapshot = Arc::new(Snapshot::new(Objects {
            sites: &cached(&inventory.sites),
            classifications: &cached(&inventory.classifications),
            rules: &cached(&inventory.rules),
            tenants: &cached(&inventory.tenants),
            reservations: &reservations,
        })?);
        *lock(&self.last) = Some(Built {
            inventory_version,
            reservations,
            snapshot: Arc::clone(&snapshot),
        });
        Ok(snapshot)
    }
}
