//! Capture: the calls that queue events ([`Client::capture`], the identity calls,
//! `capture_immediate`), admission ([`admission`]) and the SDK-owned properties
//! ([`defaults`]). The events themselves travel on the delivery lane (`lane/`) by the events route
//! ([`route`]).

mod admission;
mod defaults;
mod pace;
mod route;

pub(crate) use defaults::Defaults;
pub(crate) use route::{Envelope, EventItem, EventsRoute};

/// An admitted event as the events lane takes it: to serialise there, or serialised here.
enum Hand {
    Item(EventItem),
    Encoded(Uuid, bytes::Bytes),
}

use chrono::{DateTime, Utc};
use posthog_core::{Event, PersonProperties, Properties};
use uuid::Uuid;

use crate::Client;
use crate::error::Error;
use crate::lane::Refused;
use crate::report::{Counters, DeliveryError, DeliveryErrorKind, report};

impl Client {
    /// Captures an event; returns its uuid, or `None` when it was not queued (disabled, opted
    /// out, invalid, dropped by a hook, or the queue was full — each counted and, when data is
    /// lost, reported through `on_error`). Never blocks and never does I/O (C-CAPTURE).
    ///
    /// An event with an empty distinct id takes the active [`Context`](crate::context::Context)'s;
    /// inside a context without one it is sent personless.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let uuid = client.capture(posthog::Event::new("order_placed", "user-123").property("amount", 42));
    /// assert!(uuid.is_some());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "order_placed");
    /// # Ok(()) }
    /// ```
    pub fn capture(&self, event: Event) -> Option<Uuid> {
        let now = Utc::now();
        let event = self.admit(event, now)?;
        let add_defaults = !self.defaults_set_at_admission();
        self.enqueue(event, |event| self.event_message(event, add_defaults, now))
    }

