//! A typed client for PostHog's private REST API (protocol.md §5): the current user and
//! projects, persons, insights, events, event and property definitions, feature flags (list,
//! get, create, update, delete) and HogQL queries.
//!
//! It authenticates with a personal API key (`phx_…`) sent only as `Authorization: Bearer`
//! and goes through the same transport as the rest of the SDK, so timeouts, retries (reads and
//! queries are retried on 429 and 502–504, waiting as `Retry-After` says; writes are not) and
//! a swapped HTTP stack apply. Lists are [`Pages`]: streams that follow PostHog's `next` links.
//!
//! The `posthog` crate re-exports this crate as `posthog::api`; a program that only reads
//! PostHog's REST API can depend on `posthog-api` alone and not build the capture pipeline.
//!
//! ```no_run
//! use posthog_api::{ApiClient, PersonQuery, PropertyFilter};
//! # async fn demo() -> Result<(), posthog_api::ApiError> {
//! let api = ApiClient::builder("phx_personal_key").host("https://eu.posthog.com").build()?;
//! let me = api.me().await?;
//! let linux = PersonQuery::new().properties(PropertyFilter::person("$initial_os").exact(vec!["Linux"]));
//! let persons = api.persons(&linux).collect_all().await?;
//! let total = api.insight(921029, None).await?.aggregated_value();
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod blocking;
mod error;
mod filter;
mod models;
mod pages;
mod queries;
mod resources;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use posthog_transport::{HttpService, Transport, TransportBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{ApiError, ErrorBody};
pub use filter::{Filter, FilterKey, Operator, PropertyFilter, PropertyType};
pub use models::{
    EventDefinition, EventRecord, FeatureFlag, FeatureFlagUpdate, Id, Insight, NewFeatureFlag,
    Person, Project, PropertyDefinition, QueryResponse, User,
};
pub use pages::{Page, Pages};
pub use queries::{
    EventQuery, InsightQuery, MAX_EVENTS_PER_PAGE, PersonQuery, PropertyDefinitionQuery, Refresh,
};

/// PostHog Cloud's US app host, the default.
pub const DEFAULT_API_HOST: &str = "https://us.posthog.com";

/// Builds an [`ApiClient`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let scoped = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .project_id(1)
///     .environment_id(7)
///     .timeout(std::time::Duration::from_secs(30))
///     .max_retries(2)
///     .build()?;
/// assert_eq!(scoped.environment(), "7");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ApiClientBuilder {
    personal_api_key: String,
    host: String,
    project: String,
    environment: String,
    timeout: Duration,
    retries: u32,
    service: Option<HttpService>,
}

impl std::fmt::Debug for ApiClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClientBuilder")
            .field("host", &self.host)
            .field("project", &self.project)
            .field("environment", &self.environment)
            .field("personal_api_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ApiClientBuilder {
    /// The app host (default [`DEFAULT_API_HOST`]; `https://eu.posthog.com` for EU Cloud,
    /// your own for self-hosted).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = host.into();
        self
    }

    /// The project to work in (default: the key's current project, `@current`), for
    /// project-scoped calls (flags, definitions). Unless [`environment_id`](Self::environment_id)
    /// says otherwise, its first environment (same id) for environment-scoped ones.
    pub fn project_id(mut self, id: i64) -> Self {
        self.project = id.to_string();
        if self.environment == "@current" {
            self.environment = id.to_string();
        }
        self
    }

    /// The environment to work in (default: the key's current one, `@current`), for
    /// environment-scoped calls (persons, events, insights, queries).
    pub fn environment_id(mut self, id: i64) -> Self {
        self.environment = id.to_string();
        self
    }

    /// Per-attempt timeout (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Retries of reads and queries on 429 and 502–504 (default 2).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// Replaces the HTTP stack (see `posthog_transport::from_service`).
    pub fn http_service(mut self, service: HttpService) -> Self {
        self.service = Some(service);
        self
    }

    /// Validates the settings and builds the client.
    pub fn build(self) -> Result<ApiClient, ApiError> {
        if self.personal_api_key.trim().is_empty() {
            return Err(ApiError::InvalidInput(
                "the personal API key is empty".into(),
            ));
        }
        if self.timeout.is_zero() {
            return Err(ApiError::InvalidInput("the timeout is zero".into()));
        }
        // The transport's project token is only sent by capture and remote-config calls,
        // which this client never makes.
        let mut transport = TransportBuilder::new("phc_unused_by_the_api_client")
            .host(&self.host)
            .api_host(&self.host)
            .personal_api_key(self.personal_api_key)
            .api_timeout(self.timeout)
            .api_retries(self.retries);
        if let Some(service) = self.service {
            transport = transport.service(service);
        }
        let transport = transport
            .build()
            .map_err(|e| ApiError::InvalidInput(e.to_string()))?;
        Ok(ApiClient {
            inner: Arc::new(Inner {
                transport,
                project: self.project,
                environment: self.environment,
            }),
        })
    }
}

