//! The calls of [`ApiClient`], one per endpoint of protocol.md §5.3–5.4.

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
    pub async fn me(&self) -> Result<User, ApiError> {
        self.get("/api/users/@me/").await
    }

    /// This client for the key's current project by its numeric id (resolved through
    /// [`ApiClient::me`] when the client was built for `@current`).
    pub async fn resolve_project(&self) -> Result<ApiClient, ApiError> {
        if let Ok(id) = self.project().parse::<i64>() {
            return Ok(self.with_project(id));
        }
        let me = self.me().await?;
        let team = me
            .team
            .ok_or_else(|| ApiError::Decode("the user has no current project (`team`)".into()))?;
        Ok(self.with_project(team.id))
    }

    /// The projects the key can see (`GET /api/projects/`).
    pub fn projects(&self) -> Pages<Project> {
        self.pages("/api/projects/".to_owned())
    }

    /// This client's project (`GET /api/projects/:id/`).
    pub async fn current_project(&self) -> Result<Project, ApiError> {
        self.get(&format!("/api/projects/{}/", self.project()))
            .await
    }

    /// Persons matching `query` (`GET /api/projects/:id/persons/`).
    pub fn persons(&self, query: &PersonQuery) -> Pages<Person> {
        self.pages(self.project_path(&format!("persons/{}", query.encode())))
    }

    /// One person by id or UUID (not by distinct id: use [`PersonQuery::distinct_id`]).
    pub async fn person(&self, id: impl std::fmt::Display) -> Result<Person, ApiError> {
        let id = path_segment("person id", &id.to_string())?;
        self.get(&self.project_path(&format!("persons/{id}/")))
            .await
    }

    /// Events matching `query`, newest first (`GET /api/projects/:id/events/`).
    pub fn events(&self, query: &EventQuery) -> Pages<EventRecord> {
        self.pages(self.project_path(&format!("events/{}", query.encode())))
    }

    /// A person's events, newest first.
    pub fn person_events(&self, person: &Person) -> Pages<EventRecord> {
        self.events(&EventQuery::new().person_id(&person.id))
    }

    /// Insights matching `query` (`GET /api/projects/:id/insights/`).
    pub fn insights(&self, query: &InsightQuery) -> Pages<Insight> {
        self.pages(self.project_path(&format!("insights/{}", query.encode())))
    }

    /// The insight whose URL ends in `short_id`, if there is one.
    pub async fn insight_by_short_id(&self, short_id: &str) -> Result<Option<Insight>, ApiError> {
        if short_id.trim().is_empty() {
            return Err(ApiError::InvalidInput("the short id is empty".into()));
        }
        self.insights(&InsightQuery::new().short_id(short_id))
            .max_pages(1)
            .try_next()
            .await
    }

    /// One insight with its result (`GET /api/projects/:id/insights/:id/`); `refresh` says
    /// how fresh the result must be (PostHog's default: whatever is cached).
    pub async fn insight(&self, id: i64, refresh: Option<Refresh>) -> Result<Insight, ApiError> {
        let query = refresh.map_or(String::new(), |r| format!("?refresh={}", r.as_str()));
        self.get(&self.project_path(&format!("insights/{id}/{query}")))
            .await
    }

    /// Event definitions, optionally those whose name contains `search`.
    pub fn event_definitions(&self, search: Option<&str>) -> Pages<EventDefinition> {
        let query = limit_and_search(None, search);
        self.pages(self.project_path(&format!("event_definitions/{query}")))
    }

    /// Property definitions matching `query`.
    pub fn property_definitions(
        &self,
        query: &PropertyDefinitionQuery,
    ) -> Pages<PropertyDefinition> {
        self.pages(self.project_path(&format!("property_definitions/{}", query.encode())))
    }

    /// The project's feature flags, optionally those matching `search`.
    pub fn feature_flags(&self, search: Option<&str>) -> Pages<FeatureFlag> {
        let query = limit_and_search(None, search);
        self.pages(self.project_path(&format!("feature_flags/{query}")))
    }

    /// One feature flag.
    pub async fn feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        self.get(&self.project_path(&format!("feature_flags/{id}/")))
            .await
    }

    /// Creates a feature flag. Not retried (a retry could create it twice).
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
    pub async fn delete_feature_flag(&self, id: i64) -> Result<FeatureFlag, ApiError> {
        let update = FeatureFlagUpdate {
            deleted: Some(true),
            ..FeatureFlagUpdate::default()
        };
        self.update_feature_flag(id, &update).await
    }

    /// Runs a HogQL query and waits for it (`POST /api/projects/:id/query/`, `refresh:
    /// blocking`). Retried on 429 like a read: a query changes nothing.
    pub async fn hogql(&self, query: &str) -> Result<QueryResponse, ApiError> {
        if query.trim().is_empty() {
            return Err(ApiError::InvalidInput("the query is empty".into()));
        }
        let body = json!({
            "query": {"kind": "HogQLQuery", "query": query},
            "refresh": "blocking",
        });
        self.send(Method::POST, &self.project_path("query/"), &body, true)
            .await
    }

    /// Runs a HogQL query and reads its rows as `T` (a tuple or a struct, fields in column
    /// order).
    pub async fn hogql_rows<T: serde::de::DeserializeOwned>(
        &self,
        query: &str,
    ) -> Result<Vec<T>, ApiError> {
        self.hogql(query).await?.rows()
    }
}
