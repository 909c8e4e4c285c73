//! [`Client`] for programs without an async runtime: the same queue and worker, run on a
//! runtime thread the client owns. `capture`, the identity calls and exception capture are the
//! async client's (they never block); flag reads block only when the server must be asked
//! (a locally decided flag is read on the calling thread); `flush` and `shutdown` block the
//! calling thread; dropping the last handle shuts the client down within its
//! `shutdown_timeout` (30 s by default; only an unreachable or failing PostHog makes it wait
//! that long).

mod exceptions;
mod flags;

use std::sync::Arc;
use std::time::Duration;

use posthog_core::{Event, PersonProperties, Properties};
use uuid::Uuid;

use crate::{ClientBuilder, Error, FlushReport, ShutdownReport, Stats};

/// A blocking PostHog client; clone it freely.
///
/// ```
/// # let runtime = tokio::runtime::Runtime::new().unwrap(); // hosts the fake server only
/// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
/// let client = posthog::ClientBuilder::new("phc_project_token")
/// #   .host(server.url())
///     .build_blocking()?;
/// client.capture(posthog::Event::new("job_finished", "worker-7"));
/// let report = client.shutdown(std::time::Duration::from_secs(5));
/// assert_eq!(report.undelivered, 0);
/// # Ok::<(), posthog::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: crate::Client,
    runtime: Option<tokio::runtime::Runtime>,
    drop_timeout: Duration,
}

impl Inner {
    /// Runs `future` to completion on the client's runtime from any thread, including a thread
    /// that is itself inside an async runtime (where blocking in place is not allowed).
    fn block_on<F: std::future::Future + Send>(&self, future: F) -> Option<F::Output>
    where
        F::Output: Send,
    {
        let runtime = self.runtime.as_ref()?;
        if tokio::runtime::Handle::try_current().is_ok() {
            // The helper thread gets the caller's context (its flag property overrides too).
            let context = crate::context::current();
            std::thread::scope(|s| {
                s.spawn(|| {
                    let _entered = context.map(crate::context::Context::enter);
                    runtime.block_on(future)
                })
                .join()
                .ok()
            })
        } else {
            Some(runtime.block_on(future))
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let (client, timeout) = (self.client.clone(), self.drop_timeout);
        let _ = self.block_on(async move { client.shutdown(timeout).await });
        if let Some(runtime) = self.runtime.take() {
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background(); // blocking is not allowed here
            } else {
                runtime.shutdown_timeout(Duration::from_millis(100));
            }
        }
    }
}

impl ClientBuilder {
    /// Builds a [`blocking::Client`](Client) with its own runtime thread.
    pub fn build_blocking(self) -> Result<Client, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("posthog-worker")
            .enable_all()
            .build()
            .map_err(|e| {
                crate::error::invalid("runtime", format!("cannot start the worker thread: {e}"))
            })?;
        let drop_timeout = self.shutdown_timeout_value();
        let client = {
            let _entered = runtime.enter();
            self.build()?
        };
        Ok(Client {
            inner: Arc::new(Inner {
                client,
                runtime: Some(runtime),
                drop_timeout,
            }),
        })
    }
}

impl Client {
    /// Options for a blocking client of the project whose token is `api_key`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let client = posthog::blocking::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .build_blocking()?; // no async runtime needed
    /// client.capture(posthog::Event::new("cli_started", "user-123"));
    /// # Ok(()) }
    /// ```
    pub fn builder(api_key: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(api_key)
    }

    /// The async client this one wraps (sharing its queue).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// // The same queue, from async code running elsewhere.
    /// let async_client: posthog::Client = client.as_async().clone();
    /// assert!(async_client.is_enabled());
    /// # Ok(()) }
    /// ```
    pub fn as_async(&self) -> &crate::Client {
        &self.inner.client
    }

    /// See [`crate::Client::capture`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.capture(posthog::Event::new("report_exported", "user-123").property("rows", 1200));
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn capture(&self, event: Event) -> Option<Uuid> {
        self.settle(self.inner.client.capture(event))
    }

