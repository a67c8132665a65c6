//! The steps a scenario lists: what happens to the hosts after they are configured, in order.
//! Types only; `validate/steps.rs` checks them and `lab/steps/` performs them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which hosts a step applies to: `all`, `clients`, `servers`, or a list of names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Hosts {
    Group(HostGroup),
    Named(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostGroup {
    All,
    Clients,
    Servers,
}

impl Default for Hosts {
    fn default() -> Self {
        Hosts::Group(HostGroup::All)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UnitAction {
    Start,
    Stop,
    Restart,
    Enable,
    EnableNow,
    Disable,
    Mask,
    Unmask,
}

impl UnitAction {
    /// The systemctl words for the action.
    pub fn systemctl(self) -> &'static str {
        match self {
            UnitAction::Start => "start",
            UnitAction::Stop => "stop",
            UnitAction::Restart => "restart",
            UnitAction::Enable => "enable",
            UnitAction::EnableNow => "enable --now",
            UnitAction::Disable => "disable",
            UnitAction::Mask => "mask",
            UnitAction::Unmask => "unmask",
        }
    }
}

/// A remediation the lab knows how to apply, by the public rule it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Remediation {
    /// Datadog def-000-s9r "Disable systemd-journal-remote Socket": mask the socket, if the
    /// package `linux-base` is installed (the rule's applicability condition).
    DisableJournalRemoteSocket,
    /// CIS Docker 1.2.7: audit docker.socket (a watch rule on its FragmentPath, key `docker`).
    AuditDockerSocket,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Step {
    /// Log a unique marker on each host (clients by default) and wait for it where it should go.
    LogMarkers {
        #[serde(default = "clients")]
        hosts: Hosts,
        /// How long to wait for the markers that must arrive, in seconds (default 30).
        #[serde(default)]
        deadline: Option<u64>,
    },
    /// Run a shell command on a host; the step fails if it exits non-zero unless `may_fail`.
    Run {
        host: String,
        command: String,
        #[serde(default)]
        may_fail: bool,
        /// Seconds the command may take (default 60, at most 3600).
        #[serde(default)]
        timeout: Option<u64>,
    },
    /// systemctl ACTION UNIT on the hosts.
    Unit {
        #[serde(default)]
        hosts: Hosts,
        action: UnitAction,
        unit: String,
    },
    /// Apply a named remediation (twice if `twice`, to show idempotence).
    Remediate {
        rule: Remediation,
        #[serde(default)]
        hosts: Hosts,
    },
    /// Restart a host's container (systemd boots again): by default a clean halt, as a reboot
    /// would (`how: power-cut` for a SIGKILL: nothing flushed, nothing saved).
    Restart {
        host: String,
        #[serde(default)]
        how: RestartMode,
    },
    /// Forward Secure Sealing on the hosts: `journalctl --setup-keys` (the sealing key stays on
    /// the host, the verification key goes to the run's private directory), then a rotation so
    /// the new journal file is sealed. On servers also `Seal=yes` for journal-remote, whose
    /// current files are set aside (`presealing-*`) so that new ones are created sealed.
    SetupSealing {
        #[serde(default)]
        hosts: Hosts,
        /// How often a seal is written: `10s`, `15min`, `1h` (journalctl's default: 15min).
        #[serde(default = "seal_interval")]
        interval: String,
    },
    /// Damage a journal file as an intruder would. `journal`: `system` (the host's newest
    /// archived journal, after a rotation), `remote` (a server's newest remote journal, with
    /// journal-remote stopped), or an absolute path under /var/log/journal.
    Tamper {
        host: String,
        #[serde(default = "system_journal")]
        journal: String,
        how: Tampering,
    },
    /// `journalctl --rotate` on the hosts (and on servers, journal-remote stopped), so that what
    /// was written is in stable files that can be verified.
    Rotate {
        #[serde(default)]
        hosts: Hosts,
    },
    /// Log a known, sequence-numbered stream of messages on each host (clients by default), for
    /// `delivery-exactly-once` to account for. Each message carries run, host, stream and
    /// sequence number. Unless `background`, it then waits until delivery settles.
    Workload {
        #[serde(default = "clients")]
        hosts: Hosts,
        count: u64,
        /// Bytes per message (at least 64; at most 48 KiB, journald's line limit, through the
        /// `stream` protocol; at most 16 MiB through `native`).
        #[serde(default = "workload_size")]
        size: usize,
        /// How messages reach journald: `stream` (systemd-cat, a line each) or `native` (an
        /// entry each through journald's native protocol, `logger --journald`).
        #[serde(default)]
        protocol: WorkloadProtocol,
        #[serde(default)]
        content: Content,
        /// Messages per second per host; 0 (the default): as fast as possible.
        #[serde(default)]
        rate: u32,
        /// Go on with the next steps while it logs (a `wait-workload` step waits for it).
        #[serde(default)]
        background: bool,
        /// How long delivery may take to settle, in seconds.
        #[serde(default = "settle_deadline")]
        deadline: u64,
        /// Log from a service of its own (`jl-work-STREAM.service`, started with
        /// `systemd-run`), as an application does. journald's rate limit
        /// (`RateLimitIntervalSec=`/`RateLimitBurst=`) is per unit: only messages from a unit
        /// are limited (a command the lab runs in a host is in none, measured).
        #[serde(default, rename = "as-service")]
        as_service: bool,
        /// Log into this journal namespace (`LogNamespace=`, systemd.exec(5)): the generator runs
        /// as a service (as with `as-service`) of the namespace, and its messages go to that
        /// namespace's own journald instance, which the default journal-upload does not read.
        #[serde(default)]
        namespace: Option<String>,
    },
    /// Sample journal-remote on every server every `every` seconds for `duration` seconds
    /// (background workloads log meanwhile): resident memory, open descriptors, remote journal
    /// files and bytes, into run.json's `soak` and a chart in the HTML report.
    Soak {
        duration: u64,
        #[serde(default = "soak_every")]
        every: u64,
    },
    /// Wait for background workloads to finish logging, then for delivery to settle.
    WaitWorkload {
        #[serde(default = "settle_deadline")]
        deadline: u64,
    },
    /// Inject a fault on a host. With `duration` (seconds) it is undone after that long (while
    /// background workloads go on); without, it lasts until an `end-fault` step or the end of
    /// the steps. `kill-upload` is a single blow (SIGKILL) and takes no duration.
    Fault {
        kind: FaultKind,
        host: String,
        #[serde(default)]
        duration: Option<u64>,
    },
    /// Undo a fault started without a duration.
    EndFault { kind: FaultKind, host: String },
    /// Post payloads from the catalog (docs/scenarios.md) to a server's journal-remote from the
    /// machine running the lab, with the host-side protocol client. The server's port is then
    /// published on 127.0.0.1 only, on an ephemeral port; the client connects there under the
    /// server's name, so its certificate is checked as a client in the lab would check it.
    Send {
        server: String,
        /// The client certificate: `lab` (issued by the CA the server trusts), `rogue` (from a
        /// CA nobody trusts), `expired` (the lab CA's, expired), `none`.
        #[serde(default)]
        identity: Identity,
        /// A payload name, or a list of them, sent one after the other.
        payload: Payloads,
        /// Encode every body with this Content-Encoding (gzip, xz, lz4, zstd, or
        /// x-journal-lab-unknown) instead of the payload's own.
        #[serde(default, rename = "content-encoding")]
        content_encoding: Option<String>,
        /// slow-sender: seconds of dripping; idle-connections: seconds held (1 to 60).
        #[serde(default = "pace")]
        pace: u64,
        /// idle-connections: how many (1 to 200).
        #[serde(default = "connections")]
        connections: u32,
    },
    /// Evaluate the checks that list this phase.
    Evaluate { phase: String },
}

/// The client certificate the host-side client presents.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Identity {
    /// Issued by the CA the server trusts.
    #[default]
    Lab,
    /// Issued by a CA made for this send, which nobody trusts.
    Rogue,
    /// Issued by the CA the server trusts, expired yesterday.
    Expired,
    /// No client certificate.
    None,
}

/// One payload name or a list of them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Payloads {
    One(String),
    Many(Vec<String>),
}

