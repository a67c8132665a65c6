//! `send`: payloads from the catalog posted to a server's journal-remote by the host-side
//! protocol client, through the port the lab published on 127.0.0.1 for it. Before the first
//! send to a server its journal-remote's state is recorded (the baseline the checks compare
//! with); while idle connections are held, its open descriptors are counted.

use std::path::Path;
use std::time::Duration;

use super::super::{Deadlines, Host, Lab};
use super::RunState;
use crate::checks::history::What;
use crate::checks::hostile::{self, SendRecord, ServerBaseline};
use crate::errors::{Error, Result};
use crate::pki::{CertDir, CertRequest};
use crate::protocol::catalog::{Mark, Payload, Transfer};
use crate::protocol::client::{Client, Tls};
use crate::protocol::encoding::Encoding;
use crate::scenario::{Identity, Scenario, NO_ISSUER};
use crate::{Progress, Say};

/// What one `send` step does.
pub(in crate::lab) struct Plan<'a> {
    pub server: &'a str,
    pub identity: Identity,
    pub payloads: Vec<&'a str>,
    pub encoding: Option<Encoding>,
    pub pace: Duration,
    pub connections: u32,
}

/// How long one request may take past its own pacing (a 64 MiB body included).
const REQUEST_DEADLINE: Duration = Duration::from_secs(60);

pub(super) async fn send(
    lab: &Lab,
    scenario: &Scenario,
    plan: Plan<'_>,
    state: &mut RunState,
    deadlines: &Deadlines,
    progress: &Progress,
) -> Result<()> {
    let host = lab.host(plan.server).expect("validated server");
    let Some(port) = host.published else {
        return Err(Error::InvalidSettings(format!(
            "{}'s port was not published on 127.0.0.1 for the host-side client",
            host.name
        )));
    };
    // The process before the first send to this server; its descriptors after that send (a
    // first request opens a journal file and the event loop's own: those are not a leak).
    let mut baseline = None;
    if state.history.baseline(&host.name).is_none() {
        let out = lab
            .exec(host, &hostile::remote_state_command(), deadlines.command)
            .await?;
        baseline = Some(ServerBaseline::from_output(&out.stdout));
    }
    let private_dir = state
        .private_dir
        .clone()
        .ok_or_else(|| Error::InvalidSettings("the run has no private directory".into()))?;
    let tls = tls(scenario, plan.server, plan.identity, &private_dir)?;
    let client = Client::new(plan.server, port, &tls)?;
    let identity = format!("{:?}", plan.identity).to_lowercase();
    for name in &plan.payloads {
        let payload = Payload::named(name).expect("validated payload");
        let mark = Mark {
            run: lab.run_id().to_string(),
            token: format!(
                "{}-send{}",
                lab.run_id(),
                state.history.sends(None).len() + 1
            ),
        };
        let request = payload.request(&mark, plan.encoding, plan.pace, plan.connections);
        let (outcome, fds_while_held) = match request.transfer {
            Transfer::Idle { hold, .. } => {
                // Counted a little past the middle of the hold: the connections are all up.
                let count = async {
                    tokio::time::sleep(hold.mul_f32(0.6)).await;
                    open_descriptors(lab, host, deadlines).await
                };
                let (outcome, fds) = tokio::join!(client.send(&request, REQUEST_DEADLINE), count);
                (outcome, fds)
            }
            _ => (client.send(&request, REQUEST_DEADLINE).await, None),
        };
        progress.milestone(format!(
            "send {name} ({identity}{}) to {}: {}{}",
            request
                .encoding
                .map_or(String::new(), |e| format!(", {}", e.name())),
            host.name,
            hostile::answer(&outcome),
            fds_while_held.map_or(String::new(), |n| format!(
                "; journal-remote had {n} descriptors open while they were held"
            )),
        ));
        let record = SendRecord {
            server: host.name.clone(),
            payload: name.to_string(),
            expect: payload.expect,
            identity: identity.clone(),
            encoding: request.encoding.map(|e| e.name().to_string()),
            token: mark.token,
            outcome,
            ended: time::OffsetDateTime::now_utc(),
            entries: request.entries,
            fds_while_held,
        };
        // The baseline goes into the history once its descriptors are counted, before the
        // first record of a send to this server.
        if let Some(mut baseline) = baseline.take() {
            baseline.fds = open_descriptors(lab, host, deadlines).await;
            state
                .history
                .record(&host.name, What::Baseline(baseline), false);
        }
        state.history.record(&host.name, What::Sent(record), false);
    }
    Ok(())
}

/// journal-remote's open descriptors on `host` now (None if it is not running).
async fn open_descriptors(lab: &Lab, host: &Host, deadlines: &Deadlines) -> Option<u64> {
    let out = lab
        .exec(host, &hostile::remote_state_command(), deadlines.command)
        .await
        .ok()?;
    ServerBaseline::from_output(&out.stdout).fds
}

/// What the client trusts (the CA that issued the server's certificate) and presents.
fn tls(scenario: &Scenario, server: &str, identity: Identity, private_dir: &Path) -> Result<Tls> {
    let def = scenario.host(server).expect("validated server");
    if def.certificate.issuer == NO_ISSUER {
        return Err(Error::InvalidSettings(format!(
            "{server} has no certificate: journal-remote cannot serve HTTPS there"
        )));
    }
    let read = |path: &Path| std::fs::read_to_string(path).map_err(Error::io("reading", path));
    let (issuer, _) = CertDir::open(private_dir.join(&def.certificate.issuer))?;
    let ca_pem = read(&issuer.ca_cert_path())?;
    let (dir, name, expired) = match identity {
        Identity::None => {
            return Ok(Tls {
                ca_pem,
                identity: None,
            })
        }
        Identity::Lab => (def.trusts.clone(), "journal-lab-sender", false),
        Identity::Expired => (def.trusts.clone(), "journal-lab-sender-expired", true),
        // A CA of its own, which no host trusts.
        Identity::Rogue => (".rogue-sender".to_string(), "journal-lab-sender", false),
    };
    let (cert_dir, _) = CertDir::open(private_dir.join(dir))?;
    let mut request = CertRequest::new(name, Vec::new());
    if expired {
        let now = time::OffsetDateTime::now_utc();
        request.validity = Some((
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        ));
    }
    let files = cert_dir.issue(&request)?;
    Ok(Tls {
        ca_pem,
        identity: Some(read(&files.cert)? + &read(&files.key)?),
    })
}
