//! The checks `RunSpecBuilder::build` runs, one function per concern.

use alloc::string::{String, ToString};
use core::time::Duration;

use super::{MIN_MEMORY, RunSpec, SpecError};

mod container;

/// The label prefix cstream reserves for its own labels.
pub(crate) const RESERVED_LABEL_PREFIX: &str = "io.cstream.";

pub(super) fn check(s: &RunSpec) -> Result<(), SpecError> {
    check_command(s)?;
    check_env(s)?;
    check_paths(s)?;
    check_limits(s)?;
    check_security(s)?;
    check_naming(s)?;
    check_timing(s)?;
    container::check_volumes(s)?;
    container::check_network_identity(s)?;
    container::check_kernel(s)?;
    container::check_engine_options(s)
}

fn invalid(field: &'static str, value: impl ToString, why: &'static str) -> SpecError {
    SpecError::Invalid { field: field.into(), value: value.to_string(), why: why.into() }
}

fn no_nul(field: &'static str, v: &str) -> Result<(), SpecError> {
    match v.contains('\0') {
        true => Err(invalid(field, v.escape_default(), "contains a NUL byte")),
        false => Ok(()),
    }
}

fn check_command(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(cmd) = &s.command {
        if cmd.is_empty() {
            return Err(invalid("command", "", "is empty; leave it unset to run the image's default"));
        }
        cmd.iter().try_for_each(|a| no_nul("command argument", a))?;
    }
    if let Some(ep) = &s.entrypoint {
        ep.iter().try_for_each(|a| no_nul("entrypoint argument", a))?;
    }
    Ok(())
}

fn check_env(s: &RunSpec) -> Result<(), SpecError> {
    for (k, v) in &s.env.0 {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return Err(invalid(
                "environment variable name",
                k.escape_default(),
                "must be non-empty, without '=' or NUL",
            ));
        }
        if v.contains('\0') {
            // The value itself is never shown.
            return Err(invalid("environment variable", k, "its value contains a NUL byte"));
        }
    }
    Ok(())
}

/// An absolute container path without `..` components.
fn container_path(field: &'static str, p: &str) -> Result<(), SpecError> {
    no_nul(field, p)?;
    if !p.starts_with('/') {
        return Err(invalid(field, p, "must be an absolute path"));
    }
    if p.split('/').any(|c| c == "..") {
        return Err(invalid(field, p, "must not contain '..'"));
    }
    Ok(())
}

fn check_paths(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(dir) = &s.working_dir {
        container_path("working directory", dir)?;
    }
    for m in &s.mounts {
        no_nul("mount source", &m.source)?;
        if m.source.is_empty() {
            return Err(invalid("mount source", "", "is empty"));
        }
        if !m.source.starts_with('/') {
            return Err(invalid("mount source", &m.source, "must be an absolute host path"));
        }
        container_path("mount target", &m.target)?;
        if m.target == "/" {
            return Err(invalid("mount target", &m.target, "cannot be the root directory"));
        }
    }
    for t in &s.tmpfs {
        container_path("tmpfs target", &t.target)?;
        no_nul("tmpfs options", &t.options)?;
    }
    let targets = s.mounts.iter().map(|m| &m.target).chain(s.tmpfs.iter().map(|t| &t.target));
    let targets = targets.chain(s.volumes.iter().map(|v| &v.target));
    for (i, a) in targets.clone().enumerate() {
        if targets.clone().skip(i + 1).any(|b| b.trim_end_matches('/') == a.trim_end_matches('/')) {
            return Err(invalid("mount target", a, "is used by two mounts"));
        }
    }
    Ok(())
}

