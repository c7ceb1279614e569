//! What a swarm job cannot do: refused before anything is created, as a
//! container engine's refusals are (see `spec::support`).

use alloc::borrow::Cow;

use crate::api::version::{ApiVersion, EngineInfo};
use crate::spec::{RunSpec, SpecError};

/// The API version from which cstream runs swarm jobs (a service's
/// capabilities, ulimits and PID limit): Docker 20.10.
pub(super) const JOBS: ApiVersion = ApiVersion::new(1, 41);

fn no(field: &'static str, why: &'static str) -> Option<SpecError> {
    Some(SpecError::Unsupported { field: field.into(), engine: "a swarm".into(), why: why.into() })
}

/// Why a swarm cannot run `spec` as asked, if it cannot: an option with no
/// place in a service spec, or one the job's lifecycle cannot keep.
pub(super) fn refusal(spec: &RunSpec) -> Option<SpecError> {
    if spec.tty {
        return no("terminal (tty)", "a service's logs are its only output, and they are read without a terminal");
    }
    if spec.stdin {
        return no("stdin", "a service's task cannot be attached to");
    }
    if spec.log_driver.as_deref() == Some("none") {
        return no("log driver none", "a job's output is read back from its logs, and `none` keeps none");
    }
    if spec.keep {
        return no("keep", "a job's service is removed when the job ends, as a container run's container is");
    }
    if spec.privileged {
        return no("privileged mode", "a service spec has no privileged mode");
    }
    if !spec.devices.is_empty() {
        return no("device", "a service spec has no devices");
    }
    if !spec.ports.is_empty() {
        return no("published port", "a job's ports would go through the swarm's ingress, not the node's");
    }
    if spec.network.is_some() {
        return no("network", "a service joins swarm networks, not an engine's network modes");
    }
    if spec.memory_swap.is_some() {
        return no("memory+swap limit", "a service spec has no swap limit");
    }
    if spec.no_new_privileges {
        return no("no-new-privileges", "a service spec has it only from API 1.46");
    }
    if spec.shm_size.is_some() {
        return no("/dev/shm size", "a service spec has no shm size");
    }
    if spec.runtime.is_some() {
        return no("OCI runtime", "a service spec names no OCI runtime");
    }
    if spec.platform.is_some() {
        return no("platform", "a swarm runs the image for the node's platform: use a constraint on node.platform");
    }
    if !spec.create_extra.is_empty() {
        return no("create_extra", "it is merged into a container create body, which a service does not have");
    }
    if spec.mounts.iter().any(|m| m.relabel.is_some()) || spec.volumes.iter().any(|v| v.relabel.is_some()) {
        return no("SELinux relabeling (z, Z)", "a service's mounts take no relabel option");
    }
    if let Some(option) = spec.tmpfs.iter().find_map(|t| super::service::tmpfs_options(&t.options).err()) {
        return Some(SpecError::Unsupported {
            field: alloc::format!("tmpfs option {option:?}").into(),
            engine: "a swarm".into(),
            why: "a service's tmpfs takes only size, mode and ro".into(),
        });
    }
    None
}

/// Why `engine` cannot run a job, if it cannot: an API older than jobs.
pub(super) fn engine_refusal(engine: &EngineInfo) -> Option<SpecError> {
    (engine.api < JOBS).then(|| SpecError::Unsupported {
        field: "swarm job".into(),
        engine: alloc::format!("API {}", engine.api),
        why: Cow::Borrowed("cstream runs a job on a swarm from API 1.41 (Docker 20.10)"),
    })
}
