//! [`FeatureFlagEvaluations`]: every flag of one subject evaluated once, read many times
//! (C-EVALUATE-FLAGS). Reads do no I/O; `$feature_flag_called` is sent lazily, for the flags
//! actually read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use posthog_core::{Event, FlagValue, Groups};
use serde_json::Value;
use uuid::Uuid;

use super::all::Payloads;
use super::{AllFlags, FlagOptions, Resolved};
use crate::Client;

/// An immutable snapshot of a subject's flags, from [`Client::evaluate_flags`].
///
/// Cheap to clone; a clone shares the values but keeps its own record of which flags were
/// read (for [`FeatureFlagEvaluations::only_accessed`]).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// # server.set_flags(serde_json::json!({"flags": {"beta": {"key": "beta", "enabled": true}}}));
/// let flags = client.evaluate_flags("user-123", &posthog::FlagOptions::new()).await;
/// assert!(flags.is_enabled("beta"));
/// // The flags read so far, attached to an event as `$feature/<key>`:
/// client.capture(flags.only_accessed().attach(posthog::Event::new("page_viewed", "user-123")));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct FeatureFlagEvaluations {
    data: Arc<Data>,
    /// The keys this copy exposes (all, or a filtered subset).
    keys: Arc<BTreeSet<String>>,
    accessed: Arc<Mutex<BTreeSet<String>>>,
    /// Whether this copy is the original (reads of unknown keys report `flag_missing` there).
    original: bool,
    client: Option<Client>,
}

#[derive(Debug)]
struct Data {
    distinct_id: String,
    groups: Groups,
    flags: BTreeMap<String, Resolved>,
    request_id: Option<String>,
    error: Option<String>,
    /// When the snapshot was evaluated.
    evaluated_at: std::time::SystemTime,
}

impl FeatureFlagEvaluations {
    /// A snapshot with no flags, tied to no client (reading it emits nothing).
    pub(crate) fn empty() -> Self {
        Self::new(AllFlags::default(), None)
    }

    pub(crate) fn new(all: AllFlags, client: Option<Client>) -> Self {
        let keys = all.flags.keys().cloned().collect();
        let data = Data {
            distinct_id: all.distinct_id,
            groups: all.groups,
            flags: all.flags,
            request_id: all.request_id,
            error: all.error.map(|e| e.code().into_owned()),
            evaluated_at: std::time::SystemTime::now(),
        };
        Self {
            data: Arc::new(data),
            keys: Arc::new(keys),
            accessed: Arc::default(),
            original: true,
            client,
        }
    }

    /// The subject's distinct id (empty when there was none: then the snapshot is empty).
    pub fn distinct_id(&self) -> &str {
        &self.data.distinct_id
    }

    /// The flag keys in the snapshot.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(String::as_str)
    }

    /// How many flags the snapshot holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the snapshot holds no flag.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// What went wrong while evaluating, if anything (a partial snapshot keeps what resolved).
    pub fn error(&self) -> Option<&str> {
        self.data.error.as_deref()
    }

    /// The `/flags` request id, when the server was asked.
    pub fn request_id(&self) -> Option<&str> {
        self.data.request_id.as_deref()
    }

    fn resolved(&self, key: &str) -> Option<&Resolved> {
        self.keys
            .contains(key)
            .then(|| self.data.flags.get(key))
            .flatten()
    }

    /// Marks `key` read and sends `$feature_flag_called` through the dedupe tracker.
    fn expose(&self, key: &str) {
        if let Ok(mut accessed) = self.accessed.lock() {
            accessed.insert(key.to_owned());
        }
        let Some(client) = &self.client else { return };
        if self.data.distinct_id.is_empty() {
            return;
        }
        let resolved = self.resolved(key);
        if resolved.is_none() && !self.original {
            return;
        }
        let error = super::read_error(self.data.error.as_deref(), resolved.is_none());
        client.report_called(
            key,
            &self.data.distinct_id,
            &self.data.groups,
            resolved,
            error.as_deref(),
        );
    }

    /// When the snapshot was evaluated (C-EVALUATE-FLAGS.7); filtered copies keep their
    /// original's.
    pub fn evaluated_at(&self) -> std::time::SystemTime {
        self.data.evaluated_at
    }

    /// Value, payload and reason of `key` in one read (C-GET-FLAG-RESULT.5), counted as a
    /// read of its value: `$feature_flag_called` once per value, as `get_flag`.
    pub fn get_flag_result(&self, key: &str) -> Option<super::FeatureFlagResult> {
        self.expose(key);
        self.resolved(key).map(|r| r.to_result(key))
    }

    /// The value of `key` (`None` when the snapshot has no such flag); sends
    /// `$feature_flag_called` once per value (C-EVALUATE-FLAGS.8/.10).
    pub fn get_flag(&self, key: &str) -> Option<FlagValue> {
        self.expose(key);
        self.resolved(key).map(|r| r.value.clone())
    }

    /// Whether `key` is on (`true` or any variant); `false` when missing.
    pub fn is_enabled(&self, key: &str) -> bool {
        self.get_flag(key).is_some_and(|v| v.is_enabled())
    }

    /// Whether `key` is on, or `default` when the snapshot has no such flag.
    pub fn is_enabled_or(&self, key: &str, default: bool) -> bool {
        self.get_flag(key).map_or(default, |v| v.is_enabled())
    }

    /// The payload of `key`'s value; no event, not marked as read (C-EVALUATE-FLAGS.11).
    pub fn get_flag_payload(&self, key: &str) -> Option<&Value> {
        self.resolved(key).and_then(|r| r.payload.as_ref())
    }

    fn filtered(&self, keys: BTreeSet<String>) -> Self {
        Self {
            data: self.data.clone(),
            keys: Arc::new(keys),
            accessed: Arc::default(),
            original: false,
            client: self.client.clone(),
        }
    }

    /// A copy with only these keys (unknown ones are skipped with a warning) (C-EVALUATE-FLAGS.13).
    pub fn only<I: IntoIterator<Item = S>, S: AsRef<str>>(&self, keys: I) -> Self {
        let mut kept = BTreeSet::new();
        for key in keys {
            let key = key.as_ref();
            if self.keys.contains(key) {
                kept.insert(key.to_owned());
            } else {
                tracing::warn!(target: "posthog", "flag {key:?} is not in the snapshot");
            }
        }
        self.filtered(kept)
    }

    /// A copy with only the keys read so far through `get_flag` / `is_enabled` (payload reads do
    /// not count); empty when nothing was read.
    pub fn only_accessed(&self) -> Self {
        let accessed = self.accessed.lock().map(|a| a.clone()).unwrap_or_default();
        self.filtered(
            accessed
                .into_iter()
                .filter(|k| self.keys.contains(k))
                .collect(),
        )
    }

    /// Adds `$feature/<key>` for every flag of the snapshot and `$active_feature_flags` (the
    /// enabled keys, sorted; omitted when none) to `event`, without evaluating anything
    /// (C-EVALUATE-FLAGS.12). Properties the event already has are kept.
    pub fn attach(&self, mut event: Event) -> Event {
        let mut active = Vec::new();
        for key in self.keys.iter() {
            let Some(resolved) = self.data.flags.get(key) else {
                continue;
            };
            let value = match &resolved.value {
                FlagValue::Bool(b) => Value::Bool(*b),
                FlagValue::Variant(v) => Value::String(v.clone()),
            };
            if resolved.value.is_enabled() {
                active.push(Value::String(key.clone()));
            }
            event.set_default(&format!("$feature/{key}"), value);
        }
        if !active.is_empty() {
            event.set_default("$active_feature_flags", Value::Array(active));
        }
        event
    }
}

