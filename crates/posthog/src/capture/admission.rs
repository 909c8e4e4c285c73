//! Admission, shared by every capture path: validation, context, trace ids, the SDK-owned
//! properties and the `before_send` hooks. An event refused here is counted and reported.

use chrono::{DateTime, Utc};
use posthog_core::Event;
use uuid::Uuid;

use crate::Client;
use crate::hooks::{self, HookOutcome};
use crate::report::report;
use crate::report::{Counters, DeliveryError, DeliveryErrorKind};

impl Client {
    /// Counts and reports one event refused before it was queued.
    pub(crate) fn drop_event(&self, kind: DeliveryErrorKind, uuid: Option<Uuid>, message: String) {
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
    pub(crate) fn refuse_deep(&self, mut event: Event) -> Option<Event> {
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
}
