//! journal-remote's protocol, spoken from the machine running the lab: the Journal Export Format
//! (systemd's JOURNAL_EXPORT_FORMATS document), its compressed bodies, a catalog of payloads
//! (valid, malformed, oversized, slow, idle) and an HTTPS client of our own that posts them to
//! `/upload`. It knows nothing about Docker: the lab hands it the published address.
//!
//! The format, in short: an entry is a series of fields followed by an empty line. A field is
//! either text, `NAME=value\n`, or binary, `NAME\n` + the value's length as a little-endian u64 +
//! the value + `\n`. journalctl writes a field in binary when its value is not printable UTF-8
//! (a newline, a control character other than tab, invalid UTF-8).

pub mod catalog;
pub mod client;
pub mod encoding;

/// One field of an entry: its name and its value, as bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Field {
    pub name: String,
    pub value: Vec<u8>,
}

impl Field {
    pub fn new(name: &str, value: impl Into<Vec<u8>>) -> Field {
        Field {
            name: name.to_string(),
            value: value.into(),
        }
    }

    /// Whether journalctl would write this value as text (printable UTF-8, tab allowed).
    pub fn is_text(&self) -> bool {
        std::str::from_utf8(&self.value)
            .is_ok_and(|s| !s.chars().any(|c| c.is_control() && c != '\t'))
    }
}

/// An entry: its fields, in order (a name may repeat).
pub type Entry = Vec<Field>;

/// A field as text: `NAME=value\n` (whatever the value holds: the catalog uses this to send
/// what a correct writer never would).
pub fn text_field(name: &str, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + value.len() + 2);
    out.extend_from_slice(name.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// A field in binary: `NAME\n`, the length `announced` (normally the value's) as a
/// little-endian u64, the value, `\n`.
pub fn binary_field(name: &str, value: &[u8], announced: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + value.len() + 10);
    out.extend_from_slice(name.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&announced.to_le_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// One entry in the export format, each field as journalctl would write it, ending with the
/// empty line.
pub fn encode_entry(entry: &[Field]) -> Vec<u8> {
    let mut out = Vec::new();
    for field in entry {
        if field.is_text() {
            out.extend(text_field(&field.name, &field.value));
        } else {
            out.extend(binary_field(
                &field.name,
                &field.value,
                field.value.len() as u64,
            ));
        }
    }
    out.push(b'\n');
    out
}

/// Entries one after another.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    entries.iter().flat_map(|e| encode_entry(e)).collect()
}

/// Why an export stream could not be read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("export format: {what} at byte {offset}")]
pub struct ParseError {
    pub offset: usize,
    pub what: &'static str,
}

/// Reads an export stream into entries. A stream that ends inside an entry is an error (a
/// complete stream ends with an entry's empty line).
pub fn parse(input: &[u8]) -> Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    let mut current: Entry = Vec::new();
    let mut at = 0;
    let fail = |offset, what| Err(ParseError { offset, what });
    while at < input.len() {
        let Some(eol) = input[at..].iter().position(|&b| b == b'\n') else {
            return fail(at, "a line without its newline");
        };
        let line = &input[at..at + eol];
        if line.is_empty() {
            entries.push(std::mem::take(&mut current));
            at += 1;
            continue;
        }
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let Ok(name) = std::str::from_utf8(&line[..eq]) else {
                return fail(at, "a field name that is not UTF-8");
            };
            current.push(Field::new(name, &line[eq + 1..]));
            at += eol + 1;
            continue;
        }
        let Ok(name) = std::str::from_utf8(line) else {
            return fail(at, "a field name that is not UTF-8");
        };
        let size_at = at + eol + 1;
        let Some(size) = input.get(size_at..size_at + 8) else {
            return fail(size_at, "a binary field cut off in its length");
        };
        let size = u64::from_le_bytes(size.try_into().expect("eight bytes"));
        let value_at = size_at + 8;
        let Some(end) = usize::try_from(size)
            .ok()
            .and_then(|s| value_at.checked_add(s))
            .filter(|&end| end < input.len())
        else {
            return fail(value_at, "a binary field longer than the stream");
        };
        if input[end] != b'\n' {
            return fail(end, "a binary field not followed by a newline");
        }
        current.push(Field::new(name, &input[value_at..end]));
        at = end + 1;
    }
    if !current.is_empty() {
        return fail(input.len(), "the stream ends inside an entry");
    }
    Ok(entries)
}

/// Whether a name is a valid journal field name as systemd's `journal_field_valid()` sees it for
/// a trusted writer: 1-64 characters of `A-Z`, `0-9` and `_`, not starting with a digit.
pub fn valid_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// The fields of `sent` missing from `stored` or stored with another value, compared as
/// multisets (a name may repeat). Fields whose names start with `__` are the journal's own
/// addresses (cursor, sequence number) and are not compared.
pub fn missing_fields<'a>(sent: &'a [Field], stored: &[Field]) -> Vec<&'a Field> {
    let mut left: Vec<Option<&Field>> = stored.iter().map(Some).collect();
    sent.iter()
        .filter(|f| !f.name.starts_with("__"))
        .filter(
            |f| match left.iter_mut().find(|s| s.is_some_and(|s| s == *f)) {
                Some(slot) => {
                    *slot = None;
                    false
                }
                None => true,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests;
