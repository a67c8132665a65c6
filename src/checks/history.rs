//! What the steps did, in order and with when: one typed record, appended to by the steps
//! (`lab/steps`) and only read by everything else. Checks read it through
//! [`super::Observer::history`]; the report takes its faults, restarts, sealing, tampering, sends
//! and workloads from it. (Jepsen's history: the nemesis and the clients append, the checkers read.)

use time::OffsetDateTime;

use super::accounting::Workload;
use super::hostile::{SendRecord, ServerBaseline};
use super::{Sealing, Tampered};
use crate::domain::{FaultKind, RestartMode};

/// One thing a step did to a host.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Event {
    /// The host it was done to (a server for sends and baselines).
    pub host: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// When it stopped being in force: None while it lasts. Equal to `started` for what is
    /// done at once (a single-blow fault, a record).
    #[serde(with = "time::serde::rfc3339::option")]
    pub ended: Option<OffsetDateTime>,
    pub what: What,
}

/// What a step did.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    Fault(FaultKind),
    /// The host restarted: from the stop to systemd up again.
    Restart(RestartMode),
    /// A workload started logging on the host.
    Workload(Workload),
    /// A remediation applied twice: the state after the first and after the second application.
    Remediated {
        first: String,
        second: String,
    },
    SealingSetUp(Sealing),
    Tampered(Tampered),
    /// journal-remote on a server before the first send to it.
    Baseline(ServerBaseline),
    /// Stored with the entries a correct server keeps (run.json's `sends` leaves them out; a
    /// verdict judged again needs them).
    #[serde(with = "sent_with_entries")]
    Sent(SendRecord),
    /// journal-remote on a server, sampled by a `soak` step.
    Sampled(SoakSample),
}

/// A [`SendRecord`] with its entries, which its own serialization (run.json's) leaves out.
mod sent_with_entries {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::SendRecord;
    use crate::protocol::Entry;

    #[derive(Serialize, Deserialize)]
    struct Stored {
        #[serde(flatten)]
        record: SendRecord,
        entries: Vec<Entry>,
    }

    pub fn serialize<S: Serializer>(record: &SendRecord, serializer: S) -> Result<S::Ok, S::Error> {
        Stored {
            record: record.clone(),
            entries: record.entries.clone(),
        }
        .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SendRecord, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        Ok(SendRecord {
            entries: stored.entries,
            ..stored.record
        })
    }
}

/// journal-remote on a server at one moment of a `soak` step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema, serde::Deserialize)]
pub struct SoakSample {
    pub server: String,
    /// Seconds since the soak began.
    pub seconds: f64,
    /// Its main PID (0: not running, socket-activated and not yet started).
    pub pid: u32,
    /// Its resident memory (VmRSS).
    pub rss_bytes: u64,
    /// Its open file descriptors.
    pub open_fds: u64,
    /// Journal files under /var/log/journal/remote, and their bytes on disk.
    pub remote_files: u64,
    pub remote_bytes: u64,
}

/// The run's history. Appending is for steps; reading is for everyone. It is stored with a
/// run's observations (`checks::recorded`), its sealing keys withheld.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct History {
    events: Vec<Event>,
}

/// Where an event is in the history, to end it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventIndex(usize);

impl History {
    /// Appends what a step just did to `host`: in force from now until [`History::end`], or done
    /// at once (`lasting: false`).
    pub fn record(&mut self, host: &str, what: What, lasting: bool) -> EventIndex {
        let now = OffsetDateTime::now_utc();
        self.record_at(host, what, now, (!lasting).then_some(now))
    }

    /// Appends an event with its times as measured by the step.
    pub fn record_at(
        &mut self,
        host: &str,
        what: What,
        started: OffsetDateTime,
        ended: Option<OffsetDateTime>,
    ) -> EventIndex {
        self.events.push(Event {
            host: host.to_string(),
            started,
            ended,
            what,
        });
        EventIndex(self.events.len() - 1)
    }

    /// The event stops being in force now.
    pub fn end(&mut self, index: EventIndex) {
        if let Some(event) = self.events.get_mut(index.0) {
            event.ended.get_or_insert_with(OffsetDateTime::now_utc);
        }
    }

    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Every fault, in order.
    pub fn faults(&self) -> impl Iterator<Item = (&Event, FaultKind)> {
        self.events.iter().filter_map(|e| match e.what {
            What::Fault(kind) => Some((e, kind)),
            _ => None,
        })
    }

    /// The fault `kind` on `host` still in force, if there is one.
    pub fn fault_in_force(&self, kind: FaultKind, host: &str) -> Option<EventIndex> {
        self.events
            .iter()
            .rposition(|e| {
                matches!(e.what, What::Fault(k) if k == kind) && e.host == host && e.ended.is_none()
            })
            .map(EventIndex)
    }

