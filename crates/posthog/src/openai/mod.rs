//! LLM analytics for [`async-openai`](https://docs.rs/async-openai) (feature `openai`): a chat
//! completion made through [`OpenAI::chat`] is captured as a `$ai_generation` event — model,
//! provider, prompt and output, token counts, latency, HTTP status, base URL, errors and a
//! trace id — with PostHog's property names. Calls are made exactly as async-openai makes
//! them; the answer or error is returned unchanged, and capture never fails the call.
//!
//! - **Privacy:** [`ClientBuilder::privacy_mode`](crate::ClientBuilder::privacy_mode) or
//!   [`AiCall::privacy_mode`] sends neither prompts nor outputs (`$ai_input` and
//!   `$ai_output_choices` are `null`), and errors are summarised by type, status and code,
//!   never by message. Privacy always wins.
//! - **Media:** inline images, audio and files (base64 data URLs) are replaced by
//!   `[base64 image redacted]`-style placeholders, unless
//!   [`ClientBuilder::enable_full_ai_capture`](crate::ClientBuilder::enable_full_ai_capture)
//!   is on; nothing is ever truncated.
//! - **Route:** events go through [`Client::capture`](crate::Client::capture) (`/batch/`),
//!   or, with full AI capture on, the AI lane ([`Client::capture_ai`](crate::Client::capture_ai),
//!   C-CAPTURE-AI.10).
//! - **Person:** the call's distinct id, else the context's, else the trace id with
//!   `$process_person_profile: false`.
//!
//! The wrapper turns on async-openai's `chat-completion` feature only; choose its TLS (its
//! default `rustls`, say) in your own `Cargo.toml`.
//!
//! ```no_run
//! use async_openai::config::OpenAIConfig;
//! use async_openai::types::chat::{
//!     ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
//! };
//! use posthog::openai::{AiCall, OpenAI};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let posthog = posthog::ClientBuilder::new("phc_project_token").build()?;
//! let openai = OpenAI::new(async_openai::Client::with_config(OpenAIConfig::new()), posthog);
//! let request = CreateChatCompletionRequestArgs::default()
//!     .model("gpt-4o-mini")
//!     .messages([ChatCompletionRequestUserMessageArgs::default()
//!         .content("Say hi")
//!         .build()?
//!         .into()])
//!     .build()?;
//! let answer = openai
//!     .chat(request, AiCall::new().distinct_id("user-123").trace_id("conversation-9"))
//!     .await?;
//! println!("{:?}", answer.choices[0].message.content);
//! # Ok(())
//! # }
//! ```

mod generation;
mod media;

use std::time::Instant;

pub use async_openai;
use async_openai::config::{Config, OpenAIConfig};
use async_openai::error::OpenAIError;
use async_openai::types::chat::{CreateChatCompletionRequest, CreateChatCompletionResponse};
use posthog_core::Properties;
use posthog_core::value::PropertyValue;
use serde_json::Value;

use crate::Client;
use generation::{Capture, Outcome};

/// What to record with one call: who made it, which trace it belongs to, extra properties
/// and groups, and whether to leave its content out.
///
/// ```
/// let call = posthog::openai::AiCall::new()
///     .distinct_id("user-123")
///     .trace_id("conversation-9")
///     .property("feature", "support-bot")
///     .privacy_mode(true); // no prompt or output captured for this call
/// # let _ = call;
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct AiCall {
    distinct_id: Option<String>,
    trace_id: Option<String>,
    properties: Properties,
    groups: Vec<(String, String)>,
    privacy_mode: bool,
}

impl AiCall {
    /// Nothing beyond the defaults: the context's distinct id (else the trace id, without a
    /// person profile) and a new trace id.
    pub fn new() -> Self {
        Self::default()
    }

    /// The person who made the call.
    pub fn distinct_id(mut self, id: impl Into<String>) -> Self {
        self.distinct_id = Some(id.into());
        self
    }

    /// `$ai_trace_id`: the conversation or request this call belongs to (default: a new
    /// UUID per call).
    pub fn trace_id(mut self, id: impl Into<String>) -> Self {
        self.trace_id = Some(id.into());
        self
    }

    /// A property of your own on the event (it overrides the wrapper's of the same name).
    pub fn property(mut self, key: impl Into<String>, value: impl PropertyValue) -> Self {
        self.properties.insert(key.into(), value.into_value());
        self
    }

    /// A group the event belongs to.
    pub fn group(mut self, group_type: impl Into<String>, key: impl Into<String>) -> Self {
        self.groups.push((group_type.into(), key.into()));
        self
    }

    /// Leave out this call's prompt and output (the client's
    /// [`privacy_mode`](crate::ClientBuilder::privacy_mode) does it for every call).
    pub fn privacy_mode(mut self, on: bool) -> Self {
        self.privacy_mode = on;
        self
    }
}

/// An async-openai client whose chat completions are captured as `$ai_generation` events.
/// Cheap to clone when `C` is.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = posthog::test_util::FakePostHog::start().await;
/// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
/// // Wrap the async-openai client you already have; `chat` captures each completion.
/// let openai = posthog::openai::OpenAI::new(async_openai::Client::new(), client.clone());
/// # let _ = openai;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct OpenAI<C: Config = OpenAIConfig> {
    openai: async_openai::Client<C>,
    posthog: Client,
}

