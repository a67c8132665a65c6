//! A bundle is data, never code. What `replay` installs from one is the journal units'
//! configuration and unit files as the field had them, checked here first:
//! - only the journal's own files: journal-upload.conf, journal-remote.conf, journald.conf and
//!   their `.conf.d/*.conf` drop-ins; the journal-remote/journal-upload units and sockets under
//!   /etc/systemd/system and their `.d/*.conf` drop-ins. Any other path (a cron file, another
//!   unit) is refused;
//! - in a unit file, only keys the journal units read (a list below): a command other than the
//!   unit's own program (`ExecStartPre=+/bin/sh -c ...`, any `Exec*=` but `ExecStart=` of
//!   systemd-journal-remote/-upload, a `+`, `!`, `@`, `-` or `:` prefix), a bind mount or a
//!   library preloaded through `Environment=` is code from the bundle: refused, or with
//!   `--allow-exec` kept and said;
//! - credentials in a `URL=` (`https://user:password@host`) are removed (the scenario header says
//!   they are not kept, and they are not).

/// A line of a bundle that is code, not configuration: kept only with `--allow-exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    pub path: String,
    pub line: usize,
    pub text: String,
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.path, self.line, self.text)
    }
}

/// The journal units whose files a bundle may carry.
const UNITS: &[&str] = &[
    "systemd-journal-upload.service",
    "systemd-journal-remote.service",
    "systemd-journal-remote.socket",
];

/// Keys of the journal units' files that configure them and run nothing of their own.
const UNIT_KEYS: &[&str] = &[
    // [Unit]
    "Description",
    "Documentation",
    "After",
    "Before",
    "Wants",
    "Requires",
    "Requisite",
    "BindsTo",
    "PartOf",
    "Conflicts",
    "DefaultDependencies",
    "StartLimitIntervalSec",
    "StartLimitInterval",
    "StartLimitBurst",
    "ConditionPathExists",
    "AssertPathExists",
    // [Service]
    "Type",
    "Restart",
    "RestartSec",
    "TimeoutSec",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "WatchdogSec",
    "User",
    "Group",
    "DynamicUser",
    "SupplementaryGroups",
    "UMask",
    "WorkingDirectory",
    "StateDirectory",
    "LogsDirectory",
    "RuntimeDirectory",
    "LimitNOFILE",
    "Environment",
    "KillMode",
    "OOMScoreAdjust",
    "Nice",
    "MemoryMax",
    "CPUQuota",
    "TasksMax",
    "LockPersonality",
    "MemoryDenyWriteExecute",
    "NoNewPrivileges",
    "PrivateDevices",
    "PrivateNetwork",
    "PrivateTmp",
    "PrivateUsers",
    "ProtectClock",
    "ProtectControlGroups",
    "ProtectHome",
    "ProtectHostname",
    "ProtectKernelLogs",
    "ProtectKernelModules",
    "ProtectKernelTunables",
    "ProtectProc",
    "ProtectSystem",
    "ReadWritePaths",
    "ReadOnlyPaths",
    "RestrictAddressFamilies",
    "RestrictNamespaces",
    "RestrictRealtime",
    "RestrictSUIDSGID",
    "SystemCallArchitectures",
    "SystemCallFilter",
    "SystemCallErrorNumber",
    "CapabilityBoundingSet",
    "IPAddressAllow",
    "IPAddressDeny",
    "WatchdogSignal",
    // [Socket]
    "ListenStream",
    "ListenDatagram",
    "BindIPv6Only",
    "Backlog",
    "FreeBind",
    "ReusePort",
    "SocketUser",
    "SocketGroup",
    "SocketMode",
    "DirectoryMode",
    "Accept",
    "MaxConnections",
    "MaxConnectionsPerSource",
    "KeepAlive",
    "NoDelay",
    "Service",
    // [Install]
    "WantedBy",
    "RequiredBy",
    "Also",
    "Alias",
];

/// The journal's own programs, the only commands `ExecStart=` may run.
const PROGRAMS: &[&str] = &[
    "/lib/systemd/systemd-journal-remote",
    "/usr/lib/systemd/systemd-journal-remote",
    "/lib/systemd/systemd-journal-upload",
    "/usr/lib/systemd/systemd-journal-upload",
];

/// Whether `path` is a file of the journal's configuration (`Some(false)`) or of its units
/// (`Some(true)`); None: not one a bundle may carry.
pub fn kind_of(path: &str) -> Option<bool> {
    let single = |name: &str| !name.is_empty() && !name.contains('/') && name.ends_with(".conf");
    let config = ["journal-upload", "journal-remote", "journald"]
        .iter()
        .any(|program| {
            let main = format!("/etc/systemd/{program}.conf");
            path == main || path.strip_prefix(&format!("{main}.d/")).is_some_and(single)
        });
    if config {
        return Some(false);
    }
    let unit = UNITS.iter().any(|unit| {
        let main = format!("/etc/systemd/system/{unit}");
        path == main || path.strip_prefix(&format!("{main}.d/")).is_some_and(single)
    });
    unit.then_some(true)
}

