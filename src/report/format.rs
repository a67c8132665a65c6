//! The output formats of a run report, their file names, and rendering each.

use super::{render, RunReport};

/// Report formats besides run.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Html,
    Junit,
    Sarif,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Json,
        Format::Markdown,
        Format::Html,
        Format::Junit,
        Format::Sarif,
    ];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Json => "report.json",
            Format::Markdown => "report.md",
            Format::Html => "report.html",
            Format::Junit => "junit.xml",
            Format::Sarif => "report.sarif",
        }
    }

    pub fn render(self, report: &RunReport) -> String {
        match self {
            Format::Json => render::json(report),
            Format::Markdown => render::markdown(report),
            Format::Html => render::html(report),
            Format::Junit => render::junit(report),
            Format::Sarif => render::sarif::sarif(report),
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Format, String> {
        match s {
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "junit" | "xml" => Ok(Format::Junit),
            "sarif" => Ok(Format::Sarif),
            other => Err(format!(
                "unknown format {other:?}: use json, md, html, junit or sarif"
            )),
        }
    }
}
