//! The background poll of flag definitions (C-FLAG-DEFS.5/.14).

use std::sync::Arc;
use std::time::Duration;

use posthog_transport::Transport;
use tokio::sync::watch;

use super::cache::DefinitionsCache;
use super::store::DefinitionsStore;

/// Loads now, then every `interval`, until `stop` changes (C-FLAG-DEFS.5/.14).
pub(crate) async fn poll(
    store: Arc<DefinitionsStore>,
    transport: Transport,
    interval: Duration,
    cache: Option<Arc<dyn DefinitionsCache>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = store.refresh(&transport, cache.as_deref()) => {}
            _ = stop.changed() => return,
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}
