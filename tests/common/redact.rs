//! Redaction for snapshots: what changes from run to run replaced with stable placeholders
//! (the snapshot tests' helper; regex is a dev-dependency, the product does not need it).

use journal_lab::report::RunReport;

/// Replaces what changes from run to run (run id, addresses, nonces, times, durations, PIDs,
/// temporary paths) with stable placeholders, so rendered reports can be snapshot-tested.
/// Addresses become the name of the host that had them.
pub fn redact(text: &str, report: &RunReport) -> String {
    let hosts: Vec<(&str, &str)> = report
        .hosts
        .iter()
        .map(|h| (h.ip.as_str(), h.name.as_str()))
        .collect();
    redact_run(text, &report.run_id, &hosts)
}

/// `redact` given the run id and the hosts' (address, name).
pub fn redact_run(text: &str, run_id: &str, hosts: &[(&str, &str)]) -> String {
    use regex::Regex;
    use std::sync::OnceLock;
    static PATTERNS: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    let mut out = text.replace(run_id, "<run>");
    let mut hosts: Vec<_> = hosts.iter().filter(|(ip, _)| !ip.is_empty()).collect();
    hosts.sort_by_key(|(ip, _)| std::cmp::Reverse(ip.len()));
    for (ip, name) in hosts {
        let pattern = Regex::new(&format!(r"\b{}\b", regex::escape(ip))).expect("valid");
        out = pattern
            .replace_all(&out, format!("<ip:{name}>"))
            .into_owned();
    }
    let patterns = PATTERNS.get_or_init(|| {
        [
            (r"nonce=[0-9a-f]{16}", "nonce=<nonce>"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "<time>"),
            (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC", "<time>"),
            (r"\b[A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d(\.\d+)?", "<time>"),
            (r"\| \d+\.\d\d \|", "| <secs> |"),
            (r"\b\d+\.\d+s\b", "<secs>s"),
            (r"\b\d+\.\d+ ?(ms|s)\b", "<secs>"),
            (r"after \d+ ms", "after <n> ms"),
            (r"restart counter is at \d+", "restart counter is at <n>"),
            (r"\[\d+\]:", "[<pid>]:"),
            (r"/tmp/journal-lab-[a-z]+-[A-Za-z0-9]+", "<tmp>"),
            (r"\(exit -?\d+\)", "(exit <n>)"),
            (r#"time="\d+(\.\d+)?""#, r#"time="<secs>""#),
            (r#"timestamp="[^"]*""#, r#"timestamp="<time>""#),
        ]
        .into_iter()
        .map(|(pattern, replacement)| (Regex::new(pattern).expect("valid pattern"), replacement))
        .collect()
    });
    for (pattern, replacement) in patterns {
        out = pattern.replace_all(&out, *replacement).into_owned();
    }
    out
}

/// The hashes in report.md's "Added by the lab" table: certificates and CAs are issued afresh and
/// name entries hold addresses, so their hashes differ in every run (the list of files and why
/// is the observation; unit tests check the hashes).
pub fn redact_added_hashes(md: &str) -> String {
    let Some((before, section)) = md.split_once("\n## Added by the lab") else {
        return md.to_string();
    };
    let (section, after) = match section.find("\n## ") {
        Some(end) => section.split_at(end),
        None => (section, ""),
    };
    let hash = regex::Regex::new(r"(?m)\| [0-9a-f]{12} \|$").expect("valid");
    format!(
        "{before}\n## Added by the lab{}{after}",
        hash.replace_all(section, "| <sha> |")
    )
}

#[test]
fn redaction_replaces_what_varies_and_keeps_what_matters() {
    let hosts = [("172.18.0.2", "server"), ("172.18.0.3", "client1")];
    let text = "run jl-20261122-141944-8e20: remote-172.18.0.3.journal from 172.18.0.3 (not 172.18.0.33) \
                nonce=98e33a78558f2be7 at 2026-11-22T14:19:19.443257242Z, Nov 22 14:19:47.973171 \
                journal-lab[163]: took 0.54s | 0.12 | after 1 ms; restart counter is at 4 <testcase time=\"0.167\">";
    let redacted = redact_run(text, "jl-20261122-141944-8e20", &hosts);
    let md = "## Your files\n| h | p | f | 0123456789ab |\n\n## Added by the lab (x)\n| h | p | w | abcdef012345 |\n\n## Next\n| a | b | c | 0123456789ab |\n";
    assert_eq!(
        redact_added_hashes(md),
        "## Your files\n| h | p | f | 0123456789ab |\n\n## Added by the lab (x)\n| h | p | w | <sha> |\n\n## Next\n| a | b | c | 0123456789ab |\n"
    );
    assert_eq!(
        redacted,
        "run <run>: remote-<ip:client1>.journal from <ip:client1> (not 172.18.0.33) \
         nonce=<nonce> at <time>, <time> journal-lab[<pid>]: took <secs>s | <secs> | after <n> ms; \
         restart counter is at <n> <testcase time=\"<secs>\">"
    );
}
