//! What the end-to-end test files share.

#[path = "run_json_schema.rs"]
pub mod run_json_schema;

use journal_lab::engine::Engine;
use journal_lab::lab::{self, LabOptions, Outcome};
use journal_lab::scenario::Scenario;

/// Removes a kept run as `clean --run ID` does: its containers and network, and its private
/// directory (the CA keys), which a kept run leaves in $TMPDIR; then asserts both are gone.
#[allow(dead_code)]
pub async fn remove_run(engine: &Engine, run_id: &str) {
    let which = journal_lab::lab::clean::Which::Run(run_id.to_string());
    journal_lab::lab::clean::clean(std::slice::from_ref(engine), &which, false)
        .await
        .unwrap_or_else(|e| panic!("removing run {run_id}: {e}"));
    let left: Vec<_> = journal_lab::owner::private_dirs()
        .into_iter()
        .filter(|dir| dir.run_id == run_id)
        .map(|dir| dir.path)
        .collect();
    assert!(left.is_empty(), "run {run_id} left its keys: {left:?}");
}

/// Removes every run this test process started (kept runs, so nothing else would): for a kept
/// run whose harness failed before the test learned its id.
pub fn remove_my_runs() {
    // On a thread of its own, runtime and all (built, used and dropped there): the caller may be
    // inside a runtime, where none can block or be dropped.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let engine = Engine::connect().await.unwrap();
                for run in engine.runs().await.unwrap() {
                    if run.owner.as_deref() == Some(journal_lab::owner::this_process()) {
                        let which = journal_lab::lab::clean::Which::Run(run.id.clone());
                        let _ = journal_lab::lab::clean::clean(
                            std::slice::from_ref(&engine),
                            &which,
                            false,
                        )
                        .await;
                    }
                }
            })
        });
    });
}

/// Runs `scenario`; if the harness fails, removes what this process made first (a kept lab
/// would stay up), then fails the test.
#[allow(dead_code)]
/// Its run.json validates against the published schema, and judged again from its stored
/// observations it gives the verdicts it gave.
pub async fn run_or_clean(name: &str, scenario: &Scenario, options: &LabOptions) -> Outcome {
    let outcome = lab::run_scenario(name, scenario, options, &journal_lab::quiet())
        .await
        .unwrap_or_else(|e| {
            remove_my_runs();
            panic!("the run failed: {e}")
        });
    let errors = run_json_schema::run_json_errors(&outcome.run_dir.join("run.json"));
    assert!(
        errors.is_empty(),
        "{name}'s run.json against the schema: {errors:?}"
    );
    judged_again_the_same(&outcome.run_dir, &outcome.report).await;
    outcome
}

#[allow(dead_code)]
/// The run judged again from its stored observations alone (`report rejudge`) gives every
/// verdict it gave live: the same status, words and evidence, in the same order.
pub async fn judged_again_the_same(
    run_dir: &std::path::Path,
    report: &journal_lab::report::RunReport,
) {
    let observations = journal_lab::report::observations::read(run_dir).unwrap();
    let again = journal_lab::report::rejudge::rejudge(report, &observations).await;
    let verdicts = |results: &[journal_lab::checks::CheckResult]| -> Vec<(
        String,
        String,
        String,
        journal_lab::checks::Status,
        String,
        Vec<String>,
    )> {
        results
            .iter()
            .map(|r| {
                let r = r.clone();
                (
                    r.id.to_string(),
                    r.host,
                    r.phase,
                    r.status,
                    r.observed,
                    r.evidence,
                )
            })
            .collect()
    };
    assert_eq!(
        verdicts(&again.checks),
        verdicts(&report.checks),
        "{}: checks judged again",
        report.scenario
    );
    assert_eq!(
        verdicts(&again.profile),
        verdicts(&report.profile),
        "{}: profile judged again",
        report.scenario
    );
    let rejudged = again.rejudged.expect("a report judged again says so");
    assert_eq!(rejudged.changed, Vec::new(), "{}", report.scenario);
    assert_eq!(
        rejudged.verdicts,
        report.checks.len() + report.profile.len()
    );
    assert_eq!(again.ok, report.ok);
}

/// The final verdict of check `id` on `host`, and what it observed.
#[allow(dead_code)]
pub fn check_of(
    outcome: &Outcome,
    id: journal_lab::checks::CheckId,
    host: &str,
) -> (journal_lab::checks::Status, String) {
    let check = outcome
        .report
        .checks
        .iter()
        .find(|c| c.id == id && c.host == host)
        .unwrap_or_else(|| panic!("{id} ran on {host}"));
    (check.status, check.observed.clone())
}

/// What `script` prints on stdout in `container` (a kept lab's host), within two minutes.
#[allow(dead_code)]
pub async fn sh(engine: &Engine, container: &str, script: &str) -> String {
    engine
        .exec(container, script, std::time::Duration::from_secs(120))
        .await
        .unwrap()
        .stdout
}

/// Prints every entry of the server's remote journal files as `-o cat`, file by file:
/// `journalctl -D` can leave out entries the files hold (bookworm, a client whose clock went
/// back and came right; docs/findings.md).
#[allow(dead_code)]
pub const READ_REMOTE_FILES: &str = "for f in /var/log/journal/remote/*.journal*; do journalctl --file \"$f\" -o cat --no-pager; done";

/// (lines, distinct sequence numbers) of `of`'s workload messages in a journal of host `on` of
/// run `run_id`, counted there with journalctl and grep (not through the checker's code): the
/// remote journals it received when `remote`, else its own (every namespace).
#[allow(dead_code)]
pub async fn count_workload(
    engine: &Engine,
    run_id: &str,
    on: &str,
    remote: bool,
    of: &str,
) -> (u64, u64) {
    let read = if remote {
        READ_REMOTE_FILES
    } else {
        "journalctl --namespace='*' -o cat --no-pager"
    };
    let script = format!(
        "{read} | grep -F 'jl-work run={run_id} host={of} ' > /tmp/w; \
         wc -l < /tmp/w; cut -d' ' -f5 /tmp/w | sort -u | wc -l"
    );
    let out = sh(engine, &format!("{on}.{run_id}"), &script).await;
    let mut numbers = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
    (numbers.next().unwrap(), numbers.next().unwrap())
}