    /// See [`crate::Client::capture_ai`]: the AI lane.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let event = posthog::AiEvent::generation("user-123", "trace-1", "gpt-4o-mini", "openai").tokens(10, 5);
    /// assert!(client.capture_ai(event.into()).is_some());
    /// # Ok(()) }
    /// ```
    pub fn capture_ai(&self, event: Event) -> Option<Uuid> {
        let uuid = self.inner.client.capture_ai(event);
        if uuid.is_some() && self.inner.client.options().sync_mode {
            self.flush();
        }
        uuid
    }

    /// See [`crate::Client::identify`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.identify("user-123", posthog::PersonProperties::new().set("plan", "pro"));
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn identify(
        &self,
        distinct_id: impl Into<String>,
        person: PersonProperties,
    ) -> Option<Uuid> {
        self.settle(self.inner.client.identify(distinct_id, person))
    }

    /// See [`crate::Client::set`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let mut properties = posthog::Properties::new();
    /// properties.insert("plan".into(), "pro".into());
    /// client.set("user-123", properties);
    /// # Ok(()) }
    /// ```
    pub fn set(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.settle(self.inner.client.set(distinct_id, properties))
    }

    /// See [`crate::Client::set_once`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let mut properties = posthog::Properties::new();
    /// properties.insert("first_seen".into(), "2026-12-01".into());
    /// client.set_once("user-123", properties);
    /// # Ok(()) }
    /// ```
    pub fn set_once(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.settle(self.inner.client.set_once(distinct_id, properties))
    }

    /// See [`crate::Client::alias`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.alias("anon-42", "user-123");
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn alias(&self, previous_id: impl Into<String>, new_id: impl Into<String>) -> Option<Uuid> {
        self.settle(self.inner.client.alias(previous_id, new_id))
    }

    /// See [`crate::Client::group_identify`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.group_identify("company", "acme", posthog::Properties::new());
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn group_identify(
        &self,
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Properties,
    ) -> Option<Uuid> {
        self.settle(
            self.inner
                .client
                .group_identify(group_type, group_key, properties),
        )
    }

    /// In sync mode, waits until what was just captured had its delivery attempt.
    fn settle(&self, uuid: Option<Uuid>) -> Option<Uuid> {
        if uuid.is_some() && self.inner.client.options().sync_mode {
            self.flush();
        }
        uuid
    }

    /// See [`crate::Client::opt_out`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.opt_out();
    /// assert!(client.capture(posthog::Event::new("ignored", "user-123")).is_none());
    /// # Ok(()) }
    /// ```
    pub fn opt_out(&self) {
        self.inner.client.opt_out();
    }

    /// See [`crate::Client::opt_in`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.opt_out();
    /// client.opt_in();
    /// assert!(client.capture(posthog::Event::new("counted", "user-123")).is_some());
    /// # Ok(()) }
    /// ```
    pub fn opt_in(&self) {
        self.inner.client.opt_in();
    }

    /// See [`crate::Client::stats`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.capture(posthog::Event::new("report_exported", "user-123"));
    /// client.flush();
    /// assert_eq!(client.stats().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.client.stats()
    }

    /// Blocks until everything captured before the call had an attempt (see
    /// [`crate::Client::flush`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.capture(posthog::Event::new("report_exported", "user-123"));
    /// let report = client.flush(); // blocks this thread
    /// assert_eq!(report.sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn flush(&self) -> FlushReport {
        let client = self.inner.client.clone();
        self.inner
            .block_on(async move { client.flush().await })
            .unwrap_or_default()
    }

    /// Blocks while delivering what is queued, at most `timeout` (see
    /// [`crate::Client::shutdown`]).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.capture(posthog::Event::new("report_exported", "user-123"));
    /// let report = client.shutdown(std::time::Duration::from_secs(5));
    /// assert_eq!((report.sent, report.undelivered), (1, 0));
    /// # Ok(()) }
    /// ```
    pub fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let client = self.inner.client.clone();
        self.inner
            .block_on(async move { client.shutdown(timeout).await })
            .unwrap_or_default()
    }
}
