//! [`FakePostHog`]: an in-process PostHog on 127.0.0.1 for tests and the quickstart (feature
//! `test-util`). It accepts the ingestion endpoints, records every batch, and can be told to
//! fail (statuses, delays, closed connections) through [`FakePostHog::script`]. It also
//! serves flags, flag definitions, remote config, and the private API of
//! [`crate::api`] over a sample project (a user, persons, events, insights, definitions and
//! flags) with realistic pagination and PostHog's error bodies; the key it accepts is
//! [`FAKE_PERSONAL_API_KEY`].

use std::sync::{Arc, Mutex};

mod api;
mod api_data;

use posthog_transport::test_util::{RecordedRequest, TestServer};
use serde_json::Value;

pub use api::FAKE_PERSONAL_API_KEY;

pub use posthog_transport::test_util::Reply;

/// Paths PostHog ingests events on.
const INGESTION: &[&str] = &[
    "/batch/",
    "/batch",
    "/i/v0/e/",
    "/i/v0/e",
    "/e/",
    "/capture/",
    "/track/",
    posthog_core::capture_v1::V1_PATH,
];

/// Capture v1's answer: 400 without the headers the server requires, else `ok` for every
/// event of the batch.
fn v1_answer(req: &RecordedRequest) -> Reply {
    let required = [
        "authorization",
        "posthog-sdk-info",
        "posthog-request-id",
        "posthog-attempt",
        "posthog-request-timestamp",
    ];
    if let Some(missing) = required.iter().find(|h| req.header(h).is_none()) {
        return Reply::json(
            400,
            &serde_json::json!({"error": "missing_header", "error_description": format!("{missing} is required")}),
        );
    }
    let mut results = serde_json::Map::new();
    for event in req.json()["batch"].as_array().into_iter().flatten() {
        if let Some(uuid) = event["uuid"].as_str() {
            results.insert(uuid.to_owned(), serde_json::json!({"result": "ok"}));
        }
    }
    Reply::json(200, &serde_json::json!({"results": results}))
}

/// An in-process PostHog: real HTTP on 127.0.0.1.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use posthog::test_util::{FakePostHog, Reply};
/// let server = FakePostHog::start().await;
/// server.script([Reply::status(503)]); // the next request fails, then 200 again
/// let client = posthog::Client::builder("phc_test").host(server.url()).build().unwrap();
/// client.capture(posthog::Event::new("signed_up", "user-1"));
/// client.flush().await; // 503: stays queued for a retry
/// client.shutdown(std::time::Duration::from_secs(5)).await; // retried and delivered
/// assert_eq!(server.events()[0]["event"], "signed_up");
/// # }
/// ```
pub struct FakePostHog {
    server: TestServer,
    flags: Arc<Mutex<Value>>,
    definitions: Arc<Mutex<Option<String>>>,
    remote_config: Arc<Mutex<std::collections::BTreeMap<String, Value>>>,
    api: Arc<Mutex<api::FakeApi>>,
}

impl std::fmt::Debug for FakePostHog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakePostHog")
            .field("url", &self.url())
            .finish()
    }
}

/// A weak ETag for a definitions document.
fn etag_of(body: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(body, &mut hasher);
    format!("W/\"{:016x}\"", std::hash::Hasher::finish(&hasher))
}

impl FakePostHog {
    /// Starts on a free port: ingestion answers `200 {"status": 1}`, `/flags` answers what
    /// [`FakePostHog::set_flags`] set (no flags at first), and `/flags/definitions` what
    /// [`FakePostHog::set_definitions`] set (404 until then), with an ETag and 304 for a
    /// matching `If-None-Match`.
    ///
    /// # Panics
    /// When no port on 127.0.0.1 can be bound (a test environment problem).
    #[allow(clippy::expect_used)]
    pub async fn start() -> FakePostHog {
        let server = TestServer::start().await.expect("bind 127.0.0.1");
        let flags = Arc::new(Mutex::new(serde_json::json!({"flags": {}})));
        let definitions: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let remote_config: Arc<Mutex<std::collections::BTreeMap<String, Value>>> = Arc::default();
        let base = format!("http://localhost:{}", server.addr().port());
        let api = Arc::new(Mutex::new(api::FakeApi::new(base)));
        let (flags_answer, defs, configs, api_state) = (
            flags.clone(),
            definitions.clone(),
            remote_config.clone(),
            api.clone(),
        );
        server.set_handler(Arc::new(move |req: &RecordedRequest| {
            if req.path == posthog_core::capture_v1::V1_PATH {
                return Some(v1_answer(req));
            }
            if INGESTION.contains(&req.path.as_str()) || req.path == crate::AI_PATH {
                return Some(Reply::ok());
            }
            if req.path == crate::logs::LOGS_PATH || req.path == crate::traces::TRACES_PATH {
                return Some(Reply::json(200, &serde_json::json!({})));
            }
            match req.path.as_str() {
                "/flags" | "/flags/" => {
                    let body = flags_answer
                        .lock()
                        .map(|v| v.clone())
                        .unwrap_or(Value::Null);
                    Some(Reply::json(200, &body))
                }
                "/flags/definitions"
                | "/flags/definitions/"
                | "/api/feature_flag/local_evaluation/" => {
                    let doc = defs.lock().ok().and_then(|d| d.clone())?;
                    let etag = etag_of(&doc);
                    if req.header("if-none-match") == Some(etag.as_str()) {
                        return Some(Reply::status(304).header("etag", &etag));
                    }
                    Some(
                        Reply::status(200)
                            .header("content-type", "application/json")
                            .header("etag", &etag)
                            .body(doc),
                    )
                }
                path if !path.ends_with("/remote_config") => api_state.lock().ok()?.handle(req),
                path => {
                    let key = path
                        .strip_prefix("/api/projects/@current/feature_flags/")?
                        .strip_suffix("/remote_config")?;
                    let payload = configs.lock().ok()?.get(key).cloned();
                    Some(match payload {
                        Some(payload) => Reply::json(200, &payload),
                        None => Reply::status(404),
                    })
                }
            }
        }));
        server.set_default(Reply::status(404));
        FakePostHog {
            server,
            flags,
            definitions,
            remote_config,
            api,
        }
    }