impl Payloads {
    /// The names, each with its path below the step (`payload` or `payload[2]`).
    pub fn named(&self) -> Vec<(String, &str)> {
        match self {
            Payloads::One(name) => vec![("payload".to_string(), name.as_str())],
            Payloads::Many(names) => names
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("payload[{i}]"), n.as_str()))
                .collect(),
        }
    }
}

fn pace() -> u64 {
    5
}

fn connections() -> u32 {
    100
}

pub use crate::domain::{FaultKind, RestartMode};

/// How a workload's messages reach journald.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadProtocol {
    /// journald's stdout stream (`systemd-cat`): a line per message, at most `LineMax=`
    /// (48 KiB by default).
    #[default]
    Stream,
    /// journald's native protocol (`logger --journald`): an entry per message, large ones
    /// passed in a sealed memory file, so a message may be megabytes.
    Native,
}

/// What workload messages are made of.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Content {
    /// Random characters: hardly compressible, like real mixed logs.
    #[default]
    Random,
    /// The same sentence over and over: highly compressible.
    Text,
}

fn soak_every() -> u64 {
    5
}

fn workload_size() -> usize {
    400
}

fn settle_deadline() -> u64 {
    60
}

/// How a `tamper` step damages a journal file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Tampering {
    /// Overwrite one byte inside a logged message (the run's latest marker where there is one).
    Overwrite,
    /// Cut the file off inside its last marker's entry.
    Truncate,
}

fn seal_interval() -> String {
    "15min".to_string()
}

fn system_journal() -> String {
    "system".to_string()
}

fn clients() -> Hosts {
    Hosts::Group(HostGroup::Clients)
}

/// The seconds a list of steps deliberately takes: faults and soaks held for their duration,
/// workloads logged at a set rate (a background one runs beside the steps after it, until a
/// `wait-workload`), `run: sleep N`. A lower bound that orders runs (the longest first), not a
/// promise: waits for delivery are not in it.
pub fn deliberate_seconds(steps: &[Step]) -> u64 {
    let (mut now, mut background_until) = (0u64, 0u64);
    for step in steps {
        match step {
            Step::Workload {
                count,
                rate,
                background,
                ..
            } if *rate > 0 => {
                let logging = count / u64::from(*rate);
                if *background {
                    background_until = background_until.max(now + logging);
                } else {
                    now += logging;
                }
            }
            Step::Fault {
                duration: Some(seconds),
                ..
            }
            | Step::Soak {
                duration: seconds, ..
            } => now += seconds,
            Step::Run { command, .. } => {
                now += command
                    .strip_prefix("sleep ")
                    .and_then(|s| s.trim().parse::<u64>().ok())
                    .unwrap_or(0)
            }
            Step::WaitWorkload { .. } => now = now.max(background_until),
            _ => {}
        }
    }
    now.max(background_until)
}
