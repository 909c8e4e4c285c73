//! A client's validated configuration ([`Options`], built by
//! [`ClientBuilder`](crate::ClientBuilder)) and the checks every option passes.

use std::sync::Arc;
use std::time::Duration;

use posthog_core::Properties;
use posthog_transport::HttpService;

use crate::error::{Error, invalid};
use crate::hooks::BeforeSend;
use crate::report::OnError;

/// The default host, PostHog's US ingestion host.
pub const DEFAULT_HOST: &str = posthog_transport::host::US_INGESTION_HOST;

/// Options of a [`Client`](crate::Client). Build with [`ClientBuilder`].
#[derive(Clone)]
pub(crate) struct Options {
    pub(crate) api_key: String,
    pub(crate) host: String,
    pub(crate) personal_api_key: Option<String>,
    pub(crate) local_evaluation: bool,
    /// Whether `local_evaluation(true)` was called (for C-SETUP.4's warning).
    pub(crate) local_evaluation_asked: bool,
    pub(crate) poll_interval: Duration,
    pub(crate) feature_flags_request_timeout: Duration,
    pub(crate) flag_retries: u32,
    pub(crate) in_app: crate::exceptions::InApp,
    pub(crate) log_captured_exceptions: bool,
    pub(crate) privacy_mode: bool,
    pub(crate) capture_trace_context: bool,
    pub(crate) full_ai_capture: bool,
    pub(crate) autocapture_rate_limit: Option<crate::exceptions::rate_limit::RateLimit>,
    pub(crate) logs: crate::logs::LogsConfig,
    pub(crate) traces: Option<crate::traces::TracesConfig>,
    pub(crate) definitions_cache: Option<Arc<dyn crate::feature_flags::cache::DefinitionsCache>>,
    pub(crate) flag_result_cache: Option<(usize, Duration)>,
    pub(crate) max_queue_size: usize,
    pub(crate) flush_at: usize,
    pub(crate) flush_interval: Duration,
    pub(crate) max_batch_bytes: usize,
    pub(crate) max_event_bytes: usize,
    pub(crate) max_pending_bytes: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) gzip: bool,
    pub(crate) gzip_level: u32,
    pub(crate) max_retries: Option<u32>,
    pub(crate) retry_for: Duration,
    pub(crate) timeout: Duration,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) disabled: bool,
    pub(crate) send: bool,
    pub(crate) disable_geoip: bool,
    pub(crate) historical_migration: bool,
    pub(crate) sync_mode: bool,
    pub(crate) debug: bool,
    pub(crate) capture_mode: CaptureMode,
    pub(crate) content_encoding: Option<posthog_transport::ContentEncoding>,
    pub(crate) super_properties: Properties,
    pub(crate) on_error: Option<OnError>,
    pub(crate) before_send: Vec<BeforeSend>,
    pub(crate) service: Option<HttpService>,
    /// The outbound proxy, when not the environment's.
    pub(crate) proxy: Option<posthog_transport::Proxy>,
    /// A TLS configuration of the user's.
    pub(crate) tls: Option<posthog_transport::rustls::ClientConfig>,
}

/// Which ingestion endpoint events are sent to (protocol.md §1.4).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// // Capture v1: a verdict per event; only the events PostHog asks for are sent again.
/// let v1 = posthog::Client::builder("phc_project_token")
/// #   .host(server.url())
///     .capture_mode(posthog::CaptureMode::V1)
///     .build()?;
/// v1.capture(posthog::Event::new("order_placed", "user-123"));
/// assert_eq!(v1.flush().await.sent, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CaptureMode {
    /// `POST /batch/` (the default): one status for the whole batch.
    #[default]
    Batch,
    /// `POST /i/v1/analytics/events`: the project token as a bearer header, a verdict per
    /// event (only events the server asks for are resent, dropped ones are reported), and
    /// any [`ContentEncoding`](posthog_transport::ContentEncoding).
    V1,
}