/// `content` of `path` as the lab may install it: credentials gone from `URL=`, and the lines of
/// a unit file that are code (see the module's words), each at its line.
pub fn vet(path: &str, content: &str) -> Result<(String, Vec<Code>), String> {
    let unit = kind_of(path).ok_or_else(|| {
        format!(
            "{path}: not a file of the journal's configuration or units; a bundle installs only \
             those (journal-upload.conf, journal-remote.conf, journald.conf, the journal-remote and \
             journal-upload units, and their drop-ins)"
        )
    })?;
    let mut kept = String::with_capacity(content.len());
    let mut code = Vec::new();
    for (n, line) in content.lines().enumerate() {
        let trimmed = line.trim();
        let setting = (!trimmed.starts_with(['#', ';', '[']))
            .then(|| trimmed.split_once('='))
            .flatten();
        match setting {
            Some((key, value)) if !unit && key.trim() == "URL" => {
                kept.push_str(&format!("URL={}\n", without_credentials(value.trim())));
                continue;
            }
            Some((key, value)) if unit && !is_configuration(key.trim(), value.trim()) => {
                code.push(Code {
                    path: path.to_string(),
                    line: n + 1,
                    text: trimmed.to_string(),
                });
            }
            _ => {}
        }
        kept.push_str(line);
        kept.push('\n');
    }
    Ok((kept, code))
}

/// Whether `key=value` in a journal unit's file configures it without running anything else.
fn is_configuration(key: &str, value: &str) -> bool {
    match key {
        // The unit's own program, with its options; an empty one resets the list.
        "ExecStart" => {
            value.is_empty()
                || value
                    .split_whitespace()
                    .next()
                    .is_some_and(|program| PROGRAMS.contains(&program))
        }
        "Environment" => !value.contains("LD_"),
        _ => UNIT_KEYS.contains(&key),
    }
}

/// `https://user:password@host:port/x` → `https://host:port/x`.
fn without_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 39: the drop-in that ran a shell as root in a lab host is code; the journal's own
    /// program with options, restart policy and hardening are configuration.
    #[test]
    fn code_in_a_unit_is_found_at_its_line() {
        let drop_in = "[Service]\nExecStartPre=+/bin/sh -c 'echo pwned > /proc/sys/kernel/core_pattern'\nRestart=always\nExecStart=\nExecStart=/lib/systemd/systemd-journal-upload --save-state\nExecStart=!/tmp/x\nBindPaths=/:/host\nEnvironment=LD_PRELOAD=/tmp/evil.so\nEnvironment=SYSTEMD_LOG_LEVEL=debug\n";
        let path = "/etc/systemd/system/systemd-journal-upload.service.d/override.conf";
        let (kept, code) = vet(path, drop_in).unwrap();
        assert_eq!(
            kept, drop_in,
            "kept as written (refused or said by the caller)"
        );
        let lines: Vec<usize> = code.iter().map(|c| c.line).collect();
        assert_eq!(lines, [2, 6, 7, 8]);
        assert_eq!(
            code[0].to_string(),
            format!(
                "{path}:2: ExecStartPre=+/bin/sh -c 'echo pwned > /proc/sys/kernel/core_pattern'"
            )
        );
    }

    #[test]
    fn only_the_journals_files_and_no_credentials() {
        assert!(vet("/etc/cron.d/x", "* * * * * root sh\n")
            .unwrap_err()
            .contains("not a file of the journal's configuration or units"));
        for path in [
            "/etc/systemd/system/evil.service",
            "/etc/systemd/journal-upload.conf.d/../../cron.d/x.conf",
            "/etc/systemd/system/systemd-journal-upload.service.d/x",
        ] {
            assert_eq!(kind_of(path), None, "{path}");
        }
        assert_eq!(
            kind_of("/etc/systemd/journald.conf.d/50-x.conf"),
            Some(false)
        );
        assert_eq!(
            kind_of("/etc/systemd/system/systemd-journal-remote.socket"),
            Some(true)
        );
        let (kept, code) = vet(
            "/etc/systemd/journal-upload.conf",
            "[Upload]\nURL=https://admin:hunter2@server:19600/x\nServerKeyFile=/k\n",
        )
        .unwrap();
        assert_eq!(
            kept,
            "[Upload]\nURL=https://server:19600/x\nServerKeyFile=/k\n"
        );
        assert!(code.is_empty());
    }
}
