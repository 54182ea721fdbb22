//! Server streams (watches) per caller: at most `streams` open at once, each ended by the
//! server after `stream_lifetime` (the client resumes where it was), so watches cannot pile up
//! tasks and Kubernetes watches without bound. A slot also counts in the open-streams gauge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::server::limits::callers::{CallerLimitSettings, Refusal};
use crate::server::rpc_metrics::OpenStream;

#[derive(Debug)]
pub struct StreamSlots {
    settings: CallerLimitSettings,
    open: Mutex<HashMap<String, u32>>,
}

/// One open stream; dropping it (the stream's task ending) frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    caller: String,
    /// When the server ends the stream.
    pub ends_at: tokio::time::Instant,
    _gauge: OpenStream,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.lock();
        if let Some(count) = open.get_mut(&self.caller) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.caller);
            }
        }
    }
}

impl StreamSlots {
    pub fn new(settings: CallerLimitSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// The limits, for refusals' messages.
    pub fn settings(&self) -> &CallerLimitSettings {
        &self.settings
    }

    /// A slot for one more stream of `caller`, or the refusal naming the limit.
    pub fn open(self: &Arc<Self>, caller: &str, gauge: OpenStream) -> Result<StreamSlot, Refusal> {
        let mut open = self.lock();
        let count = open.entry(caller.to_owned()).or_insert(0);
        if *count >= self.settings.streams {
            return Err(Refusal::Streams(*count));
        }
        *count += 1;
        Ok(StreamSlot {
            slots: Arc::clone(self),
            caller: caller.to_owned(),
            ends_at: tokio::time::Instant::now() + self.settings.stream_lifetime,
            _gauge: gauge,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        soberana_runtime::locking::lock(&self.open)
    }
}
