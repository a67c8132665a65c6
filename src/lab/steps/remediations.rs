//! `remediate`: a public rule's remediation, applied twice with the state recorded after each
//! (the remediation checks compare them).

use super::super::{Deadlines, Host, Lab};
use crate::errors::{Error, Result};
use crate::scenario::Remediation;

/// The remediation script of a rule, and a command that prints the state it changes.
pub fn remediation_scripts(rule: Remediation) -> (&'static str, &'static str) {
    match rule {
        // ComplianceAsCode's bash remediation for socket_systemd-journal-remote_disabled, with
        // its platform gate (package linux-base).
        Remediation::DisableJournalRemoteSocket => (
            r#"if dpkg-query --show --showformat='${db:Status-Status}' 'linux-base' 2>/dev/null | grep -q '^installed$'; then
SOCKET_NAME="systemd-journal-remote.socket"
if systemctl -q list-unit-files --type socket | grep -q "$SOCKET_NAME"; then
    systemctl stop "$SOCKET_NAME"
    systemctl mask "$SOCKET_NAME"
fi
else
    >&2 echo 'Remediation is not applicable, nothing was done'
fi"#,
            "systemctl is-enabled systemd-journal-remote.socket; systemctl is-active systemd-journal-remote.socket; \
             ls -l /etc/systemd/system/systemd-journal-remote.socket 2>&1 | awk '{print $1, $9, $10, $11}'",
        ),
        // CIS Docker 1.2.7: watch docker.socket's unit file with key docker; compile with augenrules.
        Remediation::AuditDockerSocket => (
            r#"p=$(systemctl show -p FragmentPath --value docker.socket)
if [ -z "$p" ]; then
    >&2 echo 'Remediation is not applicable: no docker.socket unit'
    exit 0
fi
mkdir -p /etc/audit/rules.d
printf -- '-w %s -k docker\n' "$p" > /etc/audit/rules.d/50-docker-socket.rules
augenrules"#,
            "cat /etc/audit/rules.d/50-docker-socket.rules /etc/audit/audit.rules 2>&1 | sha256sum",
        ),
    }
}

/// Applies `rule` twice on each host, recording the state after each application.
pub(super) async fn apply_twice(
    lab: &Lab,
    hosts: &[&Host],
    rule: Remediation,
    deadlines: &Deadlines,
) -> Result<Vec<(String, (String, String))>> {
    let (apply, snapshot) = remediation_scripts(rule);
    let runs = hosts.iter().map(|host| async move {
        let mut states = Vec::new();
        for _ in 0..2 {
            lab.exec_ok(host, apply, deadlines.command).await?;
            states.push(
                lab.exec(host, snapshot, deadlines.command)
                    .await?
                    .combined(),
            );
        }
        Ok::<_, Error>((host.name.clone(), (states.remove(0), states.remove(0))))
    });
    futures::future::try_join_all(runs).await
}
