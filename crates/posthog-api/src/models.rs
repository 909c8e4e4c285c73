//! The objects the private API returns. Fields PostHog documents are typed; everything else
//! it sends is kept in `extra`, so nothing is lost when PostHog adds fields.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiError;

/// An id PostHog gives as a number on some objects and versions and as a string on others.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// use posthog_api::{Id, PersonQuery};
/// let listed = api.persons(&PersonQuery::new().email("ada@example.com")).collect_all().await?;
/// assert!(matches!(listed[0].id, Id::Text(_))); // lists give UUIDs
/// let fetched = api.person(&listed[0].id).await?;
/// assert_eq!(fetched.id, Id::Number(1)); // a single fetch gives the number
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Id {
    /// A numeric id.
    Number(i64),
    /// A text id (usually a UUID).
    Text(String),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Number(n) => write!(f, "{n}"),
            Id::Text(s) => f.write_str(s),
        }
    }
}

/// The user a personal API key belongs to (`GET /api/users/@me/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let user = api.me().await?;
/// assert_eq!(user.email.as_deref(), Some("ada@example.com"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    #[serde(default)]
    pub id: Option<i64>,
    /// The user's UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// First name.
    #[serde(default)]
    pub first_name: Option<String>,
    /// The user's current project: the one `@current` stands for.
    #[serde(default)]
    pub team: Option<Project>,
    /// The user's current organisation (with its projects, where PostHog lists them).
    #[serde(default)]
    pub organization: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A project, or an environment of one (PostHog's API calls an environment a team; `me()`'s
/// `team` is the user's current environment).
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
/// assert!(projects.iter().any(|p| p.name == "Default project"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// The id used in paths: a project's id in `/api/projects/:id/…`, an environment's in
    /// `/api/environments/:id/…`.
    pub id: i64,
    /// For an environment, the id of its project (the same as `id` only for a project's first
    /// environment); absent on a project.
    #[serde(default)]
    pub project_id: Option<i64>,
    /// The project's UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// The project API key (`phc_…`, public: it is what capture sends).
    #[serde(default)]
    pub api_token: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A person (`/api/environments/:id/persons/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let persons = api.persons(&posthog_api::PersonQuery::new().email("ada@example.com")).collect_all().await?;
/// let ada = &persons[0];
/// println!("{:?}: {:?}", ada.display_name(), ada.distinct_ids);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// The person's id: the UUID in lists, the number in a single fetch (PostHog answers so).
    pub id: Id,
    /// The person's UUID.
    #[serde(default)]
    pub uuid: Option<String>,
    /// What PostHog shows as the name: the raw value of the first of the person's email /
    /// name / username properties (or the team's configured list) that is set, so any JSON
    /// value, not only text. [`Person::display_name`] gives it as text.
    #[serde(default)]
    pub name: Option<Value>,
    /// Every distinct id merged into this person.
    #[serde(default)]
    pub distinct_ids: Vec<String>,
    /// Person properties.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// When the person was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Person {
    /// [`Person::name`] as text: a string as it is, any other value as its JSON.
    pub fn display_name(&self) -> Option<String> {
        match self.name.as_ref()? {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }
}

/// An insight (`/api/projects/:id/insights/`).
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
/// let insight = api.insight(921029, None).await?;
/// assert_eq!(insight.aggregated_value(), Some(1234.0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// The numeric id.
    pub id: i64,
    /// The id in the insight's URL (`/insights/<short_id>`).
    #[serde(default)]
    pub short_id: String,
    /// Its name, when it has one.
    #[serde(default)]
    pub name: Option<String>,
    /// The name PostHog derives from the query.
    #[serde(default)]
    pub derived_name: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The query (newer insights).
    #[serde(default)]
    pub query: Option<Value>,
    /// The filters of an older insight; `{}` on a query-based one (read `query` then).
    #[serde(default)]
    pub filters: Option<Value>,
    /// The computed result; `None` when nothing was computed or cached.
    #[serde(default)]
    pub result: Option<Value>,
    /// When `result` was computed.
    #[serde(default)]
    pub last_refresh: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Insight {
    /// A trends insight's total for its first series: `result[0].aggregated_value`, which
    /// PostHog computes only for number, pie, table and map displays; for a line or bar
    /// graph, the series' `count` (the sum over its points) instead.
    pub fn aggregated_value(&self) -> Option<f64> {
        let series = self.result.as_ref()?.get(0)?;
        series
            .get("aggregated_value")
            .and_then(Value::as_f64)
            .or_else(|| series.get("count")?.as_f64())
    }
}

/// An event as the events API lists it (`/api/environments/:id/events/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let events = api.events(&posthog_api::EventQuery::new().event("$pageview")).collect_all().await?;
/// let first = &events[0];
/// println!("{} by {} at {:?}", first.event, first.distinct_id, first.timestamp);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// The event's uuid.
    pub id: String,
    /// Event name.
    pub event: String,
    /// The distinct id it was captured with.
    #[serde(default)]
    pub distinct_id: String,
    /// When it happened.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Event properties.
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// The person, only when asked for with [`super::EventQuery::include_person`].
    #[serde(default)]
    pub person: Option<Value>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An event definition (`/api/projects/:id/event_definitions/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let definitions = api.event_definitions(Some("$")).collect_all().await?;
/// assert!(definitions.iter().all(|d| d.name.starts_with('$')));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventDefinition {
    /// The definition's id.
    pub id: Id,
    /// The event name.
    pub name: String,
    /// When the event was first seen.
    #[serde(default)]
    pub created_at: Option<String>,
    /// When the event was last seen.
    #[serde(default)]
    pub last_seen_at: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A property definition (`/api/projects/:id/property_definitions/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let query = posthog_api::PropertyDefinitionQuery::new().person();
/// let definitions = api.property_definitions(&query).collect_all().await?;
/// assert_eq!(definitions.len(), 4);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyDefinition {
    /// The definition's id.
    pub id: Id,
    /// The property name.
    pub name: String,
    /// `String`, `Numeric`, `Boolean`, `DateTime`, … when known.
    #[serde(default)]
    pub property_type: Option<String>,
    /// Whether its values are numbers.
    #[serde(default)]
    pub is_numerical: Option<bool>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A feature flag as the private API manages it (`/api/projects/:id/feature_flags/`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let personal_api_key = posthog::test_util::FAKE_PERSONAL_API_KEY;
/// let api = posthog_api::ApiClient::builder(personal_api_key)
/// #   .host(server.url())
///     .build()?;
/// let flag = api.feature_flags(Some("checkout")).collect_all().await?.remove(0);
/// assert_eq!(flag.key, "new-checkout");
/// println!("active: {}, deleted: {}", flag.active, flag.deleted);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureFlag {
    /// The flag's id.
    pub id: i64,
    /// The key code evaluates.
    pub key: String,
    /// The description shown in PostHog.
    #[serde(default)]
    pub name: String,
    /// Whether it is on.
    #[serde(default)]
    pub active: bool,
    /// Release conditions, variants and payloads.
    #[serde(default)]
    pub filters: Value,
    /// Soft-deleted.
    #[serde(default)]
    pub deleted: bool,
    /// When it was created.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Every other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A flag to create.
///
/// ```
/// use posthog_api::NewFeatureFlag;
/// let flag = NewFeatureFlag::new("new-checkout").name("The new checkout").rollout(25.0);
/// assert_eq!(flag.filters["groups"][0]["rollout_percentage"], 25.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewFeatureFlag {
    /// The key code evaluates.
    pub key: String,
    /// The description shown in PostHog.
    pub name: String,
    /// Whether it is on (default true).
    pub active: bool,
    /// Release conditions (default: everyone).
    pub filters: Value,
}

impl NewFeatureFlag {
    /// An active flag for everyone.
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            name: String::new(),
            active: true,
            filters: serde_json::json!({"groups": [{"properties": [], "rollout_percentage": 100.0}]}),
        }
    }

    /// Sets the description.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets whether it is on.
    pub fn active(mut self, active: bool) -> Self {
        self.active = active;
        self
    }

    /// One condition: `percent` of everyone.
    pub fn rollout(mut self, percent: f64) -> Self {
        self.filters =
            serde_json::json!({"groups": [{"properties": [], "rollout_percentage": percent}]});
        self
    }

    /// Sets the whole `filters` object (conditions, variants, payloads).
    pub fn filters(mut self, filters: Value) -> Self {
        self.filters = filters;
        self
    }
}

/// Changes to a flag; only the fields set are sent.
///
/// ```
/// let update = posthog_api::FeatureFlagUpdate::new().name("Paused").active(false);
/// # let _ = update; // api.update_feature_flag(id, &update)
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FeatureFlagUpdate {
    /// New description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// On or off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// New release conditions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Value>,
    /// Soft-delete (what [`super::ApiClient::delete_feature_flag`] sends).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

impl FeatureFlagUpdate {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the description.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Turns the flag on or off.
    pub fn active(mut self, active: bool) -> Self {
        self.active = Some(active);
        self
    }

    /// Replaces the release conditions.
    pub fn filters(mut self, filters: Value) -> Self {
        self.filters = Some(filters);
        self
    }
}

/// The answer of a HogQL query (`POST /api/environments/:id/query/`).
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
/// let rows: Vec<(String, u64)> = answer.rows()?;
/// assert_eq!(rows[0].0, "$pageview");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryResponse {
    /// The rows, each an array in column order (none while a query runs).
    #[serde(default, deserialize_with = "null_is_default")]
    pub results: Vec<Vec<Value>>,
    /// Column names; PostHog may send none (`null`).
    #[serde(default)]
    pub columns: Option<Vec<String>>,
    /// Column types; PostHog may send none (`null`).
    #[serde(default)]
    pub types: Option<Vec<Value>>,
    /// The SQL PostHog ran.
    #[serde(default)]
    pub hogql: Option<String>,
    /// More rows exist past the ones returned: a query without `LIMIT` returns at most 100
    /// rows. Add `LIMIT`/`OFFSET` to the query to read further.
    #[serde(default, rename = "hasMore", deserialize_with = "null_is_default")]
    pub has_more: bool,
    /// Every other field (`limit`, `offset`, `query_status`, timings, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `null` read as the type's default (PostHog sends `null` for "none").
fn null_is_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

impl QueryResponse {
    /// The rows as `T`: a tuple or a struct with fields in column order, e.g.
    /// `(String, u64)` for `select event, count() …`.
    pub fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>, ApiError> {
        self.results
            .iter()
            .enumerate()
            .map(|(i, row)| {
                T::deserialize(Value::Array(row.clone()))
                    .map_err(|e| ApiError::decode(&format!("row {i}"), e))
            })
            .collect()
    }
}
