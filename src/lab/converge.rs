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
use crate::report::StepRecord;
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
    /// Why each changed file differed (`PATH: missing`, `PATH: mode 600, …`, `PATH: its
    /// content differs`).
    pub why: Vec<String>,
}

/// How long one host's converge may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// `s` as one single-quoted shell word.
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// What a converge script does where a file differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Writes it, then reloads systemd and restarts the journal units that run (`converge`).
    Write,
    /// Only says so: the idempotence step observes, it never repairs what it validates.
    Compare,
}

/// The script that converges one host's files: each compared and, with [`Mode::Write`],
/// written only if it differs; then, if any changed, a daemon-reload and a restart of the
/// journal units that run. Each differing file is said (`changed PATH`) with why.
pub fn script(files: &[crate::scenario::FileDef], mode: Mode) -> String {
    let mut script = String::from("set -u\nchanged=0\n");
    for file in files {
        let text = base64::engine::general_purpose::STANDARD.encode(file.content.as_bytes());
        let path = quoted(&file.path);
        let write = match mode {
            Mode::Write => format!(
                "mkdir -p \"$(dirname {path})\" && install -m {} /tmp/jl-converge {path} && ",
                file.mode
            ),
            Mode::Compare => String::new(),
        };
        script.push_str(&format!(
            "printf '%s' '{text}' | base64 -d > /tmp/jl-converge\n\
             if cmp -s /tmp/jl-converge {path} && [ \"$(stat -c %a {path})\" = \"$(printf %o 0{mode})\" ]; then echo \"same {p}\"; \
             else if [ ! -e {path} ]; then why=missing; elif cmp -s /tmp/jl-converge {path}; then why=\"mode $(stat -c %a {path}), the scenario says {mode}\"; else why=\"its content differs\"; fi; \
             {write}echo \"changed {p}\" && echo \"why {p}: $why\" && changed=1; fi\n",
            mode = file.mode,
            p = file.path.replace(['\n', '"', '$', '`', '\\'], "_"),
        ));
    }
    script.push_str("rm -f /tmp/jl-converge\n");
    if mode == Mode::Write {
        script.push_str(&format!(
            "if [ $changed = 1 ]; then systemctl daemon-reload; \
             systemctl try-restart systemd-journald.service {UPLOAD_UNIT} {REMOTE_UNIT}; fi\n"
        ));
    }
    script
}

/// What a host's converge script printed.
pub fn parse(host: &str, output: &str) -> Converged {
    let mut converged = Converged {
        host: host.to_string(),
        changed: Vec::new(),
        unchanged: Vec::new(),
        why: Vec::new(),
    };
    for line in output.lines() {
        if let Some(path) = line.strip_prefix("changed ") {
            converged.changed.push(path.to_string());
        } else if let Some(path) = line.strip_prefix("same ") {
            converged.unchanged.push(path.to_string());
        } else if let Some(why) = line.strip_prefix("why ") {
            converged.why.push(why.to_string());
        }
    }
    converged
}

/// Every host's script of `mode` at once: what each found, or why it could not say.
async fn on_every_host<'a>(
    lab: &Lab,
    scenario: &'a Scenario,
    mode: Mode,
) -> Vec<(&'a str, Result<Converged>)> {
    let runs = scenario.hosts.iter().filter_map(|def| {
        let host = lab.host(&def.name)?;
        Some(async move {
            let said = match lab.exec(host, &script(&def.files, mode), DEADLINE).await {
                Ok(out) if out.exit_code == 0 => Ok(parse(&def.name, &out.stdout)),
                Ok(out) => Err(Error::HostCommand {
                    host: def.name.clone(),
                    command: "converge (the scenario's files)".into(),
                    exit_code: out.exit_code,
                    output: format!("{}{}", out.stdout, out.stderr),
                }),
                Err(e) => Err(e),
            };
            (def.name.as_str(), said)
        })
    });
    futures::future::join_all(runs).await
}

/// Converges the lab of `run_id` to `scenario`'s files, every host at once.
pub async fn converge(
    run_id: &str,
    scenario: &Scenario,
    fleet: &super::fleet::Fleet,
    progress: &Progress,
) -> Result<Vec<Converged>> {
    let engines = super::bring_up::engines_of_run(fleet, run_id).await?;
    let lab = Lab::attach(engines, run_id, scenario).await?;
    let mut all = Vec::new();
    for (host, said) in on_every_host(&lab, scenario, Mode::Write).await {
        let converged = said?;
        progress.news(format!(
            "{host}: {} changed, {} as they were",
            converged.changed.len(),
            converged.unchanged.len()
        ));
        all.push(converged);
    }
    Ok(all)
}

/// `test`'s idempotence step, right after the lab came up and before the scenario's steps
/// (they may change files on purpose): every host's files compared as a second converge would
/// (writing nothing: the lab observes, it does not repair), which must find nothing to change.
/// Whatever it would change is the step's error, host by host and file by file.
pub(super) async fn idempotence(lab: &Lab, scenario: &Scenario, progress: &Progress) -> StepRecord {
    let started = std::time::Instant::now();
    let mut output = Vec::new();
    let mut changed = Vec::new();
    let mut errors = Vec::new();
    for (host, said) in on_every_host(lab, scenario, Mode::Compare).await {
        match said {
            Ok(converged) => {
                output.push(format!(
                    "{host}: {} would change, {} as they are",
                    converged.changed.len(),
                    converged.unchanged.len()
                ));
                changed.extend(converged.changed.iter().map(|f| format!("{host}:{f}")));
                // Why each file differs: missing, its mode, or its content.
                output.extend(converged.why.iter().map(|why| format!("{host}: {why}")));
            }
            Err(e) => errors.push(format!("{host}: {e}")),
        }
    }
    if !changed.is_empty() {
        errors.insert(
            0,
            format!(
                "not idempotent: converging the scenario's files again right after the lab came up would change {} ({}): \
                 something on the host changed them after they were written (a tmpfiles rule, a package script, a unit), \
                 or the bring-up wrote them other than the scenario says",
                changed.len(),
                changed.join(", ")
            ),
        );
    }
    let error = (!errors.is_empty()).then(|| errors.join("; "));
    match &error {
        None => progress.news("idempotence: converging again would change nothing".to_string()),
        Some(e) => progress.warning(format!("idempotence failed: {e}")),
    }
    StepRecord {
        index: 0,
        step: crate::report::IDEMPOTENCE_STEP.to_string(),
        host: None,
        command: Some("converge again, comparing only (the scenario's files)".to_string()),
        exit_code: None,
        output,
        error,
        seconds: started.elapsed().as_secs_f64(),
    }
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
        let script = script(std::slice::from_ref(&file), Mode::Write);
        let compared = super::script(&[file], Mode::Compare);
        assert!(
            !compared.contains("install ") && !compared.contains("systemctl"),
            "{compared}"
        );
        assert!(
            script.contains("'/etc/systemd/journal-upload.conf.d/it'\\''s.conf'"),
            "{script}"
        );
        assert!(
            script.contains("W1VwbG9hZF0K"),
            "the content in base64: {script}"
        );
        assert!(script.contains("systemctl try-restart"));
        let converged = parse("client1", "changed /a\nwhy /a: missing\nsame /b\nnoise\n");
        assert_eq!(converged.changed, ["/a"]);
        assert_eq!(converged.unchanged, ["/b"]);
        assert_eq!(converged.why, ["/a: missing"]);
    }
}
