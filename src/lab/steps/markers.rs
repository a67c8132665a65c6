//! `log-markers`: a unique marker on each host (through journald, or posted by curl), and a wait
//! until those that must arrive are on their servers.

use std::time::{Duration, Instant};

use super::super::configure::{def, upload_url};
use super::super::observe::ServerView;
use super::super::staging::BUNDLE_DIR;
use super::super::{Deadlines, Host, Lab};
use super::{MarkerRecord, RunState};
use crate::checks::CheckId;
use crate::errors::{Error, Result};
use crate::journal;
use crate::pki::INSTALL_DIR;
use crate::scenario::{Scenario, Sender};
use crate::{Progress, Say};

/// The command that sends `marker` from a curl sender (the journal export format over HTTPS).
fn curl_send_command(url: &str, marker: &str, cert: Option<&str>) -> String {
    let (ca, identity) = match cert {
        Some(name) => (
            format!("{INSTALL_DIR}/ca.pem"),
            format!(" --cert {INSTALL_DIR}/{name}.pem --key {INSTALL_DIR}/{name}.key"),
        ),
        None => (format!("{BUNDLE_DIR}/ca.pem"), String::new()),
    };
    format!(
        // A complete export-format entry: newer journal-remote drops entries without a
        // monotonic timestamp and boot id ("Entry is invalid, ignoring.").
        "printf '__REALTIME_TIMESTAMP=%s\\n__MONOTONIC_TIMESTAMP=%s\\n_BOOT_ID=%s\\nMESSAGE=%s\\nSYSLOG_IDENTIFIER={id}\\n_HOSTNAME=%s\\n\\n' \
         \"$(date +%s%6N)\" \"$(awk '{{printf \"%d\", $1 * 1000000}}' /proc/uptime)\" \"$(tr -d - < /proc/sys/kernel/random/boot_id)\" \
         {msg} \"$(hostname)\" \
         | curl -sS -m 10 -o /dev/null -w 'HTTP status %{{http_code}}\\n' --cacert {ca}{identity} \
         -H 'Content-Type: application/vnd.fdo.journal' --data-binary @- {url}/upload 2>&1",
        id = journal::MARKER_IDENTIFIER,
        msg = journal::shell_quote(marker),
    )
}

/// Logs a marker on each host, then waits until those that must arrive (the hosts of
/// `client-delivers` checks) are on their servers, noting every arrival it sees meanwhile.
pub(super) async fn log_markers(
    lab: &Lab,
    scenario: &Scenario,
    hosts: &[&Host],
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let sends = hosts.iter().map(|host| async move {
        let host_def = def(scenario, host);
        // A marker must reach the end of the route (through relays, if any).
        let server = scenario
            .destination_of(host_def)
            .expect("validated: a server exists")
            .name
            .clone();
        let text = journal::marker(lab.run_id(), &host.name, rand::random());
        let sender_log = if host_def.sender == Sender::Curl {
            let cert = (host_def.certificate.issuer != crate::scenario::NO_ISSUER)
                .then_some(host.name.as_str());
            let command = curl_send_command(&upload_url(lab, scenario, host), &text, cert);
            let out = lab.exec(host, &command, deadlines.command).await?;
            Some(vec![
                format!("$ curl ... {}/upload", upload_url(lab, scenario, host)),
                out.combined(),
            ])
        } else {
            lab.exec_ok(host, &journal::log_marker_command(&text), deadlines.command)
                .await?;
            None
        };
        Ok::<_, Error>((host.name.clone(), server, text, Instant::now(), sender_log))
    });
    for (host, server, text, logged_at, sender_log) in futures::future::try_join_all(sends).await? {
        if let Some(log) = sender_log {
            state
                .sender_logs
                .entry(host.clone())
                .or_default()
                .extend(log);
        }
        let seq = state.markers.len();
        state.markers.push(MarkerRecord {
            host,
            server,
            text,
            seq,
            logged_at,
            logged_wall: time::OffsetDateTime::now_utc()
                - time::Duration::seconds_f64(logged_at.elapsed().as_secs_f64()),
            arrived_after: None,
            found_in: None,
        });
    }
    let first_new = state.markers.len() - hosts.len();
    let must_arrive: Vec<usize> = (first_new..state.markers.len())
        .filter(|&i| expects_delivery(scenario, &state.markers[i].host))
        .collect();
    let start = Instant::now();
    let mut delay = Duration::from_millis(25);
    loop {
        let view = ServerView::read(lab, scenario, deadlines).await?;
        note_arrivals(state, &view);
        let pending = must_arrive
            .iter()
            .filter(|&&i| state.markers[i].found_in.is_none())
            .count();
        if pending == 0 || start.elapsed() >= deadlines.deliver {
            state.some_undelivered |= pending > 0;
            state.all_delivered_at = (!state.some_undelivered).then(Instant::now);
            // Markers that are expected not to arrive (a rejected client's) are not counted.
            if !must_arrive.is_empty() {
                progress.milestone(format!(
                    "{} of {} expected markers on the server after {:.1}s",
                    must_arrive.len() - pending,
                    must_arrive.len(),
                    start.elapsed().as_secs_f64()
                ));
            }
            return Ok(());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 3 / 2).min(Duration::from_millis(250));
    }
}

/// Records the first sighting of every marker in `view`.
pub fn note_arrivals(state: &mut RunState, view: &ServerView) {
    for marker in &mut state.markers {
        if marker.found_in.is_none() {
            if let Some(file) = view.find(&marker.server, &marker.text) {
                marker.arrived_after = Some(marker.logged_at.elapsed().as_secs_f64());
                marker.found_in = Some(file);
            }
        }
    }
}

fn expects_delivery(scenario: &Scenario, host: &str) -> bool {
    scenario.checks.iter().any(|c| {
        c.id == CheckId::CLIENT_DELIVERS
            && c.hosts
                .as_ref()
                .is_none_or(|hosts| hosts.iter().any(|h| h == host))
    })
}
