//! journal-lab's own test suite, as `cargo xtask test` runs it in a checkout: every test binary
//! built once by cargo, then each integration test run as a process of its own, several at once,
//! the slowest of the last run first (cargo-nextest's model, without its install).
//!
//! Why not `cargo test`: it runs one binary after another, two tests at a time on this 2-CPU
//! machine, and an end-to-end test mostly waits on containers (measured: the machine 88-91% idle
//! while two scenario runs held their faults). How many tests run at once, not the CPUs, bounded
//! the suite's time. Unit tests (a lib's or a bin's) stay one process each: they take seconds.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::StreamExt;

use super::disk;

/// How long one test may run before it is killed and failed, saying so.
const TEST_DEADLINE: Duration = Duration::from_secs(20 * 60);

/// A test executable cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Binary {
    /// `package/target` (`journal-lab/workload_e2e`), as results name it.
    pub name: String,
    pub package: String,
    /// `lib`, `bin` or `test` (an integration test file).
    pub kind: String,
    pub target: String,
    pub executable: PathBuf,
    /// Cargo runs a package's tests in the package's directory; so does this.
    pub dir: PathBuf,
}

impl Binary {
    /// Unit tests run as one process; an integration test file's tests one process each.
    fn whole(&self) -> bool {
        self.kind != "test"
    }
}

/// The test binaries in the output of `cargo test --no-run --message-format=json`.
pub(super) fn parse_artifacts(json_lines: &str) -> Vec<Binary> {
    let mut binaries: Vec<Binary> = json_lines
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["profile"]["test"] == true)
        .filter_map(|m| {
            let executable = PathBuf::from(m["executable"].as_str()?);
            let dir = Path::new(m["manifest_path"].as_str()?)
                .parent()?
                .to_path_buf();
            let package = package_name(m["package_id"].as_str()?)?;
            let target = m["target"]["name"].as_str()?.to_string();
            let kind = m["target"]["kind"][0].as_str()?.to_string();
            Some(Binary {
                name: format!("{package}/{target}"),
                package,
                kind,
                target,
                executable,
                dir,
            })
        })
        .collect();
    binaries.sort_by(|a, b| a.name.cmp(&b.name).then(a.kind.cmp(&b.kind)));
    binaries.dedup_by(|a, b| a.executable == b.executable);
    binaries
}

/// The package's name in a cargo package id: `path+file:///w/xtask#0.1.0` (named after its
/// directory) or `path+file:///w#journal-lab@0.1.0`.
fn package_name(id: &str) -> Option<String> {
    let (url, version) = id.rsplit_once('#')?;
    Some(match version.split_once('@') {
        Some((name, _)) => name.to_string(),
        None => url.rsplit('/').next()?.to_string(),
    })
}

/// One process to run: a whole unit-test binary, or one test of an integration test binary.
#[derive(Debug, Clone)]
struct Case {
    binary: usize,
    test: Option<String>,
}

/// What libtest's summary line (`test result: ok. 1 passed; 0 failed; 2 ignored; ...`) counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Counts {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

pub(super) fn counts(output: &str) -> Option<Counts> {
    let line = output
        .lines()
        .rev()
        .find(|l| l.starts_with("test result:"))?;
    let number = |word: &str| {
        line.split(';')
            .find_map(|part| part.trim().strip_suffix(word)?.split_whitespace().last())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Some(Counts {
        passed: number(" passed"),
        failed: number(" failed"),
        ignored: number(" ignored"),
    })
}

/// The last run's seconds per case, `target/journal-lab-suite.json`: only the order of the next
/// run comes from it, never a result.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SuiteTimes {
    /// When the run ended (RFC 3339).
    pub finished: String,
    pub wall_seconds: f64,
    pub jobs: usize,
    /// `--unit`: the tests that need no engine only.
    #[serde(default)]
    pub unit_only: bool,
    pub passed: u64,
    pub failed: u64,
    /// Seconds per case (`package/target test`), the latest run's where it ran the case.
    pub cases: BTreeMap<String, f64>,
    /// Seconds per case this run ran.
    #[serde(default)]
    pub ran: BTreeMap<String, f64>,
}

impl SuiteTimes {
    pub fn path(target_dir: &Path) -> PathBuf {
        target_dir.join("journal-lab-suite.json")
    }

    pub fn load(target_dir: &Path) -> Option<SuiteTimes> {
        Self::load_file(&Self::path(target_dir))
    }

    fn load_file(path: &Path) -> Option<SuiteTimes> {
        let text = std::fs::read_to_string(path).ok()?;
        serde_json::from_str(&text).ok()
    }
}

