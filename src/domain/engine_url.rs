//! An engine's URL as people see it and as the lab tells engines apart. A URL may carry
//! credentials (`tcp://admin:secret@host:2376`): they never appear in a message, a report or a
//! label. Two spellings of one engine (`unix:///var/run/docker.sock`,
//! `unix:////var/run//docker.sock`, `tcp://Host:2375` and `http://host:2375`) are one engine.

/// `url` with any `user:password@` replaced by `***@`.
pub fn shown(url: &str) -> String {
    match split_credentials(url) {
        Some((scheme, _, rest)) => format!("{scheme}://***@{rest}"),
        None => url.to_string(),
    }
}

/// `text` with every occurrence of `url`'s credentials hidden (an error of a library that
/// quotes the URL it was given).
pub fn hide_in(text: &str, url: &str) -> String {
    match split_credentials(url) {
        Some((_, credentials, _)) => {
            let hidden = text.replace(url, &shown(url)).replace(credentials, "***");
            match credentials.split_once(':') {
                Some((_, password)) if !password.is_empty() => hidden.replace(password, "***"),
                _ => hidden,
            }
        }
        None => text.to_string(),
    }
}

/// (scheme, `user:password`, what follows the `@`) of a URL with credentials.
fn split_credentials(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let at = rest[..authority_end].rfind('@')?;
    Some((scheme, &rest[..at], &rest[at + 1..]))
}

/// What tells engines apart: a unix socket by its path with repeated slashes and `.` parts
/// folded (and, where it exists here, by the file it resolves to); a TCP engine by its host,
/// lower-cased, and port (2375 when none), whatever the scheme (`tcp`, `http`) and credentials.
pub fn identity(url: &str) -> String {
    if let Some(path) = url.strip_prefix("unix://") {
        let folded: Vec<&str> = path
            .split('/')
            .filter(|part| !part.is_empty() && *part != ".")
            .collect();
        let path = format!("/{}", folded.join("/"));
        let path = std::fs::canonicalize(&path)
            .map(|p| p.display().to_string())
            .unwrap_or(path);
        return format!("unix://{path}");
    }
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, port.parse::<u16>().unwrap_or(2375))
        }
        _ => (authority, 2375),
    };
    format!("tcp://{}:{port}", host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_never_shown() {
        let url = "tcp://admin:s3cr3t@10.0.0.2:2376";
        assert_eq!(shown(url), "tcp://***@10.0.0.2:2376");
        assert_eq!(
            shown("unix:///var/run/docker.sock"),
            "unix:///var/run/docker.sock"
        );
        assert_eq!(
            hide_in(
                &format!("error trying to connect: {url}: s3cr3t refused"),
                url
            ),
            "error trying to connect: tcp://***@10.0.0.2:2376: *** refused"
        );
        assert_eq!(hide_in("no url here", "tcp://h:1"), "no url here");
    }

    #[test]
    fn one_engine_under_two_spellings_is_one_engine() {
        assert_eq!(
            identity("unix:///var/run/docker.sock"),
            identity("unix:////var/run//./docker.sock")
        );
        assert_eq!(identity("tcp://Host:2375"), identity("http://host"));
        assert_eq!(
            identity("tcp://admin:x@host:2376"),
            identity("tcp://host:2376")
        );
        assert_ne!(identity("tcp://host:2375"), identity("tcp://host:2376"));
        assert_ne!(identity("unix:///a.sock"), identity("unix:///b.sock"));
    }
}
