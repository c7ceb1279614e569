//! The checks of the options beyond the basics (see `builder::container`):
//! volumes, host name and `/etc/hosts`, ports, limits and devices, platform,
//! runtime and extra create JSON.

use super::{container_path, invalid, no_nul};
use crate::spec::{RunSpec, SpecError};

pub(super) fn check_volumes(s: &RunSpec) -> Result<(), SpecError> {
    for v in &s.volumes {
        if let Some(name) = &v.name {
            if !crate::spec::mounts::is_volume_name(name) {
                return Err(invalid("volume name", name.escape_default(), "must match [a-zA-Z0-9][a-zA-Z0-9_.-]+"));
            }
        }
        container_path("mount target", &v.target)?;
        if v.target == "/" {
            return Err(invalid("mount target", &v.target, "cannot be the root directory"));
        }
        if v.name.is_none() && v.relabel.is_some() {
            return Err(invalid("volume", &v.target, "an anonymous volume cannot be relabeled; name it"));
        }
    }
    // Relabeled mounts go as `SRC:DST:OPTIONS` strings (`HostConfig.Binds`).
    let relabeled = s.mounts.iter().filter(|m| m.relabel.is_some()).map(|m| [m.source.as_str(), &m.target]);
    let relabeled = relabeled.chain(
        s.volumes
            .iter()
            .filter(|v| v.relabel.is_some())
            .map(|v| [v.name.as_deref().unwrap_or_default(), v.target.as_str()]),
    );
    for path in relabeled.flatten() {
        if path.contains([':', ',']) {
            return Err(invalid("relabeled mount", path, "cannot contain ':' or ','"));
        }
    }
    Ok(())
}

/// A host name: dot-separated labels of letters, digits and `-`, 63 bytes at most.
fn host_name(field: &'static str, name: &str) -> Result<(), SpecError> {
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    match name.len() <= 63 && name.split('.').all(label_ok) {
        true => Ok(()),
        false => Err(invalid(field, name.escape_default(), "must be letters, digits, '-' and '.', 63 at most")),
    }
}

pub(super) fn check_network_identity(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(h) = &s.hostname {
        host_name("hostname", h)?;
    }
    for (name, ip) in &s.extra_hosts {
        let name_ok = !name.is_empty() && !name.contains([':', '\0']) && !name.contains(char::is_whitespace);
        if !name_ok {
            return Err(invalid("extra host name", name.escape_default(), "must be a host name"));
        }
        if ip != "host-gateway" && ip.parse::<core::net::IpAddr>().is_err() {
            return Err(invalid(
                "extra host IP",
                ip.escape_default(),
                "must be an IPv4 or IPv6 address, or host-gateway",
            ));
        }
    }
    for p in &s.ports {
        if p.container_port == 0 || p.host_port == Some(0) {
            let why = "is out of range: ports are 1 to 65535 (leave the host port out for one the engine picks)";
            return Err(invalid("published port", p.key(), why));
        }
        if let Some(ip) = &p.host_ip {
            if ip.parse::<core::net::IpAddr>().is_err() {
                return Err(invalid("published port host IP", ip.escape_default(), "must be an IPv4 or IPv6 address"));
            }
        }
    }
    Ok(())
}

pub(super) fn check_kernel(s: &RunSpec) -> Result<(), SpecError> {
    match s.shm_size {
        Some(0) => return Err(invalid("shm size", 0, "must be positive")),
        Some(n) if n > i64::MAX as u64 => return Err(invalid("shm size", n, "is too large")),
        _ => {}
    }
    for (i, u) in s.ulimits.iter().enumerate() {
        if !crate::spec::ULIMIT_NAMES.contains(&u.name.as_str()) {
            return Err(invalid("ulimit", u.name.escape_default(), "is not a limit's name, such as nofile or nproc"));
        }
        let below = |soft: i64, hard: i64| hard == -1 || (soft != -1 && soft <= hard);
        if u.soft < -1 || u.hard < -1 || !below(u.soft, u.hard) {
            let value = alloc::format!("{}={}:{}", u.name, u.soft, u.hard);
            return Err(invalid("ulimit", value, "the soft limit must be at most the hard one; -1 is unlimited"));
        }
        if s.ulimits.iter().take(i).any(|o| o.name == u.name) {
            return Err(invalid("ulimit", &u.name, "is given twice"));
        }
    }
    for d in &s.devices {
        no_nul("device", &d.host)?;
        if !d.host.starts_with('/') {
            return Err(invalid("device", &d.host, "must be an absolute path on the engine's host"));
        }
        container_path("device path in the container", &d.container)?;
        let p = d.permissions.as_bytes();
        let once = |c: &u8| p.iter().filter(|x| *x == c).count() == 1;
        if p.is_empty() || !p.iter().all(|c| b"rwm".contains(c) && once(c)) {
            return Err(invalid("device permissions", &d.permissions, "must be some of r, w and m"));
        }
    }
    Ok(())
}

pub(super) fn check_engine_options(s: &RunSpec) -> Result<(), SpecError> {
    if let Some(p) = &s.platform {
        let part_ok = |p: &str| {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        };
        let parts = p.split('/').count();
        if !(1..=3).contains(&parts) || !p.split('/').all(part_ok) {
            return Err(invalid("platform", p.escape_default(), "must be os[/arch[/variant]], such as linux/amd64"));
        }
    }
    if let Some(r) = &s.runtime {
        if r.is_empty() || !r.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
            return Err(invalid("OCI runtime", r.escape_default(), "must be a runtime's name, such as runc"));
        }
    }
    s.create_extra.iter().try_for_each(crate::spec::extra::check)
}
