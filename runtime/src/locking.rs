//! Locks that survive a panic elsewhere: every holder of Soberana's in-memory locks leaves the
//! value consistent before anything can panic, so a poisoned lock is used as it stands rather
//! than taking the whole process down with it.

use std::sync::{Mutex, MutexGuard};

/// The mutex's value, also after a panic in another holder.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
