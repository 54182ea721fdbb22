//! What the API keeps of the data centre between calls: the watched inventory, and the engine's
//! prepared snapshot rebuilt only when that inventory or the reservations change.

pub mod inventory;
pub mod snapshots;
