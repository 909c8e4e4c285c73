//! PostHog for Rust services: product analytics capture, identity, feature flags (local and
//! remote evaluation), error tracking, and a typed client for PostHog's private REST API
//! ([`api`]), built so the hot path never blocks and no event is lost silently.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), posthog::Error> {
//! # let server = posthog::test_util::FakePostHog::start().await;
//! use posthog::{Client, Event, PersonProperties};
//!
//! let client = Client::builder("phc_project_token")
//! #   .host(server.url())
//!     .build()?;
//! client.capture(Event::new("order_placed", "user-123").property("amount", 42));
//! client.identify("user-123", PersonProperties::new().set("plan", "pro"));
//! let report = client.shutdown(std::time::Duration::from_secs(10)).await;
//! assert_eq!(report.undelivered, 0);
//! # Ok(()) }
//! ```
//!
//! # How capture works
//!
//! `capture` assembles the event (uuid v7, timestamp, `$lib`, context, super properties), runs
//! the `before_send` hooks and puts it on a bounded queue — no I/O, no await. One worker task
//! serialises events once, cuts batches (by count, bytes and interval), gzips and sends them,
//! and retries failed batches with backoff from its own queue. Lost events are counted
//! ([`Client::stats`]) and reported through `on_error` with the reason.
//!
//! # Features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `webpki-roots` | yes | TLS trusts the Mozilla roots compiled in |
//! | `ring` | yes | rustls on the `ring` crypto provider (unless one is installed process-wide) |
//! | `native-roots` | no | TLS trusts the system's certificate store (with `webpki-roots`: both) |
//! | `aws-lc-rs` | no | rustls on `aws-lc-rs` (preferred over `ring` when both are on) |
//! | `test-util` | no | `test_util::FakePostHog`, an in-process PostHog for tests |
//! | `redis` | no | `feature_flags::RedisDefinitionsCache`: flag definitions shared through Redis |
//! | `anyhow` | no | `Client::capture_anyhow` for `anyhow::Error` |
//! | `eyre` | no | `Client::capture_eyre` for `eyre::Report` |
//! | `br` | no | Brotli request bodies for capture v1 (`ContentEncoding::Brotli`) |
//! | `zstd` | no | Zstandard request bodies for capture v1 (`ContentEncoding::Zstd`; builds the zstd C library) |
//! | `tracing` | no | `tracing_layer::ExceptionLayer`: error-level `tracing` events as `$exception` events; `logs::LogsLayer`: `tracing` events as PostHog logs; `traces::SpansLayer`: `tracing` spans as PostHog spans |
//! | `log` | no | `logs::PostHogLogger`: a `log::Log` shipping `log` records as PostHog logs |
//! | `openai` | no | `openai::OpenAI`: chat completions through `async-openai` captured as `$ai_generation` events |
//! | `openfeature` | no | `openfeature::PostHogProvider`: PostHog flags behind OpenFeature's client API |

#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub use posthog_api as api;
mod ai_lane;
pub mod blocking;
mod capture;
mod client;
pub mod context;
mod error;
pub mod exceptions;
pub mod feature_flags;
mod global;
mod hooks;
mod lane;
pub mod logs;
pub mod middleware;
#[cfg(feature = "openai")]
pub mod openai;
#[cfg(feature = "openfeature")]
pub mod openfeature;
mod report;
mod routes;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod traces;
#[cfg(feature = "tracing")]
mod tracing_fields;
#[cfg(feature = "tracing")]
pub mod tracing_layer;

#[doc(inline)]
pub use ai_lane::{AI_BATCH_BYTES, AI_PATH, MAX_AI_EVENT_BYTES};
pub use client::{CaptureMode, Client, ClientBuilder, DEFAULT_HOST, SHUTDOWN_SLACK};
#[doc(inline)]
pub use error::Error;
#[doc(inline)]
pub use exceptions::{ERROR_SCOPE_SOURCE, ExceptionOptions};
pub use feature_flags::{
    FeatureFlagEvaluations, FeatureFlagResult, FlagOptions, FlagPayloads, FlagValues, FlagsError,
    IncompleteFlags,
};
#[doc(inline)]
pub use global::{GlobalGuard, capture, global, init_global};
#[doc(inline)]
pub use hooks::{BeforeSend, HookError};
#[doc(inline)]
#[doc(inline)]
pub use posthog_core::FlagValue;
pub use posthog_core::ai::AiEvent;
#[doc(inline)]
pub use posthog_core::exception::Level;
#[doc(inline)]
pub use posthog_core::{Event, EventError, PersonProperties, Properties};
/// Request-body encodings (see [`ClientBuilder::content_encoding`]).
pub use posthog_transport::ContentEncoding;
#[doc(inline)]
pub use report::{DeliveryError, DeliveryErrorKind, FlushReport, OnError, ShutdownReport, Stats};

/// Wire types, builders and the flag hash.
pub use posthog_core as core;
/// Local flag evaluation.
pub use posthog_flags as flags;
/// The HTTP stack.
pub use posthog_transport as transport;
