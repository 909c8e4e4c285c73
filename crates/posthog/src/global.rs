//! The process-wide default client (C-SETUP.3): set once, read anywhere. Separately built
//! clients are unaffected; a second initialisation is refused, so there are never two live
//! defaults.

use std::sync::OnceLock;

use posthog_core::Event;
use uuid::Uuid;

use crate::{Client, Error};

static GLOBAL: OnceLock<Client> = OnceLock::new();

/// Makes `client` the process-wide default. A second call fails with
/// [`Error::AlreadyInitialized`] and leaves the first client in place.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// posthog::init_global(client)?;
/// posthog::capture(posthog::Event::new("booted", "worker-1"));
/// assert!(posthog::init_global(posthog::Client::builder("phc_other").build()?).is_err());
/// # posthog::global().unwrap().flush().await;
/// # assert_eq!(server.events().len(), 1);
/// # Ok(()) }
/// ```
pub fn init_global(client: Client) -> Result<(), Error> {
    GLOBAL.set(client).map_err(|_| {
        tracing::warn!(target: "posthog", "the global PostHog client is already initialised; the new one is not used");
        Error::AlreadyInitialized
    })
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
