//! PostHog traces (C-TRACES): spans recorded through [`Client::start_span`] and
//! [`Client::with_span`] / [`Client::with_span_async`], shipped as OTLP/HTTP JSON to
//! `/i/v1/traces` on a lane of their own (a route on the shared delivery lane). Tracing runs
//! only with a [`TracesConfig`] (`ClientBuilder::traces`); otherwise, and when the client is
//! disabled or opted out, every span is inert: same API, records nothing.

#[cfg(feature = "tracing")]
mod layer;
mod live;
mod span;

#[cfg(feature = "tracing")]
pub use layer::SpansLayer;
pub use posthog_core::traces::{SpanKind, SpanStatus};
pub use span::Span;

use std::cell::RefCell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use posthog_core::traces::{SpanRecord, envelope, parse_traceparent, valid_tracestate};
use posthog_transport::Transport;
use serde_json::{Map, Value};

use crate::Client;
use crate::lane::{Arena, Lane, LaneConfig, Outgoing, Overflow, Refusal, Route, SendFuture};

/// The traces endpoint.
pub const TRACES_PATH: &str = "/i/v1/traces";

/// A hook that sees each finished span before it is exported: returns it (changed or not) or
/// `None` to drop it. A hook that panics drops the span (fail-closed, as for events).
pub type SpanHook = Arc<dyn Fn(SpanRecord) -> Option<SpanRecord> + Send + Sync>;

/// How spans are batched, bounded and described.
///
/// ```
/// let traces = posthog::traces::TracesConfig::new().service("checkout", Some("1.4.2"));
/// let builder = posthog::Client::builder("phc_project_token").traces(traces);
/// # let _ = builder;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct TracesConfig {
    /// The longest a finished span waits for an export (default 5 s).
    pub flush_interval: Duration,
    /// Spans per export; an export starts as soon as this many wait (default 512).
    pub max_export_batch_size: usize,
    /// Finished spans held; past it the incoming span is dropped (default 2,048).
    pub max_queue_size: usize,
    /// Attributes per span (default 128; earlier ones win).
    pub max_attributes: usize,
    /// Events per span (default 128).
    pub max_events: usize,
    /// `service.name` (default `unknown_service`).
    pub service_name: String,
    /// `service.version`.
    pub service_version: Option<String>,
    /// `deployment.environment`.
    pub environment: Option<String>,
    /// More resource attributes (the SDK's identity keys win).
    pub resource_attributes: Map<String, Value>,
    /// Spans started and not yet ended, at most (default 10,000); past it `start_span` gives
    /// an inert span (C-TRACES.17).
    pub max_live_spans: usize,
    /// A span open longer than this is evicted (its handles do nothing from then on and its
    /// slot is free), and one ended later than this after it started is dropped instead of
    /// exported (default 1 hour).
    pub max_span_age: Duration,
    pub(crate) before_send: Vec<SpanHook>,
}

impl std::fmt::Debug for TracesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracesConfig")
            .field("flush_interval", &self.flush_interval)
            .field("max_export_batch_size", &self.max_export_batch_size)
            .field("max_queue_size", &self.max_queue_size)
            .field("service_name", &self.service_name)
            .field("max_live_spans", &self.max_live_spans)
            .field("before_send", &self.before_send.len())
            .finish_non_exhaustive()
    }
}

impl Default for TracesConfig {
    fn default() -> Self {
        Self {
            flush_interval: Duration::from_secs(5),
            max_export_batch_size: 512,
            max_queue_size: 2_048,
            max_attributes: 128,
            max_events: 128,
            service_name: "unknown_service".into(),
            service_version: None,
            environment: None,
            resource_attributes: Map::new(),
            max_live_spans: 10_000,
            max_span_age: Duration::from_secs(3600),
            before_send: Vec::new(),
        }
    }
}

impl TracesConfig {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `service.name`, and `service.version` when given.
    pub fn service(mut self, name: impl Into<String>, version: Option<&str>) -> Self {
        self.service_name = name.into();
        self.service_version = version.map(str::to_owned);
        self
    }

    /// Sets `deployment.environment`.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    /// Sets the export interval and batch size.
    pub fn batching(mut self, flush_interval: Duration, max_export_batch_size: usize) -> Self {
        self.flush_interval = flush_interval;
        self.max_export_batch_size = max_export_batch_size.max(1);
        self
    }

