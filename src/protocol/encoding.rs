//! Content-Encodings of an upload body: the four algorithms systemd knows (journal-upload's
//! `Compression=`, systemd ≥ 258) in the formats systemd's own `decompress_blob()` reads, and a
//! name no server knows.

use std::io::Write;

/// A body's Content-Encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Encoding {
    Gzip,
    Xz,
    /// systemd's LZ4 blob: the uncompressed size as a little-endian u64, then one raw LZ4 block.
    Lz4,
    Zstd,
    /// `x-journal-lab-unknown`: the body is sent as it is, under a name no server implements.
    Unknown,
}

impl Encoding {
    pub const ALL: [Encoding; 5] = [
        Encoding::Gzip,
        Encoding::Xz,
        Encoding::Lz4,
        Encoding::Zstd,
        Encoding::Unknown,
    ];

    /// The header value, also the name scenarios use.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Xz => "xz",
            Encoding::Lz4 => "lz4",
            Encoding::Zstd => "zstd",
            Encoding::Unknown => "x-journal-lab-unknown",
        }
    }

    pub fn named(name: &str) -> Option<Encoding> {
        Encoding::ALL.into_iter().find(|e| e.name() == name)
    }

    /// `body` encoded.
    pub fn encode(self, body: &[u8]) -> Vec<u8> {
        match self {
            Encoding::Gzip => {
                let mut encoder =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                encoder.write_all(body).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
            Encoding::Xz => {
                // CRC64, as xz(1) writes by default (systemd's own journal blobs use none).
                let mut encoder = liblzma::write::XzEncoder::new(Vec::new(), 6);
                encoder.write_all(body).expect("writing to memory");
                encoder.finish().expect("writing to memory")
            }
            Encoding::Lz4 => {
                let mut out = (body.len() as u64).to_le_bytes().to_vec();
                out.extend(lz4_flex::block::compress(body));
                out
            }
            Encoding::Zstd => zstd::bulk::compress(body, 3).expect("compressing in memory"),
            Encoding::Unknown => body.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each encoding decodes back to the body with an independent decoder.
    #[test]
    fn every_encoding_decodes_back() {
        let body = crate::protocol::encode(&[vec![crate::protocol::Field::new(
            "MESSAGE",
            "journal-lab ".repeat(200),
        )]]);
        for encoding in Encoding::ALL {
            let encoded = encoding.encode(&body);
            let decoded = match encoding {
                Encoding::Gzip => {
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(&encoded[..]),
                        &mut out,
                    )
                    .unwrap();
                    out
                }
                Encoding::Xz => {
                    let mut out = Vec::new();
                    std::io::Read::read_to_end(
                        &mut liblzma::read::XzDecoder::new(&encoded[..]),
                        &mut out,
                    )
                    .unwrap();
                    out
                }
                Encoding::Lz4 => {
                    let size = u64::from_le_bytes(encoded[..8].try_into().unwrap());
                    lz4_flex::block::decompress(&encoded[8..], size as usize).unwrap()
                }
                Encoding::Zstd => zstd::bulk::decompress(&encoded, body.len()).unwrap(),
                Encoding::Unknown => encoded.clone(),
            };
            assert_eq!(decoded, body, "{encoding:?}");
            if encoding != Encoding::Unknown {
                assert!(encoded.len() < body.len() / 4, "{encoding:?} compresses");
            }
            assert_eq!(Encoding::named(encoding.name()), Some(encoding));
        }
    }
}
