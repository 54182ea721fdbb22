//! Per-caller limits: calls at work, calls per second (a tower layer before any work), and
//! server streams with their lifetime.

pub mod callers;
pub mod layer;
pub mod streams;
