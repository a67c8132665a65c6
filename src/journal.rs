//! Journal entries as the lab reads them: markers it logs on clients, and what `journalctl -o json`
//! on the server says arrived, and in which file under /var/log/journal/remote.

use std::collections::BTreeMap;

use serde_json::Value;

/// Where journal-remote writes what it receives (Debian's unit: `--output=/var/log/journal/remote/`).
pub const REMOTE_DIR: &str = "/var/log/journal/remote";
/// SYSLOG_IDENTIFIER of every line the lab logs itself.
pub const MARKER_IDENTIFIER: &str = "journal-lab";

/// One journal entry: field name → value (string fields only; binary fields are dropped).
pub type Entry = BTreeMap<String, String>;

/// The text of a unique marker for `host` in run `run_id`.
pub fn marker(run_id: &str, host: &str, nonce: u64) -> String {
    format!("journal-lab marker run={run_id} host={host} nonce={nonce:016x}")
}

/// The shell command that logs `message` as a marker.
pub fn log_marker_command(message: &str) -> String {
    format!("logger -t {MARKER_IDENTIFIER} -- {}", shell_quote(message))
}

/// A shell loop that runs `body` (which names the file as `"$f"`) once for each journal file
/// journal-remote wrote, archived (`@….journal`) and set aside (`….journal~`) included, the
/// oldest written first, so what it prints is in the order the server wrote it.
///
/// Why not `journalctl -D`: its merged view of the directory can leave out entries that the
/// files hold. Seen on bookworm (systemd 252): a client whose clock went back an hour and came
/// right; `-D` showed none of the 300 messages logged after the clock came right, `--file` on
/// the file that held them showed all 300 (docs/findings.md, "journalctl -D hides entries").
pub fn each_remote_file(body: &str) -> String {
    each_journal_file_in(REMOTE_DIR, body)
}

fn each_journal_file_in(dir: &str, body: &str) -> String {
    format!(
        "cd {dir} 2>/dev/null || exit 0; ls -1tr | grep -E '\\.journal~?$' | \
         while IFS= read -r f; do {body}; done"
    )
}

/// Prints `@@file NAME` before the marker entries of each file in the remote directory,
/// so each marker can be traced to the file it landed in.
pub fn remote_markers_by_file_command() -> String {
    each_remote_file(&format!(
        "echo \"@@file $f\"; journalctl --file \"$f\" -o json --no-pager \
         SYSLOG_IDENTIFIER={MARKER_IDENTIFIER} || true"
    ))
}

/// Parses `journalctl -o json` output (one object per line). Lines that are not JSON objects
/// (e.g. "-- No entries --") are skipped.
pub fn parse_json_lines(output: &str) -> Vec<Entry> {
    output.lines().filter_map(parse_entry).collect()
}

fn parse_entry(line: &str) -> Option<Entry> {
    let Value::Object(object) = serde_json::from_str::<Value>(line.trim()).ok()? else {
        return None;
    };
    Some(
        object
            .into_iter()
            .filter_map(|(key, value)| match value {
                Value::String(s) => Some((key, s)),
                Value::Number(n) => Some((key, n.to_string())),
                _ => None,
            })
            .collect(),
    )
}

/// Parses the output of [`remote_markers_by_file_command`] into (file, entry) pairs.
pub fn parse_entries_by_file(output: &str) -> Vec<(String, Entry)> {
    let mut current: Option<String> = None;
    let mut entries = Vec::new();
    for line in output.lines() {
        if let Some(file) = line.strip_prefix("@@file ") {
            current = Some(file.trim().to_string());
        } else if let (Some(file), Some(entry)) = (&current, parse_entry(line)) {
            entries.push((file.clone(), entry));
        }
    }
    entries
}

/// Fields a normalized entry keeps: what matters about a line that arrived.
const KEPT_FIELDS: [&str; 5] = [
    "_HOSTNAME",
    "SYSLOG_IDENTIFIER",
    "PRIORITY",
    "_TRANSPORT",
    "MESSAGE",
];