    /// The personal API key the private API accepts from now on (default
    /// [`FAKE_PERSONAL_API_KEY`]); any other key gets PostHog's 401.
    pub fn set_personal_api_key(&self, key: &str) {
        if let Ok(mut api) = self.api.lock() {
            api.key = key.to_owned();
        }
    }

    /// Makes the key lack `scope` (e.g. `person:read`): calls needing it get PostHog's 403.
    pub fn deny_scope(&self, scope: &str) {
        if let Ok(mut api) = self.api.lock() {
            api.denied_scopes.insert(scope.to_owned());
        }
    }

    /// Throttles queries as PostHog does (its default: 120 per hour): past `per_hour`, a
    /// query is answered 429 with `Retry-After: 3600`.
    pub fn set_query_throttle(&self, per_hour: u32) {
        if let Ok(mut api) = self.api.lock() {
            api.query_limit = Some(per_hour);
        }
    }

    /// The answer of the HogQL query `query` (compared case- and whitespace-insensitively);
    /// an answer whose `query_status.complete` is `false` is sent with status 202, as PostHog
    /// answers a query still running. Built in: `select event, count() from events group by
    /// event order by count() desc, event` over the sample events, and `select event from
    /// events` (250 rows, of which PostHog's default 100 come back with `hasMore`) with or
    /// without `limit 5`; any other query is answered with a 400 validation error.
    pub fn set_hogql_result(&self, query: &str, answer: Value) {
        if let Ok(mut api) = self.api.lock() {
            let normalised = query
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase();
            api.queries.insert(normalised, answer);
        }
    }

    /// What `/flags` answers from now on (either answer shape).
    pub fn set_flags(&self, answer: Value) {
        if let Ok(mut flags) = self.flags.lock() {
            *flags = answer;
        }
    }

    /// The payload the remote-config endpoint serves for `key` (usually a JSON text).
    pub fn set_remote_config(&self, key: &str, payload: Value) {
        if let Ok(mut configs) = self.remote_config.lock() {
            configs.insert(key.to_owned(), payload);
        }
    }

    /// The local-evaluation definitions served from now on.
    pub fn set_definitions(&self, definitions: Value) {
        if let Ok(mut defs) = self.definitions.lock() {
            *defs = Some(definitions.to_string());
        }
    }

    /// Requests received on `path`.
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.server.requests_to(path)
    }

    /// `http://127.0.0.1:<port>`, to pass as the client's host.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Replies for the next requests, in order (then back to normal).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.server.script(replies);
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// Bodies of the ingestion requests it accepted (answered 2xx), in arrival order.
    /// Requests a scripted failure answered are only in [`FakePostHog::requests`].
    pub fn batches(&self) -> Vec<Value> {
        self.ingestion_requests()
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .map(|r| r.json())
            .collect()
    }

    /// Every ingestion request received, accepted or not.
    pub fn ingestion_requests(&self) -> Vec<RecordedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|r| INGESTION.contains(&r.path.as_str()))
            .collect()
    }

    /// Events of the accepted ingestion requests, in order.
    pub fn events(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for body in self.batches() {
            match body.get("batch") {
                Some(Value::Array(events)) => out.extend(events.iter().cloned()),
                _ if body.get("event").is_some() => out.push(body),
                _ => {}
            }
        }
        out
    }

    /// The events of the AI endpoint's accepted requests (`/i/v0/ai/batch/`), in arrival
    /// order; [`FakePostHog::events`] holds only the analytics endpoints'.
    pub fn ai_events(&self) -> Vec<Value> {
        self.requests_to(crate::AI_PATH)
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .flat_map(|r| match r.json().get("batch") {
                Some(Value::Array(events)) => events.clone(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The log records of the logs endpoint's accepted requests (`/i/v1/logs`, gzip or not),
    /// in arrival order, each an OTLP `logRecord`.
    pub fn log_records(&self) -> Vec<Value> {
        self.requests_to(crate::logs::LOGS_PATH)
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .flat_map(|r| {
                let body = r.json();
                body["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The spans of the traces endpoint's accepted requests (`/i/v1/traces`, decoded), in
    /// arrival order, each an OTLP `span`.
    pub fn spans(&self) -> Vec<Value> {
        self.requests_to(crate::traces::TRACES_PATH)
            .into_iter()
            .filter(|r| r.status.is_some_and(|s| (200..300).contains(&s)))
            .flat_map(|r| {
                let body = r.json();
                body["resourceSpans"][0]["scopeSpans"][0]["spans"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// TCP connections accepted.
    pub fn connection_count(&self) -> usize {
        self.server.connection_count()
    }

    /// Forgets what was received.
    pub fn clear(&self) {
        self.server.clear();
    }

    /// The underlying scripted server.
    pub fn server(&self) -> &TestServer {
        &self.server
    }
}
