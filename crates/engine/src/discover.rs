//! Where the engine is, worked out in the docker CLI's order: an address or
//! context given, `DOCKER_HOST` (or `CONTAINER_HOST`), `DOCKER_CONTEXT`, the
//! docker config's current context, then the default sockets.

use std::fmt;
use std::path::PathBuf;

use cstream_driver_hyper::core::api::ApiVersion;

use crate::address::{self, api_version_in, is_ssh, is_tcp};
use crate::context;
use crate::env::Env;
use crate::runtime::Runtime;
use crate::{DOCKER_SOCKET, Engine, Error, PODMAN_SOCKET, Remote};

/// Where a [`Candidate`] came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An address the caller gave ([`Discover::host`]).
    Given,
    /// `DOCKER_HOST`.
    DockerHost,
    /// `CONTAINER_HOST`, Podman's.
    ContainerHost,
    /// A docker context's docker endpoint.
    Context {
        /// The context's name.
        name: String,
        /// What chose it.
        by: ContextBy,
    },
    /// Where engines listen by default.
    Default,
}

/// What chose a docker context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextBy {
    /// The caller ([`Discover::context`]).
    Given,
    /// `DOCKER_CONTEXT`.
    DockerContext,
    /// `currentContext` in this docker config file.
    CurrentContext(PathBuf),
}

impl ContextBy {
    /// What named the context, for an error; nothing when the caller did.
    fn named_by(&self) -> Option<String> {
        match self {
            ContextBy::Given => None,
            ContextBy::DockerContext => Some("DOCKER_CONTEXT".into()),
            ContextBy::CurrentContext(file) => Some(format!("currentContext in {}", file.display())),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Given => f.write_str("the address given"),
            Source::DockerHost => f.write_str("DOCKER_HOST"),
            Source::ContainerHost => f.write_str("CONTAINER_HOST"),
            Source::Context { name, by } => match by.named_by() {
                None => write!(f, "docker context {name:?}"),
                Some(by) => write!(f, "docker context {name:?} ({by})"),
            },
            Source::Default => f.write_str("the defaults"),
        }
    }
}

/// A place [`Discover`] tries, and where it came from.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The engine's address: `unix://`, `tcp://` or `ssh://`.
    pub endpoint: String,
    /// Where the address came from.
    pub from: Source,
    remote: Remote,
    pinned: Option<ApiVersion>,
}

impl Candidate {
    /// The engine there. Nothing is sent until it is used.
    pub fn engine(&self) -> Result<Engine, Error> {
        let from = (self.from != Source::Given).then(|| self.from.to_string());
        address::make(&self.endpoint, self.remote, self.pinned, from.as_deref())
    }

    /// The engine there, pinged.
    pub async fn connect(&self) -> Result<Engine, Error> {
        let e = self.engine()?;
        e.ping().await?;
        Ok(e)
    }
}

/// Finds an engine as the docker CLI does. In order, the first that names
/// one decides:
///
/// 1. an address ([`Discover::host`], the CLI's `--engine`/`-H`) or a docker
///    context ([`Discover::context`], the CLI's `--context`) given;
/// 2. `DOCKER_HOST`, else `CONTAINER_HOST` (Podman's);
/// 3. `DOCKER_CONTEXT`;
/// 4. the current context of the docker config (`$DOCKER_CONFIG/config.json`,
///    else `~/.docker/config.json`, key `currentContext`), whose endpoint is
///    `Endpoints.docker.Host` in `contexts/meta/<sha256 of its name>/meta.json`
///    of the same directory;
/// 5. the default sockets: `/var/run/docker.sock`, rootless Docker's
///    `$XDG_RUNTIME_DIR/docker.sock`, `/run/podman/podman.sock`, rootless
///    Podman's `$XDG_RUNTIME_DIR/podman/podman.sock`; the first that answers.
///
/// An address named in 1 to 4 is the only candidate: an engine that does not
/// answer there is an error, never a quiet run elsewhere. The context named
/// `default` is no context (step 5); a context that does not exist, or has no
/// docker endpoint, is an [`Error::Context`] naming it.
///
/// With a [`Runtime`], only that engine's variables and sockets are looked
/// at: for Podman `CONTAINER_HOST` and Podman's sockets, for Docker
/// `DOCKER_HOST`, `DOCKER_CONTEXT`, the docker config and Docker's sockets.
/// A context given is used whatever the kind.
///
/// [`Remote`] applies to every address, wherever it came from: a
/// non-loopback `tcp://` one is refused without [`Remote::Allow`]. TLS is
/// not supported: `DOCKER_TLS_VERIFY` set, `DOCKER_CERT_PATH` set with a
/// `tcp://` address, a context with TLS files or `SkipTLSVerify`, `https://`
/// or Docker's TLS port 2376 are an [`Error::Tls`] before anything is sent.
/// (`DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` concern the addresses given,
/// from `DOCKER_HOST` and the default sockets, as with the docker CLI; not
/// `ssh://`, nor a context, which has TLS settings of its own.)
#[derive(Clone, Debug)]
pub struct Discover {
    named: Option<Named>,
    kind: Option<Runtime>,
    remote: Remote,
}

