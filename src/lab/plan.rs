//! What a run will boot, decided before anything boots: each host's image, its engine, what it
//! publishes, and the refusals this machine or the lab's engines call for.

use super::{steps, HostSpec, LabOptions};
use crate::errors::{Error, Result};
use crate::images::{self, ImageSpec};
use crate::report::Role;
use crate::scenario::{Scenario, Sender, Step};

/// What a run will boot, decided before anything does.
pub(super) struct Plan {
    /// The release of hosts that name none.
    pub release: String,
    pub specs: Vec<HostSpec>,
}

/// The hosts and their images, refusing before anything boots what this machine cannot do
/// (more hosts than its limits hold, a fault that needs the machine's root).
pub(super) fn plan(scenario: &Scenario, options: &LabOptions) -> Result<Plan> {
    let release = options
        .release
        .clone()
        .or_else(|| scenario.release.clone())
        .unwrap_or_else(|| images::DEFAULT_RELEASE.to_string());
    let roles: Vec<Role> = scenario.hosts.iter().map(|h| h.role).collect();
    let placement = super::fleet::place(&roles, &options.fleet)?;
    let specs: Vec<HostSpec> = scenario
        .hosts
        .iter()
        .zip(image_specs(
            scenario,
            options.release.as_deref(),
            &options.recipes,
        )?)
        .zip(&placement)
        .enumerate()
        .map(|(index, ((host, image), &engine))| {
            Ok(HostSpec {
                name: host.name.clone(),
                role: host.role,
                image,
                stage: None,
                // Only servers a `send` step posts to, for the host-side client.
                publish: scenario.is_send_target(&host.name).then(|| host.port()),
                engine,
                publish_across: publish_across(scenario, index, &placement, &options.fleet)?,
            })
        })
        .collect::<Result<_>>()?;
    if options.fleet.is_spread() {
        if let Some(proxy) = scenario.hosts.iter().find(|h| h.role == Role::Proxy) {
            return Err(Error::InvalidSettings(format!(
                "{} is a proxy: proxies are not supported in a lab over several engines; run this scenario on one engine",
                proxy.name
            )));
        }
    }
    // A collector reaches its sources by their names on its own network: pulling across
    // engines would need each source published, which the lab does not do.
    for (host, &at) in scenario.hosts.iter().zip(&placement) {
        let Some(server) = scenario
            .server_of(host)
            .filter(|_| host.sender == Sender::Gateway)
        else {
            continue;
        };
        let server_at = scenario
            .hosts
            .iter()
            .position(|h| h.name == server.name)
            .map(|i| placement[i]);
        if server_at != Some(at) {
            return Err(Error::InvalidSettings(format!(
                "{} (sender: gateway) would be on another engine than {}, which pulls from it:                  pulling across engines is not supported; run this scenario on one engine",
                host.name, server.name
            )));
        }
    }
    if !options.fleet.is_spread() {
        // Several engines: each one's limits are its own (`--engine …,hosts=N`), and the
        // engines on this machine are counted together once they answer (bring_up).
        super::check_host_limits(specs.len())?;
    }
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Step::Fault { kind, .. } = step {
            if let Some(why) = kind
                .spec()
                .needs_machine_root
                .then(steps::machine_root_unavailable)
                .flatten()
            {
                return Err(Error::InvalidSettings(format!(
                    "steps[{index}] (fault {kind}) cannot be done here: {why}"
                )));
            }
        }
    }
    Ok(Plan { release, specs })
}

/// Where the server `scenario.hosts[index]` publishes its port when clients of it are on other
/// engines: its engine's address, at its own port (None for a client, or a server whose clients
/// all share its engine). An error, before anything boots, if its engine has no address.
fn publish_across(
    scenario: &Scenario,
    index: usize,
    placement: &[usize],
    fleet: &super::fleet::Fleet,
) -> Result<Option<(std::net::IpAddr, u16)>> {
    let host = &scenario.hosts[index];
    if host.role != Role::Server {
        return Ok(None);
    }
    let here = placement[index];
    let Some(elsewhere) = scenario
        .hosts
        .iter()
        .zip(placement)
        .find(|(h, &at)| {
            (h.role == Role::Client || h.is_relay())
                && h.sender != Sender::Gateway
                && at != here
                && scenario.server_of(h).is_some_and(|s| s.name == host.name)
        })
        .map(|(_, &at)| &fleet.engines()[at].name)
    else {
        return Ok(None);
    };
    let engine = &fleet.engines()[here];
    match engine.address {
        Some(address) => Ok(Some((address, host.port()))),
        None => Err(Error::InvalidSettings(format!(
            "server {} is on engine {} and clients of it are on engine {elsewhere}: name the address \
             engine {elsewhere}'s hosts reach engine {} at (`--engine {}={},address=IP`)",
            host.name, engine.name, engine.name, engine.name, crate::domain::engine_url::shown(&engine.url)
        ))),
    }
}

/// The image of each host of `scenario`, in topology order: its release (the override, else its
/// own, else the scenario's, else the default) plus its extra packages.
pub fn image_specs(
    scenario: &Scenario,
    release: Option<&str>,
    recipes: &images::Recipes,
) -> Result<Vec<ImageSpec>> {
    scenario
        .hosts
        .iter()
        .map(|host| {
            let release = release
                .or(host.release.as_deref())
                .or(scenario.release.as_deref())
                .unwrap_or(images::DEFAULT_RELEASE);
            // A proxy's image carries HAProxy, and a host whose clock a fault fakes a compiler
            // for the clock shim, from the release's own packages.
            let mut packages = host.packages.clone();
            let clock = super::staging::has_clock_faults(scenario, &host.name);
            let implied = std::iter::once((host.role == Role::Proxy, super::proxy::PROXY_PACKAGE))
                .chain(super::staging::CLOCK_PACKAGES.iter().map(|&p| (clock, p)));
            for (needed, package) in implied {
                if needed && !packages.iter().any(|p| p == package) {
                    packages.push(package.to_string());
                }
            }
            Ok(ImageSpec::load(recipes, release)?.with_packages(&packages))
        })
        .collect()
}
