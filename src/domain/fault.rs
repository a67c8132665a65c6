//! The fault kinds, each one entry of [`FAULTS`]: the scenario's word for it, which hosts it
//! applies to, whether it lasts or is a single blow, what it needs of the machine, and how the
//! lab starts and stops it (as data the fault step interprets). The validator, the runner's
//! pre-flight and the fault step all read the entry; adding a kind is a variant, its entry here
//! and its row in docs/scenarios.md (a test keeps the docs' table equal to this one).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Role;

/// A fault the lab can inject.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    /// journal-remote's socket and service stopped (a server), then the socket started again.
    ServerDown,
    /// SIGKILL of journal-upload in the middle of its work (a client); its unit decides what next.
    KillUpload,
    /// The host frozen (`docker pause`) and thawed: a hung host, not a dead one.
    Pause,
    /// The host disconnected from the lab's network, then connected again.
    Partition,
    /// Packets to journal-remote's port silently dropped (no RST), then let through again: the
    /// case where clients hang instead of failing fast (systemd#32354). A server.
    Blackhole,
    /// A client's clock, as its journald and journal-upload read it, set back an hour, then
    /// right again (systemd#31516).
    ClockBack,
    /// A client's clock, as its journald and journal-upload read it, jumped an hour forward,
    /// then right again.
    ClockForward,
}

/// The file a client's faked clock reads its offset from, in whole seconds, at every call (the
/// clock shim, src/lab/clock_shim.c): `+0` is the true time.
pub const CLOCK_FILE: &str = "/etc/journal-lab/clock";

/// How the lab does one side of a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultAction {
    /// A command in the host (`sh -c`); it must succeed.
    InHost(&'static str),
    /// The engine freezes (true) or thaws (false) the host.
    Freeze(bool),
    /// The engine disconnects (false) or connects (true) the host to the lab's network.
    Connect(bool),
    /// An iptables rule dropping TCP to journal-remote's port, inserted (true) or deleted (false)
    /// in the host's own network namespace, from the machine (`nsenter -n`).
    DropToRemotePort(bool),
    /// Nothing (the end of a single blow).
    Nothing,
}

/// One fault kind, whole.
#[derive(Debug, Clone, Copy)]
pub struct FaultSpec {
    pub kind: FaultKind,
    /// The scenario's word for it (`kind: server-down`).
    pub word: &'static str,
    /// The only role it applies to, and why (None: any host).
    pub only: Option<(Role, &'static str)>,
    /// A single blow (no duration, ended when started) rather than a state that lasts.
    pub single_blow: bool,
    /// It fakes the host's clock (the host needs the clock shim and a boot ID of its own).
    pub fakes_clock: bool,
    /// It is done from the machine as root, with the engine local (checked before boot).
    pub needs_machine_root: bool,
    pub start: FaultAction,
    pub stop: FaultAction,
}

/// Every fault kind, in the order the docs list them (a test holds it to the variants).
pub const FAULTS: [FaultSpec; 7] = [
    SERVER_DOWN,
    KILL_UPLOAD,
    PAUSE,
    PARTITION,
    BLACKHOLE,
    CLOCK_BACK,
    CLOCK_FORWARD,
];

const SERVER_DOWN: FaultSpec = FaultSpec {
    kind: FaultKind::ServerDown,
    word: "server-down",
    only: Some((
        Role::Server,
        "it stops journal-remote, which runs on servers",
    )),
    single_blow: false,
    fakes_clock: false,
    needs_machine_root: false,
    start: FaultAction::InHost(
        "systemctl stop systemd-journal-remote.socket systemd-journal-remote.service 2>&1",
    ),
    stop: FaultAction::InHost("systemctl start systemd-journal-remote.socket 2>&1"),
};

const KILL_UPLOAD: FaultSpec = FaultSpec {
    kind: FaultKind::KillUpload,
    word: "kill-upload",
    only: Some((
        Role::Client,
        "it kills journal-upload, which runs on clients",
    )),
    single_blow: true,
    fakes_clock: false,
    needs_machine_root: false,
    start: FaultAction::InHost("systemctl kill -s KILL systemd-journal-upload.service 2>&1"),
    stop: FaultAction::Nothing,
};

const PAUSE: FaultSpec = FaultSpec {
    kind: FaultKind::Pause,
    word: "pause",
    only: None,
    single_blow: false,
    fakes_clock: false,
    needs_machine_root: false,
    start: FaultAction::Freeze(true),
    stop: FaultAction::Freeze(false),
};

const PARTITION: FaultSpec = FaultSpec {
    kind: FaultKind::Partition,
    word: "partition",
    only: None,
    single_blow: false,
    fakes_clock: false,
    needs_machine_root: false,
    start: FaultAction::Connect(false),
    stop: FaultAction::Connect(true),
};

const BLACKHOLE: FaultSpec = FaultSpec {
    kind: FaultKind::Blackhole,
    word: "blackhole",
    only: Some((
        Role::Server,
        "it drops packets to journal-remote's port, which runs on servers",
    )),
    single_blow: false,
    fakes_clock: false,
    needs_machine_root: true,
    start: FaultAction::DropToRemotePort(true),
    stop: FaultAction::DropToRemotePort(false),
};

const CLOCK_BACK: FaultSpec = clock_fault(
    FaultKind::ClockBack,
    "clock-back",
    "echo -3600 > /etc/journal-lab/clock",
);

const CLOCK_FORWARD: FaultSpec = clock_fault(
    FaultKind::ClockForward,
    "clock-forward",
    "echo +3600 > /etc/journal-lab/clock",
);

/// A fault of a client's faked clock: `start` writes its offset to [`CLOCK_FILE`], the end
/// puts it right.
const fn clock_fault(kind: FaultKind, word: &'static str, start: &'static str) -> FaultSpec {
    FaultSpec {
        kind,
        word,
        only: Some((
            Role::Client,
            "it fakes the clock of journald and journal-upload, on clients",
        )),
        single_blow: false,
        fakes_clock: true,
        needs_machine_root: false,
        start: FaultAction::InHost(start),
        stop: FaultAction::InHost("echo +0 > /etc/journal-lab/clock"),
    }
}

impl FaultKind {
    /// This kind's entry: a variant without one does not compile.
    pub const fn spec(self) -> &'static FaultSpec {
        match self {
            FaultKind::ServerDown => &SERVER_DOWN,
            FaultKind::KillUpload => &KILL_UPLOAD,
            FaultKind::Pause => &PAUSE,
            FaultKind::Partition => &PARTITION,
            FaultKind::Blackhole => &BLACKHOLE,
            FaultKind::ClockBack => &CLOCK_BACK,
            FaultKind::ClockForward => &CLOCK_FORWARD,
        }
    }