/// Normalizes arrived entries `(server, remote file, entry)` for snapshots: only the kept fields;
/// the run id and marker nonces replaced by placeholders; addresses (in file names too) replaced
/// by the name of the host that had them; grouped by server and file (sorted), in journal order
/// within a file (which is each client's own order). Cursors, timestamps, boot and machine ids
/// and PIDs are dropped with the other fields.
pub fn normalize(
    entries: &[(String, String, Entry)],
    run_id: &str,
    addresses: &std::collections::BTreeMap<String, String>,
) -> String {
    let stable = |text: &str| -> String {
        let mut out = text.replace(run_id, "<run>");
        let mut by_length: Vec<_> = addresses.iter().filter(|(ip, _)| !ip.is_empty()).collect();
        by_length.sort_by_key(|(ip, _)| std::cmp::Reverse(ip.len()));
        for (ip, name) in by_length {
            out = replace_word(&out, ip, &format!("<ip:{name}>"));
        }
        match out.find("nonce=") {
            Some(at) if out.len() >= at + 22 => {
                format!("{}nonce=<nonce>{}", &out[..at], &out[at + 22..])
            }
            _ => out,
        }
    };
    let mut grouped: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (server, file, entry) in entries {
        let line = KEPT_FIELDS
            .iter()
            .map(|field| {
                format!(
                    "{field}={}",
                    entry.get(*field).map(|v| stable(v)).unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        grouped
            .entry((server.clone(), stable(file)))
            .or_default()
            .push(line);
    }
    let mut out = String::new();
    for ((server, file), lines) in grouped {
        out.push_str(&format!("{server}: {file}\n"));
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

/// Whether an entry carries exactly this marker.
pub fn is_marker(entry: &Entry, marker: &str) -> bool {
    entry.get("MESSAGE").is_some_and(|m| m == marker)
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// `text` with every occurrence of `word` that stands as a word of its own (no letter, digit or
/// `_` right before or after it: `172.18.0.3` but not inside `172.18.0.33`) replaced.
fn replace_word(text: &str, word: &str, replacement: &str) -> String {
    let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = out.chars().next_back().or(rest[..at].chars().next_back());
        let before = if at > 0 {
            rest[..at].chars().next_back()
        } else {
            before
        };
        let after = rest[at + word.len()..].chars().next();
        out.push_str(&rest[..at]);
        if word.is_empty() || is_word(before) || is_word(after) {
            // Not a word of its own: keep one character and look again after it.
            let keep = rest[at..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&rest[at..at + keep]);
            rest = &rest[at + keep..];
        } else {
            out.push_str(replacement);
            rest = &rest[at + word.len()..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn addresses_are_replaced_only_as_words_of_their_own() {
        let text = "172.18.0.3 from remote-172.18.0.3.journal (not 172.18.0.33, x172.18.0.3 or 172.18.0.3_) 172.18.0.3";
        assert_eq!(
            replace_word(text, "172.18.0.3", "<ip>"),
            "<ip> from remote-<ip>.journal (not 172.18.0.33, x172.18.0.3 or 172.18.0.3_) <ip>"
        );
        assert_eq!(replace_word("aaa", "a", "b"), "aaa");
        assert_eq!(replace_word("é1.2é 1.2", "1.2", "x"), "é1.2é x");
    }

    use super::*;

    const SAMPLE: &str = concat!(
        r#"{"MESSAGE":"journal-lab marker run=r1 host=client1 nonce=00000000000000aa","_HOSTNAME":"client1","SYSLOG_IDENTIFIER":"journal-lab","PRIORITY":"5","__REALTIME_TIMESTAMP":"1700000000000000"}"#,
        "\n-- No entries --\n",
        r#"{"MESSAGE":[104,105],"_HOSTNAME":"client2","SYSLOG_IDENTIFIER":"journal-lab"}"#,
        "\n"
    );

    #[test]
    fn parses_json_lines_and_skips_noise_and_binary_fields() {
        let entries = parse_json_lines(SAMPLE);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["_HOSTNAME"], "client1");
        assert!(is_marker(
            &entries[0],
            "journal-lab marker run=r1 host=client1 nonce=00000000000000aa"
        ));
        assert!(
            !entries[1].contains_key("MESSAGE"),
            "binary MESSAGE (byte array) is not a string"
        );
        assert!(
            !is_marker(&entries[0], "journal-lab marker run=r1 host=client1"),
            "exact match only"
        );
    }

    #[test]
    fn entries_are_attributed_to_the_file_they_were_listed_under() {
        let output = format!(
            "@@file remote-client1.journal\n{}\n@@file remote-client2.journal\n@@file remote-x.journal\n{}\n",
            r#"{"MESSAGE":"m1"}"#, r#"{"MESSAGE":"m2"}"#
        );
        let by_file = parse_entries_by_file(&output);
        assert_eq!(by_file.len(), 2);
        assert_eq!(by_file[0].0, "remote-client1.journal");
        assert_eq!(by_file[1].0, "remote-x.journal");
        assert_eq!(by_file[1].1["MESSAGE"], "m2");
    }

    #[test]
    fn normalization_keeps_what_matters_and_drops_what_varies() {
        let entry = |host: &str, nonce: &str| -> Entry {
            [
                (
                    "MESSAGE",
                    format!("journal-lab marker run=jl-1 host={host} nonce={nonce}"),
                ),
                ("_HOSTNAME", host.to_string()),
                ("SYSLOG_IDENTIFIER", "journal-lab".to_string()),
                ("PRIORITY", "5".to_string()),
                ("_TRANSPORT", "syslog".to_string()),
                ("__CURSOR", "s=abc;i=1".to_string()),
                ("__REALTIME_TIMESTAMP", "1700000000000000".to_string()),
                ("_BOOT_ID", "0123".to_string()),
                ("_PID", "163".to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
        };
        let addresses = BTreeMap::from([
            ("172.18.0.3".to_string(), "client1".to_string()),
            ("172.18.0.30".to_string(), "client2".to_string()),
        ]);
        let entries = vec![
            (
                "server".to_string(),
                "remote-172.18.0.30.journal".to_string(),
                entry("client2", "00000000000000bb"),
            ),
            (
                "server".to_string(),
                "remote-172.18.0.3.journal".to_string(),
                entry("client1", "00000000000000aa"),
            ),
            (
                "server".to_string(),
                "remote-172.18.0.3.journal".to_string(),
                entry("client1", "00000000000000cc"),
            ),
        ];
        let normalized = normalize(&entries, "jl-1", &addresses);
        let expected = concat!(
            "server: remote-<ip:client1>.journal\n",
            "  _HOSTNAME=client1 SYSLOG_IDENTIFIER=journal-lab PRIORITY=5 _TRANSPORT=syslog MESSAGE=journal-lab marker run=<run> host=client1 nonce=<nonce>\n",
            "  _HOSTNAME=client1 SYSLOG_IDENTIFIER=journal-lab PRIORITY=5 _TRANSPORT=syslog MESSAGE=journal-lab marker run=<run> host=client1 nonce=<nonce>\n",
            "server: remote-<ip:client2>.journal\n",
            "  _HOSTNAME=client2 SYSLOG_IDENTIFIER=journal-lab PRIORITY=5 _TRANSPORT=syslog MESSAGE=journal-lab marker run=<run> host=client2 nonce=<nonce>\n",
        );
        assert_eq!(normalized, expected);
        // Same observations, different run: the same text.
        let again = vec![entries[0].clone(), entries[1].clone(), entries[2].clone()];
        assert_eq!(normalize(&again, "jl-1", &addresses), normalized);
    }

    #[test]
    fn markers_are_unique_and_safely_quoted() {
        assert_ne!(marker("r", "client1", 1), marker("r", "client1", 2));
        assert_ne!(marker("r", "client1", 1), marker("r", "client2", 1));
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(log_marker_command("a b"), "logger -t journal-lab -- 'a b'");
    }

    #[test]
    fn each_journal_file_is_visited_oldest_first_set_aside_ones_included() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "remote-b@0001-0002.journal~",
            "notes.txt",
            "remote-a@0001-0001-0001.journal",
            "remote-a.journal",
        ];
        for (age, name) in names.iter().enumerate() {
            let path = dir.path().join(name);
            std::fs::write(&path, "").unwrap();
            let written = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1000 + age as u64);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(written)
                .unwrap();
        }
        let script = each_journal_file_in(&dir.path().display().to_string(), "echo \"$f\"");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "remote-b@0001-0002.journal~\nremote-a@0001-0001-0001.journal\nremote-a.journal\n"
        );
        let missing = each_journal_file_in("/nonexistent/journal-lab", "echo \"$f\"");
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&missing)
            .output()
            .unwrap();
        assert!(out.status.success() && out.stdout.is_empty());
    }
}
