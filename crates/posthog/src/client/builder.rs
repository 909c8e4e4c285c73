//! [`ClientBuilder`]: every option of a client, with the Python SDK's names and defaults where
//! they apply to Rust; [`ClientBuilder::build`] validates them ([`super::config`]).

use std::sync::Arc;
use std::time::Duration;

use posthog_core::{Event, Properties};
use posthog_transport::HttpService;

use super::config::{CaptureMode, DEFAULT_HOST, Options, plain_http_to_remote};
use crate::error::Error;
use crate::hooks::HookError;
use crate::report::DeliveryError;

/// Builds a [`Client`](crate::Client); [`ClientBuilder::build`] validates every option.
///
/// | option | default | |
/// |---|---|---|
/// | `host` | `https://us.i.posthog.com` | app hosts are rewritten to ingestion hosts |
/// | `max_queue_size` | 10,000 | events waiting for the worker in its channel; past that they wait serialised, within `max_pending_bytes` |
/// | `flush_at` | 100 | events per batch, and the count that triggers a send |
/// | `flush_interval` | 5 s | a non-empty buffer is sent at least this often |
/// | `max_batch_bytes` / `max_event_bytes` | 5 MiB / 900 KiB | batch cut / single-event limit |
/// | `max_pending_bytes` | 128 MiB | serialised events held (buffered, waiting, retrying, overflowing): the memory bound; past it new events are dropped and reported |
/// | `max_in_flight` | 2 | batches sent concurrently |
/// | `gzip` | on | request compression |
/// | `gzip_level` | 2 | 0–9; 1 is ~1.5x faster with ~1.5x larger bodies, 6 ~10% smaller for ~3.5x the CPU |
/// | `retry_for` | 2 min | how long a failing batch is retried (backoff capped at 30 s), memory allowing |
/// | `max_retries` | unset | when set, exactly this many retries per batch instead of `retry_for` |
/// | `timeout` | 15 s | per request |
/// | `shutdown_timeout` | 30 s | used when the last handle is dropped / by `shutdown_default` |
/// | `disable_geoip` | on | adds `$geoip_disable: true` (a server's IP is not the user's) |
/// | `capture_mode` | `Batch` | `/batch/`, or capture v1 (`/i/v1/analytics/events`) |
/// | `content_encoding` | gzip | v1 also takes deflate, br (feature `br`), zstd (feature `zstd`) |
/// | `debug` | off | log every captured event and delivered batch through `tracing` (info) |
/// | `sync_mode` | off | no batching: each event is sent at once; the blocking client waits for it |
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// use std::time::Duration;
/// let client = posthog::ClientBuilder::new("phc_project_token")
/// #   .host(server.url())
///     .flush_at(200)
///     .flush_interval(Duration::from_secs(2))
///     .super_property("service", "checkout")
///     .on_error(|e| eprintln!("lost {} event(s): {}", e.count, e.message))
///     .build()?; // validates every option, inside a tokio runtime
/// # let _ = client;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    options: Options,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("host", &self.options.host)
            .field(
                "personal_api_key",
                &self.options.personal_api_key.as_ref().map(|_| "***"),
            )
            .field("flush_at", &self.options.flush_at)
            .field("max_queue_size", &self.options.max_queue_size)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Options for the project whose token is `api_key`, with the defaults above.
    pub fn new(api_key: impl Into<String>) -> Self {
        Self {
            options: Options {
                api_key: api_key.into().trim().to_owned(),
                host: DEFAULT_HOST.to_owned(),
                personal_api_key: None,
                local_evaluation: true,
                local_evaluation_asked: false,
                poll_interval: Duration::from_secs(30),
                feature_flags_request_timeout: Duration::from_secs(3),
                flag_retries: 1,
                in_app: crate::exceptions::InApp {
                    root: std::env::current_dir()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default(),
                    modules: Vec::new(),
                },
                log_captured_exceptions: false,
                privacy_mode: false,
                capture_trace_context: false,
                full_ai_capture: false,
                autocapture_rate_limit: None,
                logs: crate::logs::LogsConfig::default(),
                traces: None,
                definitions_cache: None,
                flag_result_cache: None,
                max_queue_size: 10_000,
                flush_at: 100,
                flush_interval: Duration::from_secs(5),
                max_batch_bytes: 5 * 1024 * 1024,
                max_event_bytes: 900 * 1024,
                max_pending_bytes: 128 * 1024 * 1024,
                max_in_flight: 2,
                gzip: true,
                gzip_level: posthog_transport::gzip::DEFAULT_LEVEL,
                max_retries: None,
                retry_for: Duration::from_secs(120),
                timeout: Duration::from_secs(15),
                shutdown_timeout: Duration::from_secs(30),
                disabled: false,
                send: true,
                disable_geoip: true,
                historical_migration: false,
                sync_mode: false,
                debug: false,
                capture_mode: CaptureMode::Batch,
                content_encoding: None,
                super_properties: Properties::new(),
                on_error: None,
                before_send: Vec::new(),
                service: None,
                proxy: None,
                tls: None,
            },
        }
    }

    /// Options from the environment: `POSTHOG_API_KEY`, `POSTHOG_HOST` and
    /// `POSTHOG_PERSONAL_API_KEY`. A missing key gives a disabled client (C-SETUP.2).
    pub fn from_env() -> Self {
        let var = |name| {
            std::env::var(name)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let mut builder = Self::new(var("POSTHOG_API_KEY").unwrap_or_default());
        if let Some(host) = var("POSTHOG_HOST") {
            builder = builder.host(host);
        }
        if var("POSTHOG_CAPTURE_MODE").is_some_and(|m| m.eq_ignore_ascii_case("v1")) {
            builder = builder.capture_mode(CaptureMode::V1);
        }
        if let Some(key) = var("POSTHOG_PERSONAL_API_KEY") {
            builder = builder.personal_api_key(key);
        }
        builder
    }

    /// The PostHog host (ingestion host, or a reverse proxy).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.options.host = host.into();
        self
    }

    /// The personal API key, for local flag evaluation and the private API (surrounding
    /// white space is trimmed). It is only ever sent as `Authorization: Bearer` to the flag
    /// definitions endpoint, never in event bodies or logs.
    pub fn personal_api_key(mut self, key: impl Into<String>) -> Self {
        self.options.personal_api_key = Some(key.into().trim().to_owned());
        self
    }

    /// Evaluate flags locally when a personal API key is given (default on). Asking for it
    /// explicitly without a personal key logs one warning at build (C-SETUP.4): flags are
    /// then evaluated remotely.
    pub fn local_evaluation(mut self, on: bool) -> Self {
        self.options.local_evaluation = on;
        self.options.local_evaluation_asked = on;
        self
    }

    /// How often flag definitions are refreshed (default 30 s).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.options.poll_interval = interval;
        self
    }

    /// How long a flag read may wait for `/flags`, retries included (default 3 s): a total
    /// deadline, so a hanging server costs a read this long whatever `flag_retries` says.
    pub fn feature_flags_request_timeout(mut self, timeout: Duration) -> Self {
        self.options.feature_flags_request_timeout = timeout;
        self
    }

    /// Retries of `/flags` requests on no response, 502 and 504 (default 1, at most 3).
    pub fn flag_retries(mut self, retries: u32) -> Self {
        self.options.flag_retries = retries;
        self
    }

    /// Shares flag definitions with other clients through `cache` (one fetch per period for
    /// all of them), e.g. `feature_flags::cache::MemoryDefinitionsCache` in one process.
    pub fn definitions_cache(
        mut self,
        cache: Arc<dyn crate::feature_flags::cache::DefinitionsCache>,
    ) -> Self {
        self.options.definitions_cache = Some(cache);
        self
    }

    /// Caches evaluated flag results across calls (off by default; C-FLAG-CACHE.5): up to
    /// `capacity` answers, each keyed by distinct id, groups, properties and requested flags,
    /// answer reads for `ttl` without evaluating or asking the server; an expired answer is
    /// used only when `/flags` cannot be reached. Cleared by
    /// [`Client::clear_flag_result_cache`](crate::Client::clear_flag_result_cache) and on
    /// shutdown. A cached answer may be up to `ttl` older than the flag's definition.
    pub fn flag_result_cache(mut self, capacity: usize, ttl: Duration) -> Self {
        self.options.flag_result_cache = (capacity > 0).then_some((capacity, ttl));
        self
    }

    /// Frames in files under this directory are the application's own (`in_app`); default:
    /// the working directory at start.
    pub fn project_root(mut self, root: impl Into<String>) -> Self {
        self.options.in_app.root = root.into();
        self
    }

    /// Module-path prefixes whose frames are the application's own wherever their files are
    /// (Python's `in_app_modules`): `["myapp", "shared_lib"]` marks `myapp::…` and
    /// `shared_lib::…` frames in-app, a vendored crate's included. Added to the
    /// [`project_root`](Self::project_root) rule.
    pub fn in_app_modules<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        modules: I,
    ) -> Self {
        self.options.in_app.modules = modules.into_iter().map(Into::into).collect();
        self
    }

    /// Turns PostHog traces on ([`TracesConfig`](crate::traces::TracesConfig)); without it every
    /// span is inert.
    pub fn traces(mut self, config: crate::traces::TracesConfig) -> Self {
        self.options.traces = Some(config);
        self
    }

    /// How PostHog Logs are batched, bounded and described ([`LogsConfig`](crate::logs::LogsConfig);
    /// defaults for servers).
    pub fn logs(mut self, config: crate::logs::LogsConfig) -> Self {
        self.options.logs = config;
        self
    }

    /// Rate-limits autocaptured exceptions (panics, error scopes, the error-capturing
    /// middleware; never `capture_exception`), as Python's
    /// `enable_exception_autocapture_rate_limiting` with `exception_autocapture_bucket_size`,
    /// `_refill_rate` and `_refill_interval_seconds` (PostHog's defaults: 50, 10, 10 s). Each
    /// exception type has a bucket of `bucket_size` tokens (at most 100); a capture takes one,
    /// the one that takes the last is skipped too, and `refill_rate` tokens (at most
    /// `bucket_size`) come back per whole `refill_interval` (at most a day). Off by default.
    pub fn exception_autocapture_rate_limit(
        mut self,
        bucket_size: u32,
        refill_rate: u32,
        refill_interval: Duration,
    ) -> Self {
        self.options.autocapture_rate_limit = Some(crate::exceptions::rate_limit::RateLimit::new(
            bucket_size,
            refill_rate,
            refill_interval,
        ));
        self
    }

    /// Also log each captured exception through `tracing` at error level.
    pub fn log_captured_exceptions(mut self, on: bool) -> Self {
        self.options.log_captured_exceptions = on;
        self
    }

    /// Inside an active PostHog span ([`Client::with_span`](crate::Client::with_span), the
    /// request span of `middleware::TraceLayer`), add its ids as `$trace_id` and `$span_id` to
    /// events sent with `capture` and `capture_ai`, to find a trace from an event (Python's
    /// `capture_trace_context`). Ids you set yourself win. Off by default; `$exception` events
    /// always carry them.
    pub fn capture_trace_context(mut self, on: bool) -> Self {
        self.options.capture_trace_context = on;
        self
    }

    /// LLM analytics without content: AI wrappers (feature `openai`) capture usage, latency,
    /// model and errors but never prompts or outputs (`$ai_input`, `$ai_output_choices`),
    /// whatever a call asks (Python's `privacy_mode`). Off by default. Events you build and
    /// send with [`Client::capture_ai`](crate::Client::capture_ai) are never touched.
    pub fn privacy_mode(mut self, on: bool) -> Self {
        self.options.privacy_mode = on;
        self
    }

    /// Full AI capture for the AI wrappers (feature `openai`; C-CAPTURE-AI.10, Python's
    /// `enable_full_ai_capture`): their events go to the AI lane
    /// ([`Client::capture_ai`](crate::Client::capture_ai), 8 MiB per event) instead of
    /// `/batch/`, and media in prompts and outputs (base64 data URLs and inline data) is
    /// passed through instead of replaced by a `[base64 image redacted]` placeholder.
    /// [`privacy_mode`](Self::privacy_mode) still wins. Off by default; it never changes
    /// events you send with `capture_ai` yourself.
    pub fn enable_full_ai_capture(mut self, on: bool) -> Self {
        self.options.full_ai_capture = on;
        self
    }

    /// The most events waiting for the worker in its channel (default 10,000). When the
    /// channel is full (say, producers on more threads than cores starve the worker), a
    /// capture serialises its event on its own thread and it waits in an overflow, in order,
    /// as long as [`max_pending_bytes`](Self::max_pending_bytes) allows; only then are events
    /// dropped (and reported).
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.options.max_queue_size = size;
        self
    }

    /// Events per batch, and the count that triggers a send.
    pub fn flush_at(mut self, count: usize) -> Self {
        self.options.flush_at = count;
        self
    }

    /// How often a non-empty buffer is sent.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.options.flush_interval = interval;
        self
    }

    /// The largest batch body before it is cut (uncompressed JSON).
    pub fn max_batch_bytes(mut self, bytes: usize) -> Self {
        self.options.max_batch_bytes = bytes;
        self
    }

    /// The largest single event (serialised); larger ones are dropped and reported.
    pub fn max_event_bytes(mut self, bytes: usize) -> Self {
        self.options.max_event_bytes = bytes;
        self
    }

    /// The most serialised bytes of events held (buffered, waiting for a retry, being sent,
    /// or waiting in the overflow while the channel is full): the bound on the client's
    /// memory (default 128 MiB, plus the channel's `max_queue_size` events). When reached,
    /// the worker stops taking events until sends complete; once the channel is full too, new
    /// events are dropped, counted and reported through `on_error` (`QueueFull`).
    pub fn max_pending_bytes(mut self, bytes: usize) -> Self {
        self.options.max_pending_bytes = bytes;
        self
    }

    /// Batches sent at the same time (default 2; each compresses on its own thread).
    pub fn max_in_flight(mut self, requests: usize) -> Self {
        self.options.max_in_flight = requests;
        self
    }

    /// Gzip request bodies (default on).
    pub fn gzip(mut self, on: bool) -> Self {
        self.options.gzip = on;
        self
    }

    /// The gzip level of ingestion bodies, 0–9 (default 1: a typical batch shrinks ~7.7x;
    /// level 6 gives ~8.4x for 2–3x the CPU on your machine).
    pub fn gzip_level(mut self, level: u32) -> Self {
        self.options.gzip_level = level;
        self
    }

    /// Caps retries per batch at exactly `retries` (at most 20), instead of retrying for
    /// [`retry_for`](Self::retry_for): a batch still failing after `1 + retries` attempts is
    /// dropped and reported. Unset by default.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.options.max_retries = Some(retries);
        self
    }

    /// How long a batch that keeps failing retryably (no response, 408, 429, 5xx) is retried,
    /// with backoff from 200 ms doubling to 30 s and `Retry-After` as a floor, before it is
    /// dropped and reported (default 2 minutes, so an outage shorter than that loses nothing
    /// while `max_pending_bytes` holds the backlog). Ignored when
    /// [`max_retries`](Self::max_retries) is set.
    pub fn retry_for(mut self, duration: Duration) -> Self {
        self.options.retry_for = duration;
        self
    }

    /// Timeout of each ingestion request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// How long the final drain may take when the last handle is dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.options.shutdown_timeout = timeout;
        self
    }

    /// A disabled client accepts every call and sends nothing.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.options.disabled = disabled;
        self
    }

    /// `false` runs the whole capture path but never queues events (for tests and dry runs).
    pub fn send(mut self, send: bool) -> Self {
        self.options.send = send;
        self
    }

    /// Ask PostHog not to geolocate events (default on for server SDKs).
    pub fn disable_geoip(mut self, disable: bool) -> Self {
        self.options.disable_geoip = disable;
        self
    }

    /// Route batches to PostHog's historical-import pipeline.
    pub fn historical_migration(mut self, on: bool) -> Self {
        self.options.historical_migration = on;
        self
    }

    /// Logs every captured event (name, distinct id, uuid) and every delivered batch through
    /// `tracing` at info level, target `posthog` (the Python SDK's `debug`); your subscriber
    /// decides where it goes. Never logs keys.
    pub fn debug(mut self, on: bool) -> Self {
        self.options.debug = on;
        self
    }

    /// Sends every event as soon as it is captured instead of batching (the Python SDK's
    /// `sync_mode`): the worker sends each event in its own request right away. With
    /// [`blocking::Client`](crate::blocking::Client) each capture-type call also blocks until
    /// that request was attempted. `capture` on the async client still never blocks; await
    /// [`Client::capture_immediate`](crate::Client::capture_immediate) to wait for one
    /// delivery. For scripts, tests and short-lived jobs; it costs a request per event.
    pub fn sync_mode(mut self, on: bool) -> Self {
        self.options.sync_mode = on;
        self
    }

    /// The ingestion endpoint (default [`CaptureMode::Batch`]; also `POSTHOG_CAPTURE_MODE=v1`
    /// with [`ClientBuilder::from_env`]).
    pub fn capture_mode(mut self, mode: CaptureMode) -> Self {
        self.options.capture_mode = mode;
        self
    }

    /// How request bodies are compressed (default gzip, or none with `gzip(false)`).
    /// `/batch/` reads only gzip; deflate, br and zstd need [`CaptureMode::V1`].
    pub fn content_encoding(mut self, encoding: posthog_transport::ContentEncoding) -> Self {
        self.options.content_encoding = Some(encoding);
        self
    }

    /// A property added to every event that does not set it itself.
    pub fn super_property(
        mut self,
        key: impl Into<String>,
        value: impl posthog_core::PropertyValue,
    ) -> Self {
        self.options
            .super_properties
            .insert(key.into(), value.into_value());
        self
    }

    /// Called (on the worker, or on the capturing thread for a full queue) whenever events are
    /// lost, with what, how many and why.
    pub fn on_error(mut self, callback: impl Fn(&DeliveryError) + Send + Sync + 'static) -> Self {
        self.options.on_error = Some(Arc::new(callback));
        self
    }

    /// Adds a `before_send` hook: it sees each assembled event and returns it (edited or not),
    /// or `None` to drop it. Hooks run in the order they were added, on the capturing thread.
    /// A hook that panics drops the event (fail closed); with `panic = "abort"` it aborts.
    pub fn before_send(
        mut self,
        hook: impl Fn(Event) -> Option<Event> + Send + Sync + 'static,
    ) -> Self {
        self.options
            .before_send
            .push(Arc::new(move |e| Ok(hook(e))));
        self
    }

    /// A `before_send` hook that may fail: an `Err` drops the event with a warning.
    pub fn before_send_fallible(
        mut self,
        hook: impl Fn(Event) -> Result<Option<Event>, HookError> + Send + Sync + 'static,
    ) -> Self {
        self.options.before_send.push(Arc::new(hook));
        self
    }

    /// Replaces the HTTP stack (see `posthog_transport::from_service`); [`ClientBuilder::proxy`]
    /// and [`ClientBuilder::tls_config`] then do not apply.
    pub fn http_service(mut self, service: HttpService) -> Self {
        self.options.service = Some(service);
        self
    }

    /// The outbound proxy. Default: the environment's `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`,
    /// bypassed for `NO_PROXY`'s hosts ([`Proxy::from_env`](posthog_transport::Proxy::from_env)),
    /// read when the client is built. docs/proxies-and-tls.md has the details.
    ///
    /// ```
    /// use posthog::transport::Proxy;
    ///
    /// let builder = posthog::Client::builder("phc_project_token")
    ///     .proxy(Proxy::url("http://proxy.internal:3128").no_proxy("localhost"));
    /// # let _ = builder;
    /// ```
    pub fn proxy(mut self, proxy: posthog_transport::Proxy) -> Self {
        self.options.proxy = Some(proxy);
        self
    }

    /// Your own rustls configuration (crypto provider, roots, client certificates) instead of
    /// the one the features give: `ring` (or `aws-lc-rs`, or the provider installed
    /// process-wide) with the Mozilla roots (or the system's, `native-roots`).
    pub fn tls_config(mut self, config: posthog_transport::rustls::ClientConfig) -> Self {
        self.options.tls = Some(config);
        self
    }

    /// Validates the options and starts the client (inside a tokio runtime).
    ///
    /// Refused with [`Error::InvalidOption`] naming the option: a personal API key (`phx_…`)
    /// given as the project token (it would go into every event body), a token or key with
    /// white space or control characters inside it (they cannot go into a header), and the
    /// out-of-range options listed on [`ClientBuilder`]. A personal key that would travel
    /// over plain `http://` to a host other than this machine gets one warning.
    pub fn build(self) -> Result<crate::Client, Error> {
        self.options.validate()?;
        if self.options.personal_api_key.is_some() && plain_http_to_remote(&self.options.host) {
            tracing::warn!(target: "posthog", host = %self.options.host, "the personal API key will be sent over plain http:// to a host that is not this machine; use https://");
        }
        crate::client::Client::start(self.options)
    }

    pub(crate) fn shutdown_timeout_value(&self) -> Duration {
        self.options.shutdown_timeout
    }
}
