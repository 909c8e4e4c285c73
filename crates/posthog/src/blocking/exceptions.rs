//! Exception capture on the blocking client: the async client's, which never blocks (the
//! `$exception` event is queued like any other; in sync mode it is delivered before return).

use std::error::Error as StdError;

use uuid::Uuid;

use super::Client;
use crate::ExceptionOptions;

impl Client {
    /// See [`crate::Client::capture_exception`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let error = std::io::Error::other("disk full");
    /// client.capture_exception(&error, "user-123", &posthog::ExceptionOptions::default());
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn capture_exception<E: StdError + 'static>(
        &self,
        error: &E,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_exception(error, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_exception_dyn`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let error: Box<dyn std::error::Error> = Box::new(std::io::Error::other("disk full"));
    /// client.capture_exception_dyn(error.as_ref(), "std::io::Error", "user-123", &posthog::ExceptionOptions::default());
    /// # Ok(()) }
    /// ```
    pub fn capture_exception_dyn(
        &self,
        error: &(dyn StdError + 'static),
        type_name: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self
            .as_async()
            .capture_exception_dyn(error, type_name, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_exception_message`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// client.capture_exception_message("ExportFailed", "quota exceeded", "user-123", &posthog::ExceptionOptions::default());
    /// assert_eq!(client.flush().sent, 1);
    /// # Ok(()) }
    /// ```
    pub fn capture_exception_message(
        &self,
        kind: &str,
        message: &str,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self
            .as_async()
            .capture_exception_message(kind, message, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_anyhow`] (feature `anyhow`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let error = anyhow::anyhow!("timed out").context("exporting the report");
    /// client.capture_anyhow(&error, "user-123", &posthog::ExceptionOptions::default());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "anyhow")]
    pub fn capture_anyhow(
        &self,
        error: &anyhow::Error,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_anyhow(error, distinct_id, opts);
        self.settle(uuid)
    }

    /// See [`crate::Client::capture_eyre`] (feature `eyre`).
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let client = posthog::ClientBuilder::new("phc_project_token").host(server.url()).build_blocking()?;
    /// let report = eyre::eyre!("timed out").wrap_err("exporting the report");
    /// client.capture_eyre(&report, "user-123", &posthog::ExceptionOptions::default());
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "eyre")]
    pub fn capture_eyre(
        &self,
        error: &eyre::Report,
        distinct_id: &str,
        opts: &ExceptionOptions,
    ) -> Option<Uuid> {
        let uuid = self.as_async().capture_eyre(error, distinct_id, opts);
        self.settle(uuid)
    }
}