impl Options {
    /// Checks every option; `Err` names the first one out of range.
    pub(super) fn validate(&self) -> Result<(), Error> {
        let o = self;
        check_keys(&o.api_key, o.personal_api_key.as_deref())?;
        if o.max_queue_size == 0 {
            return Err(invalid("max_queue_size", "must be at least 1"));
        }
        if o.flush_at == 0 || o.flush_at > o.max_queue_size {
            return Err(invalid(
                "flush_at",
                format!(
                    "must be between 1 and max_queue_size ({})",
                    o.max_queue_size
                ),
            ));
        }
        if o.capture_mode == CaptureMode::Batch
            && !matches!(
                o.content_encoding,
                None | Some(
                    posthog_transport::ContentEncoding::Gzip
                        | posthog_transport::ContentEncoding::Identity
                )
            )
        {
            return Err(invalid(
                "content_encoding",
                "/batch/ reads gzip only; use CaptureMode::V1 for deflate, br or zstd",
            ));
        }
        if o.gzip_level > 9 {
            return Err(invalid("gzip_level", "must be between 0 and 9"));
        }
        if o.flush_interval.is_zero() {
            return Err(invalid("flush_interval", "must be longer than zero"));
        }
        if o.poll_interval.is_zero() {
            return Err(invalid("poll_interval", "must be longer than zero"));
        }
        if o.feature_flags_request_timeout.is_zero() {
            return Err(invalid(
                "feature_flags_request_timeout",
                "must be longer than zero",
            ));
        }
        if o.timeout.is_zero() {
            return Err(invalid("timeout", "must be longer than zero"));
        }
        if o.max_event_bytes < 1024 || o.max_event_bytes > o.max_batch_bytes {
            return Err(invalid(
                "max_event_bytes",
                "must be at least 1 KiB and at most max_batch_bytes",
            ));
        }
        if o.max_batch_bytes > 20 * 1024 * 1024 {
            return Err(invalid(
                "max_batch_bytes",
                "PostHog accepts at most 20 MiB per request",
            ));
        }
        if o.max_in_flight == 0 || o.max_in_flight > 64 {
            return Err(invalid("max_in_flight", "must be between 1 and 64"));
        }
        if o.max_pending_bytes < o.max_batch_bytes {
            return Err(invalid(
                "max_pending_bytes",
                "must be at least max_batch_bytes",
            ));
        }
        if posthog_core::depth::nesting(
            &o.super_properties,
            posthog_core::depth::MAX_PROPERTY_DEPTH,
        ) > posthog_core::depth::MAX_PROPERTY_DEPTH
        {
            return Err(invalid(
                "super_property",
                format!(
                    "a value nests deeper than {} levels",
                    posthog_core::depth::MAX_PROPERTY_DEPTH
                ),
            ));
        }
        if o.max_retries.is_some_and(|r| r > 20) {
            return Err(invalid("max_retries", "at most 20"));
        }
        posthog_transport::host::normalize_host(&o.host)
            .map_err(|e| invalid("host", e.to_string()))?;
        Ok(())
    }
}

/// The project token must be one (not a personal key) and both must fit in a header.
fn check_keys(api_key: &str, personal_api_key: Option<&str>) -> Result<(), Error> {
    let unprintable = |key: &str| key.chars().any(|c| c.is_whitespace() || c.is_control());
    if api_key.starts_with("phx_") {
        return Err(invalid(
            "api_key",
            "this is a personal API key (phx_…), a secret that would go into every event body: \
             pass the project token (phc_…) here and the personal key to personal_api_key",
        ));
    }
    if unprintable(api_key) {
        return Err(invalid(
            "api_key",
            "the project token has white space or control characters inside it",
        ));
    }
    if personal_api_key.is_some_and(|key| key.is_empty() || unprintable(key)) {
        return Err(invalid(
            "personal_api_key",
            "the personal API key is empty or has white space or control characters inside it",
        ));
    }
    Ok(())
}

/// Whether `host` is plain `http://` to a host other than this machine.
pub(super) fn plain_http_to_remote(host: &str) -> bool {
    let Ok(uri) = host.trim().parse::<http::Uri>() else {
        return false;
    };
    if uri.scheme_str() != Some("http") {
        return false;
    }
    let name = uri.host().unwrap_or_default();
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    !loopback
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_remote_unless_loopback() {
        assert!(plain_http_to_remote("http://posthog.internal:8000"));
        assert!(plain_http_to_remote("http://10.0.0.5"));
        for local in [
            "http://localhost:8000",
            "http://127.0.0.1:9",
            "http://127.8.0.1",
            "http://[::1]:80",
            "https://eu.i.posthog.com",
        ] {
            assert!(!plain_http_to_remote(local), "{local}");
        }
    }
}
