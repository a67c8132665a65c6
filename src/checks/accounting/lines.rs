//! The workload message format, in one place: how the generator numbers messages, how a reader
//! selects a run's messages in a journal, and how what it printed is parsed.

use super::WORKLOAD_IDENTIFIER;

/// Every message is `jl-work run=R host=H stream=S
/// seq=N ` and then padding: the generator writes [`numbering_head`] and the number, readers
/// select a run's messages with [`lines_command`] and parse what it prints with [`parse_lines`].
const WORK_TAG: &str = "jl-work";

/// What every workload message of run `run_id` starts with.
pub fn run_prefix(run_id: &str) -> String {
    format!("{WORK_TAG} run={run_id} ")
}

/// What the generator writes before each message's number.
pub fn numbering_head(run_id: &str, host: &str, stream: u32) -> String {
    format!("{WORK_TAG} run={run_id} host={host} stream={stream} seq=")
}

/// The first words of a workload message, up to the padding.
pub fn message_prefix(run_id: &str, host: &str, stream: u32, seq: u64) -> String {
    format!("{}{seq} ", numbering_head(run_id, host, stream))
}

/// Which journal a reader looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalOf {
    /// The host's own (a client's: what it logged).
    Host,
    /// What a server received (`/var/log/journal/remote`).
    Remote,
}

/// The command that prints `host=H stream=S seq=N` for each workload message of run `run_id`
/// (from `host` only, if named) in a journal, duplicates included, in the journal's order; with
/// `timed`, each line starts with the entry's time (`EPOCH `, from `-o short-unix`).
pub fn lines_command(run_id: &str, host: Option<&str>, journal: JournalOf, timed: bool) -> String {
    let output = if timed { "short-unix" } else { "cat" };
    let read = |source: &str| {
        format!(
            "journalctl {source} -o {output} --no-pager SYSLOG_IDENTIFIER={WORKLOAD_IDENTIFIER}"
        )
    };
    let read = match journal {
        // Every namespace (the default one included): a workload may log into its own.
        JournalOf::Host => read("--namespace='*'"),
        // File by file: `journalctl -D` can leave out entries the files hold.
        JournalOf::Remote => crate::journal::each_remote_file(&read("--file \"$f\"")),
    };
    let select = match host {
        Some(host) => format!("{}host={host} ", run_prefix(run_id)),
        None => run_prefix(run_id),
    };
    // short-unix prints `EPOCH HOSTNAME IDENTIFIER[PID]: MESSAGE`, cat the message alone: keep
    // the time if there is one, and the message's numbering.
    format!(
        "{read} | grep -F '{select}' | \
         sed -n 's/^\\([0-9.]* \\)\\{{0,1\\}}.*{WORK_TAG} run=[^ ]* \\(host=[^ ]* stream=[0-9]* seq=[0-9]*\\) .*/\\1\\2/p'"
    )
}

/// One workload message as [`lines_command`] printed it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WorkLine<'a> {
    pub host: &'a str,
    pub stream: u32,
    pub seq: u64,
    /// The entry's time (unix seconds), when the command was `timed`.
    pub at: Option<f64>,
}

/// Parses what [`lines_command`] printed; other lines are skipped.
pub fn parse_lines(output: &str) -> impl Iterator<Item = WorkLine<'_>> {
    output.lines().filter_map(|line| {
        let (at, numbering) = match line.split_once(' ') {
            Some((first, rest)) if !first.starts_with("host=") => (Some(first.parse().ok()?), rest),
            _ => (None, line),
        };
        let (host, stream, seq) = parse_numbering(numbering)?;
        Some(WorkLine {
            host,
            stream,
            seq,
            at,
        })
    })
}

/// `host=H stream=S seq=N` (and anything after) as (host, stream, seq).
pub fn parse_numbering(text: &str) -> Option<(&str, u32, u64)> {
    let mut words = text.split(' ');
    let host = words.next()?.strip_prefix("host=")?;
    let stream = words.next()?.strip_prefix("stream=")?.parse().ok()?;
    let seq = words.next()?.strip_prefix("seq=")?.parse().ok()?;
    Some((host, stream, seq))
}

#[cfg(test)]
/// What a [`lines_command`] prints when run here on `journal_output` (journalctl replaced by
/// `cat`), as it does in a host: for tests of the readers and the generator.
pub(crate) fn read_here(command: &str, journal_output: &str) -> String {
    let command = command.replacen(&command[..command.find(" | grep -F '").unwrap()], "cat", 1);
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), journal_output.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}
