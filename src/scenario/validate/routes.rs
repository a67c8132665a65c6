//! Where uploads go: a client's (or relay's) upload target, relays that form no loop, proxies
//! that forward to a server.

use super::{invalid, port_free, Invalid};
use crate::domain::Role;
use crate::scenario::{Scenario, Sender};

/// A proxy forwards to a server, and only a proxy has `proxy:`; it uploads nothing.
pub(super) fn proxy(s: &Scenario, i: usize) -> Result<(), Invalid> {
    let host = &s.hosts[i];
    let at = |field: &str| format!("hosts[{i}].{field}");
    if host.upload.is_some() || host.sender != Sender::JournalUpload {
        return invalid(
            at("upload"),
            format!(
                "host {:?} is a proxy: upload and sender are for clients",
                host.name
            ),
        );
    }
    if let Some(port) = host.listen_port {
        port_free(&at("listen_port"), port)?;
    }
    let Some(proxy) = &host.proxy else {
        return invalid(
            at("role"),
            format!(
                "host {:?} is a proxy: name the server it forwards to (proxy: {{server: NAME}})",
                host.name
            ),
        );
    };
    match s.host(&proxy.server) {
        Some(h) if h.role == Role::Server => Ok(()),
        Some(_) => invalid(
            at("proxy.server"),
            format!("proxy.server {:?} is not a server", proxy.server),
        ),
        None => invalid(
            at("proxy.server"),
            format!(
                "host {:?} proxy.server names {:?}, which is not in hosts",
                host.name, proxy.server
            ),
        ),
    }
}

/// A relay (a server with `upload:`) names the server it forwards to, not itself, and relays
/// form no loop.
pub(super) fn relay(s: &Scenario, i: usize) -> Result<(), Invalid> {
    let host = &s.hosts[i];
    let path = format!("hosts[{i}].upload.server");
    let Some(next) = host.upload.as_ref().and_then(|u| u.server.as_deref()) else {
        return invalid(
            path,
            format!(
                "host {:?} is a server with upload: (a relay): name the server it forwards to in upload.server",
                host.name
            ),
        );
    };
    if host
        .upload
        .as_ref()
        .is_some_and(|u| u.backlog != crate::scenario::Backlog::All)
    {
        return invalid(
            format!("hosts[{i}].upload.backlog"),
            format!(
                "relay {:?} forwards what it receives: backlog is for clients",
                host.name
            ),
        );
    }
    if next == host.name {
        return invalid(path, format!("relay {:?} forwards to itself", host.name));
    }
    let route = s.route_of(host);
    if route.iter().any(|h| h.name == host.name) {
        let names: Vec<&str> = route.iter().map(|h| h.name.as_str()).collect();
        return invalid(
            path,
            format!(
                "relay {:?} forwards in a loop ({} -> {}): the last server must not forward",
                host.name,
                host.name,
                names.join(" -> ")
            ),
        );
    }
    Ok(())
}

/// A client's (or relay's) upload target.
pub(super) fn upload(s: &Scenario, i: usize) -> Result<(), Invalid> {
    let host = &s.hosts[i];
    // Without upload.server a client sends to the first server listed (documented).
    let named = host.upload.as_ref().and_then(|u| u.server.as_deref());
    let Some(upload) = &host.upload else {
        return Ok(());
    };
    if let Some(server) = named {
        match s.host(server) {
            None => {
                return invalid(
                    format!("hosts[{i}].upload.server"),
                    format!(
                        "host {:?} upload.server names {server:?}, which is not in hosts",
                        host.name
                    ),
                )
            }
            Some(h) if h.role == Role::Client => {
                return invalid(
                    format!("hosts[{i}].upload.server"),
                    format!("upload.server {server:?} is not a server or a proxy"),
                )
            }
            Some(_) => {}
        }
    }
    if let Some(port) = upload.port {
        port_free(&format!("hosts[{i}].upload.port"), port)?;
    }
    let server = s.server_of(host).expect("a server exists");
    if upload.via == super::super::upload::VIA_OWN_URL {
        if s.base != crate::scenario::Base::AsIs {
            return invalid(
                format!("hosts[{i}].upload.via"),
                "upload.via own: the host dials its own URL=, which only `base: as-is` leaves to \
                 it (under `base: guide` the lab sets every URL=)"
                    .to_string(),
            );
        }
        if upload.port.is_some() || upload.protocol != crate::scenario::Protocol::default() {
            return invalid(
                format!("hosts[{i}].upload.via"),
                "upload.via own: the port and protocol are the host's own URL='s; drop \
                 upload.port and upload.protocol"
                    .to_string(),
            );
        }
        return Ok(());
    }
    if upload.via != "name" && upload.via != "ip" && !server.aliases.contains(&upload.via) {
        return invalid(
            format!("hosts[{i}].upload.via"),
            format!(
                "upload.via {:?}: write name, ip, own, or an alias of {} ({})",
                upload.via,
                server.name,
                server.aliases.join(", ")
            ),
        );
    }
    Ok(())
}