    /// What goes on the events lane for an admitted event. An occasional capture hands over
    /// the event itself, serialised by the lane's worker off this thread. A thread capturing
    /// back to back ([`pace::back_to_back`]), or any capture while the worker is behind (a
    /// batch's worth already waiting, as in a burst), serialises a `/batch/` event here
    /// instead, into this thread's arena: the lane then carries bytes that the worker only
    /// batches, rather than event maps it would serialise and free across threads, so it
    /// catches up, the queue does not overflow, and a queued event holds its JSON only.
    /// (Capture v1 events always go as they are.)
    fn event_message(
        &self,
        event: Event,
        add_defaults: bool,
        now: DateTime<Utc>,
    ) -> Result<Hand, String> {
        let v1 = self.inner.options.capture_mode == crate::CaptureMode::V1;
        let serialise_here = !v1
            && (pace::back_to_back(now.timestamp_micros())
                || self.inner.events.as_ref().is_some_and(|lane| lane.behind()));
        if !serialise_here {
            return Ok(Hand::Item(EventItem::Event {
                event: Box::new(event),
                add_defaults,
            }));
        }
        let uuid = event.get_uuid().unwrap_or_default();
        crate::lane::arena::local_json(&self.inner.defaults.merged(&event, add_defaults))
            .map(|json| Hand::Encoded(uuid, json))
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
            Ok(Hand::Item(EventItem::Exception {
                event: Box::new(event),
                trace: Box::new(trace),
                add_defaults,
            }))
        })
    }

    /// Hands an admitted event to the events lane as `wrap` makes it (an `Err`: the event
    /// could not be serialised, which is counted and reported).
    fn enqueue(
        &self,
        event: Event,
        wrap: impl FnOnce(Event) -> Result<Hand, String>,
    ) -> Option<Uuid> {
        let uuid = event.get_uuid();
        if self.inner.options.debug {
            tracing::info!(target: "posthog", event = event.name(), distinct_id = event.get_distinct_id(), uuid = ?uuid, "captured");
        }
        if !self.inner.options.send {
            return uuid;
        }
        let lane = self.inner.events.as_ref()?;
        let (id, json) = match wrap(event) {
            Ok(Hand::Item(item)) => match lane.try_push(item) {
                Ok(()) => return uuid,
                Err(Refused::Closed(_)) => return self.shut_out(uuid),
                // The queue is full: the event waits serialised, within `max_pending_bytes`.
                Err(Refused::Full(item)) => {
                    let id = item.uuid();
                    let v1 = self.inner.options.capture_mode == crate::CaptureMode::V1;
                    let (defaults, in_app) = (&self.inner.defaults, &self.inner.options.in_app);
                    match crate::lane::arena::with_local(|arena| {
                        item.encode(arena, defaults, in_app, v1)
                    }) {
                        Ok(json) => (id, json),
                        Err(message) => {
                            self.drop_event(DeliveryErrorKind::Invalid, uuid, message);
                            return None;
                        }
                    }
                }
            },
            Ok(Hand::Encoded(id, json)) => (id, json),
            Err(message) => {
                self.drop_event(DeliveryErrorKind::Invalid, uuid, message);
                return None;
            }
        };
        match lane.push_encoded(Some(id.as_u128()), json) {
            Ok(()) => uuid,
            Err(Refused::Full(())) => {
                let message = format!(
                    "queue full ({} events waiting and max_pending_bytes ({}) reached); event dropped",
                    self.inner.options.max_queue_size, self.inner.options.max_pending_bytes
                );
                self.drop_event(DeliveryErrorKind::QueueFull, uuid, message);
                None
            }
            Err(Refused::Closed(())) => self.shut_out(uuid),
        }
    }

    /// Reports an event that arrived after the lane stopped taking events (the client is
    /// shutting down); always `None`.
    fn shut_out(&self, uuid: Option<Uuid>) -> Option<Uuid> {
        let message = "event captured while the client shut down; dropped".to_owned();
        self.drop_event(DeliveryErrorKind::Abandoned, uuid, message);
        None
    }

    /// Captures and delivers one event now, returning the delivery outcome (C-CAPTURE.10):
    /// for scripts and serverless handlers.
    ///
    /// Admission is `capture`'s (C-BEFORE-SEND.5): `Ok(None)` when the event was not sent
    /// because the client is disabled or opted out, the event is invalid, or a `before_send`
    /// hook dropped it or failed (a failing hook is counted and reported through `on_error`,
    /// never returned as an error, C-BEFORE-SEND.7). `Ok(Some(uuid))` once PostHog accepted
    /// it; `Err` when the delivery failed (also counted as failed and reported).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// // Sent now, in its own request: for scripts and serverless handlers.
    /// let uuid = client.capture_immediate(posthog::Event::new("job_done", "worker-1")).await?;
    /// assert!(uuid.is_some());
    /// # assert_eq!(server.events().len(), 1);
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// use posthog::PersonProperties;
    /// client.identify(
    ///     "user-123",
    ///     PersonProperties::new().set("email", "ada@example.com").set_once("first_seen", "2026-12-01"),
    /// );
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$identify");
    /// # Ok(()) }
    /// ```
    pub fn identify(
        &self,
        distinct_id: impl Into<String>,
        person: PersonProperties,
    ) -> Option<Uuid> {
        self.capture_built(Event::identify(distinct_id, person))
    }

    /// `$set`: overwrites person properties (C-IDENTIFY.5).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let mut properties = posthog::Properties::new();
    /// properties.insert("plan".into(), "pro".into());
    /// client.set("user-123", properties);
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$set"]["plan"], "pro");
    /// # Ok(()) }
    /// ```
    pub fn set(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.capture_built(Event::set_person(distinct_id, properties))
    }

    /// `$set_once`: sets person properties that are still unset (C-IDENTIFY.5).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let mut properties = posthog::Properties::new();
    /// properties.insert("signup_source".into(), "newsletter".into());
    /// client.set_once("user-123", properties);
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$set_once"]["signup_source"], "newsletter");
    /// # Ok(()) }
    /// ```
    pub fn set_once(&self, distinct_id: impl Into<String>, properties: Properties) -> Option<Uuid> {
        self.capture_built(Event::set_person_once(distinct_id, properties))
    }

    /// `$create_alias`: links `new_id` to the person known as `previous_id`; the event's
    /// distinct id is `previous_id` (C-ALIAS).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// // The anonymous visitor "anon-42" signed up as "user-123".
    /// client.alias("anon-42", "user-123");
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["event"], "$create_alias");
    /// # Ok(()) }
    /// ```
    pub fn alias(&self, previous_id: impl Into<String>, new_id: impl Into<String>) -> Option<Uuid> {
        self.capture_built(Event::alias(previous_id, new_id))
    }

    /// `$groupidentify`: creates or updates a group's properties; the event's distinct id is
    /// `$<type>_<key>` (C-GROUP-IDENTIFY).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// let mut properties = posthog::Properties::new();
    /// properties.insert("name".into(), "Acme".into());
    /// properties.insert("employees".into(), 250.into());
    /// client.group_identify("company", "acme", properties);
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["distinct_id"], "$company_acme");
    /// # Ok(()) }
    /// ```
    pub fn group_identify(
        &self,
        group_type: impl Into<String>,
        group_key: impl Into<String>,
        properties: Properties,
    ) -> Option<Uuid> {
        self.capture_built(Event::group_identify(group_type, group_key, properties))
    }

    /// [`Client::group_identify`] with an explicit distinct id (C-GROUP-IDENTIFY.3).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.group_identify_as("user-123", "company", "acme", posthog::Properties::new());
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["distinct_id"], "user-123");
    /// # Ok(()) }
    /// ```
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
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.pageview("user-123", "https://example.com/pricing");
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$current_url"], "https://example.com/pricing");
    /// # Ok(()) }
    /// ```
    pub fn pageview(&self, distinct_id: impl Into<String>, url: impl Into<String>) -> Option<Uuid> {
        self.capture(Event::pageview(distinct_id, url))
    }

    /// `$screen` with `$screen_name`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = posthog::test_util::FakePostHog::start().await;
    /// # let client = posthog::Client::builder("phc_project_token").host(server.url()).build()?;
    /// client.screen("user-123", "Settings");
    /// # client.flush().await;
    /// # assert_eq!(server.events()[0]["properties"]["$screen_name"], "Settings");
    /// # Ok(()) }
    /// ```
    pub fn screen(
        &self,
        distinct_id: impl Into<String>,
        screen_name: impl Into<String>,
    ) -> Option<Uuid> {
        self.capture(Event::screen(distinct_id, screen_name))
    }
}
