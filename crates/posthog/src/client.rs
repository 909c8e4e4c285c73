//! [`Client`]: capture and identity calls that never block, over the pipeline's worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use posthog_core::{Event, PersonProperties, Properties, WithDefaults};
use posthog_transport::{RetryPolicy, Transport};
use tokio::sync::{Mutex as AsyncMutex, mpsc, oneshot};
use uuid::Uuid;

use crate::error::Error;
use crate::hooks::{self, HookOutcome};
use crate::options::Options;
use crate::pipeline::{FlushReport, Msg, ShutdownReport, Worker, WorkerConfig, report};
use crate::report::{Counters, DeliveryError, DeliveryErrorKind, Stats};

/// How long past its deadline [`Client::shutdown`] may take: the worker's report of what it
/// could not deliver (logging it and calling `on_error`) happens at the deadline.
pub const SHUTDOWN_SLACK: Duration = Duration::from_millis(250);

/// Properties the SDK adds to every event where the event does not set them (C-CAPTURE.5):
/// the super properties, `$lib`, `$lib_version`, `$is_server` and, with GeoIP off,
/// `$geoip_disable` (a super property of the same name wins).
#[derive(Debug)]
pub(crate) struct Defaults {
    properties: Properties,
    /// Merged in when an event already has its defaults (always empty).
    none: Properties,
}

impl Defaults {
    pub(crate) fn new(super_properties: &Properties, disable_geoip: bool) -> Self {
        let mut properties = Properties::new();
        properties.insert("$lib".into(), posthog_core::LIB_NAME.into());
        properties.insert("$lib_version".into(), posthog_core::LIB_VERSION.into());
        properties.insert("$is_server".into(), true.into());
        if disable_geoip {
            properties.insert("$geoip_disable".into(), true.into());
        }
        properties.extend(super_properties.clone());
        Self {
            properties,
            none: Properties::new(),
        }
    }

    /// Sets every default the event leaves unset.
    pub(crate) fn apply(&self, event: &mut Event) {
        for (k, v) in &self.properties {
            event.set_default(k, v.clone());
        }
    }

    /// `event` as it serialises with the defaults merged in (`add`), or as it is: how a
    /// `/batch/` event gets its defaults without inserts into its map.
    pub(crate) fn merged<'a>(&'a self, event: &'a Event, add: bool) -> WithDefaults<'a> {
        WithDefaults::new(event, if add { &self.properties } else { &self.none })
    }
}

