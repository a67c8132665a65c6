//! The payloads a `send` step can post, each documented, each bounded. Every entry a payload
//! holds carries `JOURNAL_LAB_RUN` (the run) and `JOURNAL_LAB_SEND` (this send's token), so that
//! what a server stored of it can be found again, and nothing else is mistaken for it.

use std::time::Duration;

use super::encoding::Encoding;
use super::{binary_field, encode, encode_entry, text_field, Entry, Field};

/// What a correct server does with a payload; the checks judge by it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// Valid export: answered 2xx and stored with every field intact (`server-accepts-valid-export`).
    Stored,
    /// Malformed export: answered 4xx and nothing of it stored (`server-rejects-malformed`).
    Refused,
    /// A request cut short: whatever the answer, nothing of it stored (`server-rejects-malformed`).
    NotStored,
    /// Unusual but not malformed (large, slow, compressed, numerous): what the server did is
    /// reported as observed, and it must survive it (`server-survives-hostile-input`).
    Observed,
}

/// A payload of the catalog.
#[derive(Debug)]
pub struct Payload {
    pub name: &'static str,
    pub description: &'static str,
    pub expect: Expect,
}

/// Longest a slow sender drips or idle connections are held, in seconds.
pub const MAX_PACE: u64 = 60;
/// Most idle connections a send may open.
pub const MAX_CONNECTIONS: u32 = 200;
/// Entries in a `*-chunked` body.
pub const CHUNKED_ENTRIES: usize = 200;
/// HTTP chunk size of the `*-chunked` bodies.
pub const CHUNK_SIZE: usize = 4096;

const fn payload(name: &'static str, expect: Expect, description: &'static str) -> Payload {
    Payload {
        name,
        description,
        expect,
    }
}

use Expect::*;

/// Every payload, in the order docs/scenarios.md lists them.
pub const CATALOG: &[Payload] = &[
    payload("valid-text", Stored, "One entry of text fields (UTF-8, a tab), as journalctl -o export writes it."),
    payload("valid-binary", Stored, "One entry with a binary field (newline, control bytes, NUL, invalid UTF-8) with its exact length prefix."),
    payload("wrong-content-type", Refused, "valid-text under `Content-Type: text/plain`."),
    payload("invalid-field-name", Refused, "An entry with a field named `bad-name` (lower case, a dash)."),
    payload("binary-short-length", Refused, "A binary field whose length prefix says 4 bytes where 10 follow."),
    payload("binary-long-length", Refused, "A binary field whose length prefix says 4096 bytes where 10 follow, at the end of the body."),
    payload("missing-trailing-newline", Refused, "An entry whose last field has no newline and no empty line after it."),
    payload("announced-larger", NotStored, "A complete entry under a Content-Length 1024 bytes larger than the body; the connection closes after the body."),
    payload("nul-in-text", Observed, "A text field (`NAME=value`) with a NUL byte in its value."),
    payload("invalid-utf8", Observed, "A text field with bytes that are not UTF-8."),
    payload("many-fields", Observed, "One entry with 10 000 fields."),
    payload("field-1mib", Observed, "One entry with a 1 MiB text field."),
    payload("field-64mib", Observed, "One entry with a 64 MiB binary field."),
    payload("gzip", Observed, "valid-text, gzip-compressed, `Content-Encoding: gzip`."),
    payload("xz", Observed, "valid-text as an xz stream, `Content-Encoding: xz`."),
    payload("lz4", Observed, "valid-text as systemd's LZ4 blob (size prefix + block), `Content-Encoding: lz4`."),
    payload("zstd", Observed, "valid-text, zstd-compressed, `Content-Encoding: zstd`."),
    payload("gzip-chunked", Observed, "200 entries compressed as one gzip body, sent in 4 KiB HTTP chunks."),
    payload("xz-chunked", Observed, "200 entries compressed as one xz body, sent in 4 KiB HTTP chunks."),
    payload("lz4-chunked", Observed, "200 entries as one LZ4 blob, sent in 4 KiB HTTP chunks."),
    payload("zstd-chunked", Observed, "200 entries compressed as one zstd body, sent in 4 KiB HTTP chunks."),
    payload("unknown-encoding", Observed, "valid-text, unencoded, under `Content-Encoding: x-journal-lab-unknown`."),
    payload("slow-sender", Observed, "valid-text dripped one byte per second for `pace` seconds (default 5), then the rest."),
    payload("idle-connections", Observed, "`connections` requests (default 100) that send their headers and then nothing, held `pace` seconds (default 5), then dropped."),
];