    /// When the last fault of the run ended (None: no fault, or one still in force).
    pub fn last_fault_ended(&self) -> Option<OffsetDateTime> {
        let mut ends = Vec::new();
        for (event, _) in self.faults() {
            ends.push(event.ended?);
        }
        ends.into_iter().max()
    }

    /// Every restart, in order, with how the host was stopped.
    pub fn restarts(&self) -> impl Iterator<Item = (&Event, RestartMode)> {
        self.events.iter().filter_map(|e| match e.what {
            What::Restart(how) => Some((e, how)),
            _ => None,
        })
    }

    /// Every workload logged, in order.
    pub fn workloads(&self) -> impl Iterator<Item = &Workload> {
        self.events.iter().filter_map(|e| match &e.what {
            What::Workload(w) => Some(w),
            _ => None,
        })
    }

    /// The workloads `host` logged.
    pub fn workloads_of(&self, host: &str) -> Vec<Workload> {
        self.workloads()
            .filter(|w| w.host == host)
            .cloned()
            .collect()
    }

    /// The states after the first and second application of the last remediation on `host`.
    pub fn remediation(&self, host: &str) -> Option<(String, String)> {
        self.events.iter().rev().find_map(|e| match &e.what {
            What::Remediated { first, second } if e.host == host => {
                Some((first.clone(), second.clone()))
            }
            _ => None,
        })
    }

    /// Every host's sealing, by host, as last set up.
    pub fn sealings(&self) -> std::collections::BTreeMap<String, Sealing> {
        self.events
            .iter()
            .filter_map(|e| match &e.what {
                What::SealingSetUp(sealing) => Some((e.host.clone(), sealing.clone())),
                _ => None,
            })
            .collect()
    }

    /// The sealing set up on `host`, as last set up.
    pub fn sealing(&self, host: &str) -> Option<Sealing> {
        self.sealings().remove(host)
    }

    /// Every host's damaged journal files, by host, in order.
    pub fn tampered(&self) -> std::collections::BTreeMap<String, Vec<Tampered>> {
        let mut by_host: std::collections::BTreeMap<String, Vec<Tampered>> = Default::default();
        for event in &self.events {
            if let What::Tampered(damage) = &event.what {
                by_host
                    .entry(event.host.clone())
                    .or_default()
                    .push(damage.clone());
            }
        }
        by_host
    }

    /// What `send` steps posted, in order (to `server` only, if named).
    pub fn sends(&self, server: Option<&str>) -> Vec<SendRecord> {
        self.events
            .iter()
            .filter_map(|e| match &e.what {
                What::Sent(record) if server.is_none_or(|s| s == record.server) => {
                    Some(record.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Every sample of every `soak` step, in order.
    pub fn soak_samples(&self) -> Vec<SoakSample> {
        self.events
            .iter()
            .filter_map(|e| match &e.what {
                What::Sampled(sample) => Some(sample.clone()),
                _ => None,
            })
            .collect()
    }

    /// The history with every sealing key replaced by `stand_in(fingerprint)`: what may be
    /// stored (the key can forge seals).
    pub fn withholding_keys(&self, stand_in: impl Fn(&str) -> String) -> History {
        let mut withheld = self.clone();
        for event in &mut withheld.events {
            if let What::SealingSetUp(sealing) = &mut event.what {
                sealing.verification_key = stand_in(&sealing.fingerprint);
            }
        }
        withheld
    }

    /// journal-remote on `server` before the first send to it.
    pub fn baseline(&self, server: &str) -> Option<ServerBaseline> {
        self.events.iter().find_map(|e| match &e.what {
            What::Baseline(baseline) if e.host == server => Some(baseline.clone()),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_end_where_they_were_started_and_the_last_end_counts_only_when_all_ended() {
        let mut history = History::default();
        assert_eq!(history.last_fault_ended(), None);
        let down = history.record("server", What::Fault(FaultKind::ServerDown), true);
        history.record("client1", What::Fault(FaultKind::KillUpload), false);
        assert_eq!(history.last_fault_ended(), None, "server-down is in force");
        assert_eq!(
            history.fault_in_force(FaultKind::ServerDown, "server"),
            Some(down)
        );
        assert_eq!(history.fault_in_force(FaultKind::Pause, "server"), None);
        history.end(down);
        assert_eq!(
            history.fault_in_force(FaultKind::ServerDown, "server"),
            None
        );
        let (event, _) = history.faults().next().unwrap();
        assert_eq!(history.last_fault_ended(), event.ended);
        let w = Workload {
            host: "client1".into(),
            stream: 0,
            count: 3,
            size: 64,
        };
        history.record("client1", What::Workload(w.clone()), false);
        history.record("client1", What::Restart(RestartMode::Halt), true);
        assert_eq!(history.workloads_of("client1"), vec![w]);
        assert!(history.workloads_of("client2").is_empty());
        assert_eq!(history.restarts().count(), 1);
        assert_eq!(history.events().len(), 4);
    }
}