impl<C: Config> std::fmt::Debug for OpenAI<C> {
    /// The base URL only: never the provider's API key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAI")
            .field("api_base", &self.openai.config().api_base())
            .finish_non_exhaustive()
    }
}

impl<C: Config> OpenAI<C> {
    /// Wraps `openai`, capturing its calls with `posthog`.
    pub fn new(openai: async_openai::Client<C>, posthog: Client) -> Self {
        Self { openai, posthog }
    }

    /// The wrapped async-openai client, for calls that are not captured.
    pub fn openai(&self) -> &async_openai::Client<C> {
        &self.openai
    }

    /// Creates a chat completion (as `client.chat().create(request)`) and captures it as a
    /// `$ai_generation` event, answered or failed. A call cancelled by dropping its future is
    /// captured too, as an error `cancelled`.
    pub async fn chat(
        &self,
        request: CreateChatCompletionRequest,
        call: AiCall,
    ) -> Result<CreateChatCompletionResponse, OpenAIError> {
        let mut pending = Pending {
            wrapper: self,
            request: json_of(&request),
            call,
            started: Instant::now(),
            done: false,
        };
        let result = self.openai.chat().create(request).await;
        match &result {
            Ok(response) => {
                let response = json_of(response);
                pending.capture(Outcome::Answered(&response));
            }
            Err(err) => {
                let privacy = pending.capture_settings().privacy;
                pending.capture(Outcome::Failed {
                    status: status_of(err),
                    error: describe(err, privacy),
                });
            }
        }
        result
    }

    fn capture_settings(&self, call: &AiCall) -> Capture {
        let options = self.posthog.options();
        Capture {
            privacy: options.privacy_mode || call.privacy_mode,
            full: options.full_ai_capture,
        }
    }
}

/// A call on its way: captured once it ends, or as cancelled if its future is dropped first.
struct Pending<'a, C: Config> {
    wrapper: &'a OpenAI<C>,
    request: Value,
    call: AiCall,
    started: Instant,
    done: bool,
}

impl<C: Config> Pending<'_, C> {
    fn capture_settings(&self) -> Capture {
        self.wrapper.capture_settings(&self.call)
    }

    fn capture(&mut self, outcome: Outcome<'_>) {
        self.done = true;
        let capture = self.capture_settings();
        let event = generation::event(
            &self.request,
            outcome,
            self.started.elapsed(),
            self.wrapper.openai.config().api_base(),
            &self.call,
            capture,
        );
        let posthog = &self.wrapper.posthog;
        if capture.full {
            posthog.capture_ai(event);
        } else {
            posthog.capture(event);
        }
    }
}

impl<C: Config> Drop for Pending<'_, C> {
    fn drop(&mut self) {
        if !self.done {
            self.capture(Outcome::Failed {
                status: 0,
                error: "cancelled".into(),
            });
        }
    }
}

/// `value` as JSON, read back from its text, so an `f32` such as a temperature of `0.2` reads
/// as written (`to_value` would widen it to `0.20000000298023224`).
fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_vec(value)
        .ok()
        .and_then(|text| serde_json::from_slice(&text).ok())
        .unwrap_or(Value::Null)
}

/// The provider's HTTP status for a failed call; 0 when the call failed before an answer.
fn status_of(err: &OpenAIError) -> u16 {
    match err {
        OpenAIError::ApiError(api) => api.status_code.as_u16(),
        OpenAIError::Reqwest(err) => err.status().map_or(0, |s| s.as_u16()),
        _ => 0,
    }
}

/// `$ai_error`: the error's text, or under privacy a summary that cannot echo content (its
/// kind, status, and the provider's code, type and parameter when they are plain words).
fn describe(err: &OpenAIError, privacy: bool) -> String {
    if !privacy {
        return err.to_string();
    }
    let (kind, api) = match err {
        OpenAIError::ApiError(api) => ("ApiError", Some(api)),
        OpenAIError::Reqwest(_) => ("Reqwest", None),
        OpenAIError::JSONDeserialize(..) => ("JSONDeserialize", None),
        OpenAIError::StreamError(_) => ("StreamError", None),
        OpenAIError::InvalidArgument(_) => ("InvalidArgument", None),
        _ => ("OpenAIError", None),
    };
    let mut summary = kind.to_owned();
    let status = status_of(err);
    if status != 0 {
        summary.push_str(&format!(": {status}"));
    }
    if let Some(api) = api {
        let word = |w: &Option<String>| w.as_deref().filter(|w| is_word(w, 64)).map(str::to_owned);
        let mut codes = vec![word(&api.api_error.code), word(&api.api_error.r#type)];
        codes.dedup();
        for code in codes.into_iter().flatten() {
            summary.push(' ');
            summary.push_str(&code);
        }
        if let Some(param) = api.api_error.param.as_deref().filter(|p| is_word(p, 128)) {
            summary.push_str(&format!(" param={param}"));
        }
    }
    summary
}

/// A short identifier-like word (letters, digits, `_ . : - [ ]`), which cannot carry prose.
fn is_word(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-' | b'[' | b']')
        })
}
