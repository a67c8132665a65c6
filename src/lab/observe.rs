//! How the lab observes: what arrived on the servers ([`ServerView`]), the end-of-run facts, and
//! the [`Observer`](crate::checks::Observer) through which checks run their probes.

use std::collections::BTreeMap;

use super::configure::unit_state_command;
use super::probes::{answers, ProbeCache};
use super::{Deadlines, Host, Lab};
use crate::domain::{Role, REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::{Error, Result};
use crate::journal::{self, Entry};
use crate::report::Finding;
use crate::scenario::Scenario;

/// Every server's marker entries, by remote file: one read per server per evaluation.
pub struct ServerView {
    entries: BTreeMap<String, Vec<(String, Entry)>>,
}

impl ServerView {
    pub fn empty() -> ServerView {
        ServerView {
            entries: BTreeMap::new(),
        }
    }

    pub async fn read(lab: &Lab, scenario: &Scenario, deadlines: &Deadlines) -> Result<ServerView> {
        let reads = scenario
            .servers()
            .filter_map(|s| lab.host(&s.name))
            .map(|server| async move {
                let out = lab
                    .exec(
                        server,
                        &journal::remote_markers_by_file_command(),
                        deadlines.command,
                    )
                    .await?;
                Ok::<_, Error>((
                    server.name.clone(),
                    journal::parse_entries_by_file(&out.stdout),
                ))
            });
        Ok(ServerView {
            entries: futures::future::try_join_all(reads)
                .await?
                .into_iter()
                .collect(),
        })
    }

    /// Every entry seen, as (server, remote file name, entry).
    pub fn entries(&self) -> Vec<(String, String, Entry)> {
        self.entries
            .iter()
            .flat_map(|(server, entries)| {
                entries
                    .iter()
                    .map(move |(file, entry)| (server.clone(), file.clone(), entry.clone()))
            })
            .collect()
    }

    /// The remote file (full path) `marker` is in on `server`.
    pub fn find(&self, server: &str, marker: &str) -> Option<String> {
        self.entries
            .get(server)?
            .iter()
            .find(|(_, entry)| journal::is_marker(entry, marker))
            .map(|(file, _)| format!("{}/{file}", journal::REMOTE_DIR))
    }
}

/// Facts read off the hosts at the end of a run.
pub struct Facts {
    pub status_text: BTreeMap<String, String>,
    pub evidence: BTreeMap<String, Vec<String>>,
    pub findings: Vec<Finding>,
    /// Host → (`systemctl --version` first line, features line).
    pub versions: BTreeMap<String, (String, String)>,
    /// Host → its failed units with their status and last lines ([`FAILED_UNITS_COMMAND`]).
    pub failed_units: BTreeMap<String, Vec<String>>,
    /// Client → its journal-upload unit's state changes ([`upload_unit_command`]).
    pub upload_unit: BTreeMap<String, Vec<crate::report::unit_events::UnitEvent>>,
    /// What arrived on the servers, for the report and the last arrivals.
    pub view: ServerView,
    /// Raw journals for the report: each server's whole remote directory, and what each client
    /// logged as the lab (`name` → `journalctl -o json` output).
    pub journals: Vec<(String, String)>,
}

/// What journal-remote says when it will not verify client certificates (builds without GnuTLS
/// default to trusting everyone, even with TrustedCertificateFile set).
const NO_CERT_CHECKING: &str = "Certificate checking disabled";

/// The commands whose output makes a host's end-of-run facts, in order.
/// A host's failed units, each with its status and last journal lines; nothing when none
/// failed. Read at the end of every run and when a host does not finish booting, so that the
/// evidence is in the report (or the error) and nobody has to keep the lab to see why.
pub const FAILED_UNITS_COMMAND: &str = r#"failed=$(systemctl --failed --no-legend --plain 2>/dev/null | awk '{print $1}')
if [ -n "$failed" ]; then
    systemctl --failed --no-pager
    for unit in $failed; do
        echo "--- systemctl status $unit"
        systemctl status "$unit" --no-pager -n 0 2>&1 | head -n 12
        echo "--- journalctl -u $unit (last lines)"
        journalctl -u "$unit" -n 10 --no-pager -o short-precise
    done
fi"#;

fn fact_commands(host: &Host) -> Vec<String> {
    let (unit, journal_command) = match host.role {
        Role::Server => (
            REMOTE_UNIT,
            // Workload messages are accounted in the report's delivery section, not dumped.
            format!(
                "{} | grep -vF '\"SYSLOG_IDENTIFIER\":\"{}\"' || true",
                journal::each_remote_file("journalctl --file \"$f\" -o json --no-pager"),
                crate::checks::accounting::WORKLOAD_IDENTIFIER
            ),
        ),
        Role::Proxy => (
            super::proxy::PROXY_UNIT,
            format!(
                "journalctl -o json --no-pager SYSLOG_IDENTIFIER={}",
                journal::MARKER_IDENTIFIER
            ),
        ),
        Role::Client => (
            UPLOAD_UNIT,
            format!(
                "journalctl -o json --no-pager SYSLOG_IDENTIFIER={}",
                journal::MARKER_IDENTIFIER
            ),
        ),
    };
    let mut commands = vec![
        "systemctl --version".to_string(),
        FAILED_UNITS_COMMAND.to_string(),
        format!(
            "{}; echo '--- last log lines of {unit}'; journalctl -u {unit} -n 12 --no-pager -o short-precise",
            unit_state_command(unit)
        ),
        journal_command,
    ];
    if host.role == Role::Client {
        commands.push(upload_unit_command());
    }
    if host.role == Role::Server {
        commands.push(finding_command());
        commands.push(journal::remote_markers_by_file_command());
        commands.push(merged_view_command());
    }
    commands
}

/// PID 1's messages about the upload unit, the newest few hundred, with the fields
/// [`crate::report::unit_events::parse`] reads.
fn upload_unit_command() -> String {
    format!(
        "journalctl -o json --no-pager _PID=1 UNIT={UPLOAD_UNIT} \
         --output-fields=MESSAGE,MESSAGE_ID,UNIT_RESULT,JOB_TYPE,JOB_RESULT | tail -n {}",
        crate::report::unit_events::MAX_EVENTS
    )
}

fn finding_command() -> String {
    format!("journalctl -u {REMOTE_UNIT} -o cat --no-pager | grep -F '{NO_CERT_CHECKING}' || true")
}

/// Notes every host's fact commands in a recording cache, so that they join the batch being
/// recorded (after its probes: on the server, the profile's probes may be what socket-activates
/// journal-remote, and its log is where a finding comes from).
pub fn record_facts(lab: &Lab, cache: &ProbeCache) {
    for host in lab.hosts() {
        for command in fact_commands(host) {
            cache.ask(&host.name, &command);
        }
    }
}

/// Reads the end-of-run facts: from `cache` where [`record_facts`] put them in a batch, the rest
/// in one exec per host.
pub async fn observe_facts(lab: &Lab, cache: &ProbeCache, deadlines: &Deadlines) -> Result<Facts> {
    let observe = lab.hosts().iter().map(|host| async move {
        let journal_name = match host.role {
            Role::Server => format!("{}-remote", host.name),
            Role::Client | Role::Proxy => host.name.clone(),
        };
        let mut outputs = answers(lab, host, &fact_commands(host), cache, deadlines)
            .await?
            .into_iter();
        let mut next = || outputs.next().expect("one output per command");
        let version = next();
        let mut version_lines = version.stdout.lines().map(str::to_string);
        let version = (
            version_lines.next().unwrap_or_default(),
            version_lines.next().unwrap_or_default(),
        );
        let failed: Vec<String> = next().stdout.lines().map(str::to_string).collect();
        let state = next().stdout;
        let journal = (journal_name, next().stdout);
        let upload_unit =
            (host.role == Role::Client).then(|| crate::report::unit_events::parse(&next().stdout));
        let server = (host.role == Role::Server).then(|| {
            let finding = server_finding(&host.name, &finding_command(), &next().stdout);
            let markers = journal::parse_entries_by_file(&next().stdout);
            let hidden = merged_view_finding(&host.name, &next().stdout);
            (finding.into_iter().chain(hidden), markers)
        });
        Ok::<_, Error>((
            host.name.clone(),
            version,
            failed,
            state,
            journal,
            upload_unit,
            server,
        ))
    });
    let mut facts = Facts {
        status_text: BTreeMap::new(),
        evidence: BTreeMap::new(),
        findings: Vec::new(),
        versions: BTreeMap::new(),
        failed_units: BTreeMap::new(),
        upload_unit: BTreeMap::new(),
        view: ServerView::empty(),
        journals: Vec::new(),
    };
    for (name, version, failed, output, journal, upload_unit, server) in
        futures::future::try_join_all(observe).await?
    {
        facts.versions.insert(name.clone(), version);
        if let Some(events) = upload_unit {
            facts.upload_unit.insert(name.clone(), events);
        }
        if !failed.is_empty() {
            facts.failed_units.insert(name.clone(), failed);
        }
        let status = output
            .lines()
            .find_map(|l| l.strip_prefix("StatusText="))
            .unwrap_or_default()
            .to_string();
        facts.status_text.insert(name.clone(), status);
        facts
            .evidence
            .insert(name.clone(), output.lines().map(str::to_string).collect());
        facts.journals.push(journal);
        if let Some((finding, markers)) = server {
            facts.findings.extend(finding);
            facts.view.entries.insert(name, markers);
        }
    }
    Ok(facts)
}

/// Counts the lab's own entries (workload messages and markers) in the remote journals two
/// ways and prints `FILES MERGED`: each file on its own, then `journalctl -D` over the
/// directory. Files first: at the end of a run entries are only added (retention deletes
/// archived files only while journal-remote writes, and the run's writing is over), so a
/// merged count below the files' is entries the merged view hid, never one that arrived in
/// between.
fn merged_view_command() -> String {
    let select = format!(
        "-o cat --no-pager SYSLOG_IDENTIFIER={} SYSLOG_IDENTIFIER={}",
        crate::checks::accounting::WORKLOAD_IDENTIFIER,
        journal::MARKER_IDENTIFIER
    );
    format!(
        "files=$({} | wc -l); merged=$(journalctl -D {dir} {select} 2>/dev/null | wc -l); \
         echo \"$files $merged\"",
        journal::each_remote_file(&format!("journalctl --file \"$f\" {select}")),
        dir = journal::REMOTE_DIR
    )
}

/// (files, merged) from what [`merged_view_command`] printed.
fn parse_merged_view(output: &str) -> Option<(u64, u64)> {
    let mut numbers = output.split_whitespace().map(|n| n.parse().ok());
    Some((numbers.next()??, numbers.next()??))
}

/// When `journalctl -D` over the remote directory shows fewer of the lab's entries than its
/// files hold (see [`merged_view_command`]): what an operator reading the directory
/// does not see, though it arrived.
fn merged_view_finding(server: &str, output: &str) -> Option<Finding> {
    let (files, merged) = parse_merged_view(output)?;
    (merged < files).then(|| Finding {
        host: server.to_string(),
        summary: format!(
            "journalctl -D {dir} shows {merged} of the {files} lab entries (workload messages and \
             markers) that the remote journal files hold when each is read on its own: reading the \
             directory as a whole hides {} entries that arrived (the lab's checks read file by file)",
            files - merged,
            dir = journal::REMOTE_DIR
        ),
        evidence: vec![format!(
            "[{server}]$ {}: {files} {merged}",
            merged_view_command()
        )],
    })
}

fn server_finding(server: &str, command: &str, output: &str) -> Option<Finding> {
    let evidence: Vec<String> = output
        .lines()
        .map(|l| format!("[{server}]$ {command}: {l}"))
        .collect();
    (!evidence.is_empty()).then(|| Finding {
        host: server.to_string(),
        summary: "systemd-journal-remote does not verify client certificates (it logged \"Certificate checking \
                  disabled.\") although TrustedCertificateFile is set: any client that reaches the port can write \
                  to this server"
            .to_string(),
        evidence,
    })
}

/// What the workloads' delivery is read from: on each server every workload message of the
/// run, on each client that logged one its own; all timed. The `delivery-exactly-once` check
/// probes the same commands, so in a phase's batch they are read once for both.
fn delivery_reads<'a>(
    lab: &'a Lab,
    scenario: &Scenario,
    workloads: &[crate::checks::accounting::Workload],
) -> Vec<(&'a Host, String)> {
    use crate::checks::accounting::{lines_command, JournalOf};
    if workloads.is_empty() {
        return Vec::new();
    }
    let run_id = lab.run_id();
    // Where messages end: a relay's copies are on their way (the check counts them apart).
    let servers = scenario
        .destinations()
        .filter_map(|s| lab.host(&s.name))
        .map(|server| (server, lines_command(run_id, None, JournalOf::Remote, true)));
    let clients = lab
        .hosts()
        .iter()
        .filter(|h| workloads.iter().any(|w| w.host == h.name))
        .map(|client| {
            let own = lines_command(run_id, Some(&client.name), JournalOf::Host, true);
            (client, own)
        });
    servers.chain(clients).collect()
}

