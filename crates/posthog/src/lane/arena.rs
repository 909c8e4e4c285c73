//! [`Arena`]: where events are serialised (on the capturing thread for `/batch/`, see
//! [`local_json`], else on the worker). Events are written back to back into shared
//! chunks and handed out as [`Bytes`] views of their own bytes, so a queued event costs its
//! JSON and no more: no allocation of its own, and no spare capacity of a `Vec` that grew by
//! doubling while it was written (which held up to twice the JSON per event). A chunk is freed
//! when the last event in it is.

use std::cell::RefCell;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

thread_local! {
    /// The arena of a capturing thread.
    static LOCAL: RefCell<Arena> = RefCell::new(Arena::default());
}

/// `value` as JSON in this thread's arena: how a capture serialises its event on the calling
/// thread, without an allocation of its own.
pub(crate) fn local_json<T: Serialize + ?Sized>(value: &T) -> Result<Bytes, serde_json::Error> {
    with_local(|arena| arena.json(value))
}

/// Runs `f` with this thread's arena (a one-off arena when it is in use or gone).
pub(crate) fn with_local<R>(f: impl FnOnce(&mut Arena) -> R) -> R {
    let mut f = Some(f);
    let mut run = |arena: &mut Arena| f.take().map(|f| f(arena));
    LOCAL
        .try_with(|local| match local.try_borrow_mut() {
            Ok(mut arena) => run(&mut arena),
            // Serialising cannot capture, but a nested use would get a one-off arena.
            Err(_) => run(&mut Arena::default()),
        })
        .ok()
        .flatten()
        .or_else(|| run(&mut Arena::default()))
        .unwrap_or_else(|| unreachable!("f runs once"))
}

/// Size of a fresh chunk.
const CHUNK: usize = 64 * 1024;
/// Below this much room, a new chunk is started before writing (an event that outgrows the
/// room left still works: the chunk is reallocated with its bytes moved).
const MIN_ROOM: usize = 4 * 1024;

/// Chunks of serialised events.
#[derive(Debug, Default)]
pub(crate) struct Arena {
    chunk: BytesMut,
}

impl Arena {
    /// `value` as JSON, in the current chunk.
    pub(crate) fn json<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<Bytes, serde_json::Error> {
        self.write(|out| serde_json::to_writer(out, value))
    }

    /// What `write` writes, in the current chunk (nothing of it when it fails).
    pub(crate) fn write<E>(
        &mut self,
        write: impl FnOnce(bytes::buf::Writer<&mut BytesMut>) -> Result<(), E>,
    ) -> Result<Bytes, E> {
        self.make_room();
        match write((&mut self.chunk).writer()) {
            Ok(()) => Ok(self.chunk.split().freeze()),
            Err(err) => {
                self.chunk.clear();
                Err(err)
            }
        }
    }

    fn make_room(&mut self) {
        if self.chunk.capacity() < MIN_ROOM {
            // The written part was split off, so this starts a new chunk (the old one lives
            // on in the events that point into it).
            self.chunk = BytesMut::with_capacity(CHUNK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_share_a_chunk_and_keep_their_own_bytes() {
        let mut arena = Arena::default();
        let a = arena.json(&json!({"n": 1})).expect("json");
        let b = arena.json(&json!({"n": 2, "s": "x"})).expect("json");
        assert_eq!(&a[..], br#"{"n":1}"#);
        assert_eq!(&b[..], br#"{"n":2,"s":"x"}"#);
        // Back to back in one allocation.
        assert_eq!(a.as_ptr().wrapping_add(a.len()), b.as_ptr());
        let c = arena
            .write(|mut out| std::io::Write::write_all(&mut out, b"[1]"))
            .expect("write");
        assert_eq!(&c[..], b"[1]");
        drop((a, b));
        assert_eq!(&c[..], b"[1]", "an event outlives its neighbours");
    }

    #[test]
    fn large_events_and_full_chunks_start_new_chunks() {
        let mut arena = Arena::default();
        let big = "y".repeat(3 * CHUNK);
        let events: Vec<Bytes> = (0..200)
            .map(|i| {
                let text = if i == 100 { big.as_str() } else { "small" };
                arena.json(&json!({ "i": i, "t": text })).expect("json")
            })
            .collect();
        for (i, e) in events.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_slice(e).expect("valid");
            assert_eq!(v["i"], i);
        }
        assert_eq!(events[100].len(), big.len() + r#"{"i":100,"t":""}"#.len());
    }

    #[test]
    fn a_failed_write_leaves_nothing_behind() {
        struct Fails;
        impl Serialize for Fails {
            fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
                Err(serde::ser::Error::custom("no"))
            }
        }
        let mut arena = Arena::default();
        let _ = arena.json(&json!({"partial": [1, 2, 3]})).expect("json");
        let failed = arena.json(&(1, Fails));
        assert!(failed.is_err());
        let next = arena.json(&json!("after")).expect("json");
        assert_eq!(&next[..], br#""after""#, "no bytes of the failed write");
    }
}