/// A PostHog client: a cheap handle (clone it freely) over one queue and one worker.
///
/// `capture` and the identity calls are plain functions: they assemble the event, run the
/// `before_send` hooks and hand it to a bounded queue without blocking or doing I/O. Call
/// [`Client::shutdown`] before the process exits to deliver what is queued.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), posthog::Error> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// let client = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .build()?;
/// client.capture(posthog::Event::new("order_placed", "user-123").property("amount", 42));
/// client.flush().await;
/// # assert_eq!(server.events().len(), 1);
/// client.shutdown(std::time::Duration::from_secs(5)).await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    options: Options,
    exceptions: crate::exceptions::RecentErrors,
    /// Token buckets for autocaptured exceptions, when a rate limit is set.
    autocapture_limiter: Option<crate::exceptions::rate_limit::Limiter>,
    flags: Arc<crate::feature_flags::FlagsRuntime>,
    defaults: Arc<Defaults>,
    transport: Option<Transport>,
    tx: Option<crate::pipeline::Queue>,
    counters: Arc<Counters>,
    opted_out: AtomicBool,
    shut_down: AtomicBool,
    /// The runtime the worker runs on (for [`Client::shutdown_blocking`] and the lanes).
    runtime: Option<tokio::runtime::Handle>,
    /// The AI lane, started on the first `capture_ai`.
    ai_lane: std::sync::OnceLock<crate::lane::Lane<Event>>,
    /// The logs lane, started on the first log.
    logs: std::sync::OnceLock<crate::logs::LogsRuntime>,
    /// The traces lane, started on the first span.
    traces: std::sync::OnceLock<crate::traces::TracesRuntime>,
    shutdown_report: AsyncMutex<Option<ShutdownReport>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("host", &self.inner.options.host)
            .field("enabled", &self.inner.tx.is_some())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Options for a client of the project whose token is `api_key`.
    pub fn builder(api_key: impl Into<String>) -> crate::ClientBuilder {
        crate::ClientBuilder::new(api_key)
    }

    pub(crate) fn start(options: Options) -> Result<Client, Error> {
        let counters = Arc::new(Counters::default());
        let defaults = Arc::new(Defaults::new(
            &options.super_properties,
            options.disable_geoip,
        ));
        let enabled = !options.disabled && !options.api_key.is_empty();
        if !options.disabled && options.api_key.is_empty() {
            tracing::warn!(target: "posthog", "no PostHog project API key: the client is disabled and sends nothing");
        }
        let flags = Arc::new(crate::feature_flags::FlagsRuntime::new(
            options.definitions_cache.clone(),
            options.flag_result_cache,
            options.on_error.clone(),
        ));
        let mut worker_runtime = None;
        let (transport, tx) = if enabled {
            let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::NoRuntime)?;
            worker_runtime = Some(runtime.clone());
            let mut transport = Transport::builder(&options.api_key)
                .host(&options.host)
                .gzip(options.gzip)
                .gzip_level(options.gzip_level)
                .capture_timeout(options.timeout)
                .flags_timeout(options.feature_flags_request_timeout)
                .flag_retries(options.flag_retries)
                .max_retries(0);
            if let Some(key) = &options.personal_api_key {
                transport = transport.personal_api_key(key);
            }
            if let Some(service) = &options.service {
                transport = transport.service(service.clone());
            }
            let transport = transport.build()?;
            let (tx, rx) = mpsc::channel(options.max_queue_size);
            let (stop, stop_rx) = oneshot::channel();
            let wake = Arc::new(tokio::sync::Notify::new());
            let shared = Arc::new(crate::pipeline::Shared::new(options.max_pending_bytes));
            let config = WorkerConfig {
                flush_at: if options.sync_mode {
                    1
                } else {
                    options.flush_at
                },
                flush_interval: options.flush_interval,
                max_batch_bytes: options.max_batch_bytes,
                max_event_bytes: options.max_event_bytes,
                max_retries: options.max_retries,
                retry_for: options.retry_for,
                max_pending_bytes: options.max_pending_bytes,
                max_in_flight: options.max_in_flight,
                retry: RetryPolicy::ingestion(options.max_retries.unwrap_or(0)),
                debug: options.debug,
                in_app: options.in_app.clone(),
                drop_timeout: options.shutdown_timeout,
                v1: (options.capture_mode == crate::CaptureMode::V1).then(|| {
                    options.content_encoding.unwrap_or(if options.gzip {
                        posthog_transport::ContentEncoding::Gzip
                    } else {
                        posthog_transport::ContentEncoding::Identity
                    })
                }),
            };
            let flush_at = config.flush_at;
            let worker = Worker::new(
                rx,
                stop_rx,
                wake.clone(),
                transport.clone(),
                &options.api_key,
                options.historical_migration,
                config,
                counters.clone(),
                options.on_error.clone(),
                defaults.clone(),
                shared.clone(),
            );
            runtime.spawn(worker.run());
            if options.local_evaluation && options.personal_api_key.is_some() {
                let _entered = runtime.enter();
                flags.start_poller(transport.clone(), options.poll_interval);
            } else if options.local_evaluation_asked {
                tracing::warn!(target: "posthog", "local flag evaluation needs a personal API key (personal_api_key); flags will be evaluated remotely");
            }
            (
                Some(transport),
                Some(crate::pipeline::Queue::new(
                    tx, stop, wake, flush_at, shared,
                )),
            )
        } else {
            (None, None)
        };
        Ok(Client {
            inner: Arc::new(Inner {
                exceptions: crate::exceptions::RecentErrors::default(),
                autocapture_limiter: options
                    .autocapture_rate_limit
                    .map(crate::exceptions::rate_limit::Limiter::new),
                flags,
                defaults,
                options,
                transport,
                tx,
                counters,
                opted_out: AtomicBool::new(false),
                shut_down: AtomicBool::new(false),
                runtime: worker_runtime,
                ai_lane: std::sync::OnceLock::new(),
                logs: std::sync::OnceLock::new(),
                traces: std::sync::OnceLock::new(),
                shutdown_report: AsyncMutex::new(None),
            }),
        })
    }

    pub(crate) fn exceptions(&self) -> &crate::exceptions::RecentErrors {
        &self.inner.exceptions
    }

    pub(crate) fn autocapture_limiter(&self) -> Option<&crate::exceptions::rate_limit::Limiter> {
        self.inner.autocapture_limiter.as_ref()
    }

    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    pub(crate) fn transport(&self) -> Option<&Transport> {
        self.inner.transport.as_ref()
    }

    #[inline]
    pub(crate) fn flags_runtime(&self) -> Option<&crate::feature_flags::FlagsRuntime> {
        self.inner.transport.as_ref().map(|_| &*self.inner.flags)
    }

    /// Whether events are being sent (not disabled, not shut down).
    #[inline]
    pub fn is_enabled(&self) -> bool {
        self.inner.tx.is_some() && !self.inner.shut_down.load(Ordering::Acquire)
    }

    /// Stops capturing until [`Client::opt_in`]: every capture-type call is a no-op (C-CAPTURE.3).
    pub fn opt_out(&self) {
        self.inner.opted_out.store(true, Ordering::Release);
    }

    /// Resumes capturing after [`Client::opt_out`].
    pub fn opt_in(&self) {
        self.inner.opted_out.store(false, Ordering::Release);
    }

    /// Whether capturing is opted out.
    pub fn is_opted_out(&self) -> bool {
        self.inner.opted_out.load(Ordering::Acquire)
    }

    /// The counters: captured, sent, retried, dropped, failed, filtered, pending.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.snapshot();
        if let Some(lane) = self.inner.ai_lane.get() {
            let ai = lane.stats();
            stats.captured += ai.queued;
            stats.sent += ai.sent;
            stats.failed += ai.failed;
            stats.dropped += ai.dropped;
            stats.pending += ai.queued.saturating_sub(ai.sent + ai.failed);
        }
        stats
    }

    /// The runtime the worker runs on.
    pub(crate) fn worker_runtime(&self) -> Option<&tokio::runtime::Handle> {
        self.inner.runtime.as_ref()
    }

    /// Where the traces lane lives once started.
    pub(crate) fn traces_cell(&self) -> &std::sync::OnceLock<crate::traces::TracesRuntime> {
        &self.inner.traces
    }

    /// Where the logs lane lives once started.
    pub(crate) fn logs_cell(&self) -> &std::sync::OnceLock<crate::logs::LogsRuntime> {
        &self.inner.logs
    }

    /// Where the AI lane lives once started.
    pub(crate) fn ai_lane_cell(&self) -> &std::sync::OnceLock<crate::lane::Lane<Event>> {
        &self.inner.ai_lane
    }

    /// The counters, for the pipelines that count into them.
    pub(crate) fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    /// Adds the SDK-owned properties an admitted event still lacks.
    pub(crate) fn apply_defaults(&self, event: &mut Event) {
        self.inner.defaults.apply(event);
    }

    fn drop_event(&self, kind: DeliveryErrorKind, uuid: Option<Uuid>, message: String) {
        let error = DeliveryError {
            kind,
            count: 1,
            uuids: uuid.into_iter().collect(),
            status: None,
            message,
        };
        report(
            &self.inner.counters,
            self.inner.options.on_error.as_ref(),
            error,
            false,
        );
    }

    /// Assembles the envelope and SDK-owned properties (C-CAPTURE.4/.5, C-TRACING-HEADERS.3–5).
    fn assemble(&self, mut event: Event, now: DateTime<Utc>) -> Result<Event, String> {
        if event.name().is_empty() {
            return Err("event name is empty".into());
        }
        crate::context::apply(&mut event);
        if self.inner.options.capture_trace_context || event.name() == "$exception" {
            crate::traces::attach_active_ids(&mut event);
        }
        if event.get_distinct_id().trim().is_empty() {
            return Err(format!("event {:?} has no distinct id", event.name()));
        }
        event.stamp(now);
        // Hooks must see the fully assembled event (C-BEFORE-SEND.1), and what they remove
        // must stay removed (C-BEFORE-SEND.6): with hooks the defaults are set here, before
        // them, and never again. Without hooks nothing can observe the event, so the
        // SDK-owned properties are merged in as it is serialised (`WithDefaults`), with no map
        // inserts.
        if self.defaults_set_at_admission() {
            self.inner.defaults.apply(&mut event);
        }
        Ok(event)
    }

    /// Whether an admitted event already carries the SDK-owned properties (set before the
    /// `before_send` hooks ran), so nothing may add them again; otherwise they are merged in
    /// when the event is serialised.
    #[inline]
    pub(crate) fn defaults_set_at_admission(&self) -> bool {
        !self.inner.options.before_send.is_empty()
    }

    /// Validation, assembly and hooks, shared by every capture path. `None`: not admitted
    /// (already counted and reported).
    pub(crate) fn admit(&self, event: Event, now: DateTime<Utc>) -> Option<Event> {
        if !self.is_enabled() {
            return None;
        }
        if self.is_opted_out() {
            Counters::add(&self.inner.counters.filtered, 1);
            return None;
        }
        let event = match self.assemble(event, now) {
            Ok(event) => event,
            Err(message) => {
                self.drop_event(
                    DeliveryErrorKind::Invalid,
                    None,
                    format!("invalid event dropped: {message}"),
                );
                return None;
            }
        };
        let event = self.refuse_deep(event)?;
        let uuid = event.get_uuid();
        match hooks::run(&self.inner.options.before_send, event) {
            // A hook may have nested it deeper.
            HookOutcome::Keep(event) if self.defaults_set_at_admission() => self.refuse_deep(event),
            HookOutcome::Keep(event) => Some(event),
            HookOutcome::Dropped => {
                tracing::debug!(target: "posthog", "before_send dropped an event");
                Counters::add(&self.inner.counters.filtered, 1);
                None
            }
            HookOutcome::Failed(message) => {
                self.drop_event(DeliveryErrorKind::HookFailed, uuid, message);
                None
            }
        }
    }

    /// Refuses an event with a property nested deeper than PostHog reads
    /// ([`posthog_core::depth::MAX_PROPERTY_DEPTH`]), which would sink its whole batch:
    /// counted, reported (`Invalid`) and torn down without recursion.
    fn refuse_deep(&self, mut event: Event) -> Option<Event> {
        match posthog_core::depth::check(event.properties()) {
            Ok(()) => Some(event),
            Err(err) => {
                let message = format!("event {:?} dropped: {err}", event.name());
                self.drop_event(DeliveryErrorKind::Invalid, event.get_uuid(), message);
                posthog_core::depth::dismantle(std::mem::take(event.properties_mut()));
                None
            }
        }
    }

    /// Captures an event; returns its uuid, or `None` when it was not queued (disabled, opted
    /// out, invalid, dropped by a hook, or the queue was full — each counted and, when data is
    /// lost, reported through `on_error`). Never blocks and never does I/O (C-CAPTURE).
    ///
    /// An event with an empty distinct id takes the active [`Context`](crate::context::Context)'s;
    /// inside a context without one it is sent personless.
    pub fn capture(&self, event: Event) -> Option<Uuid> {
        let now = Utc::now();
        let event = self.admit(event, now)?;
        let add_defaults = !self.defaults_set_at_admission();
        self.enqueue(event, |event| self.event_message(event, add_defaults, now))
    }

    /// The worker's message for an admitted event. An occasional capture hands over the event
    /// itself, serialised by the worker off this thread. A thread capturing back to back
    /// ([`crate::pipeline::back_to_back`]), or any capture while the worker is behind (a
    /// batch's worth already waiting, as in a burst), serialises a `/batch/` event here
    /// instead, into this thread's arena: the channel then carries bytes that the worker only
    /// queues, rather than event maps it would serialise and free across threads, so it
    /// catches up, the channel does not overflow, and a queued event holds its JSON only.
    /// (Capture v1 events always go as they are.)
    fn event_message(
        &self,
        event: Event,
        add_defaults: bool,
        now: DateTime<Utc>,
    ) -> Result<Msg, String> {
        let v1 = self.inner.options.capture_mode == crate::CaptureMode::V1;
        let serialise_here = !v1
            && (crate::pipeline::back_to_back(now.timestamp_micros())
                || self.inner.tx.as_ref().is_some_and(|queue| queue.busy()));
        if !serialise_here {
            let event = Box::new(event);
            return Ok(if add_defaults {
                Msg::Event(event)
            } else {
                Msg::Complete(event)
            });
        }
        let uuid = event.get_uuid().unwrap_or_default();
        crate::pipeline::local_json(&self.inner.defaults.merged(&event, add_defaults))
            .map(|json| Msg::Json { uuid, json })
            .map_err(|err| format!("event {uuid} did not serialise: {err}"))
    }

    /// Captures an event reduced to the properties `keep` allows, after hooks, context and
    /// the SDK's own properties (super properties included) were applied, so none of them
    /// can add back what was removed (C-FLAG-CALLED.7).
    pub(crate) fn capture_reduced(
        &self,
        event: Event,
        keep: impl Fn(&str) -> bool,
    ) -> Option<Uuid> {
        let now = Utc::now();
        let mut event = self.admit(event, now)?;
        if !self.defaults_set_at_admission() {
            self.inner.defaults.apply(&mut event);
        }
        event.properties_mut().retain(|k, _| keep(k));
        self.enqueue(event, |event| self.event_message(event, false, now))
    }

    /// Captures an `$exception` event whose stack the worker resolves and attaches before
    /// serialising it (no `before_send` hook can be waiting to see it).
    pub(crate) fn capture_with_trace(
        &self,
        event: Event,
        trace: std::backtrace::Backtrace,
    ) -> Option<Uuid> {
        let event = self.admit(event, Utc::now())?;
        let add_defaults = !self.defaults_set_at_admission();
        self.enqueue(event, |event| {
            Ok(Msg::Exception {
                event: Box::new(event),
                trace: Box::new(trace),
                add_defaults,
            })
        })
    }

    /// Hands an admitted event to the worker as the message `wrap` makes of it (an `Err`:
    /// the event could not be serialised, which is counted and reported).
    fn enqueue(
        &self,
        event: Event,
        wrap: impl FnOnce(Event) -> Result<Msg, String>,
    ) -> Option<Uuid> {
        let uuid = event.get_uuid();
        if self.inner.options.debug {
            tracing::info!(target: "posthog", event = event.name(), distinct_id = event.get_distinct_id(), uuid = ?uuid, "captured");
        }
        if !self.inner.options.send {
            return uuid;
        }
        let tx = self.inner.tx.as_ref()?;
        let msg = match wrap(event) {
            Ok(msg) => msg,
            Err(message) => {
                self.drop_event(DeliveryErrorKind::Invalid, uuid, message);
                return None;
            }
        };
        let msg = if tx.overflowing() {
            msg
        } else {
            match tx.try_send(msg) {
                Ok(()) => {
                    Counters::add(&self.inner.counters.captured, 1);
                    return uuid;
                }
                Err(mpsc::error::TrySendError::Full(msg)) => msg,
                Err(mpsc::error::TrySendError::Closed(_)) => return self.shut_out(uuid),
            }
        };
        // The channel is full (or the overflow in use, whose events must not be overtaken):
        // the event waits serialised, within `max_pending_bytes`.
        let event = match self.message_json(msg) {
            Ok(event) => event,
            Err(message) => {
                self.drop_event(DeliveryErrorKind::Invalid, uuid, message);
                return None;
            }
        };
        match tx.overflow(event) {
            Ok(()) => {
                Counters::add(&self.inner.counters.captured, 1);
                uuid
            }
            Err(crate::pipeline::Refused::Full) => {
                let message = format!(
                    "queue full ({} events waiting and max_pending_bytes ({}) reached); event dropped",
                    self.inner.options.max_queue_size, self.inner.options.max_pending_bytes
                );
                self.drop_event(DeliveryErrorKind::QueueFull, uuid, message);
                None
            }
            Err(crate::pipeline::Refused::Closed) => self.shut_out(uuid),
        }
    }

    /// Reports an event that arrived after the worker stopped taking events (the client is
    /// shutting down); always `None`.
    fn shut_out(&self, uuid: Option<Uuid>) -> Option<Uuid> {
        let message = "event captured while the client shut down; dropped".to_owned();
        self.drop_event(DeliveryErrorKind::Abandoned, uuid, message);
        None
    }

    /// An event message serialised on this thread, as the worker would have: for the
    /// overflow, when the channel is full.
    fn message_json(&self, msg: Msg) -> Result<crate::pipeline::PendingEvent, String> {
        let (mut event, add_defaults) = match msg.into_payload(&self.inner.options.in_app) {
            Ok(crate::pipeline::Payload::Json(event)) => return Ok(event),
            Ok(crate::pipeline::Payload::Event(event, add_defaults)) => (event, add_defaults),
            Err(_) => return Err("not an event".into()),
        };
        let uuid = event.get_uuid().unwrap_or_default();
        let v1 = self.inner.options.capture_mode == crate::CaptureMode::V1;
        let defaults = &self.inner.defaults;
        crate::pipeline::with_local(|arena| {
            crate::pipeline::write_event(arena, &mut event, add_defaults, defaults, v1)
        })
        .map(|json| crate::pipeline::PendingEvent { uuid, json })
        .map_err(|err| format!("event {uuid} did not serialise: {err}"))
    }

    /// Captures and delivers one event now, returning the delivery outcome (C-CAPTURE.10):
    /// for scripts and serverless handlers.
    ///
    /// Admission is `capture`'s (C-BEFORE-SEND.5): `Ok(None)` when the event was not sent
    /// because the client is disabled or opted out, the event is invalid, or a `before_send`
    /// hook dropped it or failed (a failing hook is counted and reported through `on_error`,
    /// never returned as an error, C-BEFORE-SEND.7). `Ok(Some(uuid))` once PostHog accepted
    /// it; `Err` when the delivery failed (also counted as failed and reported).
    pub async fn capture_immediate(&self, event: Event) -> Result<Option<Uuid>, Error> {
        let Some(mut event) = self.admit(event, Utc::now()) else {
            return Ok(None);
        };
        let transport = self.inner.transport.as_ref().ok_or(Error::Shutdown)?;
        let uuid = event.get_uuid().unwrap_or_default();
        if !self.defaults_set_at_admission() {
            self.inner.defaults.apply(&mut event);
        }
        Counters::add(&self.inner.counters.captured, 1);
        match transport.send_event(&event).await {
            Ok(_) => {
                Counters::add(&self.inner.counters.sent, 1);
                Ok(Some(uuid))
            }
            Err(err) => {
                let error = DeliveryError {
                    kind: if err.status_code().is_some() {
                        DeliveryErrorKind::Rejected
                    } else {
                        DeliveryErrorKind::RetriesExhausted
                    },
                    count: 1,
                    uuids: vec![uuid],
                    status: err.status_code().map(|s| s.as_u16()),
                    message: format!("immediate capture of {uuid} failed: {err}"),
                };
                report(
                    &self.inner.counters,
                    self.inner.options.on_error.as_ref(),
                    error,
                    true,
                );
                Err(err.into())
            }
        }
    }

    fn capture_built(&self, built: Result<Event, posthog_core::EventError>) -> Option<Uuid> {
        match built {
            Ok(event) => self.capture(event),
            Err(err) => {
                if self.is_enabled() && !self.is_opted_out() {
                    self.drop_event(
                        DeliveryErrorKind::Invalid,
                        None,
                        format!("invalid call dropped: {err}"),
                    );
                }
                None
            }
        }
    }

    /// `$identify`: sets person properties for `distinct_id` (C-IDENTIFY).
    pub fn identify(
        &self,
        distinct_id: impl Into<String>,
        person: PersonProperties,
    ) -> Option<Uuid> {
        self.capture_built(Event::identify(distinct_id, person))
    }

    /// `$set`: overwrites person properties (C-IDENTIFY.5).
    pub fn set(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.capture_built(Event::set_person(distinct_id, properties))
    }

    /// `$set_once`: sets person properties that are still unset (C-IDENTIFY.5).
    pub fn set_once(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.capture_built(Event::set_person_once(distinct_id, properties))
    }

    /// `$create_alias`: links `new_id` to the person known as `previous_id`; the event's
    /// distinct id is `previous_id` (C-ALIAS).
    pub fn alias(&self, previous_id: impl Into<String>, new_id: impl Into<String>) -> Option<Uuid> {
        self.capture_built(Event::alias(previous_id, new_id))
    }

    /// `$groupidentify`: creates or updates a group's properties; the event's distinct id is
    /// `$<type>_<key>` (C-GROUP-IDENTIFY).
    pub fn group_identify(
        &self,
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Properties,
    ) -> Option<Uuid> {
        self.capture_built(Event::group_identify(group_type, group_key, properties))
    }

    /// [`Client::group_identify`] with an explicit distinct id (C-GROUP-IDENTIFY.3).
    pub fn group_identify_as(
        &self,
        distinct_id: impl Into<String>,
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Properties,
    ) -> Option<Uuid> {
        let distinct_id = distinct_id.into();
        self.capture_built(
            Event::group_identify(group_type, group_key, properties)
                .map(|e| e.distinct_id(distinct_id)),
        )
    }

    /// `$pageview` with `$current_url`.
    pub fn pageview(&self, distinct_id: impl Into<String>, url: impl Into<String>) -> Option<Uuid> {
        self.capture(Event::pageview(distinct_id, url))
    }

    /// `$screen` with `$screen_name`.
    pub fn screen(
        &self,
        distinct_id: impl Into<String>,
        screen_name: impl Into<String>,
    ) -> Option<Uuid> {
        self.capture(Event::screen(distinct_id, screen_name))
    }

    /// Delivers everything captured before the call (C-FLUSH): each buffered event gets an
    /// attempt; retryable failures stay queued for a later retry. Returns at once when empty.
    pub async fn flush(&self) -> FlushReport {
        let Some(tx) = &self.inner.tx else {
            return FlushReport::default();
        };
        let events = async {
            let (reply, done) = oneshot::channel();
            if tx.send(Msg::Flush(reply)).await.is_err() {
                return FlushReport::default();
            }
            done.await.unwrap_or_default()
        };
        let ai = async {
            match self.inner.ai_lane.get() {
                Some(lane) => Some(lane.flush().await),
                None => None,
            }
        };
        // Logs are flushed too (C-LOGS.13); the report counts events only.
        let logs = async {
            if let Some(logs) = self.inner.logs.get() {
                logs.lane().flush().await;
            }
            if let Some(traces) = self.inner.traces.get() {
                traces.lane().flush().await;
            }
        };
        let (mut report, ai, ()) = tokio::join!(events, ai, logs);
        if let Some(ai) = ai {
            report.sent += ai.sent;
            report.failed += ai.failed;
            report.pending += ai.pending;
        }
        report
    }

    /// [`Client::flush`] with a deadline.
    pub async fn flush_timeout(&self, timeout: Duration) -> Result<FlushReport, Error> {
        tokio::time::timeout(timeout, self.flush())
            .await
            .map_err(|_| Error::FlushTimeout(timeout))
    }

    /// Delivers what is queued (retrying as configured) until `timeout`, then stops the worker
    /// (C-SHUTDOWN). Idempotent: later and concurrent calls get the first call's report.
    /// Afterwards every capture call is a no-op.
    ///
    /// It returns by `timeout` plus [`SHUTDOWN_SLACK`], however full the queue and however
    /// unresponsive the server: at the deadline, sends still out are abandoned, and every
    /// event not delivered is counted in the report's `undelivered`, in [`Stats::failed`] and
    /// reported through `on_error` (kind `ShutdownTimeout`) before this returns.
    pub async fn shutdown(&self, timeout: Duration) -> ShutdownReport {
        let deadline = Instant::now() + timeout;
        let mut report = self.inner.shutdown_report.lock().await;
        if let Some(done) = *report {
            return done;
        }
        self.inner.shut_down.store(true, Ordering::Release);
        let drained = async {
            let Some(done) = self.inner.tx.as_ref().and_then(|tx| tx.stop(deadline)) else {
                return ShutdownReport::default();
            };
            match tokio::time::timeout_at((deadline + SHUTDOWN_SLACK).into(), done).await {
                Ok(Ok(report)) => report,
                // The worker could not answer in time (its runtime is starved or gone).
                _ => ShutdownReport {
                    timed_out: true,
                    undelivered: self.stats().pending,
                    ..Default::default()
                },
            }
        };
        let flags = tokio::time::timeout_at(deadline.into(), self.inner.flags.shutdown());
        let ai = async {
            match self.inner.ai_lane.get() {
                Some(lane) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    Some(lane.shutdown(left).await)
                }
                None => None,
            }
        };
        let logs = async {
            if let Some(logs) = self.inner.logs.get() {
                let left = deadline.saturating_duration_since(Instant::now());
                logs.lane().shutdown(left).await;
            }
            if let Some(traces) = self.inner.traces.get() {
                let left = deadline.saturating_duration_since(Instant::now());
                traces.lane().shutdown(left).await;
            }
        };
        let (mut outcome, _, ai, ()) = tokio::join!(drained, flags, ai, logs);
        if let Some(ai) = ai {
            outcome.sent += ai.sent;
            outcome.undelivered += ai.failed;
        }
        *report = Some(outcome);
        outcome
    }

    /// [`Client::shutdown`] from synchronous code, blocking this thread: what the global
    /// client's guard does on drop. `None` when it cannot wait here: on a current-thread
    /// runtime (blocking its only thread would stop the worker it waits for; await
    /// [`Client::shutdown`] there instead), when the client was shut down already, or when
    /// its worker is gone.
    pub fn shutdown_blocking(&self, timeout: Duration) -> Option<ShutdownReport> {
        if self.inner.shut_down.load(Ordering::Acquire)
            || self.inner.tx.as_ref().is_none_or(|tx| tx.worker_gone())
        {
            return None;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(current) => {
                if matches!(
                    current.runtime_flavor(),
                    tokio::runtime::RuntimeFlavor::CurrentThread
                ) {
                    tracing::warn!(target: "posthog", "shutdown_blocking cannot wait on a current-thread runtime: events not yet sent may be lost; await Client::shutdown before exit");
                    return None;
                }
                Some(tokio::task::block_in_place(|| {
                    current.block_on(self.shutdown(timeout))
                }))
            }
            // Outside any runtime: drive the shutdown on the worker's.
            Err(_) => {
                let runtime = self.inner.runtime.as_ref()?;
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    runtime.block_on(self.shutdown(timeout))
                }))
                .ok()
            }
        }
    }

    /// [`Client::shutdown`] with the configured `shutdown_timeout` (30 s by default).
    pub async fn shutdown_default(&self) -> ShutdownReport {
        self.shutdown(self.inner.options.shutdown_timeout).await
    }
}
