//! Which of the user's own files (`source:` in a scenario, or a `--setup`) each host carried:
//! the answer to "did the lab test OUR configuration?", in run.json and every report.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::scenario::FileDef;

/// One file a host carried from the user's tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct CarriedFile {
    /// Where it was on the host.
    pub path: String,
    /// Where it was read from (as found, relative to the working directory when given so).
    pub source: String,
    /// SHA-256 of its content.
    pub sha256: String,
}

/// One file the lab wrote into a host that the host's own configuration did not have (a
/// certificate, a name entry, a drop-in of the guide's procedure): run.json `hosts[].added_by_lab`,
/// shown beside "Your files", so a report says exactly what was laid around (or over) the
/// configuration it tested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema, Deserialize)]
pub struct AddedFile {
    /// Where it is on the host.
    pub path: String,
    /// SHA-256 of its content (of a link: of its target; empty where it is built in the host).
    pub sha256: String,
    /// Why the lab wrote it.
    pub why: String,
}

impl AddedFile {
    pub fn new(path: impl Into<String>, content: &[u8], why: impl Into<String>) -> AddedFile {
        AddedFile {
            path: path.into(),
            sha256: sha256_hex(content),
            why: why.into(),
        }
    }
}

pub fn sha256_hex(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rows of the "Added by the lab" table: host, path, why, SHA-256 (first 12 digits).
pub fn added_rows(report: &super::RunReport) -> Vec<[String; 4]> {
    host_rows(
        report,
        |host| &host.added_by_lab,
        |f| (&f.path, &f.why, &f.sha256),
    )
}

/// A row per file of each host: host, path, a third column, the first 12 digits of its SHA-256.
fn host_rows<T>(
    report: &super::RunReport,
    files: impl Fn(&super::HostReport) -> &[T],
    cells: impl Fn(&T) -> (&String, &String, &String),
) -> Vec<[String; 4]> {
    report
        .hosts
        .iter()
        .flat_map(|host| {
            files(host).iter().map(|file| {
                let (path, third, sha256) = cells(file);
                [
                    host.name.clone(),
                    path.clone(),
                    third.clone(),
                    sha256.chars().take(12).collect(),
                ]
            })
        })
        .collect()
}

/// The files of `files` that came from a `source:`.
pub fn carried(files: &[FileDef]) -> Vec<CarriedFile> {
    files
        .iter()
        .filter_map(|file| {
            let origin = file.origin.as_ref()?;
            Some(CarriedFile {
                path: file.path.clone(),
                source: origin.display().to_string(),
                sha256: sha256_hex(file.content.as_bytes()),
            })
        })
        .collect()
}

/// The rows of the "Your files" table: host, path on it, source, SHA-256 (first 12 digits).
pub fn rows(report: &super::RunReport) -> Vec<[String; 4]> {
    host_rows(
        report,
        |host| &host.carried,
        |f| (&f.path, &f.source, &f.sha256),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_read_from_a_source_are_carried() {
        let file = |origin: Option<&str>| FileDef {
            path: "/etc/systemd/journal-upload.conf".into(),
            content: "abc".into(),
            source: origin.map(str::to_string),
            origin: origin.map(std::path::PathBuf::from),
            mode: "0644".into(),
        };
        let carried = carried(&[file(None), file(Some("setup/client/upload.conf"))]);
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].source, "setup/client/upload.conf");
        // sha256("abc")
        assert!(carried[0].sha256.starts_with("ba7816bf8f01cfea"));
    }
}
