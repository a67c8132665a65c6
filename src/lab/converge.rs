//! `converge`: the scenario's files (as they are now on disk, a setup laid over them) written
//! again into a lab that is up, each only where it differs from what the host has; then systemd
//! reloaded and the journal units restarted where anything changed. It says what changed, so a
//! second converge that changes nothing is the idempotence check. Files the scenario no longer
//! names are left as they are (converge writes, it does not delete).

use std::time::Duration;

use base64::Engine as _;

use super::Lab;
use crate::domain::{REMOTE_UNIT, UPLOAD_UNIT};
use crate::errors::{Error, Result};
use crate::scenario::Scenario;
use crate::{Progress, Say};

/// What converge did on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converged {
    pub host: String,
    /// Files written because they differed (or were missing).
    pub changed: Vec<String>,
    /// Files that were already as the scenario says.
    pub unchanged: Vec<String>,
}

/// How long one host's converge may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// `s` as one single-quoted shell word.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The script that converges one host's files: each compared and written only if it differs;
/// then, if any changed, a daemon-reload and a restart of the journal units that run.
pub fn script(files: &[crate::scenario::FileDef]) -> String {
    let mut script = String::from("set -u\nchanged=0\n");
    for file in files {
        let text = base64::engine::general_purpose::STANDARD.encode(file.content.as_bytes());
        let path = quoted(&file.path);
        script.push_str(&format!(
            "printf '%s' '{text}' | base64 -d > /tmp/jl-converge\n\
             if cmp -s /tmp/jl-converge {path} && [ \"$(stat -c %a {path})\" = \"$(printf %o 0{mode})\" ]; then echo \"same {p}\"; \
             else mkdir -p \"$(dirname {path})\" && install -m {mode} /tmp/jl-converge {path} && echo \"changed {p}\" && changed=1; fi\n",
            mode = file.mode,
            p = file.path.replace(['\n', '"', '$', '`', '\\'], "_"),
        ));
    }
    script.push_str(&format!(
        "rm -f /tmp/jl-converge\nif [ $changed = 1 ]; then systemctl daemon-reload; \
         systemctl try-restart systemd-journald.service {UPLOAD_UNIT} {REMOTE_UNIT}; fi\n"
    ));
    script
}

/// What a host's converge script printed.
pub fn parse(host: &str, output: &str) -> Converged {
    let mut converged = Converged {
        host: host.to_string(),
        changed: Vec::new(),
        unchanged: Vec::new(),
    };
    for line in output.lines() {
        if let Some(path) = line.strip_prefix("changed ") {
            converged.changed.push(path.to_string());
        } else if let Some(path) = line.strip_prefix("same ") {
            converged.unchanged.push(path.to_string());
        }
    }
    converged
}

/// Converges the lab of `run_id` to `scenario`'s files.
pub async fn converge(
    run_id: &str,
    scenario: &Scenario,
    fleet: &super::fleet::Fleet,
    progress: &Progress,
) -> Result<Vec<Converged>> {
    let engines = super::bring_up::engines_of_run(fleet, run_id).await?;
    let lab = Lab::attach(engines, run_id, scenario).await?;
    let mut all = Vec::new();
    for def in &scenario.hosts {
        let Some(host) = lab.host(&def.name) else {
            continue;
        };
        let output = lab.exec(host, &script(&def.files), DEADLINE).await?;
        if output.exit_code != 0 {
            return Err(Error::HostCommand {
                host: def.name.clone(),
                command: "converge (write the scenario's files)".into(),
                exit_code: output.exit_code,
                output: format!("{}{}", output.stdout, output.stderr),
            });
        }
        let converged = parse(&def.name, &output.stdout);
        progress.news(format!(
            "{}: {} changed, {} as they were",
            def.name,
            converged.changed.len(),
            converged.unchanged.len()
        ));
        all.push(converged);
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_writes_only_what_differs_and_reports_each_file() {
        let file = crate::scenario::FileDef {
            path: "/etc/systemd/journal-upload.conf.d/it's.conf".into(),
            content: "[Upload]\n".into(),
            source: None,
            origin: None,
            mode: "0644".into(),
        };
        let script = script(&[file]);
        assert!(
            script.contains("'/etc/systemd/journal-upload.conf.d/it'\\''s.conf'"),
            "{script}"
        );
        assert!(
            script.contains("W1VwbG9hZF0K"),
            "the content in base64: {script}"
        );
        assert!(script.contains("systemctl try-restart"));
        let converged = parse("client1", "changed /a\nsame /b\nnoise\n");
        assert_eq!(converged.changed, ["/a"]);
        assert_eq!(converged.unchanged, ["/b"]);
    }
}
