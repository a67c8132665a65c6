//! How a lab host's container is made: systemd as PID 1 without `--privileged`, on every cgroup
//! layout, and the one archive it gets before it starts.

use std::path::Path;

use bollard::models::{HostConfig, HostConfigCgroupnsModeEnum, Mount, MountType, PortBinding};

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::CreateContainerOptions;

use super::{HOST_PIDS_LIMIT, NAME_CLAIM_PREFIX, STAGE_DIR};
use crate::errors::{Error, Result};

/// How systemd runs as PID 1 without `--privileged` (which asks for capabilities outside some
/// machines' bounding set, e.g. CAP_SYS_RESOURCE, and then fails): SYS_ADMIN, no seccomp or
/// AppArmor confinement, tmpfs on /run, and a cgroup namespace of its own on every layout.
///
/// A private cgroup namespace is what keeps a lab host from reaching other containers: its
/// cgroup mounts are rooted at its own cgroup. On a pure v2 host the engine mounts that view; on
/// a v1 or hybrid host /sys/fs/cgroup is an empty tmpfs on which PID 1 mounts cgroup2 before it
/// becomes systemd ([`BOOT_COMMAND`]). (Binding the host's unified tree with the host's
/// namespace, the older recipe, let a host freeze or kill any container on the engine by writing
/// its `cgroup.freeze` or `cgroup.kill`.)
pub(super) fn systemd_host_config(
    run_id: &str,
    memory: i64,
    publish: Option<u16>,
    publish_across: Option<(std::net::IpAddr, u16)>,
) -> HostConfig {
    let tmpfs = |target: &str| Mount {
        target: Some(target.to_string()),
        typ: Some(MountType::TMPFS),
        ..Default::default()
    };
    let mut mounts = vec![tmpfs("/run"), tmpfs("/run/lock")];
    match cgroup_layout() {
        CgroupLayout::PureV2 => {}
        CgroupLayout::Hybrid | CgroupLayout::LegacyV1 => mounts.push(tmpfs("/sys/fs/cgroup")),
    }
    HostConfig {
        cap_add: Some(vec!["SYS_ADMIN".into()]),
        security_opt: Some(vec![
            "seccomp=unconfined".into(),
            "apparmor=unconfined".into(),
        ]),
        mounts: Some(mounts),
        cgroupns_mode: Some(HostConfigCgroupnsModeEnum::PRIVATE),
        network_mode: Some(run_id.to_string()),
        // Lets `server` resolve to `server.<run-id>`: short names work like on a real LAN.
        dns_search: Some(vec![run_id.to_string()]),
        // A host needs ~12-40 MiB and a few dozen tasks; the limits keep a runaway (or a
        // 100-client lab) from exhausting the machine.
        memory: Some(memory),
        pids_limit: Some(HOST_PIDS_LIMIT),
        publish_all_ports: Some(false),
        // Only for the host-side client, on the loopback address, and for a server whose
        // clients are on other engines, on the address the user named for its engine: nothing
        // else outside a lab's network can reach a lab host.
        port_bindings: port_bindings(publish, publish_across),
        ..Default::default()
    }
}

/// The ports a host publishes: `publish` on 127.0.0.1 (an ephemeral port), `publish_across`
/// on its engine's address at the same port number. None if neither.
fn port_bindings(
    publish: Option<u16>,
    publish_across: Option<(std::net::IpAddr, u16)>,
) -> Option<std::collections::HashMap<String, Option<Vec<PortBinding>>>> {
    let mut bindings: std::collections::HashMap<String, Option<Vec<PortBinding>>> =
        Default::default();
    let mut bind = |port: u16, host_ip: String, host_port: String| {
        bindings
            .entry(format!("{port}/tcp"))
            .or_default()
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(host_ip),
                host_port: Some(host_port),
            });
    };
    if let Some(port) = publish {
        bind(
            port,
            crate::protocol::client::LOOPBACK.to_string(),
            String::new(),
        );
    }
    if let Some((address, port)) = publish_across {
        bind(port, address.to_string(), port.to_string());
    }
    (!bindings.is_empty()).then_some(bindings)
}

/// What a lab host can do to the machine's kernel settings on an engine that does (or does not)
/// remap users, said at the start of every run where it is a way open (see the security notes
/// in docs/reference.md). Measured on a hybrid-cgroup machine: systemd's sandboxing of
/// journal-upload (`DynamicUser=`) needs CAP_SYS_ADMIN in PID 1 (without it the unit fails with
/// 226/NAMESPACE), so the capability stays; with it, root in a host that is the machine's root can
/// mount a fresh proc whose `sys/kernel/core_pattern` opens for writing. Measured on a pure
/// cgroup v2 engine (Docker 26, `userns-remap`): the lab runs as shipped there, and both ways
/// are closed, which is the advice given.
pub fn kernel_exposure(remaps_users: bool) -> Option<&'static str> {
    (!remaps_users).then_some(
        "this engine runs lab hosts as the machine's root, with CAP_SYS_ADMIN (systemd's \
         sandboxing needs it): a command run in a host can change machine-wide kernel settings. \
         Run only scenario files you trust; on a pure cgroup v2 machine an engine with \
         \"userns-remap\": \"default\" in /etc/docker/daemon.json closes this and runs the lab \
         (security notes: docs/reference.md).",
    )
}