#[derive(Clone, Debug)]
enum Named {
    Host(String),
    Context(String),
}

impl Default for Discover {
    fn default() -> Self {
        Discover { named: None, kind: None, remote: Remote::Refuse }
    }
}

impl Discover {
    /// Discovery from the environment alone, for any kind of engine,
    /// loopback TCP only.
    pub fn new() -> Discover {
        Discover::default()
    }

    /// Use the engine at `address` (`unix://`, `tcp://`, `ssh://`), before
    /// anything the environment says. Replaces a [`Discover::context`].
    pub fn host(mut self, address: impl Into<String>) -> Discover {
        self.named = Some(Named::Host(address.into()));
        self
    }

    /// Use the docker context `name`, before anything the environment says,
    /// as the docker CLI's `--context` does. Replaces a [`Discover::host`].
    pub fn context(mut self, name: impl Into<String>) -> Discover {
        self.named = Some(Named::Context(name.into()));
        self
    }

    /// Look only for this kind of engine (`None`: any).
    pub fn kind(mut self, kind: impl Into<Option<Runtime>>) -> Discover {
        self.kind = kind.into();
        self
    }

    /// Whether a non-loopback `tcp://` address may be used.
    pub fn remote(mut self, remote: Remote) -> Discover {
        self.remote = remote;
        self
    }

    /// Where [`Discover::connect`] would look, in order, with this process's
    /// environment and docker config.
    pub fn candidates(&self) -> Result<Vec<Candidate>, Error> {
        self.candidates_in(&Env::process())
    }

    /// Where [`Discover::connect_in`] would look in `env`, in order. An
    /// address or context that cannot be used is an error here: nothing else
    /// is tried in its place.
    pub fn candidates_in(&self, env: &Env) -> Result<Vec<Candidate>, Error> {
        let pinned = api_version_in(env.get("DOCKER_API_VERSION"))?;
        let candidate = |endpoint: String, from: Source| Candidate { endpoint, from, remote: self.remote, pinned };
        let found = match self.named(env)? {
            Some((endpoint, from)) => vec![candidate(endpoint, from)],
            None => self.defaults(env).into_iter().map(|e| candidate(e, Source::Default)).collect(),
        };
        let tls_asked = |c: &Candidate| match c.from {
            Source::ContainerHost | Source::Context { .. } => None,
            _ if is_ssh(&c.endpoint) => None,
            _ if env.get("DOCKER_TLS_VERIFY").is_some() => Some("DOCKER_TLS_VERIFY is set"),
            _ if env.get("DOCKER_CERT_PATH").is_some() && is_tcp(&c.endpoint) => Some("DOCKER_CERT_PATH is set"),
            _ => None,
        };
        for c in &found {
            if let Some(why) = tls_asked(c) {
                let from = (c.from != Source::Given).then(|| c.from.to_string());
                return Err(Error::Tls { endpoint: c.endpoint.clone(), from, why: why.into() });
            }
            // An address that cannot be used is refused now, saying where it came from.
            c.engine()?;
        }
        Ok(found)
    }

