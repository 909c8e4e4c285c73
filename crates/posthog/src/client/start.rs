//! Starting a client: the transport, the events lane, the flag poller.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use posthog_transport::{RetryPolicy, Transport};
use tokio::sync::Mutex as AsyncMutex;

use super::{Client, Inner};
use crate::capture::{Defaults, Envelope, EventsRoute};
use crate::client::config::Options;
use crate::error::Error;
use crate::lane::{Lane, LaneConfig, Overflow};
use crate::report::Counters;

impl Client {
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
        let (transport, events) = if enabled {
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
            } else if options.proxy.is_some() || options.tls.is_some() {
                let mut http = posthog_transport::HttpClient::builder();
                if let Some(proxy) = &options.proxy {
                    http = http.proxy(proxy.clone());
                }
                if let Some(tls) = &options.tls {
                    http = http.tls_config(tls.clone());
                }
                transport = transport.service(posthog_transport::from_service(http.build()?));
            }
            let transport = transport.build()?;
            let events = Lane::start(
                EventsRoute {
                    envelope: Arc::new(Envelope::new(
                        &options.api_key,
                        options.historical_migration,
                    )),
                    defaults: defaults.clone(),
                    in_app: options.in_app.clone(),
                    v1: (options.capture_mode == crate::CaptureMode::V1).then(|| {
                        options.content_encoding.unwrap_or(if options.gzip {
                            posthog_transport::ContentEncoding::Gzip
                        } else {
                            posthog_transport::ContentEncoding::Identity
                        })
                    }),
                    historical_migration: options.historical_migration,
                },
                transport.clone(),
                events_config(&options),
                crate::routes::report_losses(options.on_error.clone(), None),
                &runtime,
            );
            if options.local_evaluation && options.personal_api_key.is_some() {
                let _entered = runtime.enter();
                flags.start_poller(transport.clone(), options.poll_interval);
            } else if options.local_evaluation_asked {
                tracing::warn!(target: "posthog", "local flag evaluation needs a personal API key (personal_api_key); flags will be evaluated remotely");
            }
            (Some(transport), Some(events))
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
                events,
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
}

/// The events lane's settings from the client's: `max_queue_size` events queued, then
/// serialised ones within `max_pending_bytes`, which also bounds what the worker holds;
/// retries as capture's (`RetryPolicy::ingestion`).
fn events_config(options: &Options) -> LaneConfig {
    let retry = RetryPolicy::ingestion(options.max_retries.unwrap_or(0));
    LaneConfig {
        queue_size: options.max_queue_size.max(1),
        overflow: Overflow::DropIncoming,
        flush_at: if options.sync_mode {
            1
        } else {
            options.flush_at.max(1)
        },
        flush_interval: options.flush_interval,
        max_item_bytes: options.max_event_bytes,
        max_batch_bytes: options.max_batch_bytes,
        max_in_flight: options.max_in_flight,
        max_held_bytes: options.max_pending_bytes,
        retry_for: options.retry_for,
        max_retries: options.max_retries,
        backoff_base: retry.base,
        backoff_cap: retry.cap,
        jitter: retry.jitter,
        // Through an outage, `max_pending_bytes` holds about ten times the events.
        pack_backlog: true,
        // A 413 halves the refused batch only (C-BATCHER.7); the next is full size again.
        shrink_after_413: false,
        orphan_drain: options.shutdown_timeout,
        debug: options.debug,
    }
}
