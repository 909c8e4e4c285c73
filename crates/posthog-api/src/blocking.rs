//! [`ApiClient`] for scripts without an async runtime: the same calls, blocking the calling
//! thread, on a small runtime the client owns. Lists are iterators.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::{
    ApiClientBuilder, ApiError, EventDefinition, EventQuery, EventRecord, FeatureFlag,
    FeatureFlagUpdate, Insight, InsightQuery, NewFeatureFlag, Pages, Person, PersonQuery, Project,
    PropertyDefinition, PropertyDefinitionQuery, QueryResponse, Refresh, User,
};

/// A blocking private-API client; clone it freely.
///
/// ```no_run
/// let api = posthog_api::ApiClient::builder("phx_personal_key")
///     .host("https://eu.posthog.com")
///     .build_blocking()?;
/// println!("{:?}", api.me()?.email);
/// for insight in api.insights(&Default::default()) {
///     println!("{}", insight?.short_id);
/// }
/// # Ok::<(), posthog_api::ApiError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ApiClient {
    api: super::ApiClient,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl ApiClientBuilder {
    /// Builds a [`blocking::ApiClient`](ApiClient) with its own runtime.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// assert_eq!(api.me()?.email.as_deref(), Some("ada@example.com"));
    /// # Ok(()) }
    /// ```
    pub fn build_blocking(self) -> Result<ApiClient, ApiError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("posthog-api")
            .enable_all()
            .build()
            .map_err(|e| ApiError::InvalidInput(format!("cannot start a runtime: {e}")))?;
        let api = {
            let _entered = runtime.enter();
            self.build()?
        };
        Ok(ApiClient {
            api,
            runtime: Arc::new(runtime),
        })
    }
}

impl ApiClient {
    /// Runs `future` on the client's runtime; from inside another runtime it does so on a
    /// scoped thread, where blocking is allowed.
    fn wait<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send,
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::scope(|s| {
                s.spawn(|| self.runtime.block_on(future))
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
        } else {
            self.runtime.block_on(future)
        }
    }

    /// The async client underneath.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let async_api: &posthog_api::ApiClient = api.inner();
    /// assert_eq!(async_api.project(), "@current");
    /// # Ok(()) }
    /// ```
    pub fn inner(&self) -> &super::ApiClient {
        &self.api
    }

    /// See [`super::ApiClient::me`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// assert_eq!(api.me()?.email.as_deref(), Some("ada@example.com"));
    /// # Ok(()) }
    /// ```
    pub fn me(&self) -> Result<User, ApiError> {
        self.wait(self.api.me())
    }

    /// See [`super::ApiClient::resolve_project`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let api = api.resolve_project()?;
    /// assert_eq!(api.inner().environment(), "7");
    /// # Ok(()) }
    /// ```
    pub fn resolve_project(&self) -> Result<ApiClient, ApiError> {
        let api = self.wait(self.api.resolve_project())?;
        Ok(ApiClient {
            api,
            runtime: self.runtime.clone(),
        })
    }