    /// It fakes the host's clock (the host needs the clock shim and a boot ID of its own).
    pub fn is_clock(self) -> bool {
        self.spec().fakes_clock
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec().word)
    }
}

/// How a `restart` step stops the host before booting it again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RestartMode {
    /// SIGRTMIN+3 to systemd (PID 1): it halts cleanly, stopping every unit (journald flushes,
    /// journal-upload saves its cursor), as `systemctl reboot` would; then the container starts.
    #[default]
    Halt,
    /// SIGKILL to the container: the power cut, nothing stopped in order.
    PowerCut,
}

impl std::fmt::Display for RestartMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RestartMode::Halt => "halt",
            RestartMode::PowerCut => "power-cut",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each kind has exactly one entry, under the word serde reads it by, and every variant (the
    /// words its schema lists) is in [`FAULTS`].
    #[test]
    fn every_fault_kind_has_one_entry_under_its_scenario_word() {
        let schema = serde_json::to_value(schemars::schema_for!(FaultKind)).unwrap();
        let mut words: Vec<String> = schema["oneOf"]
            .as_array()
            .or(schema["enum"].as_array())
            .unwrap()
            .iter()
            .filter_map(|v| {
                v.get("const")
                    .or(Some(v))
                    .and_then(|w| w.as_str())
                    .map(str::to_string)
            })
            .collect();
        words.sort();
        let mut listed: Vec<String> = FAULTS.iter().map(|s| s.word.to_string()).collect();
        listed.sort();
        assert_eq!(words, listed, "every variant is in FAULTS");
        for spec in FAULTS {
            let word = serde_json::to_value(spec.kind).unwrap();
            assert_eq!(word.as_str(), Some(spec.word));
            assert_eq!(FAULTS.iter().filter(|s| s.kind == spec.kind).count(), 1);
            assert_eq!(spec.kind.spec().word, spec.word);
            assert_eq!(spec.single_blow, spec.stop == FaultAction::Nothing);
        }
        // The clock faults write the file the faked clock reads.
        for spec in FAULTS.iter().filter(|s| s.kind.is_clock()) {
            for action in [spec.start, spec.stop] {
                assert!(matches!(action, FaultAction::InHost(c) if c.ends_with(CLOCK_FILE)));
            }
        }
        // The commands name the units by the names the rest of the lab uses.
        let commands: Vec<&str> = FAULTS
            .iter()
            .flat_map(|s| [s.start, s.stop])
            .filter_map(|a| match a {
                FaultAction::InHost(command) => Some(command),
                _ => None,
            })
            .collect();
        for unit in [
            super::super::REMOTE_SOCKET,
            super::super::REMOTE_UNIT,
            super::super::UPLOAD_UNIT,
        ] {
            assert!(commands.iter().any(|c| c.contains(unit)), "{unit}");
        }
    }
}
