//! Whether the capturing thread is capturing back to back. A thread that is (a loop, a busy
//! handler) serialises its own events: its caches are warm, and it frees the event's
//! allocations itself, which is what a thread-caching allocator such as glibc's rewards (when
//! the worker freed them instead, the producer's next allocations went to the shared arena,
//! under its lock). An occasional capture, with cold caches, hands its event to the worker,
//! which serialises a batch of them at once.

use std::cell::Cell;

/// The largest gap between two captures on one thread, in microseconds, that still counts as
/// back to back.
const BACK_TO_BACK_MICROS: i64 = 50;

thread_local! {
    /// When this thread last captured, in microseconds since the Unix epoch.
    static PREVIOUS: Cell<i64> = const { Cell::new(i64::MIN) };
}

/// Notes a capture at `now_micros` on this thread; `true` when the previous one was less than
/// [`BACK_TO_BACK_MICROS`] before it.
pub(crate) fn back_to_back(now_micros: i64) -> bool {
    PREVIOUS.with(|previous| {
        let gap = now_micros.saturating_sub(previous.replace(now_micros));
        (0..BACK_TO_BACK_MICROS).contains(&gap)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_captures_are_back_to_back_and_spaced_or_backward_ones_are_not() {
        std::thread::spawn(|| {
            assert!(!back_to_back(1_000_000), "the first capture of a thread");
            assert!(back_to_back(1_000_010));
            assert!(back_to_back(1_000_010), "the same microsecond");
            assert!(!back_to_back(1_000_010 + BACK_TO_BACK_MICROS));
            assert!(!back_to_back(1_000_000), "a clock that went back");
            assert!(back_to_back(1_000_000 + BACK_TO_BACK_MICROS - 1));
        })
        .join()
        .expect("on a fresh thread");
    }

    #[test]
    fn each_thread_keeps_its_own_pace() {
        std::thread::spawn(|| {
            assert!(!back_to_back(7_000_000));
            std::thread::spawn(|| assert!(!back_to_back(7_000_001), "another thread"))
                .join()
                .expect("inner thread");
            assert!(back_to_back(7_000_002));
        })
        .join()
        .expect("outer thread");
    }
}
