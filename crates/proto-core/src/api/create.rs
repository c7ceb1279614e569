//! The JSON body of `POST /containers/create`, made from a [`RunSpec`].

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use serde::Serialize;

use crate::spec::{Relabel, RunSpec};

/// Labels cstream puts on every container it creates, so that its own
/// leftovers can be found (and nobody else's touched).
pub mod labels {
    /// Marks the container as cstream's; its value is the run id.
    pub const RUN: &str = "io.cstream.run";
    /// What created it: `cstream/<version>`.
    pub const CREATOR: &str = "io.cstream.creator";
    /// When it was created, in seconds since the Unix epoch.
    pub const CREATED: &str = "io.cstream.created";
    /// Which process on which host runs it (the driver's text, such as
    /// `host=ci-7;boot=<boot id>;pid=4242;start=<start time>`), so that
    /// `gc` removes a running container only when its owner is gone.
    pub const OWNER: &str = "io.cstream.owner";
    /// Present (`1`) when the run keeps its container: a stopped container
    /// without it, whose owner lives, is its run's until the run removes it,
    /// and `gc` leaves it alone.
    pub const KEEP: &str = "io.cstream.keep";
    /// Docker's label on a swarm task's container: the swarm removes it with
    /// its service, and `gc` collects the service rather than the container.
    pub const SWARM_SERVICE: &str = "com.docker.swarm.service.id";
}

/// Who a run is and when it began, for the labels. Given by the caller,
/// since the core has no clock and no randomness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    /// The value of the [`labels::RUN`] label. Unique per run: after a create
    /// of unknown outcome, every container carrying it is removed.
    pub run_id: String,
    /// Wall-clock start of the run, seconds since the Unix epoch.
    pub created_unix: u64,
    /// The value of the [`labels::OWNER`] label. `None` leaves the label off,
    /// and `gc` then leaves the container alone while it runs.
    pub owner: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Body<'a> {
    image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    cmd: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    entrypoint: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    labels: BTreeMap<&'a str, &'a str>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    stop_signal: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<String, Empty>,
    host_config: HostConfig<'a>,
}

/// `{}`, as `ExposedPorts` wants for each port.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct HostConfig<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<MountBody<'a>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tmpfs: BTreeMap<&'a str, &'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_swap: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nano_cpus: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids_limit: Option<i64>,
    readonly_rootfs: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    network_mode: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    cap_add: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    cap_drop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    security_opt: Vec<&'static str>,
    privileged: bool,
    auto_remove: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_config: Option<LogConfig<'a>>,
    /// `[rows, cols]`: honoured from API 1.42 (Docker 23); older engines ignore it.
    #[serde(skip_serializing_if = "Option::is_none")]
    console_size: Option<[u16; 2]>,
    /// Relabeled mounts (`SRC:DST:OPTIONS`): the only form the API relabels.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    binds: Vec<String>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    init: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    shm_size: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ulimits: Vec<UlimitBody<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_hosts: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    port_bindings: BTreeMap<String, Vec<PortBinding>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    devices: Vec<DeviceBody<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UlimitBody<'a> {
    name: &'a str,
    soft: i64,
    hard: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PortBinding {
    host_ip: String,
    host_port: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DeviceBody<'a> {
    path_on_host: &'a str,
    path_in_container: &'a str,
    cgroup_permissions: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct VolumeOptions {
    pub(crate) no_copy: bool,
}

/// A tmpfs's options, as a swarm service's mount takes them (a container's
/// tmpfs goes in `HostConfig.Tmpfs` instead).
#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TmpfsOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<u32>,
}

/// One entry of `Mounts`, in a container's `HostConfig` and a service's
/// `ContainerSpec` alike.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MountBody<'a> {
    pub(crate) r#type: &'static str,
    /// Empty for an anonymous volume.
    #[serde(skip_serializing_if = "str::is_empty")]
    pub(crate) source: &'a str,
    pub(crate) target: &'a str,
    pub(crate) read_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) volume_options: Option<VolumeOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tmpfs_options: Option<TmpfsOptions>,
}

/// `SRC:DST:OPTIONS` for `HostConfig.Binds`, with the relabel option.
fn bind(source: &str, target: &str, read_only: bool, relabel: Relabel) -> String {
    let mode = if read_only { "ro" } else { "rw" };
    alloc::format!("{source}:{target}:{mode},{}", relabel.as_str())
}

#[derive(Serialize)]
struct LogConfig<'a> {
    #[serde(rename = "Type")]
    kind: &'a str,
    #[serde(rename = "Config")]
    config: BTreeMap<&'a str, &'a str>,
}

