//! The JSON body of `POST /services/create`: the run's spec as a
//! one-off job (one replica, never restarted).

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bytes::Bytes;
use serde::Serialize;

use super::Placement;
use crate::api::create::{self, MountBody, RunInfo, TmpfsOptions, labels};
use crate::spec::RunSpec;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Service<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    labels: &'a BTreeMap<&'a str, &'a str>,
    task_template: TaskTemplate<'a>,
    mode: Mode,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct TaskTemplate<'a> {
    container_spec: ContainerSpec<'a>,
    resources: Resources,
    restart_policy: RestartPolicy,
    placement: PlacementBody<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_driver: Option<LogDriver<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerSpec<'a> {
    image: String,
    labels: &'a BTreeMap<&'a str, &'a str>,
    /// The entrypoint: a service's `Command` replaces the image's.
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a [String]>,
    /// The command line: a service's `Args` replace the image's `Cmd`.
    #[serde(skip_serializing_if = "Option::is_none")]
    args: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(rename = "TTY")]
    tty: bool,
    open_stdin: bool,
    read_only: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mounts: Vec<MountBody<'a>>,
    stop_signal: &'a str,
    /// Nanoseconds.
    stop_grace_period: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<String>,
    #[serde(skip_serializing_if = "core::ops::Not::not")]
    init: bool,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    capability_add: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    capability_drop: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ulimits: Vec<Ulimit<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Ulimit<'a> {
    name: &'a str,
    soft: i64,
    hard: i64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Resources {
    limits: Limits,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Limits {
    #[serde(rename = "NanoCPUs", skip_serializing_if = "Option::is_none")]
    nano_cpus: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pids: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RestartPolicy {
    condition: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PlacementBody<'a> {
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    constraints: &'a [String],
}

#[derive(Serialize)]
struct LogDriver<'a> {
    #[serde(rename = "Name")]
    name: &'a str,
}

/// One replica, never restarted (the spec's `RestartPolicy` says `none`):
/// the task runs once. Not `ReplicatedJob`, whose removal before Docker 24
/// leaves its task's container on the node, running or not (moby#44312); a
/// replicated service's removal stops and removes it on every version.
#[derive(Serialize)]
struct Mode {
    #[serde(rename = "Replicated")]
    replicated: Replicas,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Replicas {
    replicas: u64,
}

/// A tmpfs's options (`size=..`, `mode=..`, `ro`, `rw`), as a service mount
/// takes them: `(size, mode, read-only)`, or the first option it cannot take.
pub(super) fn tmpfs_options(options: &str) -> Result<(Option<u64>, Option<u32>, bool), String> {
    let (mut size, mut mode, mut ro) = (None, None, false);
    for o in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let bad = || o.to_string();
        match o.split_once('=') {
            Some(("size", v)) => size = Some(bytes(v).ok_or_else(bad)?),
            Some(("mode", v)) => mode = Some(u32::from_str_radix(v, 8).map_err(|_| bad())?),
            None if o == "ro" => ro = true,
            None if o == "rw" => ro = false,
            _ => return Err(bad()),
        }
    }
    Ok((size, mode, ro))
}

/// `65536`, `64k`, `64m`, `1g`: bytes.
fn bytes(v: &str) -> Option<u64> {
    let lower = v.to_ascii_lowercase();
    let (digits, shift) = match lower.strip_suffix(['k', 'm', 'g']) {
        Some(d) if lower.ends_with('k') => (d, 10),
        Some(d) if lower.ends_with('m') => (d, 20),
        Some(d) => (d, 30),
        None => (lower.as_str(), 0),
    };
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// cstream's labels, as a container run's (see [`labels`]), with the user's:
/// on the service and on its task's container, so that either is found by them.
fn all_labels<'a>(spec: &'a RunSpec, run: &'a RunInfo, created: &'a str) -> BTreeMap<&'a str, &'a str> {
    let mut all: BTreeMap<&str, &str> = spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.insert(labels::RUN, &run.run_id);
    all.insert(labels::CREATOR, concat!("cstream/", env!("CARGO_PKG_VERSION")));
    all.insert(labels::CREATED, created);
    if let Some(owner) = &run.owner {
        all.insert(labels::OWNER, owner);
    }
    all
}

/// `cstream-<run id>`, as a service name may be: the engine's own random
/// names collide now and then when many jobs start at once (a create then
/// fails with "name conflicts with an existing object").
fn default_name(run: &RunInfo) -> String {
    let id = run.run_id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let mut name = String::from("cstream-");
    name.extend(id.take(63 - name.len()));
    name
}

/// The service spec for `spec`, labelled with `run`, placed by `placement`.
/// Options it has no place for were refused already (see `refuse.rs`).
pub(super) fn body(spec: &RunSpec, run: &RunInfo, placement: &Placement) -> Bytes {
    let created = run.created_unix.to_string();
    let labels = all_labels(spec, run, &created);
    // Relabeled mounts were refused already (see `refuse.rs`): these are all of them.
    let mut mounts = create::mounts(spec);
    mounts.extend(spec.tmpfs.iter().map(|t| {
        let (size_bytes, mode, read_only) = tmpfs_options(&t.options).unwrap_or_default();
        MountBody {
            r#type: "tmpfs",
            source: "",
            target: &t.target,
            read_only,
            volume_options: None,
            tmpfs_options: Some(TmpfsOptions { size_bytes, mode }),
        }
    }));
    let container = ContainerSpec {
        image: spec.image.to_string(),
        labels: &labels,
        command: spec.entrypoint.as_deref(),
        args: spec.command.as_deref(),
        hostname: spec.hostname.as_deref(),
        env: spec.env.to_list(),
        dir: spec.working_dir.as_deref(),
        user: spec.user.as_deref(),
        tty: false,
        open_stdin: false,
        read_only: spec.read_only_rootfs,
        mounts,
        stop_signal: &spec.stop_signal,
        stop_grace_period: u64::try_from(spec.stop_grace.as_nanos()).unwrap_or(u64::MAX),
        hosts: spec.extra_hosts.iter().map(|(name, ip)| alloc::format!("{ip} {name}")).collect(),
        init: spec.init,
        capability_add: &spec.cap_add,
        capability_drop: &spec.cap_drop,
        ulimits: spec.ulimits.iter().map(|u| Ulimit { name: &u.name, soft: u.soft, hard: u.hard }).collect(),
    };
    let default_name = default_name(run);
    let service = Service {
        name: Some(spec.name.as_deref().unwrap_or(&default_name)),
        labels: &labels,
        task_template: TaskTemplate {
            container_spec: container,
            resources: Resources {
                limits: Limits {
                    nano_cpus: spec.cpu_millis.map(|m| m.saturating_mul(1_000_000)),
                    memory_bytes: spec.memory,
                    pids: spec.pids_limit,
                },
            },
            restart_policy: RestartPolicy { condition: "none" },
            placement: PlacementBody { constraints: &placement.constraints },
            // The output is read back from the node's logs: `local` keeps its
            // bytes as written, where json-file replaces what is not UTF-8.
            log_driver: Some(LogDriver { name: spec.log_driver.as_deref().unwrap_or("local") }),
        },
        mode: Mode { replicated: Replicas { replicas: 1 } },
    };
    // Serializing plain structs of strings and numbers cannot fail.
    Bytes::from(serde_json::to_vec(&service).unwrap_or_default())
}
