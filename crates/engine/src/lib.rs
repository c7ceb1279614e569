//! Find a Docker or Podman engine, over its Unix socket or plain TCP, and run
//! commands in containers as streams of typed events.
//!
//! [`discover`] takes the engine the environment names, as the docker CLI
//! does: `DOCKER_HOST` (`unix://` or `tcp://`), else `CONTAINER_HOST`; when
//! one is set it is the only candidate, and an engine that does not answer
//! there is an error, never a quiet run elsewhere. With neither set it looks
//! where engines live, in this order, and takes the first that answers a
//! ping: `/var/run/docker.sock`, Podman's rootful `/run/podman/podman.sock`,
//! then rootless `$XDG_RUNTIME_DIR/podman/podman.sock`. With a [`Runtime`] it
//! looks only where that engine lives. When none answers, the error lists
//! each place and why.
//!
//! ```no_run
//! use cstream_engine::{EventKind, RunSpec};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), cstream_engine::Error> {
//! let engine = cstream_engine::discover(None).await?;
//! let spec = RunSpec::builder("alpine:3.20").command(["sh", "-c", "echo hi; exit 3"]).build()?;
//! let mut run = engine.run(spec);
//! while let Some(event) = run.next().await {
//!     match event?.kind {
//!         EventKind::Output { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
//!         EventKind::ProcessEnd(end) => println!("exit code {:?}", end.exit_code),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;

use cstream_driver_hyper::core::api::ApiVersion;

pub use cstream_driver_hyper::*;
pub use cstream_driver_tcp::{Remote, TcpConnector};
pub use cstream_driver_unix::{DOCKER_SOCKET, PODMAN_SOCKET, UnixConnector, podman_rootless_socket};

/// Which engine to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// Docker Engine.
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
}

impl std::str::FromStr for Runtime {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "docker" => Ok(Runtime::Docker),
            "podman" => Ok(Runtime::Podman),
            _ => Err(Error::Endpoint { endpoint: s.to_string(), why: "the runtime must be docker or podman".into() }),
        }
    }
}

/// An engine at `endpoint`: `unix:///path`, a socket path, or `tcp://host:port`.
/// Nothing is sent until it is used. It speaks the API version that
/// `DOCKER_API_VERSION` pins, if set (see [`api_version_from_env`]).
pub fn engine(endpoint: &str, remote: Remote) -> Result<Engine, Error> {
    let pinned = api_version_from_env()?;
    let engine = if let Some(path) = endpoint.strip_prefix("unix://") {
        cstream_driver_unix::engine(path)
    } else if endpoint.starts_with("tcp://") {
        cstream_driver_tcp::engine(endpoint, remote)?
    } else if endpoint.starts_with('/') {
        cstream_driver_unix::engine(endpoint)
    } else {
        let why = "expected unix:///path/to/socket or tcp://host:port (TLS endpoints are not supported)";
        return Err(Error::Endpoint { endpoint: endpoint.to_string(), why: why.into() });
    };
    Ok(match pinned {
        Some(v) => engine.with_api_version(v),
        None => engine,
    })
}

/// The Engine API version `DOCKER_API_VERSION` pins, as the docker CLI reads
/// it: set, it is spoken as it is, with no negotiation; unset or empty, the
/// version is negotiated. A value that is not a version is an error.
pub fn api_version_from_env() -> Result<Option<ApiVersion>, Error> {
    api_version_in(std::env::var("DOCKER_API_VERSION").ok())
}

fn api_version_in(value: Option<String>) -> Result<Option<ApiVersion>, Error> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        // The docker CLI takes `v1.44` as well as `1.44`.
        Some(v) => Ok(Some(v.strip_prefix('v').unwrap_or(v).parse()?)),
    }
}

/// Connects to the engine at `endpoint` and pings it.
pub async fn connect(endpoint: &str, remote: Remote) -> Result<Engine, Error> {
    let e = engine(endpoint, remote)?;
    e.ping().await?;
    Ok(e)
}

/// Where [`discover`] looks, in order, for `runtime` (or any engine).
pub fn candidates(runtime: Option<Runtime>) -> Vec<String> {
    candidates_in(runtime, |k| std::env::var(k).ok(), podman_rootless_socket())
}

/// [`candidates`] with the environment and the rootless socket given.
fn candidates_in(
    runtime: Option<Runtime>,
    env: impl Fn(&str) -> Option<String>,
    rootless: Option<PathBuf>,
) -> Vec<String> {
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let mut v = Vec::new();
    let docker = runtime != Some(Runtime::Podman);
    let podman = runtime != Some(Runtime::Docker);
    // An engine the user named is the only candidate, as with the docker CLI:
    // unreachable is an error, never a quiet run on another engine.
    let named = match (docker.then(|| env("DOCKER_HOST")).flatten(), podman.then(|| env("CONTAINER_HOST")).flatten()) {
        (Some(host), _) | (None, Some(host)) => Some(host),
        (None, None) => None,
    };
    if let Some(host) = named {
        return vec![host];
    }
    if docker {
        v.push(format!("unix://{DOCKER_SOCKET}"));
    }
    if podman {
        v.push(format!("unix://{PODMAN_SOCKET}"));
        v.extend(rootless.map(|p: PathBuf| format!("unix://{}", p.display())));
    }
    let mut seen = std::collections::HashSet::new();
    v.retain(|c| seen.insert(c.clone()));
    v
}

