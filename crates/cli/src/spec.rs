//! From `run`'s options to a RunSpec: sizes, durations, volumes, env files.

use std::path::Path;
use std::time::Duration;

use cstream_engine::{PullPolicy, RunSpec, RunSpecBuilder};

use crate::args::{PullArg, RunArgs};

mod container;

/// A user's mistake on the command line, said in one line.
#[derive(Debug)]
pub struct Usage(pub String);

fn usage(msg: impl Into<String>) -> Usage {
    Usage(msg.into())
}

/// `512m`, `2g`, `1048576`, `64k` (binary units, as docker).
pub fn parse_size(s: &str) -> Result<u64, Usage> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1u64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| usage(format!("invalid size {s:?}: expected a number with k, m or g, such as 512m")))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(usage(format!("invalid size {s:?}: must be positive")));
    }
    Ok((n * mult as f64) as u64)
}

/// `30s`, `10m`, `1h`, `1500ms`, `2h30m`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, Usage> {
    let bad = || usage(format!("invalid duration {s:?}: expected such as 30s, 10m, 1h or 500ms"));
    let t = s.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::try_from_secs_f64(n * unit).map_err(|_| bad())?;
        rest = &rest[u_end..];
    }
    Ok(total)
}

/// `0.5` CPUs to 500 millicores.
pub fn parse_cpus(s: &str) -> Result<u64, Usage> {
    let n: f64 =
        s.trim().parse().map_err(|_| usage(format!("invalid --cpus {s:?}: expected a number such as 0.5 or 2")))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(usage(format!("invalid --cpus {s:?}: must be more than zero")));
    }
    Ok((n * 1000.0).round() as u64)
}

/// `NAME=value` lines; blank lines and `#` comments skipped; `NAME` alone takes this environment's value.
pub fn parse_env_file(path: &Path) -> Result<Vec<(String, String)>, Usage> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("cannot read env file {}: {e}", path.display())))?;
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = env_var(line) {
            vars.push(v);
        }
    }
    Ok(vars)
}

/// `NAME=value`, or `NAME` with this environment's value (skipped when unset).
fn env_var(s: &str) -> Option<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) => Some((k.to_string(), v.to_string())),
        None => std::env::var(s).ok().map(|v| (s.to_string(), v)),
    }
}

/// The RunSpec for `run`'s options, with `image` and the command.
pub fn build(a: &RunArgs, image: &str, command: &[String], tty_size: Option<(u16, u16)>) -> Result<RunSpec, Usage> {
    container::refuse_detach(a)?;
    let mut b = process(RunSpec::builder(image), &a.process, tty_size)?;
    if !command.is_empty() {
        b = b.command(command.iter().cloned());
    }
    for t in &a.tmpfs {
        let (dst, opts) = t.split_once(':').unwrap_or((t, ""));
        b = b.tmpfs(dst, opts);
    }
    if let Some(e) = &a.entrypoint {
        b = b.entrypoint(if e.is_empty() { Vec::new() } else { vec![e.clone()] });
    }
    if let Some(m) = &a.memory {
        b = b.memory(parse_size(m)?);
    }
    if let Some(c) = &a.cpus {
        b = b.cpu_millis(parse_cpus(c)?);
    }
    if let Some(p) = a.pids_limit {
        b = b.pids_limit(p);
    }
    for opt in &a.security_opt {
        match opt.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => b = b.no_new_privileges(true),
            other => return Err(usage(format!("unsupported --security-opt {other:?}: only no-new-privileges is"))),
        }
    }
    for c in &a.cap_add {
        b = b.cap_add(c);
    }
    for c in &a.cap_drop {
        b = b.cap_drop(c);
    }
    if let Some(n) = &a.network {
        b = b.network(n);
    }
    if let Some(d) = &a.log_driver {
        b = b.log_driver(d);
    }
    for l in &a.label {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        b = b.label(k, v);
    }
    if let Some(n) = &a.name {
        b = b.name(n);
    }
    let pull = match a.pull {
        PullArg::Always => PullPolicy::Always,
        PullArg::Missing => PullPolicy::Missing,
        PullArg::Never => PullPolicy::Never,
    };
    if let Some(auth) = registry_auth(image, pull)? {
        b = b.registry_auth(auth.to_secret());
    }
    b = b.pull(pull).read_only_rootfs(a.read_only).privileged(a.privileged).keep(a.keep);
    b = container::apply(b, a)?;
    b.build().map_err(|e| usage(e.to_string()))
}

/// The step for `exec`'s options. The spec's image is not used (the step
/// runs in the container's); a fixed one stands in for it.
pub fn exec(a: &crate::args::ExecArgs, command: &[String], tty_size: Option<(u16, u16)>) -> Result<RunSpec, Usage> {
    let b = process(RunSpec::builder("exec").command(command.iter().cloned()), &a.process, tty_size)?;
    b.build().map_err(|e| usage(e.to_string()))
}

/// What the process gets and how it is stopped, for `run` and `exec` alike.
fn process(
    mut b: RunSpecBuilder,
    p: &crate::args::ProcessArgs,
    tty_size: Option<(u16, u16)>,
) -> Result<RunSpecBuilder, Usage> {
    if let Some((cols, rows)) = tty_size {
        b = b.tty_size(cols, rows);
    }
    for f in &p.env_file {
        b = b.envs(parse_env_file(f)?);
    }
    b = b.envs(p.env.iter().filter_map(|e| env_var(e)));
    if let Some(w) = &p.workdir {
        b = b.working_dir(w);
    }
    if let Some(u) = &p.user {
        b = b.user(u);
    }
    if let Some(t) = &p.timeout {
        b = b.timeout(parse_duration(t)?);
    }
    if let Some(s) = p.stop_timeout {
        b = b.stop_grace(Duration::from_secs(s));
    }
    if let Some(s) = &p.stop_signal {
        b = b.stop_signal(parse_signal(s)?);
    }
    Ok(b.tty(p.tty).stdin(p.interactive).heartbeat(heartbeat(p)?))
}