    /// Adds a hook run on each finished span before export (in the order added; fail-closed).
    pub fn before_send(
        mut self,
        hook: impl Fn(SpanRecord) -> Option<SpanRecord> + Send + Sync + 'static,
    ) -> Self {
        self.before_send.push(Arc::new(hook));
        self
    }

    /// Sets the live-span limits.
    pub fn live_spans(mut self, max_live_spans: usize, max_span_age: Duration) -> Self {
        self.max_live_spans = max_live_spans;
        self.max_span_age = max_span_age;
        self
    }

    /// Sets the per-span caps.
    pub fn caps(mut self, max_attributes: usize, max_events: usize) -> Self {
        self.max_attributes = max_attributes;
        self.max_events = max_events;
        self
    }
}

/// Span counters, from [`Client::traces_stats`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
/// client.start_span("work", posthog::traces::SpanOptions::new()).end();
/// client.flush().await;
/// let stats = client.traces_stats();
/// assert_eq!((stats.exported, stats.dropped, stats.failed), (1, 0, 0));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TracesStats {
    /// Spans PostHog accepted.
    pub exported: u64,
    /// Spans dropped before export: the live-span limit, over age, a `before_send` hook, a
    /// full queue.
    pub dropped: u64,
    /// Spans lost in export (refused, retries exhausted, the shutdown deadline).
    pub failed: u64,
}

/// A span's parent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
/// use posthog::traces::{Parent, SpanOptions};
/// // Continue the trace of an incoming request:
/// let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let span = client.start_span("handle request", SpanOptions::new().parent(Parent::Traceparent(incoming.into())));
/// assert!(span.traceparent().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
/// span.end();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub enum Parent {
    /// A span of this process.
    Span(Span),
    /// A W3C `traceparent` (e.g. from an incoming request); an invalid one starts a new trace.
    Traceparent(String),
}

/// Options of a new span.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
/// use posthog::traces::SpanOptions;
/// let span = client.start_span("query orders", SpanOptions::new().attribute("db.system", "postgresql"));
/// span.end();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SpanOptions {
    /// Its kind (default `Internal`).
    pub kind: SpanKind,
    /// Attributes at start.
    pub attributes: Map<String, Value>,
    /// Its parent (default: the active span, else none: a new trace).
    pub parent: Option<Parent>,
    /// A W3C `tracestate` to carry (with a `Traceparent` parent); an invalid one is dropped.
    pub tracestate: Option<String>,
    /// A start in the past (default: now).
    pub start_time: Option<SystemTime>,
}

impl SpanOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the kind.
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// Adds an attribute.
    pub fn attribute(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.attributes.insert(key.into(), value.into());
        self
    }

    /// Sets the parent.
    pub fn parent(mut self, parent: Parent) -> Self {
        self.parent = Some(parent);
        self
    }

    /// Continues the trace of a W3C `traceparent`, with its `tracestate` when there is one.
    pub fn continue_from(
        mut self,
        traceparent: impl Into<String>,
        tracestate: Option<&str>,
    ) -> Self {
        self.parent = Some(Parent::Traceparent(traceparent.into()));
        self.tracestate = tracestate.map(str::to_owned);
        self
    }

    /// Sets the start time.
    pub fn start_time(mut self, at: SystemTime) -> Self {
        self.start_time = Some(at);
        self
    }
}

tokio::task_local! {
    static TASK_SPAN: Span;
}

thread_local! {
    static THREAD_SPANS: RefCell<Vec<Span>> = const { RefCell::new(Vec::new()) };
}

/// Runs `future` with `span` active for everything it awaits.
pub(crate) async fn scope<F: Future>(span: Span, future: F) -> F::Output {
    TASK_SPAN.scope(span, future).await
}

/// The active span: the innermost `with_span` around this code, if any (C-TRACES.6).
pub fn active_span() -> Option<Span> {
    let thread = THREAD_SPANS.with(|s| s.borrow().last().cloned());
    thread.or_else(|| TASK_SPAN.try_with(Span::clone).ok())
}

/// Adds the active span's ids to `event` as `$trace_id` and `$span_id` (lowercase hex), unless
/// it has its own (C-TRACES.6).
pub(crate) fn attach_active_ids(event: &mut posthog_core::Event) {
    let Some((trace_id, span_id)) = active_span().and_then(|span| span.ids_hex()) else {
        return;
    };
    let properties = event.properties_mut();
    for (key, id) in [("$trace_id", trace_id), ("$span_id", span_id)] {
        properties.entry(key).or_insert(Value::String(id));
    }
}