/// The private-API client; clone it freely (clones share the connection pool).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let me = api.me().await?;
/// let api = api.resolve_project().await?; // "@current" → the key's project and environment
/// let flags = api.feature_flags(None).collect_all().await?;
/// println!("{:?} sees {} flags", me.email, flags.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<Inner>,
}

struct Inner {
    transport: Transport,
    project: String,
    environment: String,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("project", &self.inner.project)
            .field("environment", &self.inner.environment)
            .field("host", &self.inner.transport.api_host())
            .finish()
    }
}

impl ApiClient {
    /// A builder for the key `personal_api_key` (`phx_…`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// assert_eq!(api.project(), "@current"); // until `resolve_project` or `project_id`
    /// # Ok(()) }
    /// ```
    pub fn builder(personal_api_key: impl Into<String>) -> ApiClientBuilder {
        ApiClientBuilder {
            personal_api_key: personal_api_key.into(),
            host: DEFAULT_API_HOST.to_owned(),
            project: "@current".to_owned(),
            environment: "@current".to_owned(),
            timeout: Duration::from_secs(30),
            retries: 2,
            service: None,
        }
    }

    /// The project this client works in (project-scoped calls): an id, or `@current`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// assert_eq!(api.project(), "@current");
    /// assert_eq!(api.with_project(1).project(), "1");
    /// # Ok(()) }
    /// ```
    pub fn project(&self) -> &str {
        &self.inner.project
    }

    /// The environment this client works in (environment-scoped calls): an id, or
    /// `@current`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// assert_eq!(api.with_scope(1, 7).environment(), "7");
    /// # Ok(()) }
    /// ```
    pub fn environment(&self) -> &str {
        &self.inner.environment
    }

    /// The same client working in project `id` and its first environment (same id).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let project_one = api.with_project(1);
    /// assert_eq!(project_one.project(), "1");
    /// # Ok(()) }
    /// ```
    pub fn with_project(&self, id: i64) -> ApiClient {
        self.with_scope(id, id)
    }

    /// The same client working in project `project_id` and its environment
    /// `environment_id`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let scoped = api.with_scope(1, 7); // project 1, environment 7
    /// assert_eq!((scoped.project(), scoped.environment()), ("1", "7"));
    /// # Ok(()) }
    /// ```
    pub fn with_scope(&self, project_id: i64, environment_id: i64) -> ApiClient {
        ApiClient {
            inner: Arc::new(Inner {
                transport: self.inner.transport.clone(),
                project: project_id.to_string(),
                environment: environment_id.to_string(),
            }),
        }
    }

    /// `/api/projects/<project>/<rest>`, for project-scoped resources.
    fn project_path(&self, rest: &str) -> String {
        format!("/api/projects/{}/{rest}", self.inner.project)
    }

    /// `/api/environments/<environment>/<rest>`, for environment-scoped resources.
    fn environment_path(&self, rest: &str) -> String {
        format!("/api/environments/{}/{rest}", self.inner.environment)
    }

    /// A `next` link's path and query, to send to the configured host (a proxy may spell
    /// the host differently; protocol.md §5.5).
    fn rebase(&self, url: &str) -> Result<String, ApiError> {
        if url.starts_with('/') {
            return Ok(url.to_owned());
        }
        let uri: http::Uri = url
            .parse()
            .map_err(|e| ApiError::decode("a next link that is not a URL", e))?;
        uri.path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .ok_or_else(|| ApiError::Decode(format!("a next link without a path: {url}")))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        idempotent: bool,
    ) -> Result<T, ApiError> {
        let response = self
            .inner
            .transport
            .api_request(method, path, body, idempotent)
            .await?;
        let body = response.body();
        // 204 and empty answers read as JSON null.
        let body: &[u8] = if body.is_empty() { b"null" } else { body };
        serde_json::from_slice(body).map_err(|e| ApiError::decode(path, e))
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.call(Method::GET, path, None, false).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &impl Serialize,
        idempotent: bool,
    ) -> Result<T, ApiError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ApiError::InvalidInput(format!("cannot encode the request: {e}")))?;
        self.call(method, path, Some(Bytes::from(body)), idempotent)
            .await
    }

    fn pages<T: DeserializeOwned + Send + 'static>(&self, path: String) -> Pages<T> {
        Pages::new(self.clone(), path)
    }
}

/// Rejects an id or key that would change the path it is put in.
fn path_segment(what: &str, value: &str) -> Result<String, ApiError> {
    if value.is_empty() || value.contains(['/', '?', '#']) || value == "." || value == ".." {
        return Err(ApiError::InvalidInput(format!(
            "{what} {value:?} is not a valid id"
        )));
    }
    Ok(posthog_transport::query_escape(value))
}
