//! Batches compressed while they wait for a sending slot: when the server is slow or down,
//! the events the worker holds take about a tenth of the memory (deflate at its fastest
//! level), and are inflated again just before their attempt. The body itself is built at
//! each attempt as before (with a fresh `sent_at`), so nothing on the wire changes.

use std::io::{Read, Write};

use bytes::Bytes;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

use super::batch::Encoded;

/// The JSON of a batch's events, deflated back to back, and where each one ends.
#[derive(Debug)]
pub(crate) struct Packed {
    deflated: Vec<u8>,
    lens: Vec<u32>,
    plain: usize,
}

impl Packed {
    /// Bytes held while packed.
    pub(crate) fn held(&self) -> usize {
        self.deflated.len() + self.lens.len() * std::mem::size_of::<u32>()
    }

    /// Bytes of JSON once unpacked.
    pub(crate) fn plain(&self) -> usize {
        self.plain
    }
}

/// Moves the JSON of `events` into one deflated block (each keeps its id and an
/// empty body until [`unpack`]). `None` when an event is too large to index or compression
/// fails; the events are then left as they were.
pub(crate) fn pack(events: &mut [Encoded]) -> Option<Packed> {
    let plain: usize = events.iter().map(|e| e.bytes.len()).sum();
    let lens = events
        .iter()
        .map(|e| u32::try_from(e.bytes.len()).ok())
        .collect::<Option<Vec<u32>>>()?;
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(plain / 6), Compression::fast());
    for event in events.iter() {
        encoder.write_all(&event.bytes).ok()?;
    }
    let deflated = encoder.finish().ok()?;
    for event in events.iter_mut() {
        event.bytes = Bytes::new();
    }
    Some(Packed {
        deflated,
        lens,
        plain,
    })
}

/// Gives each of `events` its JSON back from `packed` (one allocation, shared by the batch).
pub(crate) fn unpack(packed: Packed, events: &mut [Encoded]) -> std::io::Result<()> {
    if packed.lens.len() != events.len() {
        return Err(std::io::Error::other(
            "packed batch does not match its events",
        ));
    }
    let mut plain = Vec::with_capacity(packed.plain);
    DeflateDecoder::new(&packed.deflated[..]).read_to_end(&mut plain)?;
    if plain.len() != packed.plain {
        return Err(std::io::Error::other(
            "packed batch inflated to another size",
        ));
    }
    let plain = Bytes::from(plain);
    let mut at = 0;
    for (event, len) in events.iter_mut().zip(&packed.lens) {
        let end = at + *len as usize;
        event.bytes = plain.slice(at..end);
        at = end;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(n: usize) -> Vec<Encoded> {
        (0..n)
            .map(|i| Encoded {
                id: Some(i as u128),
                bytes: Bytes::from(format!(
                    r#"{{"event":"order_placed","distinct_id":"user-{i}","properties":{{"i":{i}}}}}"#
                )),
            })
            .collect()
    }

    #[test]
    fn a_packed_batch_unpacks_to_the_same_events_in_less_memory() {
        let original = events(100);
        let mut batch = original.clone();
        let packed = pack(&mut batch).expect("packs");
        assert!(batch.iter().all(|e| e.bytes.is_empty()));
        assert!(
            packed.held() * 3 < packed.plain(),
            "{} held for {} bytes of JSON",
            packed.held(),
            packed.plain()
        );
        unpack(packed, &mut batch).expect("unpacks");
        for (a, b) in original.iter().zip(&batch) {
            assert_eq!(a.id, b.id);
            assert_eq!(a.bytes, b.bytes);
        }
    }

    #[test]
    fn a_mismatched_batch_is_an_error_not_a_panic() {
        let mut batch = events(3);
        let packed = pack(&mut batch).expect("packs");
        let mut fewer = events(2);
        assert!(unpack(packed, &mut fewer).is_err());
        let mut empty: Vec<Encoded> = Vec::new();
        let packed = pack(&mut empty).expect("an empty batch packs");
        unpack(packed, &mut empty).expect("and unpacks");
    }
}