/// The last full run of this checkout's suite, for the bench report (None after `--unit`).
pub fn last_full_run(root: &Path) -> Option<crate::report::bench::SuiteRun> {
    let times = SuiteTimes::load(&target_dir(root)).filter(|t| !t.unit_only)?;
    let mut slowest: Vec<(String, f64)> = times.ran.clone().into_iter().collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    slowest.truncate(3);
    Some(crate::report::bench::SuiteRun {
        finished: times.finished,
        wall_seconds: times.wall_seconds,
        jobs: times.jobs,
        passed: times.passed,
        failed: times.failed,
        slowest,
    })
}

/// The order to start cases in: those the last run did not time first (they may be long), then
/// the slowest first.
fn order(labels: &[String], last: &BTreeMap<String, f64>) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| {
        let seconds = |i: usize| last.get(&labels[i]).copied().unwrap_or(f64::INFINITY);
        seconds(b).total_cmp(&seconds(a))
    });
    order
}

/// The most hosts one end-to-end test boots at once (cert-rejection's nine).
const MOST_HOSTS_A_TEST: usize = 9;

/// Says, before the suite starts, when this machine's inotify limit holds fewer hosts than
/// `jobs` end-to-end tests may boot at once: every host's systemd draws on root's instances, and
/// past the limit a boot hangs until its deadline (it does not fail). With the command.
fn say_host_budget(jobs: usize) {
    let Some(limit) = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    else {
        return;
    };
    let needed = crate::lab::inotify_instances_needed(jobs * MOST_HOSTS_A_TEST);
    if limit < needed {
        eprintln!(
            "note: fs.inotify.max_user_instances is {limit}; {jobs} tests at once may boot {} hosts, \
             which need about {needed}: raise it (`sudo sysctl -w fs.inotify.max_user_instances=8192`) \
             or run fewer at once (--jobs), else a host's boot can hang until its deadline",
            jobs * MOST_HOSTS_A_TEST
        );
    }
}

