//! Every run.json the test suite writes validates against the published schema
//! (`journal-lab report schema`); included with `#[path]` where a test writes one.

/// Every way the run.json at `path` breaks the schema (empty: it validates).
pub fn run_json_errors(path: &std::path::Path) -> Vec<String> {
    let schema = journal_lab::report::run_json_schema();
    let validator = jsonschema::options().build(&schema).unwrap();
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut errors: Vec<String> = validator.iter_errors(&run).map(|e| e.to_string()).collect();
    if run["schema_version"] != journal_lab::report::SCHEMA_VERSION {
        errors.push(format!("schema_version is {}", run["schema_version"]));
    }
    errors
}
