//! The parameters of the list calls, encoded as URL query strings.

use posthog_transport::query_escape;

use super::Filter;

/// Builds `?a=1&b=2`, skipping unset parameters.
#[derive(Debug, Default)]
pub(crate) struct QueryString(String);

impl QueryString {
    pub(crate) fn push(&mut self, key: &str, value: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(value) = value {
            self.0.push(if self.0.is_empty() { '?' } else { '&' });
            self.0.push_str(key);
            self.0.push('=');
            self.0.push_str(&query_escape(value.as_ref()));
        }
        self
    }

    pub(crate) fn finish(&self) -> &str {
        &self.0
    }
}

/// Filters of [`ApiClient::persons`](super::ApiClient::persons); all that are set must match.
///
/// ```
/// use posthog_api::{PersonQuery, PropertyFilter};
/// let linux_users = PersonQuery::new()
///     .properties(PropertyFilter::person("$initial_os").exact(vec!["Linux"]))
///     .limit(100);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PersonQuery {
    distinct_id: Option<String>,
    email: Option<String>,
    search: Option<String>,
    properties: Option<Filter>,
    limit: Option<u32>,
}

impl PersonQuery {
    /// Every person.
    pub fn new() -> Self {
        Self::default()
    }

    /// The person with this distinct id.
    pub fn distinct_id(mut self, id: impl Into<String>) -> Self {
        self.distinct_id = Some(id.into());
        self
    }

    /// Persons with exactly this email.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// Full-text search on email, or an exact distinct id.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Property filters (see [`PropertyFilter`](super::PropertyFilter)).
    pub fn properties(mut self, filter: impl Into<Filter>) -> Self {
        self.properties = Some(filter.into());
        self
    }

    /// Persons per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn encode(&self) -> String {
        let mut q = QueryString::default();
        q.push("distinct_id", self.distinct_id.as_ref())
            .push("email", self.email.as_ref())
            .push("search", self.search.as_ref())
            .push("properties", self.properties.as_ref().map(Filter::to_json))
            .push("limit", self.limit.map(|l| l.to_string()));
        q.finish().to_owned()
    }
}

/// Filters of [`ApiClient::events`](super::ApiClient::events).
///
/// ```
/// use posthog_api::{EventQuery, PropertyFilter};
/// let orders = EventQuery::new()
///     .event("order_completed")
///     .properties(PropertyFilter::event("revenue").gte(10))
///     .after("2026-11-01T00:00:00Z")
///     .limit(100);
/// # let _ = orders;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventQuery {
    event: Option<String>,
    person_id: Option<String>,
    distinct_id: Option<String>,
    properties: Option<Filter>,
    after: Option<String>,
    before: Option<String>,
    limit: Option<u32>,
    include_person: bool,
}

/// The most events PostHog returns per page.
pub const MAX_EVENTS_PER_PAGE: u32 = 1_000;

/// What `after` is when the query sets none: PostHog would otherwise look at the last 24
/// hours only.
const ALL_HISTORY: &str = "1970-01-01T00:00:00Z";

impl EventQuery {
    /// Every event, from the start of history (the client sends `after` for you).
    pub fn new() -> Self {
        Self::default()
    }

    /// Events with this name.
    pub fn event(mut self, name: impl Into<String>) -> Self {
        self.event = Some(name.into());
        self
    }

    /// Events of this person (its id or UUID).
    pub fn person_id(mut self, id: impl ToString) -> Self {
        self.person_id = Some(id.to_string());
        self
    }

    /// Events captured with this distinct id.
    pub fn distinct_id(mut self, id: impl Into<String>) -> Self {
        self.distinct_id = Some(id.into());
        self
    }

    /// Property filters.
    pub fn properties(mut self, filter: impl Into<Filter>) -> Self {
        self.properties = Some(filter.into());
        self
    }

    /// Events at or after this time (ISO 8601). Unset, the client asks for all history:
    /// PostHog itself would look at the last 24 hours only.
    pub fn after(mut self, time: impl Into<String>) -> Self {
        self.after = Some(time.into());
        self
    }

    /// Events before this time (ISO 8601).
    pub fn before(mut self, time: impl Into<String>) -> Self {
        self.before = Some(time.into());
        self
    }