/// Finds the first engine that answers, looking where [`candidates`] says.
pub async fn discover(runtime: Option<Runtime>) -> Result<Engine, Error> {
    let mut tried = Vec::new();
    for endpoint in candidates(runtime) {
        match connect(&endpoint, Remote::Refuse).await {
            Ok(e) => return Ok(e),
            Err(err) => tried.push((endpoint, short(&err))),
        }
    }
    Err(Error::NoEngine { tried })
}

fn short(e: &Error) -> String {
    match e {
        Error::Unreachable { message, .. } => message.clone(),
        Error::Endpoint { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            engine("unix:///var/run/docker.sock", Remote::Refuse).map(|e| e.endpoint().to_string()).ok().as_deref(),
            Some("unix:///var/run/docker.sock")
        );
        assert_eq!(
            engine("/run/podman/podman.sock", Remote::Refuse).map(|e| e.endpoint().to_string()).ok().as_deref(),
            Some("unix:///run/podman/podman.sock")
        );
        assert!(engine("tcp://127.0.0.1:2375", Remote::Refuse).is_ok());
        assert!(matches!(engine("https://x:2376", Remote::Refuse), Err(Error::Endpoint { .. })));
        assert!(matches!(engine("tcp://203.0.113.1:2375", Remote::Refuse), Err(Error::Endpoint { .. })));
    }

    #[test]
    fn discovery_order_and_what_it_says_when_nothing_answers() {
        let env = |k: &str| match k {
            "DOCKER_HOST" => Some("tcp://127.0.0.1:2375".to_string()),
            "CONTAINER_HOST" => Some("unix:///run/user/1000/podman/podman.sock".to_string()),
            _ => None,
        };
        // DOCKER_HOST, when set, is the only candidate; CONTAINER_HOST for Podman.
        let rootless = || Some(PathBuf::from("/run/user/1000/podman/podman.sock"));
        assert_eq!(candidates_in(None, env, rootless()), ["tcp://127.0.0.1:2375"]);
        assert_eq!(candidates_in(Some(Runtime::Podman), env, None), ["unix:///run/user/1000/podman/podman.sock"]);
        let podman_only = |k: &str| (k == "CONTAINER_HOST").then(|| "unix:///c.sock".to_string());
        assert_eq!(candidates_in(None, podman_only, None), ["unix:///c.sock"]);
        assert_eq!(
            candidates_in(Some(Runtime::Docker), podman_only, None),
            ["unix:///var/run/docker.sock"],
            "CONTAINER_HOST does not name a Docker engine"
        );
        let unset = |_: &str| None;
        assert_eq!(
            candidates_in(None, unset, rootless()),
            [
                "unix:///var/run/docker.sock",
                "unix:///run/podman/podman.sock",
                "unix:///run/user/1000/podman/podman.sock",
            ]
        );
        let empty = |_: &str| Some(String::new());
        assert_eq!(candidates_in(Some(Runtime::Docker), empty, None), ["unix:///var/run/docker.sock"]);
        let e = Error::NoEngine {
            tried: vec![("unix:///a".into(), "no such file".into()), ("tcp://b:1".into(), "refused".into())],
        };
        assert_eq!(e.to_string(), "no container engine found; tried: unix:///a (no such file), tcp://b:1 (refused)");
    }

    #[test]
    fn docker_api_version_pins_or_is_refused() {
        assert_eq!(api_version_in(None).unwrap(), None);
        assert_eq!(api_version_in(Some(String::new())).unwrap(), None);
        assert_eq!(api_version_in(Some("1.44".into())).unwrap(), Some(ApiVersion::new(1, 44)));
        assert_eq!(api_version_in(Some("v1.41".into())).unwrap(), Some(ApiVersion::new(1, 41)));
        for bad in ["1.x", "99999.1", "1", "vv1.44", "1.44.0", " . ", "V1.44"] {
            let e = api_version_in(Some(bad.into())).unwrap_err();
            assert!(matches!(e, Error::BadApiVersion(_)), "{bad}: {e}");
            assert!(e.to_string().starts_with("DOCKER_API_VERSION: "), "{e}");
        }
    }

    #[test]
    fn runtimes_narrow_the_candidates() {
        let docker = candidates(Some(Runtime::Docker));
        assert!(docker.contains(&format!("unix://{DOCKER_SOCKET}")));
        assert!(!docker.contains(&format!("unix://{PODMAN_SOCKET}")));
        let podman = candidates(Some(Runtime::Podman));
        assert!(podman.contains(&format!("unix://{PODMAN_SOCKET}")));
        assert!(!podman.contains(&format!("unix://{DOCKER_SOCKET}")));
        assert!("lxc".parse::<Runtime>().is_err());
    }
}