/// `--heartbeat`: none unless given and more than zero.
pub fn heartbeat(p: &crate::args::ProcessArgs) -> Result<Option<Duration>, Usage> {
    match &p.heartbeat {
        Some(h) => Ok(Some(parse_duration(h)?).filter(|d| !d.is_zero())),
        None => Ok(None),
    }
}

/// The local process for `run --local`'s options. Options that only mean
/// something for a container are refused, not ignored.
pub fn local(a: &RunArgs, tty_size: Option<(u16, u16)>) -> Result<cstream_local::LocalProcess, Usage> {
    container::refuse_detach(a)?;
    let container_only = [
        (!a.volume.is_empty(), "--volume"),
        (!a.mount.is_empty(), "--mount"),
        (a.shm_size.is_some(), "--shm-size"),
        (!a.ulimit.is_empty(), "--ulimit"),
        (!a.publish.is_empty(), "--publish"),
        (!a.add_host.is_empty(), "--add-host"),
        (a.hostname.is_some(), "--hostname"),
        (!a.device.is_empty(), "--device"),
        (a.init, "--init"),
        (a.platform.is_some(), "--platform"),
        (a.runtime.is_some(), "--runtime"),
        (a.rm, "--rm"),
        (a.memory.is_some(), "--memory"),
        (a.cpus.is_some(), "--cpus"),
        (a.pids_limit.is_some(), "--pids-limit"),
        (a.read_only, "--read-only"),
        (!a.tmpfs.is_empty(), "--tmpfs"),
        (a.network.is_some(), "--network"),
        (!a.cap_add.is_empty() || !a.cap_drop.is_empty(), "--cap-add/--cap-drop"),
        (!a.security_opt.is_empty(), "--security-opt"),
        (a.privileged, "--privileged"),
        (a.log_driver.is_some(), "--log-driver"),
        (a.name.is_some(), "--name"),
        (!a.label.is_empty(), "--label"),
        (a.keep, "--keep"),
        (a.entrypoint.is_some(), "--entrypoint"),
        (a.process.user.is_some(), "--user"),
        (a.engine.engine.is_some() || a.engine.engine_kind.is_some(), "--engine/--engine-kind"),
    ];
    if let Some((_, flag)) = container_only.iter().find(|(given, _)| *given) {
        return Err(usage(format!("{flag} applies to containers only, not to --local")));
    }
    let (command, args) = a.args.split_first().ok_or_else(|| usage("no command given"))?;
    let heartbeat = heartbeat(&a.process)?;
    let mut p = cstream_local::LocalProcess::new(command, args.iter().cloned())
        .heartbeat(heartbeat)
        .stdin(a.process.interactive);
    for f in &a.process.env_file {
        p = p.envs(parse_env_file(f)?);
    }
    p = p.envs(a.process.env.iter().filter_map(|e| env_var(e)));
    if let Some(w) = &a.process.workdir {
        p = p.working_dir(w);
    }
    if a.process.tty {
        let (cols, rows) = tty_size.unwrap_or((80, 24));
        p = p.pty(cols, rows);
    }
    if let Some(t) = &a.process.timeout {
        p = p.timeout(parse_duration(t)?);
    }
    if let Some(s) = a.process.stop_timeout {
        p = p.stop_grace(Duration::from_secs(s));
    }
    if let Some(s) = &a.process.stop_signal {
        p = p.stop_signal(parse_signal(s)?);
    }
    Ok(p)
}

/// `SIGTERM`, `TERM`, `15` or `SIGRTMIN+3`: one type for container and local runs.
fn parse_signal(s: &str) -> Result<cstream_engine::Signal, Usage> {
    s.trim().parse().map_err(|e: cstream_engine::SignalError| usage(format!("invalid --stop-signal: {e}")))
}

/// The login for `image`'s registry, where `docker pull` and `podman pull`
/// find it (Docker's `config.json` and its credential helpers, then Podman's
/// `auth.json`); none with `--pull never`, which never pulls. A helper that
/// fails fails the run, as `docker pull` does. (A reference that does not
/// parse is reported by the spec's own check.)
fn registry_auth(image: &str, pull: PullPolicy) -> Result<Option<cstream_engine::RegistryAuth>, Usage> {
    let Ok(reference) = cstream_engine::core::spec::ImageRef::parse(image) else { return Ok(None) };
    if pull == PullPolicy::Never {
        return Ok(None);
    }
    cstream_engine::RegistryAuth::for_image(&reference).map_err(|e| usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(parse_size("2g").unwrap(), 2 << 30);
        assert_eq!(parse_size("2GB").unwrap(), 2 << 30);
        assert_eq!(parse_size("64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        for bad in ["", "m", "-1m", "lots", "0"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2h30m").unwrap(), Duration::from_secs(9000));
        assert_eq!(parse_duration("1500ms").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        for bad in ["", "s", "10x", "-5s", "1d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cpus() {
        assert_eq!(parse_cpus("0.5").unwrap(), 500);
        assert!(parse_cpus("0").is_err());
        assert_eq!(parse_cpus("2.5").unwrap(), 2500);
    }
}