/// OS randomness read 4 KiB at a time per thread: one system call per 256 trace ids instead
/// of one per id (the bytes are the operating system's CSPRNG output, only buffered).
struct RandomPool {
    bytes: [u8; 4096],
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<RandomPool> = const {
        RefCell::new(RandomPool { bytes: [0; 4096], used: 4096 })
    };
}

/// Random bytes from the operating system (C-TRACES.5), never all zero.
fn random_id<const N: usize>() -> [u8; N] {
    let mut id = [0u8; N];
    while id == [0u8; N] {
        RANDOM.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.used + N > pool.bytes.len() {
                if getrandom::fill(&mut pool.bytes).is_err() {
                    // No OS randomness: a fresh UUIDv4's bytes (never all zero).
                    let uuid = uuid::Uuid::new_v4();
                    for (i, byte) in pool.bytes.iter_mut().enumerate() {
                        *byte = uuid.as_bytes()[i % 16] | 1;
                    }
                }
                pool.used = 0;
            }
            let at = pool.used;
            id.copy_from_slice(&pool.bytes[at..at + N]);
            // Used bytes are cleared, so no id can be read twice.
            pool.bytes[at..at + N].fill(0);
            pool.used += N;
        });
    }
    id
}

/// The traces lane and its settings.
pub(crate) struct TracesRuntime {
    lane: Lane<SpanRecord>,
    config: TracesConfig,
    /// The open spans and the spans dropped.
    live: Arc<live::LiveSpans>,
}

impl TracesRuntime {
    /// The lane, for flush and shutdown.
    pub(crate) fn lane(&self) -> &Lane<SpanRecord> {
        &self.lane
    }
}

/// The traces route: spans encoded once on the lane's worker; an export is one resource, one
/// scope, its spans, gzipped.
struct TracesRoute {
    resource: Map<String, Value>,
    path: String,
}

impl Route for TracesRoute {
    type Item = SpanRecord;

    fn name(&self) -> &'static str {
        "traces"
    }

    fn encode(&self, span: SpanRecord, _arena: &mut Arena) -> Result<Bytes, Refusal> {
        let mut out = Vec::with_capacity(512);
        span.write_otlp(&mut out);
        Ok(Bytes::from(out))
    }

    fn send<'a>(&'a self, transport: &'a Transport, batch: &'a Outgoing) -> SendFuture<'a> {
        let scope = (posthog_core::LIB_NAME, posthog_core::LIB_VERSION);
        let body = envelope(&self.resource, scope, batch.bodies());
        crate::routes::post(transport, &self.path, body, Some(true), true)
    }
}

