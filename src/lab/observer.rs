//! The lab's side of [`Observer`]: what checks observe through. Probes are answered from the
//! phase's batch (or run now), step results come from the run's history, and markers are
//! judged against what arrived on the servers.

use futures::future::BoxFuture;
use futures::FutureExt;

use super::observe::ServerView;
use super::probes::ProbeCache;
use super::steps::RunState;
use super::{Deadlines, Lab};
use crate::checks::{self, MarkerObservation, Observer};
use crate::domain::{ExecOutput, REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::Result;
use crate::journal;
use crate::scenario::{Scenario, Sender};

/// What checks observe through: the phase's batch of probes (or a command run now), the markers
/// and remediation states the steps recorded, and what arrived on the servers.
pub(super) struct LabObserver<'a> {
    pub lab: &'a Lab,
    pub cache: &'a ProbeCache,
    pub scenario: &'a Scenario,
    pub state: &'a RunState,
    pub view: &'a ServerView,
    pub deadlines: &'a Deadlines,
}

impl Observer for LabObserver<'_> {
    fn exec<'a>(&'a self, host: &'a str, command: &'a str) -> BoxFuture<'a, Result<ExecOutput>> {
        async move {
            match self.cache.ask(host, command) {
                Some(answer) => Ok(answer),
                None => {
                    let host = self.lab.host(host).expect("checks run on lab hosts");
                    self.lab.exec(host, command, self.deadlines.command).await
                }
            }
        }
        .boxed()
    }

    fn marker<'a>(
        &'a self,
        host: &'a str,
        evidence: &'a mut Vec<String>,
    ) -> BoxFuture<'a, Result<MarkerObservation>> {
        self.observe_marker(host, evidence).boxed()
    }

    fn history(&self) -> &crate::checks::history::History {
        &self.state.history
    }

    fn marker_after(&self, server: &str, after: time::OffsetDateTime) -> Option<String> {
        self.state
            .markers
            .iter()
            .filter(|m| m.server == server && m.logged_wall > after)
            .find_map(|m| {
                let file = self.view.find(server, &m.text)?;
                Some(format!("{} from {}, in {file}", m.text, m.host))
            })
    }
}

impl LabObserver<'_> {
    /// Runs `command` on `host` and keeps it as evidence.
    async fn probe(
        &self,
        host: &str,
        command: &str,
        evidence: &mut Vec<String>,
    ) -> Result<ExecOutput> {
        let out = self.exec(host, command).await?;
        checks::record_probe(evidence, host, command, &out);
        Ok(out)
    }

    /// What became of `host`'s latest marker, with the evidence: the server's verdict (is it there?),
    /// the proof that absence is not slowness, and the client's and server's own words.
    async fn observe_marker(
        &self,
        host: &str,
        evidence: &mut Vec<String>,
    ) -> Result<MarkerObservation> {
        let (state, view) = (self.state, self.view);
        let sender = self
            .scenario
            .host(host)
            .expect("lab hosts come from the scenario")
            .sender
            .clone();
        let Some(marker) = state.last_marker(host) else {
            return Ok(MarkerObservation::default());
        };
        let found_in = view.find(&marker.server, &marker.text);
        evidence.push(format!("marker: {}", marker.text));
        evidence.push(format!(
            "[{}]$ {}  -> {}",
            marker.server,
            journal::remote_markers_by_file_command(),
            found_in
                .as_deref()
                .map_or("not found".to_string(), |f| format!("found in {f}"))
        ));
        let later_reference = state
            .markers
            .iter()
            .filter(|m| m.server == marker.server && m.seq > marker.seq && m.host != host)
            .find_map(|m| {
                view.find(&m.server, &m.text)
                    .map(|file| format!("{} from {}, in {file}", m.text, m.host))
            });
        if let Some(reference) = &later_reference {
            evidence.push(format!("later marker that did arrive: {reference}"));
        }
        let client_log = match sender {
            Sender::Curl => state.sender_logs.get(host).cloned().unwrap_or_default(),
            Sender::JournalUpload | Sender::Gateway => {
                // What sends it: journal-upload, or the gatewayd its server pulls from.
                let unit = if sender == Sender::Gateway {
                    super::pull::GATEWAY_UNIT
                } else {
                    UPLOAD_UNIT
                };
                let command = format!("journalctl -u {unit} -o cat --no-pager -n 20");
                self.probe(host, &command, evidence)
                    .await?
                    .combined()
                    .lines()
                    .map(str::to_string)
                    .collect()
            }
        };
        if sender == Sender::Curl {
            evidence.extend(client_log.iter().map(|l| format!("  {l}")));
        }
        if found_in.is_none() && self.lab.host(&marker.server).is_some() {
            let unit = if sender == Sender::Gateway {
                super::pull::pull_unit(host)
            } else {
                REMOTE_UNIT.to_string()
            };
            let command = format!("journalctl -u {unit} -o cat --no-pager -n 15");
            self.probe(&marker.server, &command, evidence).await?;
        }
        Ok(MarkerObservation {
            logged_at: Some(marker.logged_wall),
            logged: Some(marker.text.clone()),
            found_in,
            later_reference,
            client_log,
        })
    }
}