    /// See [`super::ApiClient::projects`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// assert_eq!(api.projects().collect::<Result<Vec<_>, _>>()?.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn projects(&self) -> PageIter<Project> {
        self.iter(self.api.projects())
    }

    /// See [`super::ApiClient::persons`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let query = posthog_api::PersonQuery::new().email("ada@example.com");
    /// let persons: Vec<_> = api.persons(&query).collect::<Result<_, _>>()?;
    /// assert_eq!(persons.len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn persons(&self, query: &PersonQuery) -> PageIter<Person> {
        self.iter(self.api.persons(query))
    }

    /// See [`super::ApiClient::person`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let query = posthog_api::PersonQuery::new().email("ada@example.com");
    /// let found: Vec<_> = api.persons(&query).collect::<Result<_, _>>()?;
    /// assert_eq!(api.person(&found[0].id)?.distinct_ids, ["user-ada", "anon-1"]);
    /// # Ok(()) }
    /// ```
    pub fn person(&self, id: impl std::fmt::Display) -> Result<Person, ApiError> {
        let id = id.to_string();
        self.wait(self.api.person(id))
    }

    /// See [`super::ApiClient::events`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let query = posthog_api::EventQuery::new().event("$pageview");
    /// assert_eq!(api.events(&query).collect::<Result<Vec<_>, _>>()?.len(), 7);
    /// # Ok(()) }
    /// ```
    pub fn events(&self, query: &EventQuery) -> PageIter<EventRecord> {
        self.iter(self.api.events(query))
    }

    /// See [`super::ApiClient::person_events`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let query = posthog_api::PersonQuery::new().email("ada@example.com");
    /// let found: Vec<_> = api.persons(&query).collect::<Result<_, _>>()?;
    /// let events: Vec<_> = api.person_events(&found[0]).collect::<Result<_, _>>()?;
    /// assert!(events.iter().all(|e| e.distinct_id == "user-ada"));
    /// # Ok(()) }
    /// ```
    pub fn person_events(&self, person: &Person) -> PageIter<EventRecord> {
        self.iter(self.api.person_events(person))
    }

    /// See [`super::ApiClient::insights`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let api = api.resolve_project()?;
    /// let all: Vec<_> = api.insights(&posthog_api::InsightQuery::new()).collect::<Result<_, _>>()?;
    /// assert_eq!(all.len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn insights(&self, query: &InsightQuery) -> PageIter<Insight> {
        self.iter(self.api.insights(query))
    }

    /// See [`super::ApiClient::insight_by_short_id`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let api = api.resolve_project()?;
    /// assert_eq!(api.insight_by_short_id("Ab12Cd34")?.map(|i| i.id), Some(921029));
    /// # Ok(()) }
    /// ```
    pub fn insight_by_short_id(&self, short_id: &str) -> Result<Option<Insight>, ApiError> {
        self.wait(self.api.insight_by_short_id(short_id))
    }

    /// See [`super::ApiClient::insight`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let api = api.resolve_project()?;
    /// assert_eq!(api.insight(921029, None)?.aggregated_value(), Some(1234.0));
    /// # Ok(()) }
    /// ```
    pub fn insight(&self, id: i64, refresh: Option<Refresh>) -> Result<Insight, ApiError> {
        self.wait(self.api.insight(id, refresh))
    }

    /// See [`super::ApiClient::event_definitions`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// assert_eq!(api.event_definitions(None).collect::<Result<Vec<_>, _>>()?.len(), 7);
    /// # Ok(()) }
    /// ```
    pub fn event_definitions(&self, search: Option<&str>) -> PageIter<EventDefinition> {
        self.iter(self.api.event_definitions(search))
    }

    /// See [`super::ApiClient::property_definitions`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let query = posthog_api::PropertyDefinitionQuery::new().person();
    /// assert_eq!(api.property_definitions(&query).collect::<Result<Vec<_>, _>>()?.len(), 4);
    /// # Ok(()) }
    /// ```
    pub fn property_definitions(
        &self,
        query: &PropertyDefinitionQuery,
    ) -> PageIter<PropertyDefinition> {
        self.iter(self.api.property_definitions(query))
    }

    /// See [`super::ApiClient::feature_flags`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let flags: Vec<_> = api.feature_flags(Some("checkout")).collect::<Result<_, _>>()?;
    /// assert_eq!(flags[0].key, "new-checkout");
    /// # Ok(()) }
    /// ```
    pub fn feature_flags(&self, search: Option<&str>) -> PageIter<FeatureFlag> {
        self.iter(self.api.feature_flags(search))
    }

    /// See [`super::ApiClient::feature_flag`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let flags: Vec<_> = api.feature_flags(None).collect::<Result<_, _>>()?;
    /// assert_eq!(api.feature_flag(flags[0].id)?.key, flags[0].key);
    /// # Ok(()) }
    /// ```
    pub fn feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        self.wait(self.api.feature_flag(id))
    }

    /// See [`super::ApiClient::create_feature_flag`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let flag = api.create_feature_flag(&posthog_api::NewFeatureFlag::new("cli-rollout").rollout(10.0))?;
    /// assert_eq!(flag.key, "cli-rollout");
    /// # Ok(()) }
    /// ```
    pub fn create_feature_flag(&self, flag: &NewFeatureFlag) -> Result<FeatureFlag, ApiError> {
        self.wait(self.api.create_feature_flag(flag))
    }

    /// See [`super::ApiClient::update_feature_flag`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let flag = api.create_feature_flag(&posthog_api::NewFeatureFlag::new("cli-paused"))?;
    /// let update = posthog_api::FeatureFlagUpdate::new().active(false);
    /// assert!(!api.update_feature_flag(flag.id, &update)?.active);
    /// # Ok(()) }
    /// ```
    pub fn update_feature_flag(
        &self,
        id: i64,
        update: &FeatureFlagUpdate,
    ) -> Result<FeatureFlag, ApiError> {
        self.wait(self.api.update_feature_flag(id, update))
    }

    /// See [`super::ApiClient::delete_feature_flag`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let flag = api.create_feature_flag(&posthog_api::NewFeatureFlag::new("cli-gone"))?;
    /// assert!(api.delete_feature_flag(flag.id)?.deleted);
    /// # Ok(()) }
    /// ```
    pub fn delete_feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        self.wait(self.api.delete_feature_flag(id))
    }

    /// See [`super::ApiClient::hogql`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let answer = api.hogql("select event, count() from events group by event order by count() desc, event")?;
    /// assert!(!answer.results.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn hogql(&self, query: &str) -> Result<QueryResponse, ApiError> {
        self.wait(self.api.hogql(query))
    }

    /// See [`super::ApiClient::hogql_all_rows`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// assert_eq!(api.hogql_all_rows("select event from events", 100)?.len(), 250);
    /// # Ok(()) }
    /// ```
    pub fn hogql_all_rows(
        &self,
        query: &str,
        page_size: u32,
    ) -> Result<Vec<Vec<serde_json::Value>>, ApiError> {
        self.wait(self.api.hogql_all_rows(query, page_size))
    }

    /// See [`super::ApiClient::hogql_rows`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
    /// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build_blocking()?;
    /// let counts: Vec<(String, u64)> =
    ///     api.hogql_rows("select event, count() from events group by event order by count() desc, event")?;
    /// assert_eq!(counts[0], ("$pageview".to_owned(), 7));
    /// # Ok(()) }
    /// ```
    pub fn hogql_rows<T: DeserializeOwned + Send>(&self, query: &str) -> Result<Vec<T>, ApiError> {
        self.wait(self.api.hogql_rows(query))
    }

    fn iter<T: DeserializeOwned + Send + 'static>(&self, pages: Pages<T>) -> PageIter<T> {
        PageIter {
            client: self.clone(),
            pages: Some(pages),
        }
    }
}

