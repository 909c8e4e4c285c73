//! [`ContentEncoding`]: how a capture-v1 body is compressed (protocol.md §1.4). `/batch/`
//! reads gzip only; v1 also reads zlib-wrapped deflate, Brotli (feature `br`) and Zstandard
//! (feature `zstd`).

use std::io::Write;

/// A request-body encoding.
///
/// ```
/// use posthog_transport::ContentEncoding;
/// assert_eq!(ContentEncoding::Gzip.header_value(), Some("gzip"));
/// let body = ContentEncoding::Gzip.encode(b"{\"batch\": []}", 6)?.expect("compressed");
/// assert_eq!(&body[..2], &[0x1f, 0x8b]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ContentEncoding {
    /// Sent as is.
    Identity,
    /// `gzip` (the default).
    #[default]
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 1950), as the server expects — not raw deflate.
    Deflate,
    /// `br` (feature `br`).
    #[cfg(feature = "br")]
    Brotli,
    /// `zstd` (feature `zstd`).
    #[cfg(feature = "zstd")]
    Zstd,
}

impl ContentEncoding {
    /// The `Content-Encoding` value; `None` for [`ContentEncoding::Identity`].
    pub fn header_value(self) -> Option<&'static str> {
        match self {
            ContentEncoding::Identity => None,
            ContentEncoding::Gzip => Some("gzip"),
            ContentEncoding::Deflate => Some("deflate"),
            #[cfg(feature = "br")]
            ContentEncoding::Brotli => Some("br"),
            #[cfg(feature = "zstd")]
            ContentEncoding::Zstd => Some("zstd"),
        }
    }

    /// `body` encoded; `None` for identity. `level` (0–9) applies to gzip and deflate, the
    /// zlib-family encodings; brotli and zstd use their own fixed levels.
    pub fn encode(self, body: &[u8], level: u32) -> std::io::Result<Option<Vec<u8>>> {
        let out = match self {
            ContentEncoding::Identity => return Ok(None),
            ContentEncoding::Gzip => crate::gzip::gzip(body, level)?,
            ContentEncoding::Deflate => {
                let mut encoder = flate2::write::ZlibEncoder::new(
                    Vec::with_capacity(body.len() / 4 + 64),
                    flate2::Compression::new(level.min(9)),
                );
                encoder.write_all(body)?;
                encoder.finish()?
            }
            #[cfg(feature = "br")]
            ContentEncoding::Brotli => {
                let mut out = Vec::with_capacity(body.len() / 4 + 64);
                {
                    let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                    writer.write_all(body)?;
                    writer.flush()?;
                }
                out
            }
            #[cfg(feature = "zstd")]
            ContentEncoding::Zstd => zstd::bulk::compress(body, 3)?,
        };
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const BODY: &[u8] =
        br#"{"batch":[{"event":"e","properties":{"a":"aaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}]}"#;

    #[test]
    fn gzip_and_zlib_deflate_round_trip() {
        let gz = ContentEncoding::Gzip
            .encode(BODY, crate::gzip::DEFAULT_LEVEL)
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, BODY);
        let zlib = ContentEncoding::Deflate
            .encode(BODY, crate::gzip::DEFAULT_LEVEL)
            .unwrap()
            .unwrap();
        assert_eq!(zlib[0], 0x78, "zlib header, not raw deflate");
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, BODY);
        assert_eq!(
            ContentEncoding::Identity
                .encode(BODY, crate::gzip::DEFAULT_LEVEL)
                .unwrap(),
            None
        );
    }

    #[cfg(feature = "br")]
    #[test]
    fn brotli_round_trips() {
        let br = ContentEncoding::Brotli
            .encode(BODY, crate::gzip::DEFAULT_LEVEL)
            .unwrap()
            .unwrap();
        let mut out = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, BODY);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_round_trips() {
        let z = ContentEncoding::Zstd
            .encode(BODY, crate::gzip::DEFAULT_LEVEL)
            .unwrap()
            .unwrap();
        assert_eq!(zstd::bulk::decompress(&z, 1 << 20).unwrap(), BODY);
    }
}
