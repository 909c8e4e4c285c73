//! The process-wide default client (C-SETUP.3): set once, read anywhere. Separately built
//! clients are unaffected; a second initialisation is refused, so there are never two live
//! defaults.
//!
//! A client in a `static` is never dropped, so nothing would deliver what it still holds at
//! exit: [`init_global`] returns a [`GlobalGuard`] to keep for the life of `main`; dropping it
//! shuts the global client down within its `shutdown_timeout`.

use std::sync::OnceLock;
use std::time::Duration;

use posthog_core::Event;
use uuid::Uuid;

use crate::{Client, Error, ShutdownReport};

static GLOBAL: OnceLock<Client> = OnceLock::new();

/// Makes `client` the process-wide default and returns the guard that shuts it down. A
/// second call fails with [`Error::AlreadyInitialized`] and leaves the first client in place.
///
/// Keep the guard for the life of `main` (`let _guard = …`; `let _ = …` would drop it, and
/// shut the client down, at once): its drop delivers what is queued, within the client's
/// `shutdown_timeout`, as sentry's `ClientInitGuard` does.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// let _posthog = posthog::init_global(client)?;
/// posthog::capture(posthog::Event::new("booted", "worker-1"));
/// assert!(posthog::init_global(posthog::Client::builder("phc_other").build()?).is_err());
/// # posthog::global().unwrap().flush().await;
/// # assert_eq!(server.events().len(), 1);
/// # Ok(()) }
/// ```
pub fn init_global(client: Client) -> Result<GlobalGuard, Error> {
    GLOBAL.set(client).map_err(|_| {
        tracing::warn!(target: "posthog", "the global PostHog client is already initialised; the new one is not used");
        Error::AlreadyInitialized
    })?;
    Ok(GlobalGuard { _private: () })
}

/// The process-wide default client, once [`init_global`] set it.
pub fn global() -> Option<&'static Client> {
    GLOBAL.get()
}

/// Captures through the global client; `None` (with a debug log) when there is none.
pub fn capture(event: Event) -> Option<Uuid> {
    match global() {
        Some(client) => client.capture(event),
        None => {
            tracing::debug!(target: "posthog", "no global PostHog client; event not captured");
            None
        }
    }
}

/// Shuts the global client down when dropped (see [`init_global`]).
///
/// The drop blocks the dropping thread for up to the client's `shutdown_timeout` (only an
/// unreachable PostHog makes it wait that long), through [`Client::shutdown_blocking`]. On a
/// current-thread runtime it cannot wait (its one thread runs the worker it would wait for):
/// await [`GlobalGuard::shutdown`] at the end of `main` instead; anything still unsent when
/// that runtime stops is reported through `on_error` (`Abandoned`), never lost silently.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// let _posthog = posthog::init_global(client)?; // shuts the client down when dropped
/// posthog::capture(posthog::Event::new("booted", "worker-1"));
/// # Ok(()) }
/// ```
#[must_use = "dropping the guard shuts the global PostHog client down: keep it for the life of main"]
#[derive(Debug)]
pub struct GlobalGuard {
    _private: (),
}

impl GlobalGuard {
    /// Shuts the global client down now, awaiting the final drain (any runtime), within its
    /// `shutdown_timeout`.
    pub async fn shutdown(self) -> ShutdownReport {
        match global() {
            Some(client) => client.shutdown_default().await,
            None => ShutdownReport::default(),
        }
    }
}

impl Drop for GlobalGuard {
    fn drop(&mut self) {
        if let Some(client) = global() {
            let timeout: Duration = client.options().shutdown_timeout;
            let _ = client.shutdown_blocking(timeout);
        }
    }
}