fn check_limits(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(m) = s.memory {
        if m < MIN_MEMORY {
            return Err(invalid("memory limit", m, "is below the engine's minimum of 6 MiB (6291456 bytes)"));
        }
        if m > i64::MAX as u64 {
            return Err(invalid("memory limit", m, "is too large"));
        }
    }
    if let Some(swap) = s.memory_swap {
        let Some(m) = s.memory else {
            return Err(SpecError::Conflict("a swap limit needs a memory limit".into()));
        };
        if swap != -1 && (swap < 0 || (swap as u64) < m) {
            return Err(invalid("memory+swap limit", swap, "must be at least the memory limit, or -1 for unlimited"));
        }
    }
    if let Some(c) = s.cpu_millis {
        if c == 0 {
            return Err(invalid("CPU limit", "0", "must be more than zero millicores"));
        }
        if c > 1_000_000 {
            return Err(invalid("CPU limit", c, "is more than 1000 CPUs"));
        }
    }
    if let Some(p) = s.pids_limit {
        if p == 0 || p < -1 {
            return Err(invalid("pids limit", p, "must be positive, or -1 for unlimited"));
        }
    }
    Ok(())
}

fn capability(field: &'static str, c: &str) -> Result<(), SpecError> {
    let name = c.strip_prefix("CAP_").unwrap_or(c);
    let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    match ok {
        true => Ok(()),
        false => Err(invalid(field, c, "must be a capability name such as NET_ADMIN, or ALL")),
    }
}

fn check_security(s: &RunSpec) -> Result<(), SpecError> {
    s.cap_add.iter().try_for_each(|c| capability("capability to add", c))?;
    s.cap_drop.iter().try_for_each(|c| capability("capability to drop", c))?;
    let norm = |c: &String| c.strip_prefix("CAP_").unwrap_or(c).to_string();
    if let Some(c) = s.cap_add.iter().find(|c| s.cap_drop.iter().any(|d| norm(d) == norm(c) && norm(c) != "ALL")) {
        return Err(invalid("capability", c, "is both added and dropped"));
    }
    if s.privileged && s.no_new_privileges {
        return Err(SpecError::Conflict("privileged and no-new-privileges cannot be used together".into()));
    }
    if let Some(net) = &s.network {
        let ok = !net.is_empty() && net.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-:".contains(&b));
        if !ok {
            return Err(invalid("network mode", net, "must be none, bridge, host, or a network name"));
        }
    }
    if let Some(user) = &s.user {
        if user.is_empty() || user.contains(['\0', '\n', ' ']) {
            return Err(invalid("user", user.escape_default(), "must be a name, uid or uid:gid"));
        }
    }
    Ok(())
}

fn check_naming(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(n) = &s.name {
        let ok = n.starts_with(|c: char| c.is_ascii_alphanumeric())
            && n.bytes().all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(&c));
        if !ok {
            return Err(invalid("container name", n, "must match [a-zA-Z0-9][a-zA-Z0-9_.-]*"));
        }
    }
    for (k, v) in &s.labels {
        if k.is_empty() {
            return Err(invalid("label", "", "has an empty key"));
        }
        if k.starts_with(RESERVED_LABEL_PREFIX) {
            return Err(invalid("label", k, "uses the io.cstream. prefix that cstream reserves for its own labels"));
        }
        no_nul("label", k)?;
        no_nul("label value", v)?;
    }
    if let Some(d) = &s.log_driver {
        if d.is_empty() || !d.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b)) {
            return Err(invalid("log driver", d, "must be a driver name such as json-file or none"));
        }
    }
    // The stop signal is a `Signal`, checked when it was set.
    Ok(())
}

fn check_timing(s: &RunSpec) -> Result<(), SpecError> {
    if s.heartbeat == Some(Duration::ZERO) {
        return Err(invalid("heartbeat interval", "0s", "must be positive; use None for no heartbeat"));
    }
    if s.timeout == Some(Duration::ZERO) {
        return Err(invalid("timeout", "0s", "must be positive"));
    }
    if s.coalesce.max_buffer == 0 {
        return Err(invalid("output buffer size", 0, "must be at least one byte"));
    }
    if s.tty_size.is_some_and(|t| t.cols == 0 || t.rows == 0) {
        return Err(invalid("terminal size", "0", "columns and rows must be positive"));
    }
    if s.tty_size.is_some() && !s.tty {
        return Err(SpecError::Conflict("a terminal size needs tty mode".into()));
    }
    if s.limits.max_body < 1024 || s.limits.max_frame_hold == 0 {
        return Err(SpecError::Conflict("answer limits are too small to be useful".into()));
    }
    Ok(())
}