/// Tests at once by default: two per CPU. On this 2-CPU machine, at 4, the CPUs are idle for a
/// minute or so while the slowest-first fault scenarios wait, then saturated (vmstat); 6 at
/// once gained 7% in one pair of runs, not enough for more load on every CI timing
/// (docs/performance.md).
pub fn default_jobs() -> usize {
    2 * std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the tests (cargo's progress on stderr), then runs them `jobs` at a time.
pub async fn run(
    root: &Path,
    unit_only: bool,
    jobs: usize,
) -> anyhow::Result<std::process::ExitCode> {
    if !unit_only {
        say_host_budget(jobs);
    }
    let binaries = build(root, unit_only).await?;
    let mut cases = Vec::new();
    for (index, binary) in binaries.iter().enumerate() {
        if binary.whole() {
            cases.push(Case {
                binary: index,
                test: None,
            });
        } else {
            cases.extend(list(binary).await?.into_iter().map(|test| Case {
                binary: index,
                test: Some(test),
            }));
        }
    }
    let labels: Vec<String> = cases.iter().map(|c| label(&binaries, c)).collect();
    let target_dir = target_dir(root);
    // A fresh clone has no times of its own: it starts in the order of the times committed
    // with the suite (`tests/suite-times.json`, a copy of a run's `target/journal-lab-suite.json`).
    let committed = root.join("tests/suite-times.json");
    let (last, times_from) = match SuiteTimes::load(&target_dir) {
        Some(times) => (times, "this checkout's last run"),
        None => (
            SuiteTimes::load_file(&committed).unwrap_or_default(),
            "tests/suite-times.json",
        ),
    };
    let jobs = jobs.max(1);
    eprintln!(
        "running {} test processes from {} binaries, {jobs} at a time, {}",
        cases.len(),
        binaries.len(),
        if last.cases.is_empty() {
            "in cargo's order (no earlier run's times)".to_string()
        } else {
            format!(
                "the slowest first (times of {}, {times_from})",
                last.finished
            )
        }
    );
    let started = Instant::now();
    // Times of cases this run leaves out (`--unit`) are kept for the next full run's order.
    let mut times = SuiteTimes {
        jobs,
        unit_only,
        cases: last.cases.clone(),
        ..Default::default()
    };
    let mut failures = Vec::new();
    let mut ignored = 0;
    let mut finished = futures::stream::iter(order(&labels, &last.cases))
        .map(|i| {
            let (case, binaries) = (&cases[i], &binaries);
            async move {
                (
                    i,
                    run_case(&binaries[case.binary], case.test.as_deref()).await,
                )
            }
        })
        .buffer_unordered(jobs);
    while let Some((i, result)) = finished.next().await {
        let label = &labels[i];
        let (seconds, passed, output) = match result {
            Ok(mut ran) => {
                let counts = counts(&ran.output).unwrap_or_default();
                times.passed += counts.passed;
                times.failed += counts.failed;
                ignored += counts.ignored;
                // A test that was listed must have run: a process that ran none passed nothing.
                let ran_none = cases[i].test.is_some() && counts.passed + counts.ignored == 0;
                if ran_none && ran.success {
                    ran.output
                        .push_str("\n(the listed test did not run: libtest counted no test)\n");
                }
                (
                    ran.seconds,
                    ran.success && counts.failed == 0 && !ran_none,
                    ran.output,
                )
            }
            Err(e) => (0.0, false, format!("{e:#}")),
        };
        times.cases.insert(label.clone(), seconds);
        times.ran.insert(label.clone(), seconds);
        eprintln!(
            "{} [{seconds:>6.1}s] {label}",
            if passed { "    PASS" } else { "    FAIL" }
        );
        if !passed {
            eprintln!("--- output of {label} ---\n{output}--- end of {label} ---");
            failures.push(rerun_command(&binaries[cases[i].binary], &cases[i]));
        }
    }
    times.wall_seconds = started.elapsed().as_secs_f64();
    times.finished = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    eprintln!(
        "{} tests passed, {} failed, {ignored} ignored, in {:.0} s ({jobs} at a time); slowest: {}",
        times.passed,
        times.failed.max(failures.len() as u64),
        times.wall_seconds,
        slowest(&times.ran, 3)
    );
    if let Err(e) = std::fs::create_dir_all(&target_dir).and_then(|()| {
        std::fs::write(
            SuiteTimes::path(&target_dir),
            serde_json::to_string_pretty(&times).unwrap_or_default(),
        )
    }) {
        eprintln!(
            "warning: the suite's times were not kept ({e}); the next run starts in cargo's order"
        );
    }
    if failures.is_empty() {
        return Ok(std::process::ExitCode::SUCCESS);
    }
    eprintln!("failed; to run one again:");
    for command in failures {
        eprintln!("  {command}");
    }
    Ok(std::process::ExitCode::from(1))
}

fn label(binaries: &[Binary], case: &Case) -> String {
    let binary = &binaries[case.binary];
    match &case.test {
        Some(test) => format!("{} {test}", binary.name),
        None => format!("{} ({})", binary.name, binary.kind),
    }
}

fn rerun_command(binary: &Binary, case: &Case) -> String {
    let target = match binary.kind.as_str() {
        "lib" => "--lib".to_string(),
        "bin" => format!("--bin {}", binary.target),
        _ => format!("--test {}", binary.target),
    };
    match &case.test {
        Some(test) => format!(
            "cargo test -p {} {target} -- --exact {test}",
            binary.package
        ),
        None => format!("cargo test -p {} {target}", binary.package),
    }
}

fn slowest(cases: &BTreeMap<String, f64>, n: usize) -> String {
    let mut by_time: Vec<_> = cases.iter().collect();
    by_time.sort_by(|a, b| b.1.total_cmp(a.1));
    by_time
        .iter()
        .take(n)
        .map(|(label, s)| format!("{label} {s:.0} s"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| root.join(dir))
        .unwrap_or_else(|| root.join("target"))
}

/// `cargo`, without what `cargo run` set for the xtask process (`CARGO_PKG_NAME=xtask`,
/// `CARGO_MANIFEST_DIR`, ...). Build scripts such as ring's ask to be rerun when those change,
/// so with them cargo rebuilt ring and everything above it once for `cargo xtask test` and once
/// more for a plain `cargo test` (measured: 9 crates, the lab among them, every time).
pub(super) fn cargo() -> std::process::Command {
    let mut command =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for name in cargo_run_variables() {
        command.env_remove(name);
    }
    command
}

/// The variables cargo sets for the program it runs, as opposed to the user's own `CARGO_*`
/// settings (`CARGO_HOME`, `CARGO_TARGET_DIR`, `CARGO_TERM_*`, ...), which are kept.
fn cargo_run_variables() -> Vec<std::ffi::OsString> {
    std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| {
            let name = name.to_string_lossy();
            name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_MANIFEST_")
                || [
                    "CARGO_CRATE_NAME",
                    "CARGO_BIN_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&name.as_ref())
        })
        .collect()
}

async fn build(root: &Path, unit_only: bool) -> anyhow::Result<Vec<Binary>> {
    let mut command = cargo();
    command.current_dir(root).args([
        "test",
        "--workspace",
        "--no-run",
        "--message-format=json-render-diagnostics",
    ]);
    if unit_only {
        command.args(["--lib", "--bins"]);
    }
    // The artifacts come on stdout; cargo's progress and any compiler message stay on stderr,
    // in front of the user.
    command.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let target = target_dir(root);
    let short_of_disk = || disk::shortage(&target, disk::SUITE_BUILD_BYTES, "the suite's build");
    if let Some(shortage) = short_of_disk() {
        eprintln!("note: {shortage}");
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("running cargo test --no-run")?;
    if !output.status.success() {
        match short_of_disk() {
            Some(shortage) => anyhow::bail!("the tests did not build: {shortage}"),
            None => anyhow::bail!("the tests did not build (cargo's messages are above)"),
        }
    }
    let binaries = parse_artifacts(&String::from_utf8_lossy(&output.stdout));
    anyhow::ensure!(!binaries.is_empty(), "cargo built no test binaries");
    Ok(binaries)
}

/// The tests of an integration test binary (libtest's `--list --format terse`).
async fn list(binary: &Binary) -> anyhow::Result<Vec<String>> {
    let output = tokio::process::Command::new(&binary.executable)
        .current_dir(&binary.dir)
        .args(["--list", "--format", "terse"])
        .output()
        .await
        .with_context(|| format!("listing the tests of {}", binary.executable.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "listing the tests of {} failed: {}",
        binary.executable.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_string)
        .collect())
}

struct Ran {
    success: bool,
    seconds: f64,
    /// stdout and stderr as they came, in one file.
    output: String,
}

async fn run_case(binary: &Binary, test: Option<&str>) -> anyhow::Result<Ran> {
    // Both streams into one file, interleaved as on a terminal; kept if the test hangs.
    let mut file = tempfile::tempfile().context("a file for a test's output")?;
    let mut command = tokio::process::Command::new(&binary.executable);
    for name in cargo_run_variables() {
        command.env_remove(name);
    }
    command
        .env("CARGO_MANIFEST_DIR", &binary.dir)
        .current_dir(&binary.dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file.try_clone()?)
        .kill_on_drop(true);
    if let Some(test) = test {
        command.args(["--exact", test]);
    }
    let started = Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {}", binary.executable.display()))?;
    let status = tokio::time::timeout(TEST_DEADLINE, child.wait()).await;
    let seconds = started.elapsed().as_secs_f64();
    let mut output = String::new();
    {
        use std::io::{Read, Seek};
        file.rewind()?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        output.push_str(&String::from_utf8_lossy(&bytes));
    }
    match status {
        Ok(status) => Ok(Ran {
            success: status?.success(),
            seconds,
            output,
        }),
        Err(_) => {
            let _ = child.kill().await;
            output.push_str(&format!(
                "\n(killed: still running after {} min, the suite's deadline for one test)\n",
                TEST_DEADLINE.as_secs() / 60
            ));
            Ok(Ran {
                success: false,
                seconds,
                output,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_name_their_package_kind_and_directory() {
        let lines = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w#journal-lab@0.1.0","manifest_path":"/w/Cargo.toml","target":{"kind":["test"],"name":"workload_e2e"},"profile":{"test":true},"executable":"/w/target/debug/deps/workload_e2e-1"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["bin"],"name":"xtask"},"profile":{"test":true},"executable":"/w/target/debug/deps/xtask-2"}"#,
            // Not a test: the binary the tests run.
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/xtask#0.1.0","manifest_path":"/w/xtask/Cargo.toml","target":{"kind":["bin"],"name":"xtask"},"profile":{"test":false},"executable":"/w/target/debug/xtask"}"#,
            r#"{"reason":"build-finished","success":true}"#,
            "not json",
        ]
        .join("\n");
        let binaries = parse_artifacts(&lines);
        assert_eq!(binaries.len(), 2, "{binaries:?}");
        assert_eq!(binaries[0].name, "journal-lab/workload_e2e");
        assert_eq!(binaries[0].dir, Path::new("/w"));
        assert!(!binaries[0].whole());
        assert_eq!(binaries[1].name, "xtask/xtask");
        assert_eq!(binaries[1].dir, Path::new("/w/xtask"));
        assert!(binaries[1].whole());
        assert_eq!(
            rerun_command(
                &binaries[0],
                &Case {
                    binary: 0,
                    test: Some("a_test".into())
                }
            ),
            "cargo test -p journal-lab --test workload_e2e -- --exact a_test"
        );
    }

    #[test]
    fn libtest_summaries_are_counted() {
        let output = "running 3 tests\ntest a ... ok\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n";
        assert_eq!(
            counts(output),
            Some(Counts {
                passed: 1,
                failed: 1,
                ignored: 1
            })
        );
        assert_eq!(counts("thread 'main' panicked"), None);
    }

    #[test]
    fn untimed_cases_start_first_then_the_slowest() {
        let labels: Vec<String> = ["fast", "new", "slow"].map(String::from).to_vec();
        let last = BTreeMap::from([("fast".to_string(), 1.0), ("slow".to_string(), 90.0)]);
        assert_eq!(order(&labels, &last), vec![1, 2, 0]);
    }
}
