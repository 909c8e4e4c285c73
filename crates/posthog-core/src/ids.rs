//! Event ids: UUIDv7, lower-case and hyphenated on the wire.
//!
//! `Uuid::now_v7()` asks the operating system for randomness on every call (a system call,
//! ~0.5 µs). Capture is a hot path, so ids here take the 48-bit millisecond timestamp from the
//! clock and the 74 random bits from a per-thread xorshift generator seeded once from the OS.
//! Ids stay unique (PostHog de-duplicates on them) and time-ordered to the millisecond; they
//! are not meant to be unpredictable.

use std::cell::Cell;

use uuid::{Builder, Uuid};

thread_local! {
    static STATE: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // One OS-random v4 per thread provides the seed.
    let bytes = *Uuid::new_v4().as_bytes();
    let mut seed = [0u8; 8];
    seed.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(seed) | 1
}

fn next_u64() -> u64 {
    STATE.with(|state| {
        // xorshift64*
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

/// A fresh UUIDv7 (time-ordered, so PostHog can de-duplicate resent events by id).
pub fn new_uuid() -> Uuid {
    uuid_at_millis(unix_millis())
}

/// Milliseconds since the Unix epoch, from the system clock.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
fn unix_millis() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Milliseconds since the Unix epoch, from JavaScript's `Date` (`std::time::SystemTime`
/// panics on `wasm32-unknown-unknown`).
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
fn unix_millis() -> u64 {
    chrono::Utc::now().timestamp_millis().max(0) as u64
}

/// A fresh UUIDv7 for a time the caller has already read, in milliseconds since the Unix
/// epoch (one clock read per event instead of two).
pub fn uuid_at_millis(millis: u64) -> Uuid {
    let mut random = [0u8; 10];
    random[..8].copy_from_slice(&next_u64().to_le_bytes());
    random[8..].copy_from_slice(&next_u64().to_le_bytes()[..2]);
    Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    #[test]
    fn ids_are_v7_and_lowercase() {
        let id = super::new_uuid();
        assert_eq!(id.get_version_num(), 7);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        let text = id.to_string();
        assert_eq!(text, text.to_lowercase());
        assert_eq!(text.len(), 36);
    }

    #[test]
    fn ids_are_unique_across_threads() {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                std::thread::spawn(|| (0..50_000).map(|_| super::new_uuid()).collect::<Vec<_>>())
            })
            .collect();
        let mut all = HashSet::new();
        for h in handles {
            for id in h.join().unwrap() {
                assert!(all.insert(id), "duplicate id");
            }
        }
        assert_eq!(all.len(), 200_000);
    }

    #[test]
    fn ids_carry_the_current_millisecond() {
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let (secs, nanos) = super::new_uuid().get_timestamp().unwrap().to_unix();
        let millis = secs * 1000 + u64::from(nanos) / 1_000_000;
        assert!(millis >= before && millis <= before + 1000);
    }
}