/// The items of a paginated list, fetched a page at a time as the iterator is read; an error
/// is the last item.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let runtime = tokio::runtime::Runtime::new()?; // hosts the fake PostHog only
/// # let server = runtime.block_on(posthog::test_util::FakePostHog::start());
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build_blocking()?;
/// // Pages are fetched as the iterator reaches them.
/// let first_two: Vec<_> = api.events(&posthog_api::EventQuery::new()).take(2).collect::<Result<_, _>>()?;
/// assert_eq!(first_two.len(), 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct PageIter<T> {
    client: ApiClient,
    pages: Option<Pages<T>>,
}

impl<T: DeserializeOwned + Send + 'static> PageIter<T> {
    /// Reads at most `pages` pages.
    pub fn max_pages(mut self, pages: usize) -> Self {
        self.pages = self.pages.take().map(|p| p.max_pages(pages));
        self
    }
}

impl<T: DeserializeOwned + Send + 'static> Iterator for PageIter<T> {
    type Item = Result<T, ApiError>;

    fn next(&mut self) -> Option<Self::Item> {
        let pages = self.pages.as_mut()?;
        let client = self.client.clone();
        match client.wait(pages.try_next()) {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.pages = None;
                None
            }
            Err(err) => {
                self.pages = None;
                Some(Err(err))
            }
        }
    }
}