/// Asks a recording batch for the delivery reads (see [`delivery_reads`]).
pub fn ask_delivery_reads(
    lab: &Lab,
    scenario: &Scenario,
    history: &crate::checks::history::History,
    cache: &ProbeCache,
) {
    let workloads: Vec<_> = history.workloads().cloned().collect();
    for (host, command) in delivery_reads(lab, scenario, &workloads) {
        cache.ask(&host.name, &command);
    }
}

/// Accounts the workloads from the delivery reads: answered by the final phase's batch (what
/// the check judged), read now only where the batch did not.
pub async fn read_delivery(
    lab: &Lab,
    scenario: &Scenario,
    workloads: &[crate::checks::accounting::Workload],
    first_seen: &std::collections::HashMap<(String, u32, u64), f64>,
    answers: &ProbeCache,
    deadlines: &Deadlines,
) -> Result<crate::report::delivery::Delivery> {
    use crate::checks::accounting::parse_lines;
    let reads =
        delivery_reads(lab, scenario, workloads)
            .into_iter()
            .map(|(host, command)| async move {
                let output = match answers.ask(&host.name, &command) {
                    // A client's read that found none of its workload is taken again (as the
                    // check does): an empty read of a busy journal is not "never logged".
                    Some(answer)
                        if host.role == Role::Server
                            || parse_lines(&answer.stdout).next().is_some() =>
                    {
                        answer
                    }
                    _ => lab.exec(host, &command, deadlines.command).await?,
                };
                Ok::<_, crate::Error>((host.role, output.stdout))
            });
    let (mut arrivals, mut logged) = (Vec::new(), Vec::new());
    for (role, stdout) in futures::future::try_join_all(reads).await? {
        let lines = parse_lines(&stdout)
            .filter_map(|line| Some((line.host.to_string(), line.stream, line.seq, line.at?)));
        match role {
            Role::Server => arrivals.extend(lines),
            Role::Client | Role::Proxy => logged.extend(lines),
        }
    }
    Ok(crate::report::delivery::delivery(
        workloads, &logged, &arrivals, first_seen,
    ))
}

