//! The calls of [`ApiClient`], one per endpoint of protocol.md §5.3–5.4. Persons, events,
//! insights and queries are environment-scoped (`/api/environments/:id/…`); flags and
//! definitions are project-scoped (`/api/projects/:id/…`); docs/private-api.md lists each.

use http::Method;
use serde_json::json;

use super::queries::limit_and_search;
use super::{
    ApiClient, ApiError, EventDefinition, EventQuery, EventRecord, FeatureFlag, FeatureFlagUpdate,
    Insight, InsightQuery, NewFeatureFlag, Pages, Person, PersonQuery, Project, PropertyDefinition,
    PropertyDefinitionQuery, QueryResponse, Refresh, User, path_segment,
};

impl ApiClient {
    /// The user the key belongs to, with their current project (`GET /api/users/@me/`): the
    /// quickest check that a key works.
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
    /// assert_eq!(me.email.as_deref(), Some("ada@example.com"));
    /// # Ok(()) }
    /// ```
    pub async fn me(&self) -> Result<User, ApiError> {
        self.get("/api/users/@me/").await
    }

    /// This client with numeric ids for its project and environment: the key's current
    /// environment (`me().team`) and that environment's project, which differ for every
    /// environment after a project's first. Ids already set are kept.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// // "@current" becomes the key's project (for flags) and environment (for data).
    /// let api = api.resolve_project().await?;
    /// assert_eq!((api.project(), api.environment()), ("1", "7"));
    /// # Ok(()) }
    /// ```
    pub async fn resolve_project(&self) -> Result<ApiClient, ApiError> {
        let project: Option<i64> = self.project().parse().ok();
        let environment: Option<i64> = self.environment().parse().ok();
        if let (Some(project), Some(environment)) = (project, environment) {
            return Ok(self.with_scope(project, environment));
        }
        let me = self.me().await?;
        let team = me.team.ok_or_else(|| {
            ApiError::Decode("the user has no current environment (`team`)".into())
        })?;
        let current_project = team.project_id.unwrap_or(team.id);
        Ok(self.with_scope(
            project.unwrap_or(current_project),
            environment.unwrap_or(team.id),
        ))
    }

