//! A check's parameters (`checks[i].params`): each one the check's entry declares
//! (`checks::Param`), within its bound; the errors name the parameter's line and column.

use super::{invalid, Invalid};
use crate::scenario::CheckDef;

/// The parameters `checks[i]` gives its check: each one the check declares, within its bound.
pub(super) fn check_params(check: &CheckDef, i: usize) -> Result<(), Invalid> {
    let declared = check.id.entry().params;
    for (name, value) in &check.params {
        let path = format!("checks[{i}].params.{name}");
        let Some(param) = declared.iter().find(|p| p.name == name) else {
            let known: Vec<&str> = declared.iter().map(|p| p.name).collect();
            return invalid(
                path,
                if known.is_empty() {
                    format!("check {} takes no parameters (remove `params:`)", check.id)
                } else {
                    format!(
                        "check {} has no parameter {name:?} (its parameters: {})",
                        check.id,
                        known.join(", ")
                    )
                },
            );
        };
        if *value > param.max {
            return invalid(
                path,
                format!(
                    "check {}'s {name} ({}) is at most {}, not {value}",
                    check.id, param.doc, param.max
                ),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::scenario::{Scenario, ScenarioError};

    fn parse(checks: &str) -> Result<Scenario, ScenarioError> {
        let text = format!(
            "description: params\nhosts:\n  - name: server\n    role: server\n  - name: c\n    role: client\n\
             steps:\n  - do: log-markers\nchecks:\n{checks}"
        );
        Scenario::parse(Path::new("scenarios/p.yaml"), &text)
    }

    #[test]
    fn a_parameter_the_check_declares_is_taken() {
        let scenario = parse("  - id: upload-restarts-at-most\n    params: {max: 3}\n").unwrap();
        assert_eq!(scenario.checks[0].params["max"], 3);
        let scenario = parse("  - id: upload-restarts-at-most\n").unwrap();
        assert!(scenario.checks[0].params.is_empty());
    }

    #[test]
    fn an_unknown_or_out_of_bounds_parameter_is_refused_where_it_is_written() {
        let err =
            parse("  - id: upload-restarts-at-most\n    params:\n      maximum: 3\n").unwrap_err();
        assert_eq!((err.line, err.column), (12, 16), "{err}");
        assert!(
            err.message
                .contains("has no parameter \"maximum\" (its parameters: max)"),
            "{err}"
        );
        let err =
            parse("  - id: upload-restarts-at-most\n    params: {max: 1000001}\n").unwrap_err();
        assert!(
            err.message.contains("is at most 1000000, not 1000001"),
            "{err}"
        );
        assert_eq!(err.line, 11, "{err}");
        let err = parse("  - id: client-delivers\n    params: {max: 1}\n").unwrap_err();
        assert!(
            err.message
                .contains("check client-delivers takes no parameters"),
            "{err}"
        );
        let err = parse("  - id: upload-restarts-at-most\n    params: {max: -1}\n").unwrap_err();
        assert_eq!(err.line, 11, "{err}");
    }
}
