//! Text from input (scenario and host names, descriptions, phases, observations, what the
//! hosts printed) as every format shows it: shown, never interpreted. One escape path per
//! format: [`md_text`] for Markdown, [`escape`] for HTML, both over [`visible_controls`].

/// Text that came from input (scenario and host names, descriptions, phases, observations) as
/// it stands in report.md: shown, never interpreted. Markdown renderers (GitHub's among them)
/// pass HTML through, so `<`, `>` and `&` are escaped; control characters (an escape, a bell)
/// are shown as `\u{1b}`, never written raw. Backticks and asterisks stay: the report's own
/// code spans and emphasis are written with them, and they cannot run anything.
pub(crate) fn md_text(text: &str) -> String {
    visible_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `text` with each control character other than a newline or tab written as `\u{..}`: what a
/// terminal or a viewer would act on is shown instead, in every format.
pub(crate) fn visible_controls(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` for HTML: `&`, `<`, `>` and `"` escaped, control characters shown (see [`visible_controls`]).
pub(crate) fn escape(text: &str) -> String {
    visible_controls(text)
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