    /// The projects of the key's current organisation
    /// (`GET /api/organizations/@current/projects/`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let projects = api.projects().collect_all().await?;
    /// assert_eq!(projects.len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn projects(&self) -> Pages<Project> {
        self.pages("/api/organizations/@current/projects/".to_owned())
    }

    /// This client's project (`GET /api/projects/:id/`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let project = api.resolve_project().await?.current_project().await?;
    /// assert_eq!(project.name, "Default project");
    /// # Ok(()) }
    /// ```
    pub async fn current_project(&self) -> Result<Project, ApiError> {
        self.get(&format!("/api/projects/{}/", self.project()))
            .await
    }

    /// Persons matching `query` (`GET /api/environments/:id/persons/`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// use posthog_api::{PersonQuery, PropertyFilter};
    /// let query = PersonQuery::new().properties(PropertyFilter::person("plan").exact("pro"));
    /// let persons = api.persons(&query).collect_all().await?;
    /// assert!(!persons.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn persons(&self, query: &PersonQuery) -> Pages<Person> {
        self.pages(self.environment_path(&format!("persons/{}", query.encode())))
    }

    /// One person by id or UUID (not by distinct id: use [`PersonQuery::distinct_id`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let found = api.persons(&posthog_api::PersonQuery::new().email("ada@example.com")).collect_all().await?;
    /// let ada = api.person(&found[0].id).await?; // by UUID or numeric id, never a distinct id
    /// assert_eq!(ada.distinct_ids, ["user-ada", "anon-1"]);
    /// # Ok(()) }
    /// ```
    pub async fn person(&self, id: impl std::fmt::Display) -> Result<Person, ApiError> {
        let id = path_segment("person id", &id.to_string())?;
        self.get(&self.environment_path(&format!("persons/{id}/")))
            .await
    }

    /// Events matching `query`, newest first (`GET /api/environments/:id/events/`), page
    /// after page (PostHog pages them by `before=`). PostHog documents this list as
    /// superseded by the query endpoint; it looks at the last 24 hours unless told `after`,
    /// so this client always sends `after`: the query's, else the start of 1970 (all
    /// history).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// use posthog_api::EventQuery;
    /// let pageviews = api.events(&EventQuery::new().event("$pageview")).collect_all().await?;
    /// assert_eq!(pageviews.len(), 7);
    /// # Ok(()) }
    /// ```
    pub fn events(&self, query: &EventQuery) -> Pages<EventRecord> {
        self.pages(self.environment_path(&format!("events/{}", query.encode())))
    }

    /// A person's events, newest first, since the person was created.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let found = api.persons(&posthog_api::PersonQuery::new().email("ada@example.com")).collect_all().await?;
    /// let events = api.person_events(&found[0]).collect_all().await?;
    /// assert!(events.iter().all(|e| e.distinct_id == "user-ada"));
    /// # Ok(()) }
    /// ```
    pub fn person_events(&self, person: &Person) -> Pages<EventRecord> {
        let mut query = EventQuery::new().person_id(&person.id);
        if let Some(created) = &person.created_at {
            query = query.after(created.clone());
        }
        self.events(&query)
    }

    /// Insights matching `query` (`GET /api/environments/:id/insights/`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let api = api.resolve_project().await?;
    /// let insights = api.insights(&posthog_api::InsightQuery::new().basic(true)).collect_all().await?;
    /// assert_eq!(insights.len(), 3);
    /// # Ok(()) }
    /// ```
    pub fn insights(&self, query: &InsightQuery) -> Pages<Insight> {
        self.pages(self.environment_path(&format!("insights/{}", query.encode())))
    }

    /// The insight whose URL ends in `short_id`, if there is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let api = api.resolve_project().await?;
    /// let insight = api.insight_by_short_id("Ab12Cd34").await?.expect("exists");
    /// assert_eq!(insight.id, 921029);
    /// # Ok(()) }
    /// ```
    pub async fn insight_by_short_id(&self, short_id: &str) -> Result<Option<Insight>, ApiError> {
        if short_id.trim().is_empty() {
            return Err(ApiError::InvalidInput("the short id is empty".into()));
        }
        self.insights(&InsightQuery::new().short_id(short_id))
            .max_pages(1)
            .try_next()
            .await
    }

    /// One insight with its result (`GET /api/environments/:id/insights/:id/`); `refresh`
    /// says how fresh the result must be (PostHog's default: whatever is cached).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let api = api.resolve_project().await?;
    /// let trend = api.insight(921029, None).await?;
    /// assert_eq!(trend.aggregated_value(), Some(1234.0));
    /// // Computed now, when nothing is cached:
    /// let fresh = api.insight(921030, Some(posthog_api::Refresh::Blocking)).await?;
    /// assert_eq!(fresh.aggregated_value(), Some(87.0));
    /// # Ok(()) }
    /// ```
    pub async fn insight(&self, id: i64, refresh: Option<Refresh>) -> Result<Insight, ApiError> {
        let query = refresh.map_or(String::new(), |r| format!("?refresh={}", r.as_str()));
        self.get(&self.environment_path(&format!("insights/{id}/{query}")))
            .await
    }

    /// Event definitions, optionally those whose name contains `search`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let own = api.event_definitions(Some("$")).collect_all().await?;
    /// assert_eq!(own.len(), 4);
    /// # Ok(()) }
    /// ```
    pub fn event_definitions(&self, search: Option<&str>) -> Pages<EventDefinition> {
        let query = limit_and_search(None, search);
        self.pages(self.project_path(&format!("event_definitions/{query}")))
    }

    /// Property definitions matching `query`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// use posthog_api::PropertyDefinitionQuery;
    /// let numeric = api.property_definitions(&PropertyDefinitionQuery::new().numerical()).collect_all().await?;
    /// assert_eq!(numeric[0].property_type.as_deref(), Some("Numeric"));
    /// # Ok(()) }
    /// ```
    pub fn property_definitions(
        &self,
        query: &PropertyDefinitionQuery,
    ) -> Pages<PropertyDefinition> {
        self.pages(self.project_path(&format!("property_definitions/{}", query.encode())))
    }

    /// The project's feature flags, optionally those matching `search`
    /// (`GET /api/projects/:id/feature_flags/`). Soft-deleted flags are listed too, with
    /// `deleted: true`. With a personal key, PostHog counts each such list call as a
    /// local-evaluation request (it is billed like one).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let flags = api.feature_flags(Some("checkout")).collect_all().await?;
    /// assert_eq!(flags[0].key, "new-checkout");
    /// # Ok(()) }
    /// ```
    pub fn feature_flags(&self, search: Option<&str>) -> Pages<FeatureFlag> {
        let query = limit_and_search(None, search);
        self.pages(self.project_path(&format!("feature_flags/{query}")))
    }

    /// One feature flag.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let listed = api.feature_flags(None).collect_all().await?;
    /// let flag = api.feature_flag(listed[0].id).await?;
    /// assert_eq!(flag.key, listed[0].key);
    /// # Ok(()) }
    /// ```
    pub async fn feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        self.get(&self.project_path(&format!("feature_flags/{id}/")))
            .await
    }

    /// Creates a feature flag. Not retried (a retry could create it twice).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// use posthog_api::NewFeatureFlag;
    /// let flag = api
    ///     .create_feature_flag(&NewFeatureFlag::new("rust-sdk-rollout").name("Rust SDK").rollout(25.0))
    ///     .await?;
    /// assert_eq!(flag.filters["groups"][0]["rollout_percentage"], 25.0);
    /// # Ok(()) }
    /// ```
    pub async fn create_feature_flag(
        &self,
        flag: &NewFeatureFlag,
    ) -> Result<FeatureFlag, ApiError> {
        if flag.key.trim().is_empty() {
            return Err(ApiError::InvalidInput("the flag key is empty".into()));
        }
        self.send(
            Method::POST,
            &self.project_path("feature_flags/"),
            flag,
            false,
        )
        .await
    }

    /// Changes a feature flag (`PATCH`; only the fields set are sent).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// use posthog_api::{FeatureFlagUpdate, NewFeatureFlag};
    /// let flag = api.create_feature_flag(&NewFeatureFlag::new("paused-soon")).await?;
    /// let paused = api.update_feature_flag(flag.id, &FeatureFlagUpdate::new().active(false)).await?;
    /// assert!(!paused.active);
    /// # Ok(()) }
    /// ```
    pub async fn update_feature_flag(
        &self,
        id: i64,
        update: &FeatureFlagUpdate,
    ) -> Result<FeatureFlag, ApiError> {
        let path = self.project_path(&format!("feature_flags/{id}/"));
        self.send(Method::PATCH, &path, update, false).await
    }

    /// Deletes a feature flag. PostHog does not allow hard deletes of flags; this marks it
    /// deleted (`PATCH {"deleted": true}`), as its UI does.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let flag = api.create_feature_flag(&posthog_api::NewFeatureFlag::new("short-lived")).await?;
    /// let deleted = api.delete_feature_flag(flag.id).await?;
    /// assert!(deleted.deleted); // soft-deleted: still listed, marked deleted
    /// # Ok(()) }
    /// ```
    pub async fn delete_feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        let update = FeatureFlagUpdate {
            deleted: Some(true),
            ..FeatureFlagUpdate::default()
        };
        self.update_feature_flag(id, &update).await
    }

    /// Runs a HogQL query and waits for it (`POST /api/environments/:id/query/`, `refresh:
    /// blocking`). Retried on 429 like a read (a query changes nothing), except when PostHog
    /// asks to wait longer than a minute: its query throttle (120 per hour by default) says
    /// so, and [`ApiError::RateLimited`] comes back at once with the wait. Without `LIMIT`,
    /// PostHog returns at most 100 rows and sets [`QueryResponse::has_more`].
    ///
    /// # Errors
    ///
    /// [`ApiError::QueryRunning`] when PostHog answers that the query is still running.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let answer = api.hogql("select event, count() from events group by event order by count() desc, event").await?;
    /// assert!(!answer.results.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn hogql(&self, query: &str) -> Result<QueryResponse, ApiError> {
        if query.trim().is_empty() {
            return Err(ApiError::InvalidInput("the query is empty".into()));
        }
        let body = json!({
            "query": {"kind": "HogQLQuery", "query": query},
            "refresh": "blocking",
        });
        let answer: QueryResponse = self
            .send(Method::POST, &self.environment_path("query/"), &body, true)
            .await?;
        let status = answer.extra.get("query_status");
        if status.and_then(|s| s.get("complete")) == Some(&serde_json::Value::Bool(false)) {
            let query_id = status
                .and_then(|s| s.get("id"))
                .and_then(|id| id.as_str())
                .map(str::to_owned);
            return Err(ApiError::QueryRunning { query_id });
        }
        Ok(answer)
    }

    /// Every row of a HogQL query, read `page_size` rows at a time: the query is run with
    /// `LIMIT page_size OFFSET n` added, until PostHog says there is nothing more. The query
    /// must not have a `LIMIT` or `OFFSET` of its own, and should have an `ORDER BY`, or the
    /// pages may overlap. Each page counts against PostHog's query throttle.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let rows = api.hogql_all_rows("select event from events", 100).await?; // pages of 100
    /// assert_eq!(rows.len(), 250);
    /// # Ok(()) }
    /// ```
    pub async fn hogql_all_rows(
        &self,
        query: &str,
        page_size: u32,
    ) -> Result<Vec<Vec<serde_json::Value>>, ApiError> {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        if words.iter().any(|w| w == "limit" || w == "offset") {
            return Err(ApiError::InvalidInput(
                "the query pages itself: leave LIMIT and OFFSET out".into(),
            ));
        }
        if page_size == 0 {
            return Err(ApiError::InvalidInput("the page size is 0".into()));
        }
        let mut rows = Vec::new();
        loop {
            let page = self
                .hogql(&format!("{query} LIMIT {page_size} OFFSET {}", rows.len()))
                .await?;
            let got = page.results.len();
            rows.extend(page.results);
            if !page.has_more || got == 0 {
                return Ok(rows);
            }
        }
    }

    /// Runs a HogQL query and reads its rows as `T` (a tuple or a struct, fields in column
    /// order).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
    /// let api = posthog_api::ApiClient::builder(personal_api_key)
    /// #   .host(server.url())
    ///     .build()?;
    /// let counts: Vec<(String, u64)> = api
    ///     .hogql_rows("select event, count() from events group by event order by count() desc, event")
    ///     .await?;
    /// assert_eq!(counts[0], ("$pageview".to_owned(), 7));
    /// # Ok(()) }
    /// ```
    pub async fn hogql_rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.hogql(query).await?.rows()
    }
}
