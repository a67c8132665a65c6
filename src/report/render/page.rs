//! The HTML page's frame: its inline style sheet (no script, nothing fetched) and the table of
//! contents built from its section headings.

use std::fmt::Write as _;

pub(super) const STYLE: &str = r#"
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #1d1f23; padding: 0 1em; }
h1 { font-size: 1.5em; margin-bottom: .2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.meta { color: #555; } table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th, td { text-align: left; padding: .35em .5em; border-bottom: 1px solid #eee; vertical-align: top; }
th { background: #f6f7f9; font-weight: 600; } code, pre { font: 13px ui-monospace, monospace; }
/* break-word, not anywhere: anywhere lowers a column's least width to one letter, so the table
   split host names and stacked the digits of numbers; break-word breaks only what cannot fit. */
td { overflow-wrap: break-word; } td code { overflow-wrap: anywhere; } pre { white-space: pre-wrap; overflow-wrap: anywhere; }
nav.toc { columns: 2; font-size: .9em; } nav.toc a { display: block; }
.filter { font-size: .9em; margin: .5em 0; } .filter label { margin-right: 1em; }
body:has(#show-not-passing:checked) tr.pass, body:has(#show-not-passing:checked) tr.not-applicable { display: none; }
pre { background: #f6f7f9; padding: .6em; overflow-x: auto; white-space: pre-wrap; margin: .3em 0; }
.badge { display: inline-block; padding: .1em .55em; border-radius: .8em; font-size: .85em; font-weight: 600; }
.pass { background: #dcf5e3; color: #11622f; } .fail, .FAIL { background: #fde0df; color: #9b1c1c; }
.error { background: #ffe8c7; color: #8a4b00; } .not-verifiable { background: #e9e4ff; color: #4b2a99; }
.not-applicable { background: #eceff3; color: #525a66; } .PASS { background: #dcf5e3; color: #11622f; }
.counts span { margin-right: .6em; } .finding { background: #fff7e0; border-left: 4px solid #e0a800; padding: .5em .8em; margin: .5em 0; }
.bar { background: #4c8bf5; height: .7em; border-radius: .3em; min-width: 2px; }
details summary { cursor: pointer; color: #2457c5; }
"#;

/// `page` with an id on each section heading and a table of contents of them before the first.
pub(super) fn with_contents(page: &str) -> String {
    let mut out = String::with_capacity(page.len() + 1024);
    let mut toc = String::from("<nav class=\"toc\">");
    let mut rest = page;
    let mut n = 0;
    while let Some(at) = rest.find("<h2>") {
        let Some(end) = rest[at..].find("</h2>") else {
            break;
        };
        let title = &rest[at + 4..at + end];
        n += 1;
        let _ = write!(toc, "<a href=\"#s{n}\">{title}</a>");
        let _ = write!(out, "{}<h2 id=\"s{n}\">{title}</h2>", &rest[..at]);
        rest = &rest[at + end + 5..];
    }
    out.push_str(rest);
    toc.push_str("</nav>\n");
    match out.find("<h2 id=\"s1\">") {
        Some(first) if n > 2 => format!("{}{toc}{}", &out[..first], &out[first..]),
        _ => out,
    }
}
