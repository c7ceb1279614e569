//! `run`'s docker options beyond the basics: volumes and `--mount`, `/dev/shm`,
//! ulimits, `/etc/hosts`, the host name, published ports, devices, the
//! platform, the OCI runtime and an init process.

use std::path::Path;

use cstream_engine::RunSpecBuilder;
use cstream_engine::core::spec::{Mount, MountSpec, Relabel, Volume};

use super::{Usage, parse_size, usage};
use crate::args::RunArgs;

fn spec_error(e: cstream_engine::SpecError) -> Usage {
    usage(e.to_string())
}

/// Adds the options of `a` this module knows to `b`.
pub fn apply(mut b: RunSpecBuilder, a: &RunArgs) -> Result<RunSpecBuilder, Usage> {
    for v in &a.volume {
        b = b.mount_spec(parse_volume(v)?);
    }
    for m in &a.mount {
        let mount = match m.parse().map_err(spec_error)? {
            MountSpec::Bind(bind) => MountSpec::Bind(Mount { source: host_path(&bind.source)?, ..bind }),
            other => other,
        };
        b = b.mount_spec(mount);
    }
    if let Some(s) = &a.shm_size {
        b = b.shm_size(parse_size(s).map_err(|Usage(m)| usage(format!("--shm-size: {m}")))?);
    }
    for u in &a.ulimit {
        b = b.ulimit(u.parse().map_err(spec_error)?);
    }
    for h in &a.add_host {
        let (name, ip) = parse_add_host(h)?;
        b = b.add_host(name, ip);
    }
    if let Some(h) = &a.hostname {
        b = b.hostname(h);
    }
    for p in &a.publish {
        b = b.publish(p.parse().map_err(spec_error)?);
    }
    for d in &a.device {
        b = b.device(d.parse().map_err(spec_error)?);
    }
    if let Some(p) = &a.platform {
        b = b.platform(p);
    }
    if let Some(r) = &a.runtime {
        b = b.runtime(r);
    }
    Ok(b.init(a.init))
}

/// `-d` is refused: the run is streamed to its end, and the container removed.
pub fn refuse_detach(a: &RunArgs) -> Result<(), Usage> {
    match a.detach {
        true => Err(usage(
            "--detach is not supported: cstream streams the run to its end; \
             use --keep to keep the container, or `docker run -d` to detach",
        )),
        false => Ok(()),
    }
}

/// A host path as given, made absolute: `~` is the home directory, and a
/// relative path is taken from the current directory.
fn host_path(p: &str) -> Result<String, Usage> {
    let home = || std::env::var_os("HOME").ok_or_else(|| usage(format!("cannot expand {p:?}: HOME is not set")));
    let path = match p.strip_prefix('~') {
        Some("") => Path::new(&home()?).to_path_buf(),
        Some(rest) if rest.starts_with('/') => Path::new(&home()?).join(&rest[1..]),
        _ if Path::new(p).is_absolute() => return Ok(p.to_string()),
        _ => {
            let cwd = std::env::current_dir().map_err(|e| usage(format!("cannot read the current directory: {e}")))?;
            cwd.join(p)
        }
    };
    Ok(path.display().to_string())
}