/// The most a server's /var/log/journal may weigh to be copied out (as the engine sends it,
/// zeros included).
const JOURNAL_COPY_LIMIT: u64 = 4 * 1024 * 1024 * 1024;

/// Copies every server's binary journal files (its own and the remote ones) into
/// `run_dir/journals/<server>/`, all servers at once; returns the manifest.
pub async fn copy_journals(
    lab: &Lab,
    run_dir: &std::path::Path,
    only_remote: bool,
) -> Result<Vec<crate::report::journal_files::JournalFile>> {
    const SOURCE: &str = "/var/log/journal";
    let copies = lab
        .hosts()
        .iter()
        .filter(|h| h.role == Role::Server)
        .map(|server| async move {
            // Through a temporary file: a hundred clients' journals are 800 MiB as sent.
            let mut archive = tempfile::tempfile().map_err(Error::io(
                "creating a temporary file in",
                std::env::temp_dir(),
            ))?;
            lab.engine_of(server)
                .download(server.id(), SOURCE, &mut archive, JOURNAL_COPY_LIMIT)
                .await?;
            use std::io::Seek;
            archive
                .rewind()
                .map_err(Error::io("reading back", std::env::temp_dir()))?;
            crate::report::journal_files::unpack(
                run_dir,
                &server.name,
                SOURCE,
                archive,
                only_remote,
            )
        });
    Ok(futures::future::try_join_all(copies)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_merged_view_that_hides_entries_is_a_finding_and_an_equal_one_is_not() {
        let finding = merged_view_finding("server", "900 600\n").expect("600 of 900 is a finding");
        assert!(
            finding.summary.contains("shows 600 of the 900")
                && finding.summary.contains("hides 300")
                && finding.evidence[0].ends_with(": 900 600"),
            "{finding:?}"
        );
        // Entries that arrived after the files were read show in the merged read only: never
        // a finding, nor is an output that is not two numbers.
        for output in ["900 900", "900 901", "", "900", "no such directory"] {
            assert!(merged_view_finding("server", output).is_none(), "{output}");
        }
    }
}