impl Client {
    /// Starts a span, not made active (C-TRACES.1): its parent is `opts.parent`, else the
    /// active span, else none (a new trace). Inert when tracing cannot run. End it with
    /// [`Span::end`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
    /// use posthog::traces::SpanOptions;
    /// let span = client.start_span("charge card", SpanOptions::default());
    /// span.set_attribute("order_id", 42);
    /// span.end();
    /// # client.flush().await;
    /// # assert_eq!(server.spans().len(), 1);
    /// # Ok(()) }
    /// ```
    pub fn start_span(&self, name: impl Into<String>, opts: SpanOptions) -> Span {
        let Some(runtime) = self.traces_runtime() else {
            return Span::noop();
        };
        if !self.is_enabled() || self.is_opted_out() {
            return Span::noop();
        }
        let parent = match opts.parent {
            Some(Parent::Span(span)) => span.ids,
            Some(Parent::Traceparent(text)) => parse_traceparent(&text).map(|(t, s)| {
                let state = opts.tracestate.filter(|s| valid_tracestate(s));
                (t, s, state)
            }),
            None => active_span().and_then(|span| span.ids),
        };
        let (trace_id, parent_span_id, trace_state) = match parent {
            Some((t, s, state)) => (t, Some(s), state),
            None => (random_id::<16>(), None, None),
        };
        let span_id = random_id::<8>();
        let mut name = name.into();
        if name.trim().is_empty() {
            tracing::debug!(target: "posthog", "a span without a name is called `unknown`");
            name = "unknown".into();
        }
        let start = opts.start_time.unwrap_or_else(SystemTime::now);
        if SystemTime::now()
            .duration_since(start)
            .is_ok_and(|age| age > Duration::from_secs(24 * 3600))
        {
            tracing::warn!(target: "posthog", span = %name, "a span starts more than 24 hours ago; PostHog may clamp its time");
        }
        let mut attributes = Map::new();
        let (distinct_id, session_id) = crate::context::current_ids();
        for (key, value) in [
            ("posthogDistinctId", distinct_id),
            ("sessionId", session_id),
        ] {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                attributes.insert(key.into(), value.into());
            }
        }
        let started = std::time::Instant::now();
        if !runtime.live.enter(started) {
            return Span::noop();
        }
        let lane = runtime.lane.clone();
        let (hooks, caps) = (
            runtime.config.before_send.clone(),
            (runtime.config.max_attributes, runtime.config.max_events),
        );
        let (max_age, drops) = (runtime.config.max_span_age, runtime.live.drops.clone());
        let mut live = span::Live {
            record: SpanRecord {
                trace_id,
                span_id,
                parent_span_id,
                trace_state: trace_state.clone(),
                name,
                kind: opts.kind,
                start_unix_nano: span::now_nanos(start),
                end_unix_nano: 0,
                attributes,
                events: Vec::new(),
                status: SpanStatus::Unset,
                dropped_attributes: 0,
                dropped_events: 0,
            },
            ended: false,
            max_attributes: runtime.config.max_attributes,
            max_events: runtime.config.max_events,
            place: Some((runtime.live.clone(), None)),
            sink: Arc::new(move |record: SpanRecord| {
                let age = Duration::from_nanos(
                    record.end_unix_nano.saturating_sub(record.start_unix_nano),
                );
                if age > max_age {
                    return drops.note("a span outlived the maximum span age");
                }
                match run_hooks(&hooks, record, caps) {
                    Some(record) => {
                        lane.push(record);
                    }
                    None => drops.note("a before_send hook dropped a span"),
                }
            }),
        };
        let live = Arc::new_cyclic(|this| {
            if let Some((_, slot)) = &mut live.place {
                *slot = runtime.live.track(started, this.clone());
            }
            Mutex::new(live)
        });
        let span = Span {
            live: Some(live),
            ids: Some((trace_id, span_id, trace_state)),
        };
        // The caller's attributes win over the context's.
        span.set_attributes(opts.attributes);
        span
    }

    /// Runs `f` inside a new span, made active for it (C-TRACES.4): an `Err` or a panic sets
    /// status error (unless `f` set `Ok`) and adds an `exception` event; the span ends; the
    /// result or the panic is handed back unchanged. With tracing off, `f` just runs.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
    /// use posthog::traces::SpanOptions;
    /// let total = client.with_span("price order", SpanOptions::default(), |span| {
    ///     span.set_attribute("items", 3);
    ///     Ok::<_, std::io::Error>(42)
    /// })?;
    /// assert_eq!(total, 42);
    /// # Ok(()) }
    /// ```
    pub fn with_span<T, E: std::fmt::Display>(
        &self,
        name: impl Into<String>,
        opts: SpanOptions,
        f: impl FnOnce(&Span) -> Result<T, E>,
    ) -> Result<T, E> {
        let span = self.start_span(name, opts);
        THREAD_SPANS.with(|s| s.borrow_mut().push(span.clone()));
        let outcome = catch_unwind(AssertUnwindSafe(|| f(&span)));
        THREAD_SPANS.with(|s| s.borrow_mut().pop());
        settle(&span, outcome)
    }

    /// [`Client::with_span`] for a future: the span is active for everything the future
    /// awaits (not for tasks it spawns) and ends when it settles.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
    /// use posthog::traces::SpanOptions;
    /// let rows = client
    ///     .with_span_async("load orders", SpanOptions::default(), |_span| async {
    ///         Ok::<_, std::io::Error>(vec![1, 2, 3])
    ///     })
    ///     .await?;
    /// assert_eq!(rows.len(), 3);
    /// # Ok(()) }
    /// ```
    pub async fn with_span_async<T, E, F, Fut>(
        &self,
        name: impl Into<String>,
        opts: SpanOptions,
        f: F,
    ) -> Result<T, E>
    where
        E: std::fmt::Display,
        F: FnOnce(Span) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let span = self.start_span(name, opts);
        let future = TASK_SPAN.scope(span.clone(), f(span.clone()));
        let outcome = crate::exceptions::catching(future).await;
        settle(&span, outcome)
    }

    /// The span counters (C-TRACES.17): every span dropped — at the live-span limit, open past
    /// the maximum age, refused by a hook, or by a full queue — is counted in `dropped`. All
    /// zero before the first span (or without a traces config).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).traces(posthog::traces::TracesConfig::new()).build()?;
    /// client.start_span("work", posthog::traces::SpanOptions::default()).end();
    /// client.flush().await;
    /// assert_eq!(client.traces_stats().exported, 1);
    /// # Ok(()) }
    /// ```
    pub fn traces_stats(&self) -> TracesStats {
        let Some(runtime) = self.traces_cell().get() else {
            return TracesStats::default();
        };
        let lane = runtime.lane.stats();
        TracesStats {
            exported: lane.sent,
            dropped: runtime.live.drops.total() + lane.dropped,
            failed: lane.failed,
        }
    }

    /// The traces lane, started on the first span; `None` without a traces config or when
    /// the client sends nothing.
    fn traces_runtime(&self) -> Option<&TracesRuntime> {
        let config = self.options().traces.as_ref()?;
        let (transport, runtime) = (self.transport()?, self.worker_runtime()?);
        Some(self.traces_cell().get_or_init(|| {
            let options = self.options();
            // The token goes as `Authorization: Bearer` (C-TRACES.15).
            let route = TracesRoute {
                resource: crate::routes::resource(
                    &config.service_name,
                    config.service_version.as_deref(),
                    config.environment.as_deref(),
                    &config.resource_attributes,
                ),
                path: TRACES_PATH.to_owned(),
            };
            let lane_config = LaneConfig {
                queue_size: config.max_queue_size.max(1),
                overflow: Overflow::DropIncoming,
                flush_at: config.max_export_batch_size.max(1),
                flush_interval: config.flush_interval,
                max_item_bytes: 1_000_000,
                max_batch_bytes: 1_500_000,
                max_in_flight: 1,
                max_held_bytes: 32 * 1024 * 1024,
                retry_for: options.retry_for,
                max_retries: options.max_retries,
                backoff_base: Duration::from_millis(200),
                backoff_cap: Duration::from_secs(30),
                ..LaneConfig::default()
            };
            TracesRuntime {
                lane: Lane::start(route, transport.clone(), lane_config, None, runtime),
                config: config.clone(),
                live: Arc::new(live::LiveSpans::new(
                    config.max_live_spans,
                    config.max_span_age,
                    Arc::new(live::Drops::new(config.flush_interval)),
                )),
            }
        }))
    }
}