/// `-v`: `SRC:DST[:OPTIONS]`, or `DST` alone for an anonymous volume. SRC
/// is a host path when it has a `/` or starts with `.` or `~` (relative to
/// the current directory), else a volume's name, as with docker. OPTIONS,
/// comma-separated: `ro` or `rw`, `z` or `Z` (SELinux relabeling), `nocopy`
/// (volumes).
pub fn parse_volume(v: &str) -> Result<MountSpec, Usage> {
    let bad = |why: &str| usage(format!("invalid volume {v:?}: {why}"));
    let parts: Vec<&str> = v.split(':').collect();
    let (src, dst, opts) = match parts[..] {
        [dst] if !dst.is_empty() => {
            let anonymous = Volume { name: None, target: dst.into(), read_only: false, no_copy: false, relabel: None };
            return Ok(MountSpec::Volume(anonymous));
        }
        [src, dst] => (src, dst, ""),
        [src, dst, opts] => (src, dst, opts),
        _ => return Err(bad("expected SRC:DST[:OPTIONS], or DST for an anonymous volume")),
    };
    if src.is_empty() || dst.is_empty() {
        return Err(bad("expected SRC:DST[:OPTIONS], or DST for an anonymous volume"));
    }
    let (mut read_only, mut writable, mut relabel, mut no_copy) = (false, false, None, false);
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => writable = true,
            "z" | "Z" if relabel.is_some() => return Err(bad("z and Z cannot both be given")),
            "z" => relabel = Some(Relabel::Shared),
            "Z" => relabel = Some(Relabel::Private),
            "nocopy" => no_copy = true,
            // Docker ignores these on Linux.
            "consistent" | "cached" | "delegated" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                return Err(bad("bind propagation is not supported"));
            }
            _ => return Err(bad("options are ro, rw, z, Z and nocopy")),
        }
    }
    if read_only && writable {
        return Err(bad("ro and rw cannot both be given"));
    }
    let is_path = src.contains('/') || src.starts_with('.') || src.starts_with('~');
    match is_path {
        true if no_copy => Err(bad("nocopy applies to volumes, not to a host path")),
        true => Ok(MountSpec::Bind(Mount { source: host_path(src)?, target: dst.into(), read_only, relabel })),
        false => {
            let name = Some(src.to_string());
            Ok(MountSpec::Volume(Volume { name, target: dst.into(), read_only, no_copy, relabel }))
        }
    }
}

/// `--add-host`: `HOST:IP` or `HOST=IP`, the IP bare or in brackets.
pub fn parse_add_host(h: &str) -> Result<(String, String), Usage> {
    let (name, ip) = match h.split_once('=') {
        Some(pair) => pair,
        None => h.split_once(':').ok_or_else(|| usage(format!("invalid --add-host {h:?}: expected HOST:IP")))?,
    };
    let ip = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')).unwrap_or(ip);
    Ok((name.to_string(), ip.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(source: &str, target: &str, read_only: bool, relabel: Option<Relabel>) -> MountSpec {
        MountSpec::Bind(Mount { source: source.into(), target: target.into(), read_only, relabel })
    }

    fn volume(name: Option<&str>, target: &str, read_only: bool, no_copy: bool) -> MountSpec {
        let name = name.map(Into::into);
        MountSpec::Volume(Volume { name, target: target.into(), read_only, no_copy, relabel: None })
    }

    #[test]
    fn volumes_are_host_paths_or_names() {
        assert_eq!(parse_volume("/a:/b").unwrap(), bind("/a", "/b", false, None));
        assert_eq!(parse_volume("/a:/b:ro").unwrap(), bind("/a", "/b", true, None));
        assert_eq!(parse_volume("/a:/b:ro,z").unwrap(), bind("/a", "/b", true, Some(Relabel::Shared)));
        assert_eq!(parse_volume("/a:/b:Z").unwrap(), bind("/a", "/b", false, Some(Relabel::Private)));
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            parse_volume("./rel:/b").unwrap(),
            bind(&cwd.join("./rel").display().to_string(), "/b", false, None)
        );
        assert_eq!(
            parse_volume("rel/x:/b").unwrap(),
            bind(&cwd.join("rel/x").display().to_string(), "/b", false, None)
        );
        assert_eq!(parse_volume("cache:/b").unwrap(), volume(Some("cache"), "/b", false, false));
        assert_eq!(parse_volume("cache:/b:ro,nocopy").unwrap(), volume(Some("cache"), "/b", true, true));
        assert_eq!(parse_volume("/data").unwrap(), volume(None, "/data", false, false));
        for bad in
            ["", "/a:/b:xx", ":/b", "/a:", "/a:/b:ro,rw", "/a:/b:z,Z", "/a:/b:rshared", "/a:/b:nocopy", "a:b:c:d"]
        {
            assert!(parse_volume(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn add_host_takes_a_colon_or_an_equals_sign() {
        assert_eq!(parse_add_host("db:10.0.0.2").unwrap(), ("db".into(), "10.0.0.2".into()));
        assert_eq!(parse_add_host("db=10.0.0.2").unwrap(), ("db".into(), "10.0.0.2".into()));
        assert_eq!(parse_add_host("v6:::1").unwrap(), ("v6".into(), "::1".into()));
        assert_eq!(parse_add_host("v6=[::1]").unwrap(), ("v6".into(), "::1".into()));
        assert!(parse_add_host("nohost").is_err());
    }
}
