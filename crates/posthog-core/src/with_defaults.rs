//! [`WithDefaults`]: an event serialised with default properties merged in, without copying
//! the event or inserting into its map.

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::{Event, Properties, time};

/// `event` as it serialises after `set_default` of every entry of `defaults`: the same bytes
/// (properties in key order, the event's own value wherever it sets a key), written in one
/// pass over both maps.
///
/// ```
/// use posthog_core::{Event, Properties, WithDefaults};
/// let event = Event::new("signed_up", "user-1").property("$lib", "mine");
/// let defaults: Properties = serde_json::from_str(r#"{"$lib": "posthog-rs", "$is_server": true}"#)?;
/// let text = serde_json::to_string(&WithDefaults::new(&event, &defaults))?;
/// assert_eq!(text, r#"{"event":"signed_up","distinct_id":"user-1","properties":{"$is_server":true,"$lib":"mine"}}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct WithDefaults<'a> {
    event: &'a Event,
    defaults: &'a Properties,
}

impl<'a> WithDefaults<'a> {
    /// `event` with `defaults` merged in where it leaves a key unset.
    pub fn new(event: &'a Event, defaults: &'a Properties) -> Self {
        Self { event, defaults }
    }
}

impl Serialize for WithDefaults<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // The field order and skips of `Event`'s derived `Serialize`.
        let event = self.event;
        let mut out = serializer.serialize_struct("Event", 5)?;
        match event.get_uuid() {
            Some(uuid) => out.serialize_field("uuid", &uuid)?,
            None => out.skip_field("uuid")?,
        }
        out.serialize_field("event", event.name())?;
        out.serialize_field("distinct_id", event.get_distinct_id())?;
        match event.get_timestamp() {
            Some(at) => out.serialize_field("timestamp", &time::format_timestamp(&at))?,
            None => out.skip_field("timestamp")?,
        }
        out.serialize_field(
            "properties",
            &Merged {
                own: event.properties(),
                defaults: self.defaults,
            },
        )?;
        out.end()
    }
}

/// Two sorted maps as one, the first winning on equal keys.
struct Merged<'a> {
    own: &'a Properties,
    defaults: &'a Properties,
}

impl Serialize for Merged<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_map(None)?;
        let mut own = self.own.iter().peekable();
        let mut defaults = self.defaults.iter().peekable();
        loop {
            let take_own = match (own.peek(), defaults.peek()) {
                (None, None) => break,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some((a, _)), Some((b, _))) => match a.as_str().cmp(b.as_str()) {
                    std::cmp::Ordering::Less => true,
                    std::cmp::Ordering::Greater => false,
                    std::cmp::Ordering::Equal => {
                        defaults.next(); // the event sets it
                        true
                    }
                },
            };
            let entry = if take_own {
                own.next()
            } else {
                defaults.next()
            };
            if let Some((key, value)) = entry {
                out.serialize_entry(key, value)?;
            }
        }
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    /// What the merged form must equal: the event after `set_default` of every default.
    fn applied(event: &Event, defaults: &Properties) -> Vec<u8> {
        let mut event = event.clone();
        for (k, v) in defaults {
            event.set_default(k, v.clone());
        }
        serde_json::to_vec(&event).expect("json")
    }

    fn props(pairs: &[(String, i64)]) -> Properties {
        pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
    }

    #[test]
    fn stamped_and_unstamped_events_match_set_default() {
        let defaults: Properties =
            serde_json::from_value(json!({"$lib": "posthog-rs", "$is_server": true, "app": "x"}))
                .expect("map");
        let mut stamped = Event::new("e", "u")
            .property("app", "mine")
            .property("zeta", 1)
            .group("org", "acme");
        stamped.stamp(Utc::now());
        for event in [Event::new("e", "u"), stamped] {
            let merged = serde_json::to_vec(&WithDefaults::new(&event, &defaults)).expect("json");
            assert_eq!(merged, applied(&event, &defaults));
        }
        let none = Properties::new();
        let plain = Event::new("e", "u").property("k", Value::Null);
        assert_eq!(
            serde_json::to_vec(&WithDefaults::new(&plain, &none)).expect("json"),
            serde_json::to_vec(&plain).expect("json")
        );
    }

    proptest! {
        #[test]
        fn merging_equals_set_default(
            own in proptest::collection::vec(("[$a-d]{1,3}", any::<i64>()), 0..8),
            defaults in proptest::collection::vec(("[$a-d]{1,3}", any::<i64>()), 0..8),
        ) {
            let mut event = Event::new("e", "u");
            for (k, v) in &own {
                event = event.property(k.clone(), *v);
            }
            let defaults = props(&defaults);
            let merged = serde_json::to_vec(&WithDefaults::new(&event, &defaults)).expect("json");
            prop_assert_eq!(merged, applied(&event, &defaults));
        }
    }
}
