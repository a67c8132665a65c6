//! The command line read, with the hints a person needs when clap refuses it: a value of
//! `--keep` given apart, a subcommand mistyped, a lab named where a host goes.

use std::process::ExitCode;

use super::me;

/// clap's matches of `args`, or the exit code after clap's error and the hint that fits it.
pub(super) fn matches(
    command: clap::Command,
    args: &[std::ffi::OsString],
) -> Result<clap::ArgMatches, ExitCode> {
    let names: Vec<String> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    match command.try_get_matches_from(args) {
        Ok(matches) => Ok(matches),
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidSubcommand => {
            let typed = args
                .get(1)
                .map(|a| a.to_string_lossy().into_owned())
                .unwrap_or_default();
            let _ = e.print();
            // clap suggests only close matches; a dropped letter (`rn`) deserves one too.
            if let Some(near) = names
                .iter()
                .filter(|n| edit_distance(n, &typed) <= 2)
                .min_by_key(|n| edit_distance(n, &typed))
            {
                eprintln!("\ntip: did you mean `{} {near}`?", me());
            }
            Err(ExitCode::from(2))
        }
        // `exec LAB HOST -- ...`, `login LAB HOST`: a lab is named with --lab.
        Err(e)
            if e.kind() == clap::error::ErrorKind::UnknownArgument
                && args
                    .get(1)
                    .is_some_and(|a| a == "exec" || a == "login" || a == "verify") =>
        {
            let _ = e.print();
            let command = args[1].to_string_lossy();
            let words: Vec<String> = args[2..]
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .take_while(|a| a != "--")
                .filter(|a| !a.starts_with('-'))
                .collect();
            let example = match words.as_slice() {
                [lab, host, ..] => format!(" (`{} {command} --lab {lab} {host} ...`)", me()),
                _ => String::new(),
            };
            eprintln!(
                "\ntip: {command} takes the host only; name the lab with --lab NAME{example}"
            );
            Err(ExitCode::from(2))
        }
        Err(e) => e.exit(),
    }
}

/// Levenshtein distance (for "did you mean").
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}
