//! The OASIS SARIF 2.1.0 schema (tests/data/sarif-schema-2.1.0.json), formats checked: what
//! every test of a SARIF log validates against (included with `#[path]` where it is needed).

/// Every way `sarif` breaks the schema (empty: it validates).
pub fn sarif_errors(sarif: &serde_json::Value) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // The workspace root, from the root crate or from xtask.
    let root = if path.join("tests/data").is_dir() {
        path.to_path_buf()
    } else {
        path.parent().unwrap().to_path_buf()
    };
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(sarif)
        .map(|e| e.to_string())
        .collect()
}
