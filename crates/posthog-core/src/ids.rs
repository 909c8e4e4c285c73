//! Event ids: UUIDv7, lower-case and hyphenated on the wire.

use uuid::Uuid;

/// A fresh UUIDv7 (time-ordered, so PostHog can de-duplicate resent events by id).
pub fn new_uuid() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_v7_and_lowercase() {
        let id = super::new_uuid();
        assert_eq!(id.get_version_num(), 7);
        let text = id.to_string();
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.len(), 36);
    }
}