/// Runs the span hooks in order, fail-closed: a hook that panics drops the span. The caps are
/// applied again after them (C-TRACES.10).
fn run_hooks(
    hooks: &[SpanHook],
    mut record: SpanRecord,
    (max_attributes, max_events): (usize, usize),
) -> Option<SpanRecord> {
    for hook in hooks {
        record = crate::hooks::contain(|| hook(record))??;
    }
    if !hooks.is_empty() {
        while record.attributes.len() > max_attributes {
            let Some(last) = record.attributes.keys().next_back().cloned() else {
                break;
            };
            record.attributes.remove(&last);
            record.dropped_attributes += 1;
        }
        if record.events.len() > max_events {
            record.dropped_events += (record.events.len() - max_events) as u32;
            record.events.truncate(max_events);
        }
    }
    Some(record)
}

/// Ends `span` after its closure or future: an `Err` or a panic marks it failed.
fn settle<T, E: std::fmt::Display>(
    span: &Span,
    outcome: std::thread::Result<Result<T, E>>,
) -> Result<T, E> {
    let already_ok = || {
        span.live
            .as_ref()
            .and_then(|l| l.lock().ok().map(|l| l.record.status == SpanStatus::Ok))
            .unwrap_or(false)
    };
    match outcome {
        Ok(Ok(value)) => {
            span.end();
            Ok(value)
        }
        Ok(Err(error)) => {
            if !already_ok() {
                span.record_exception(std::any::type_name::<E>(), &error.to_string());
            }
            span.end();
            Err(error)
        }
        Err(payload) => {
            if !already_ok() {
                let message = crate::exceptions::panic_message(&*payload);
                span.record_exception("panic", &message);
            }
            span.end();
            resume_unwind(payload)
        }
    }
}