/// The create body for `spec`, labelled with `run`.
pub fn body(spec: &RunSpec, run: &RunInfo) -> Bytes {
    let created = run.created_unix.to_string();
    let creator = concat!("cstream/", env!("CARGO_PKG_VERSION"));
    let mut labels: BTreeMap<&str, &str> = spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    labels.insert(labels::RUN, &run.run_id);
    labels.insert(labels::CREATOR, creator);
    labels.insert(labels::CREATED, &created);
    if let Some(owner) = &run.owner {
        labels.insert(labels::OWNER, owner);
    }
    if spec.keep {
        labels.insert(labels::KEEP, "1");
    }
    // Swap is off unless asked for: memory+swap equal to memory.
    let memory_swap = spec.memory.map(|m| spec.memory_swap.unwrap_or(m as i64));
    let body = Body {
        image: spec.image.to_string(),
        cmd: spec.command.as_deref(),
        entrypoint: spec.entrypoint.as_deref(),
        env: spec.env.to_list(),
        working_dir: spec.working_dir.as_deref(),
        user: spec.user.as_deref(),
        labels,
        tty: spec.tty,
        open_stdin: spec.stdin,
        stdin_once: spec.stdin,
        attach_stdin: spec.stdin,
        attach_stdout: true,
        attach_stderr: true,
        stop_signal: &spec.stop_signal,
        hostname: spec.hostname.as_deref(),
        exposed_ports: spec.ports.iter().map(|p| (p.key(), Empty {})).collect(),
        host_config: HostConfig {
            mounts: mounts(spec),
            tmpfs: spec.tmpfs.iter().map(|t| (t.target.as_str(), t.options.as_str())).collect(),
            memory: spec.memory,
            memory_swap,
            nano_cpus: spec.cpu_millis.map(|m| m * 1_000_000),
            pids_limit: spec.pids_limit,
            readonly_rootfs: spec.read_only_rootfs,
            network_mode: spec.network.as_deref(),
            cap_add: &spec.cap_add,
            cap_drop: &spec.cap_drop,
            security_opt: if spec.no_new_privileges { vec!["no-new-privileges"] } else { Vec::new() },
            privileged: spec.privileged,
            auto_remove: false,
            log_config: spec.log_driver.as_deref().map(|kind| LogConfig { kind, config: BTreeMap::new() }),
            console_size: spec.tty_size.map(|s| [s.rows, s.cols]),
            binds: binds(spec),
            init: spec.init,
            shm_size: spec.shm_size,
            ulimits: spec.ulimits.iter().map(|u| UlimitBody { name: &u.name, soft: u.soft, hard: u.hard }).collect(),
            extra_hosts: spec.extra_hosts.iter().map(|(name, ip)| alloc::format!("{name}:{ip}")).collect(),
            port_bindings: port_bindings(spec),
            devices: spec
                .devices
                .iter()
                .map(|d| DeviceBody {
                    path_on_host: &d.host,
                    path_in_container: &d.container,
                    cgroup_permissions: &d.permissions,
                })
                .collect(),
            runtime: spec.runtime.as_deref(),
        },
    };
    // Serializing plain structs of strings and numbers cannot fail.
    if spec.create_extra.is_empty() {
        return Bytes::from(serde_json::to_vec(&body).unwrap_or_default());
    }
    let mut merged = serde_json::to_value(&body).unwrap_or_default();
    for extra in &spec.create_extra {
        crate::spec::extra::merge(&mut merged, extra);
    }
    Bytes::from(serde_json::to_vec(&merged).unwrap_or_default())
}

/// Bind mounts and volumes, but the relabeled ones (see [`binds`]).
pub(crate) fn mounts(spec: &RunSpec) -> Vec<MountBody<'_>> {
    let binds = spec.mounts.iter().filter(|m| m.relabel.is_none()).map(|m| MountBody {
        r#type: "bind",
        source: &m.source,
        target: &m.target,
        read_only: m.read_only,
        volume_options: None,
        tmpfs_options: None,
    });
    let volumes = spec.volumes.iter().filter(|v| v.relabel.is_none()).map(|v| MountBody {
        r#type: "volume",
        source: v.name.as_deref().unwrap_or_default(),
        target: &v.target,
        read_only: v.read_only,
        volume_options: v.no_copy.then_some(VolumeOptions { no_copy: true }),
        tmpfs_options: None,
    });
    binds.chain(volumes).collect()
}

/// Relabeled bind mounts and volumes, as `HostConfig.Binds` strings.
fn binds(spec: &RunSpec) -> Vec<String> {
    let binds = spec.mounts.iter().filter_map(|m| Some(bind(&m.source, &m.target, m.read_only, m.relabel?)));
    let volumes = spec.volumes.iter().filter_map(|v| {
        let mut b = bind(v.name.as_deref().unwrap_or_default(), &v.target, v.read_only, v.relabel?);
        if v.no_copy {
            b.push_str(",nocopy");
        }
        Some(b)
    });
    binds.chain(volumes).collect()
}

/// Each published port's bindings, under its `PORT/PROTOCOL` key.
fn port_bindings(spec: &RunSpec) -> BTreeMap<String, Vec<PortBinding>> {
    let mut bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
    for p in &spec.ports {
        // An IPv6 address goes bare here, without brackets.
        let host_ip = p.host_ip.clone().unwrap_or_default();
        let host_port = p.host_port.map(|n| n.to_string()).unwrap_or_default();
        bindings.entry(p.key()).or_default().push(PortBinding { host_ip, host_port });
    }
    bindings
}
