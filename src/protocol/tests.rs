use super::*;

/// Real `journalctl -o export` output (bookworm, systemd 252): a message with a tab and a control
/// character (written in binary) and one in UTF-8 text, from a client's own journal and, as
/// journal-remote stored them, from the server's.
const CLIENT: &[u8] = include_bytes!("../../tests/data/export/bookworm-client.export");
const REMOTE: &[u8] = include_bytes!("../../tests/data/export/bookworm-remote.export");

#[test]
fn recorded_exports_round_trip_byte_for_byte() {
    for recorded in [CLIENT, REMOTE] {
        let entries = parse(recorded).expect("journalctl's own output parses");
        assert_eq!(entries.len(), 2);
        assert_eq!(
            encode(&entries),
            recorded,
            "text/binary as journalctl chose"
        );
    }
}

#[test]
fn the_binary_field_keeps_its_bytes_and_the_text_field_its_utf8() {
    let entries = parse(CLIENT).unwrap();
    let message = |e: &Entry| e.iter().find(|f| f.name == "MESSAGE").unwrap().clone();
    assert_eq!(message(&entries[0]).value, b"tab\there\x01control");
    assert!(!message(&entries[0]).is_text());
    assert_eq!(
        message(&entries[1]).value,
        "plain text, utf-8: grüße".as_bytes()
    );
    assert!(message(&entries[1]).is_text());
}

#[test]
fn what_was_sent_is_found_in_what_journal_remote_stored() {
    let (sent, stored) = (parse(CLIENT).unwrap(), parse(REMOTE).unwrap());
    for (s, r) in sent.iter().zip(&stored) {
        assert!(
            missing_fields(s, r).is_empty(),
            "{:?}",
            missing_fields(s, r)
        );
    }
    // A changed byte in a binary value is a missing field, named.
    let mut damaged = stored[0].clone();
    damaged
        .iter_mut()
        .find(|f| f.name == "MESSAGE")
        .unwrap()
        .value[3] = b'X';
    let missing = missing_fields(&sent[0], &damaged);
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].name, "MESSAGE");
    // A field sent twice must be stored twice.
    let twice = vec![Field::new("A", "1"), Field::new("A", "1")];
    assert_eq!(missing_fields(&twice, &[Field::new("A", "1")]).len(), 1);
}

#[test]
fn broken_streams_are_errors_with_their_offset() {
    let cases: [(&[u8], &str); 5] = [
        (b"MESSAGE=x", "a line without its newline"),
        (b"MESSAGE=x\n", "the stream ends inside an entry"),
        (b"BIN\n\x05\x00\x00", "a binary field cut off in its length"),
        (
            b"BIN\n\xff\x00\x00\x00\x00\x00\x00\x00ab\n\n",
            "a binary field longer than the stream",
        ),
        (
            b"BIN\n\x01\x00\x00\x00\x00\x00\x00\x00abc\n\n",
            "a binary field not followed by a newline",
        ),
    ];
    for (input, what) in cases {
        assert_eq!(parse(input).unwrap_err().what, what, "{input:?}");
    }
    assert_eq!(parse(b"").unwrap(), Vec::<Entry>::new());
}

#[test]
fn field_names_follow_journal_field_valid() {
    for good in ["MESSAGE", "_HOSTNAME", "__CURSOR", "A1", &"A".repeat(64)] {
        assert!(valid_field_name(good), "{good}");
    }
    for bad in [
        "",
        "message",
        "1ABC",
        "BAD-NAME",
        "WITH SPACE",
        &"A".repeat(65),
    ] {
        assert!(!valid_field_name(bad), "{bad}");
    }
}
