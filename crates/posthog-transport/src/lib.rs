//! The HTTP stack of the PostHog SDK: a [`tower::Service`] seam over hyper and rustls, the
//! layers every request goes through, and PostHog's endpoints as typed calls.
//!
//! ```text
//! Transport (typed calls: send_batch, flags, local_evaluation, remote_config, api_request)
//!    └─ UserAgent → Gzip → Retry → Timeout → HttpService (hyper + rustls, or yours)
//! ```
//!
//! - [`HttpService`] is the seam: a boxed, cloneable `Service<http::Request<Bytes>>` answering
//!   `http::Response<Bytes>`. [`HttpClient`] is the default; [`from_service`] boxes any other
//!   stack (see the contract in [`service`]).
//! - Each layer is usable alone: [`GzipLayer`], [`TimeoutLayer`], [`RetryLayer`],
//!   [`UserAgentLayer`]. Per-request settings travel in a [`RequestPolicy`] extension, so
//!   ingestion, `/flags`, definitions and private-API calls keep separate schedules.
//! - [`TransportError`] is the one error; keys never appear in it, nor in logs or `Debug`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), posthog_transport::TransportError> {
//! use posthog_core::FlagsRequest;
//! use posthog_transport::Transport;
//!
//! let transport = Transport::builder("phc_project_token").host("https://eu.i.posthog.com").build()?;
//! let flags = transport
//!     .flags(&FlagsRequest { distinct_id: "user-123".into(), ..Default::default() })
//!     .await?;
//! println!("{} flags", flags.flags.len());
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod client;
mod encoding;
mod endpoints;
mod error;
pub mod gzip;
pub mod host;
mod policy;
mod proxy;
pub mod retry;
mod secret;
pub mod service;
#[cfg(feature = "test-util")]
pub mod test_util;
pub mod timeout;
mod tls;
pub mod user_agent;

pub use client::{HttpClient, HttpClientBuilder};
pub use encoding::ContentEncoding;
pub use endpoints::{
    Definitions, Delivery, Transport, TransportBuilder, V1Attempt, V1Delivery, query_escape,
};
pub use error::{BODY_EXCERPT_LIMIT, BoxError, ErrorKind, TransportError};
pub use gzip::{Gzip, GzipLayer};
pub use policy::RequestPolicy;
pub use proxy::Proxy;
pub use retry::{Retry, RetryLayer, RetryPolicy};
/// The rustls this crate is built with, for [`HttpClientBuilder::tls_config`].
pub use rustls;
pub use secret::{ProjectToken, SecretKey};
pub use service::{HttpService, StackConfig, from_service, layered};
pub use timeout::{Timeout, TimeoutLayer};
pub use user_agent::{UserAgent, UserAgentLayer};
