//! The SDK-owned properties every event carries where it does not set them.

use posthog_core::{Event, Properties, WithDefaults};

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