    /// Events per page: at most [`MAX_EVENTS_PER_PAGE`] (PostHog's cap; a larger value is
    /// sent as the cap). The pages go on until the history is read.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit.min(MAX_EVENTS_PER_PAGE));
        self
    }

    /// Fill each event's `person` (PostHog leaves it out unless asked).
    pub fn include_person(mut self, include: bool) -> Self {
        self.include_person = include;
        self
    }

    pub(crate) fn encode(&self) -> String {
        let mut q = QueryString::default();
        q.push("event", self.event.as_ref())
            .push("person_id", self.person_id.as_ref())
            .push("distinct_id", self.distinct_id.as_ref())
            .push("properties", self.properties.as_ref().map(Filter::to_json))
            .push("after", Some(self.after.as_deref().unwrap_or(ALL_HISTORY)))
            .push("before", self.before.as_ref())
            .push("limit", self.limit.map(|l| l.to_string()))
            .push("include_person", self.include_person.then_some("true"));
        q.finish().to_owned()
    }
}

/// Filters of [`ApiClient::insights`](super::ApiClient::insights).
///
/// ```
/// let query = posthog_api::InsightQuery::new().short_id("Ab12Cd34").basic(true);
/// # let _ = query;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsightQuery {
    short_id: Option<String>,
    basic: bool,
    limit: Option<u32>,
}

impl InsightQuery {
    /// Every insight.
    pub fn new() -> Self {
        Self::default()
    }

    /// The insight whose URL ends in this id.
    pub fn short_id(mut self, id: impl Into<String>) -> Self {
        self.short_id = Some(id.into());
        self
    }

    /// Metadata only, without results (faster).
    pub fn basic(mut self, basic: bool) -> Self {
        self.basic = basic;
        self
    }

    /// Insights per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn encode(&self) -> String {
        let mut q = QueryString::default();
        q.push("short_id", self.short_id.as_ref())
            .push("basic", self.basic.then_some("true"))
            .push("limit", self.limit.map(|l| l.to_string()));
        q.finish().to_owned()
    }
}

/// How fresh an insight's result must be (`refresh`).
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
/// // Compute now when nothing is cached, waiting for the result:
/// let insight = api.insight(921030, Some(posthog_api::Refresh::Blocking)).await?;
/// assert_eq!(insight.aggregated_value(), Some(87.0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refresh {
    /// The cached result, possibly none (PostHog's default).
    ForceCache,
    /// Compute now when the cache is stale, and wait.
    Blocking,
    /// Compute now, and wait.
    ForceBlocking,
}

impl Refresh {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refresh::ForceCache => "force_cache",
            Refresh::Blocking => "blocking",
            Refresh::ForceBlocking => "force_blocking",
        }
    }
}

/// Filters of [`ApiClient::property_definitions`](super::ApiClient::property_definitions).
///
/// ```
/// let query = posthog_api::PropertyDefinitionQuery::new().event_names(["$pageview"]).search("utm");
/// # let _ = query;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PropertyDefinitionQuery {
    kind: Option<&'static str>,
    group_type_index: Option<u32>,
    search: Option<String>,
    event_names: Vec<String>,
    is_numerical: Option<bool>,
    limit: Option<u32>,
}

impl PropertyDefinitionQuery {
    /// Event properties (PostHog's default type).
    pub fn new() -> Self {
        Self::default()
    }

    /// Person properties.
    pub fn person(mut self) -> Self {
        self.kind = Some("person");
        self
    }

    /// Properties of the group type with this index.
    pub fn group(mut self, group_type_index: u32) -> Self {
        self.kind = Some("group");
        self.group_type_index = Some(group_type_index);
        self
    }

    /// Session properties.
    pub fn session(mut self) -> Self {
        self.kind = Some("session");
        self
    }

    /// Names containing this text.
    pub fn search(mut self, text: impl Into<String>) -> Self {
        self.search = Some(text.into());
        self
    }

    /// Properties seen on these events.
    pub fn event_names(mut self, names: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.event_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Only numeric properties (PostHog filters on `is_numerical=true` alone; there is no
    /// "only non-numeric").
    pub fn numerical(mut self) -> Self {
        self.is_numerical = Some(true);
        self
    }

    /// Definitions per page.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }

    pub(crate) fn encode(&self) -> String {
        let names = (!self.event_names.is_empty())
            .then(|| serde_json::Value::from(self.event_names.clone()).to_string());
        let mut q = QueryString::default();
        q.push("type", self.kind)
            .push(
                "group_type_index",
                self.group_type_index.map(|i| i.to_string()),
            )
            .push("search", self.search.as_ref())
            .push("event_names", names.as_ref())
            .push("filter_by_event_names", names.as_ref().map(|_| "true"))
            .push("is_numerical", self.is_numerical.map(|b| b.to_string()))
            .push("limit", self.limit.map(|l| l.to_string()));
        q.finish().to_owned()
    }
}

/// A page-size-only query (event definitions, projects, flags).
pub(crate) fn limit_and_search(limit: Option<u32>, search: Option<&str>) -> String {
    let mut q = QueryString::default();
    q.push("search", search)
        .push("limit", limit.map(|l| l.to_string()));
    q.finish().to_owned()
}
