//! What the end-to-end test files share.

#[path = "run_json_schema.rs"]
pub mod run_json_schema;

use journal_lab::engine::Engine;
use journal_lab::lab::{self, LabOptions, Outcome};
use journal_lab::scenario::Scenario;

/// Removes every run this test process started (kept runs, so nothing else would): for a kept
/// run whose harness failed before the test learned its id.
pub fn remove_my_runs() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // On a thread of its own: the caller may be inside a runtime, where none can block.
    std::thread::scope(|scope| {
        scope.spawn(|| {
            runtime.block_on(async {
                let engine = Engine::connect().await.unwrap();
                for run in engine.runs().await.unwrap() {
                    if run.owner.as_deref() == Some(journal_lab::owner::this_process()) {
                        let _ = engine.sweep(&run.id).await;
                    }
                }
            })
        });
    });
}

/// Runs `scenario`; if the harness fails, removes what this process made first (a kept lab
/// would stay up), then fails the test.
#[allow(dead_code)]
/// Its run.json validates against the published schema.
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
    outcome
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