impl Payload {
    pub fn named(name: &str) -> Option<&'static Payload> {
        CATALOG.iter().find(|p| p.name == name)
    }

    pub fn names() -> Vec<&'static str> {
        CATALOG.iter().map(|p| p.name).collect()
    }
}

/// How a body goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transfer {
    /// With a Content-Length, at once.
    Whole,
    /// Chunked transfer encoding, in chunks of this many bytes.
    Chunked(usize),
    /// Announced this many bytes longer than it is, then the connection closes.
    Announced(u64),
    /// One byte a second for this long, then the rest.
    Drip(Duration),
    /// Headers only, held open this long by this many connections, then dropped.
    Idle { connections: u32, hold: Duration },
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub content_type: &'static str,
    pub encoding: Option<Encoding>,
    /// The body, already encoded.
    pub body: Vec<u8>,
    pub transfer: Transfer,
    /// The entries the body holds, as a correct server would store them (for comparison).
    pub entries: Vec<Entry>,
}

/// What identifies one send's entries.
#[derive(Debug, Clone)]
pub struct Mark {
    pub run: String,
    pub token: String,
}

pub const CONTENT_TYPE: &str = "application/vnd.fdo.journal";

/// The fields every entry a payload sends starts with, like a real export: timestamps, a boot
/// id, a host name, then the marks.
fn base(mark: &Mark, payload: &str, index: usize) -> Entry {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    vec![
        Field::new("__REALTIME_TIMESTAMP", now.to_string()),
        Field::new("__MONOTONIC_TIMESTAMP", (index + 1).to_string()),
        Field::new("_BOOT_ID", boot_id(&mark.token)),
        Field::new("_HOSTNAME", "journal-lab-sender"),
        Field::new("SYSLOG_IDENTIFIER", "journal-lab-send"),
        Field::new("JOURNAL_LAB_RUN", mark.run.as_str()),
        Field::new("JOURNAL_LAB_SEND", mark.token.as_str()),
        Field::new(
            "MESSAGE",
            format!("journal-lab send {} {payload} #{index}", mark.token),
        ),
    ]
}