impl Client {
    /// Evaluates every flag (or `opts.flag_keys`) for `distinct_id` once and returns an
    /// immutable snapshot to read from (C-EVALUATE-FLAGS) — the preferred way to use flags on a
    /// server: one evaluation (local when the definitions decide everything, else at most one
    /// `/flags` request), any number of reads without I/O, and `$feature_flag_called` only for
    /// the flags actually read. It never fails: problems are in
    /// [`FeatureFlagEvaluations::error`]. An empty distinct id takes the active context's; with
    /// neither the snapshot is empty and nothing is requested.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), posthog::Error> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_flags(serde_json::json!({"flags": {"beta-ui": {"key": "beta-ui", "enabled": true}}}));
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .build()?;
    /// let flags = client.evaluate_flags("user-123", &posthog::FlagOptions::new()).await;
    /// if flags.is_enabled("beta-ui") {
    ///     client.capture(flags.attach(posthog::Event::new("page_viewed", "user-123")));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn evaluate_flags(
        &self,
        distinct_id: &str,
        opts: &FlagOptions,
    ) -> FeatureFlagEvaluations {
        let all = self.all_flags(distinct_id, opts, Payloads::Keep).await;
        FeatureFlagEvaluations::new(all, Some(self.clone()))
    }

    /// Captures `event` with its subject's flags attached (`$feature/<key>` and
    /// `$active_feature_flags`): the Python SDK's `capture(..., send_feature_flags=True)`. The
    /// flags are evaluated for the event's distinct id (or the context's) and, unless `opts`
    /// names groups, the event's `$groups`; locally when the definitions decide them, else
    /// with one `/flags` request — that is why this call is async and [`Client::capture`] is
    /// not. No `$feature_flag_called` is sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), posthog::Error> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # server.set_flags(serde_json::json!({"flags": {"beta": {"key": "beta", "enabled": true}}}));
    /// let client = posthog::Client::builder("phc_project_token")
    /// #   .host(server.url())
    ///     .build()?;
    /// let event = posthog::Event::new("order_placed", "user-123");
    /// client.capture_with_flags(event, &posthog::FlagOptions::new()).await;
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$feature/beta"], true);
    /// # Ok(()) }
    /// ```
    pub async fn capture_with_flags(&self, event: Event, opts: &FlagOptions) -> Option<Uuid> {
        let mut with_groups;
        let mut opts = opts;
        if opts.groups.is_empty() {
            if let Some(Value::Object(groups)) = event.properties().get("$groups") {
                with_groups = opts.clone();
                for (group_type, key) in groups {
                    if let Some(key) = key.as_str() {
                        with_groups
                            .groups
                            .insert(group_type.clone(), key.to_owned());
                    }
                }
                opts = &with_groups;
            }
        }
        let flags = self.evaluate_flags(event.get_distinct_id(), opts).await;
        self.capture(flags.attach(event))
    }
}
