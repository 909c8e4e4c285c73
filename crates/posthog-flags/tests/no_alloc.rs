//! Evaluating a pure rollout flag allocates nothing (DESIGN.md: the hot path stays
//! allocation-free). A counting global allocator measures it on this thread.

// A global allocator is the one place this workspace needs `unsafe`: it only counts and
// forwards to the system allocator.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use posthog_flags::{EvalContext, FlagSet, FlagValueRef};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn rollout_and_multivariate_evaluation_do_not_allocate() {
    let set = FlagSet::from_slice(
        br#"{"flags": [
          {"key": "rollout", "active": true, "filters": {"groups": [{"rollout_percentage": 50}]}},
          {"key": "mv", "active": true, "filters": {"groups": [{"rollout_percentage": 100}],
            "multivariate": {"variants": [{"key": "a", "rollout_percentage": 50}, {"key": "b", "rollout_percentage": 50}]}}}
        ]}"#,
    )
    .unwrap();
    let ctx = EvalContext::new("user-123");
    let mut seen = None;
    let n = allocations_during(|| {
        seen = set.evaluate("rollout", &ctx).and_then(|e| e.value());
        let _ = set.evaluate("mv", &ctx);
    });
    assert_eq!(seen, Some(FlagValueRef::Bool(true)));
    assert_eq!(n, 0, "evaluation allocated {n} times");
}