/// PID 1 of every host. On the first boot it unpacks the staged archive and runs its
/// provision.sh, recording the output and exit status, then it *becomes* systemd (exec keeps PID
/// 1). Staging before boot is what lets configuration overlap boot: the files, certificates and
/// enabled units are in place when systemd starts, so it starts them itself, with no
/// `daemon-reload` and no extra round trip. A restarted container finds the record and boots as is.
///
/// Before that, unless the engine already mounted one, it mounts cgroup2 on /sys/fs/cgroup (an
/// empty tmpfs on v1 and hybrid hosts, see [`systemd_host_config`]). On a pure v2 host the
/// engine mounts the container's own cgroup2 read-only unless the container is privileged
/// (moby#46763), and systemd then exits 255 while booting: it is remounted read-write. It is the
/// namespace's root, the host's own cgroup, so nothing outside the host becomes writable. In the host's private cgroup
/// namespace that mount is rooted at the host's own cgroup: systemd gets the unified hierarchy
/// every release accepts (≥ 258 refuses v1), and sees nothing of other containers.
/// A host with `own-boot-id` staged (one with clock faults) gets a fresh boot ID at every boot,
/// bind-mounted in its own mount namespace (a container otherwise shares the machine's), so a
/// restart is a new boot to journald and journal-upload.
pub const BOOT_COMMAND: &str = r#"d=/root/journal-lab
t=$(awk '$2 == "/sys/fs/cgroup" {t = $3 " ," $4 ","} END {print t}' "${MOUNTS:-/proc/self/mounts}")
case "$t" in
cgroup2*,ro,*) mount -o remount,rw /sys/fs/cgroup || echo "journal-lab: cannot make the engine's read-only /sys/fs/cgroup writable" >&2 ;;
cgroup2*) ;;
*) mount -t cgroup2 cgroup2 /sys/fs/cgroup || echo "journal-lab: cannot mount cgroup2 on /sys/fs/cgroup" >&2 ;;
esac
if [ -f "$d/stage.tar" ] && [ ! -e "$d/provisioned" ]; then
    { tar -xf "$d/stage.tar" -C / && if [ -f "$d/provision.sh" ]; then sh "$d/provision.sh"; fi; } >"$d/provision.log" 2>&1
    echo $? >"$d/provisioned"
fi
if [ -e "$d/own-boot-id" ]; then
    cat /proc/sys/kernel/random/uuid >"$d/boot_id" && mount --bind "$d/boot_id" /proc/sys/kernel/random/boot_id \
        || echo "journal-lab: cannot give this host a boot ID of its own" >&2
fi
exec /lib/systemd/systemd"#;

impl super::Lab {
    /// Takes the lab's name on the engine, atomically: a container named `journal-lab-name-NAME`
    /// (of `image`, never started, labelled with the run so that removing the lab removes it).
    /// Container names are unique on an engine; networks are not checked for duplicates on
    /// Docker 20.10, and a lookup of names before creating races with a second `up` of the same
    /// name. A claim is not a host ([`Engine::hosts_of`] reads only containers with a host label).
    pub async fn claim_name(&self, name: &str, image: &str) -> Result<()> {
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["true".into()]),
            labels: Some(self.labels.iter().cloned().collect()),
            network_disabled: Some(true),
            host_config: Some(bollard::models::HostConfig {
                network_mode: Some("none".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(format!("{NAME_CLAIM_PREFIX}{name}")),
            ..Default::default()
        };
        match self
            .engine()
            .docker()
            .create_container(Some(options), body)
            .await
        {
            Ok(_) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Err(Error::InvalidSettings(format!(
                "a lab named {name:?} is already up or being brought up on this engine: pick another --name, \
                 or take it down with `{} down --lab {name}`",
                crate::command_name()
            ))),
            Err(e) => Err(Error::docker(format!("claiming the lab name {name:?}"))(e)),
        }
    }
}

/// The tar the engine unpacks at `/`: the host's staged archive as `STAGE_DIR/stage.tar`.
pub(super) fn stage_archive(stage: &[u8]) -> Vec<u8> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(stage.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    archive
        .append_data(
            &mut header,
            format!("{}/stage.tar", STAGE_DIR.trim_start_matches('/')),
            stage,
        )
        .expect("appending to a tar in memory");
    archive.into_inner().expect("a tar in memory")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupLayout {
    /// cgroup2 only (`/sys/fs/cgroup/cgroup.controllers` exists): a private cgroup namespace.
    PureV2,
    /// v1 controllers with the cgroup2 tree at /sys/fs/cgroup/unified.
    Hybrid,
    /// v1 only; systemd ≥ 258 will not boot.
    LegacyV1,
}

pub fn cgroup_layout() -> CgroupLayout {
    cgroup_layout_at(Path::new("/sys/fs/cgroup"))
}

pub(super) fn cgroup_layout_at(root: &Path) -> CgroupLayout {
    if root.join("cgroup.controllers").exists() {
        CgroupLayout::PureV2
    } else if root.join("unified").is_dir() {
        CgroupLayout::Hybrid
    } else {
        CgroupLayout::LegacyV1
    }
}