    /// The address steps 1 to 4 name, if one does.
    fn named(&self, env: &Env) -> Result<Option<(String, Source)>, Error> {
        match &self.named {
            Some(Named::Host(address)) => return Ok(Some((address.clone(), Source::Given))),
            Some(Named::Context(name)) if name == context::DEFAULT => return Ok(self.named_by_env(env)),
            Some(Named::Context(name)) => return context_endpoint(env, name, ContextBy::Given).map(Some),
            None => {}
        }
        if let Some(named) = self.named_by_env(env) {
            return Ok(Some(named));
        }
        // Contexts are Docker's.
        if self.kind == Some(Runtime::Podman) {
            return Ok(None);
        }
        if let Some(name) = env.get("DOCKER_CONTEXT") {
            return match name == context::DEFAULT {
                true => Ok(None),
                false => context_endpoint(env, &name, ContextBy::DockerContext).map(Some),
            };
        }
        let Some(dir) = context::config_dir(env) else { return Ok(None) };
        match context::current(env, &dir)? {
            Some(name) if name != context::DEFAULT => {
                let by = ContextBy::CurrentContext(context::config_file(&dir));
                context_endpoint(env, &name, by).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `DOCKER_HOST`, else `CONTAINER_HOST`, for the kinds looked for.
    fn named_by_env(&self, env: &Env) -> Option<(String, Source)> {
        let docker = (self.kind != Some(Runtime::Podman)).then(|| env.get("DOCKER_HOST")).flatten();
        let podman = (self.kind != Some(Runtime::Docker)).then(|| env.get("CONTAINER_HOST")).flatten();
        match (docker, podman) {
            (Some(host), _) => Some((host, Source::DockerHost)),
            (None, Some(host)) => Some((host, Source::ContainerHost)),
            (None, None) => None,
        }
    }

    /// The default sockets, rootless ones included, for the kinds looked for.
    fn defaults(&self, env: &Env) -> Vec<String> {
        let runtime_dir = env.get("XDG_RUNTIME_DIR").map(PathBuf::from);
        let in_runtime_dir = |p: &str| runtime_dir.as_ref().map(|d| d.join(p));
        let mut paths: Vec<PathBuf> = Vec::new();
        if self.kind != Some(Runtime::Podman) {
            paths.push(DOCKER_SOCKET.into());
            paths.extend(in_runtime_dir("docker.sock"));
        }
        if self.kind != Some(Runtime::Docker) {
            paths.push(PODMAN_SOCKET.into());
            paths.extend(in_runtime_dir("podman/podman.sock"));
        }
        let mut seen = std::collections::HashSet::new();
        paths.retain(|p| seen.insert(p.clone()));
        paths.iter().map(|p: &PathBuf| format!("unix://{}", p.display())).collect()
    }

    /// Connects to the first engine that answers where
    /// [`Discover::candidates`] says, with this process's environment.
    pub async fn connect(&self) -> Result<Engine, Error> {
        self.connect_in(&Env::process()).await
    }

    /// Connects to the first engine that answers where
    /// [`Discover::candidates_in`] says for `env`. When none does, the error
    /// lists each place tried, where it came from, and why it did not do; an
    /// address given that does not answer is that engine's own error.
    pub async fn connect_in(&self, env: &Env) -> Result<Engine, Error> {
        let candidates = self.candidates_in(env)?;
        if let [only] = &candidates[..] {
            if only.from == Source::Given {
                return only.connect().await;
            }
        }
        let mut tried = Vec::new();
        for c in candidates {
            match c.connect().await {
                Ok(e) => return Ok(e),
                Err(err) => tried.push((format!("{} from {}", c.endpoint, c.from), short(&err))),
            }
        }
        Err(Error::NoEngine { tried })
    }
}

/// The docker endpoint of the context `name`, chosen `by`.
fn context_endpoint(env: &Env, name: &str, by: ContextBy) -> Result<(String, Source), Error> {
    let no_config = || Error::Context {
        name: name.to_string(),
        by: by.named_by(),
        why: "no docker config directory (neither DOCKER_CONFIG nor HOME is set)".into(),
    };
    let dir = context::config_dir(env).ok_or_else(no_config)?;
    let endpoint = context::endpoint(env, &dir, name, by.named_by().as_deref())?;
    let from = Source::Context { name: name.to_string(), by };
    if let Some(why) = endpoint.tls {
        return Err(Error::Tls { endpoint: endpoint.host, from: Some(from.to_string()), why });
    }
    Ok((endpoint.host, from))
}

/// Finds the first engine that answers, as [`Discover`] does, for `runtime`
/// (or any engine), with this process's environment.
pub async fn discover(runtime: Option<Runtime>) -> Result<Engine, Error> {
    Discover::new().kind(runtime).connect().await
}

fn short(e: &Error) -> String {
    match e {
        Error::Unreachable { message, .. } => message.clone(),
        Error::Endpoint { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