/// A boot id (32 hex digits) derived from the token, so one send's entries share it.
fn boot_id(token: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(token.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The entry's bytes with raw `extra` bytes (fields written by hand) before its empty line.
fn with_raw(entry: &Entry, extra: &[u8]) -> Vec<u8> {
    let mut bytes = encode_entry(entry);
    bytes.pop();
    bytes.extend_from_slice(extra);
    bytes.push(b'\n');
    bytes
}

/// Bytes of text that compress like logs do (not one repeated byte).
fn filler(len: usize) -> Vec<u8> {
    let words = b"journal remote upload entry field value ";
    words.iter().copied().cycle().take(len).collect()
}

impl Payload {
    /// The request this payload makes for `mark`, with `encoding` overriding its own, `pace`
    /// and `connections` for the slow and idle ones.
    pub fn request(
        &self,
        mark: &Mark,
        encoding: Option<Encoding>,
        pace: Duration,
        connections: u32,
    ) -> Request {
        let one = |extra: Vec<Field>| {
            let mut entry = base(mark, self.name, 0);
            entry.extend(extra);
            entry
        };
        let text = || {
            one(vec![Field::new(
                "JOURNAL_LAB_TEXT",
                "plain text, UTF-8: grüße, tab\there",
            )])
        };
        let mut request = Request {
            content_type: CONTENT_TYPE,
            encoding: None,
            body: Vec::new(),
            transfer: Transfer::Whole,
            entries: Vec::new(),
        };
        let raw = |entry: Entry, extra: &[u8]| with_raw(&entry, extra);
        let (body, entries, own_encoding): (Vec<u8>, Vec<Entry>, Option<Encoding>) = match self.name
        {
            "valid-binary" => {
                let e = one(vec![Field::new(
                    "JOURNAL_LAB_BINARY",
                    b"line one\nline two\x01\x00\xff\xfe end".to_vec(),
                )]);
                (encode(std::slice::from_ref(&e)), vec![e], None)
            }
            "wrong-content-type" => {
                request.content_type = "text/plain";
                let e = text();
                (encode(std::slice::from_ref(&e)), vec![e], None)
            }
            "invalid-field-name" => (raw(text(), &text_field("bad-name", b"value")), vec![], None),
            "binary-short-length" => (
                raw(
                    text(),
                    &binary_field("JOURNAL_LAB_BINARY", b"0123456789", 4),
                ),
                vec![],
                None,
            ),
            "binary-long-length" => (
                raw(
                    text(),
                    &binary_field("JOURNAL_LAB_BINARY", b"0123456789", 4096),
                ),
                vec![],
                None,
            ),
            "missing-trailing-newline" => {
                let mut bytes = encode_entry(&text());
                bytes.truncate(bytes.len() - 2);
                (bytes, vec![], None)
            }
            "announced-larger" => {
                request.transfer = Transfer::Announced(1024);
                (encode(&[text()]), vec![], None)
            }
            "nul-in-text" => (
                raw(
                    one(vec![]),
                    &text_field("JOURNAL_LAB_TEXT", b"before\0after"),
                ),
                vec![],
                None,
            ),
            "invalid-utf8" => (
                raw(
                    one(vec![]),
                    &text_field("JOURNAL_LAB_TEXT", b"bad \xff\xfe utf-8"),
                ),
                vec![],
                None,
            ),
            "many-fields" => {
                let fields = (0..10_000)
                    .map(|i| Field::new(&format!("JOURNAL_LAB_F{i:05}"), i.to_string()))
                    .collect();
                let e = one(fields);
                (encode(std::slice::from_ref(&e)), vec![e], None)
            }
            "field-1mib" | "field-64mib" => {
                let size = if self.name == "field-1mib" {
                    1 << 20
                } else {
                    64 << 20
                };
                let mut value = filler(size);
                if size > 1 << 20 {
                    value[0] = b'\n'; // binary
                }
                let e = one(vec![Field::new("JOURNAL_LAB_BIG", value)]);
                (encode(std::slice::from_ref(&e)), vec![e], None)
            }
            name if name.ends_with("-chunked") => {
                request.transfer = Transfer::Chunked(CHUNK_SIZE);
                let entries: Vec<Entry> = (0..CHUNKED_ENTRIES)
                    .map(|i| {
                        let mut e = base(mark, self.name, i);
                        e.push(Field::new("JOURNAL_LAB_TEXT", filler(300 + i)));
                        e
                    })
                    .collect();
                let algorithm = Encoding::named(name.trim_end_matches("-chunked"));
                (encode(&entries), entries, algorithm)
            }
            "unknown-encoding" => {
                let e = text();
                (
                    encode(std::slice::from_ref(&e)),
                    vec![e],
                    Some(Encoding::Unknown),
                )
            }
            "slow-sender" => {
                request.transfer = Transfer::Drip(pace);
                let e = text();
                (encode(std::slice::from_ref(&e)), vec![e], None)
            }
            "idle-connections" => {
                request.transfer = Transfer::Idle {
                    connections: connections.min(MAX_CONNECTIONS),
                    hold: pace,
                };
                (Vec::new(), vec![], None)
            }
            // valid-text, and gzip / xz / lz4 / zstd (valid-text, encoded).
            name => {
                let e = text();
                (
                    encode(std::slice::from_ref(&e)),
                    vec![e],
                    Encoding::named(name),
                )
            }
        };
        request.encoding = encoding.or(own_encoding);
        request.body = match request.encoding {
            Some(e) => e.encode(&body),
            None => body,
        };
        request.entries = entries;
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::parse;

    fn mark() -> Mark {
        Mark {
            run: "jl-test".into(),
            token: "jl-test-1".into(),
        }
    }

    fn build(name: &str) -> Request {
        Payload::named(name)
            .unwrap()
            .request(&mark(), None, Duration::from_secs(5), 100)
    }

    #[test]
    fn valid_payloads_parse_back_to_their_entries_and_malformed_ones_do_not() {
        for payload in CATALOG {
            if payload.name == "field-64mib" || payload.name == "idle-connections" {
                continue;
            }
            let request = build(payload.name);
            if request.encoding.is_some_and(|e| e != Encoding::Unknown) {
                continue;
            }
            if request.content_type != CONTENT_TYPE {
                assert_eq!(payload.expect, Expect::Refused, "{}", payload.name);
                continue;
            }
            let parsed = parse(&request.body);
            match payload.expect {
                Expect::Stored => assert_eq!(parsed.unwrap(), request.entries, "{}", payload.name),
                Expect::Refused => {
                    let bad_name = parsed.as_ref().is_ok_and(|entries| {
                        entries
                            .iter()
                            .flatten()
                            .any(|f| !crate::protocol::valid_field_name(&f.name))
                    });
                    assert!(
                        parsed.is_err() || bad_name,
                        "{} must not be a valid export: {parsed:?}",
                        payload.name
                    );
                }
                _ => {}
            }
        }
    }

    #[test]
    fn every_entry_carries_the_run_and_the_token() {
        let request = build("gzip-chunked");
        assert_eq!(request.entries.len(), CHUNKED_ENTRIES);
        assert_eq!(request.transfer, Transfer::Chunked(CHUNK_SIZE));
        assert_eq!(request.encoding, Some(Encoding::Gzip));
        for entry in &request.entries {
            assert!(entry.contains(&Field::new("JOURNAL_LAB_SEND", "jl-test-1")));
            assert!(entry.contains(&Field::new("JOURNAL_LAB_RUN", "jl-test")));
        }
    }

    #[test]
    fn sizes_are_what_the_catalog_says() {
        let big = build("field-64mib");
        assert!(big.body.len() > 64 << 20 && big.body.len() < (64 << 20) + 4096);
        let many = build("many-fields");
        assert_eq!(many.entries[0].len(), 8 + 10_000);
        let idle = Payload::named("idle-connections").unwrap().request(
            &mark(),
            None,
            Duration::from_secs(3),
            10_000,
        );
        assert_eq!(
            idle.transfer,
            Transfer::Idle {
                connections: MAX_CONNECTIONS,
                hold: Duration::from_secs(3)
            }
        );
    }

    /// docs/scenarios.md's catalog table names every payload once, with its expectation.
    #[test]
    fn the_docs_list_exactly_the_catalog() {
        let docs = include_str!("../../docs/scenarios.md");
        let section = docs
            .split("## The send catalog")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("docs/scenarios.md has a send catalog section");
        let documented: Vec<(String, String)> = section
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                let name = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((name.to_string(), cells.get(2)?.to_string()))
            })
            .collect();
        let catalog: Vec<(String, String)> = CATALOG
            .iter()
            .map(|p| {
                let expect = serde_json::to_value(p.expect).unwrap();
                (p.name.to_string(), expect.as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(documented, catalog);
    }

    #[test]
    fn a_step_encoding_overrides_the_payload_own() {
        let request = Payload::named("valid-binary").unwrap().request(
            &mark(),
            Some(Encoding::Zstd),
            Duration::from_secs(1),
            1,
        );
        assert_eq!(request.encoding, Some(Encoding::Zstd));
        let plain = zstd::bulk::decompress(&request.body, 1 << 20).unwrap();
        assert_eq!(parse(&plain).unwrap(), request.entries);
    }
}
