//! Find a Docker or Podman engine, over its Unix socket, plain TCP or ssh,
//! and run commands in containers as streams of typed events.
//!
//! [`discover`] finds the engine as the docker CLI does ([`Discover`] takes
//! an address, a context, a kind). The first of these that names one decides:
//!
//! 1. an address given (the `cstream` command's `--engine` or `-H`:
//!    `unix://`, `tcp://`, `ssh://`), or a docker context given (`--context`);
//! 2. `DOCKER_HOST`, else `CONTAINER_HOST` (Podman's);
//! 3. `DOCKER_CONTEXT`;
//! 4. the docker config's current context (`currentContext` in
//!    `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; its
//!    endpoint in `contexts/meta/<sha256 of its name>/meta.json` there);
//! 5. the default sockets, the first that answers a ping:
//!    `/var/run/docker.sock`, rootless Docker's `$XDG_RUNTIME_DIR/docker.sock`,
//!    `/run/podman/podman.sock`, rootless Podman's
//!    `$XDG_RUNTIME_DIR/podman/podman.sock`.
//!
//! An address from 1 to 4 is the only one tried: an engine that does not
//! answer there is an error, never a quiet run elsewhere, and so is a context
//! that does not exist or has no docker endpoint (the context `default` is
//! no context: step 5). With a [`Runtime`], only that engine's variables and
//! sockets count. A non-loopback `tcp://` address, wherever it came from,
//! needs [`Remote::Allow`]. `ssh://[user@]host[:port]` runs `ssh ... docker
//! system dial-stdio` per connection ([`SshConnector`]). TLS is not
//! supported: asking for it is an [`Error::Tls`], never a plain-text attempt.
//! When nothing answers, the error lists each place tried, where it came
//! from, and why.
//!
//! Where it would look, worked out from an environment given, with no engine:
//!
//! ```
//! use cstream_engine::{Discover, Env, Error, Runtime, Source};
//!
//! let env = Env::new().var("DOCKER_HOST", "ssh://me@build-box").var("XDG_RUNTIME_DIR", "/run/user/1000");
//! let found = Discover::new().candidates_in(&env)?;
//! assert_eq!(found.len(), 1, "DOCKER_HOST, when set, is the only candidate");
//! assert_eq!((found[0].endpoint.as_str(), &found[0].from), ("ssh://me@build-box", &Source::DockerHost));
//!
//! let env = Env::new().var("XDG_RUNTIME_DIR", "/run/user/1000");
//! let podman = Discover::new().kind(Runtime::Podman).candidates_in(&env)?;
//! let podman: Vec<_> = podman.iter().map(|c| c.endpoint.as_str()).collect();
//! assert_eq!(podman, ["unix:///run/podman/podman.sock", "unix:///run/user/1000/podman/podman.sock"]);
//!
//! let env = Env::new().var("DOCKER_CONTEXT", "work").var("DOCKER_CONFIG", "/nowhere");
//! let missing = Discover::new().candidates_in(&env).unwrap_err();
//! assert!(matches!(&missing, Error::Context { name, .. } if name == "work"), "{missing}");
//!
//! let env = Env::new().var("DOCKER_HOST", "tcp://build-box:2375").var("DOCKER_TLS_VERIFY", "1");
//! assert!(matches!(Discover::new().candidates_in(&env), Err(Error::Tls { .. })));
//! # Ok::<(), Error>(())
//! ```
//!
//! The result, as `std::process::Command::output` gives it ([`Run::output`];
//! [`Run::wait`] for the exit alone). Any error the run reports (output cut
//! short, an exit in doubt, a container not removed) makes it an `Err`
//! ([`RunError`], carrying what was collected), never a quiet success:
//!
//! ```no_run
//! use cstream_engine::RunSpec;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = cstream_engine::discover(None).await?;
//! let spec = RunSpec::builder("alpine:3.20").command(["sh", "-c", "echo hi; exit 3"]).build()?;
//! let out = engine.run(spec).output().await?;
//! assert_eq!(out.stdout, b"hi\n");
//! assert_eq!(out.status.code(), Some(3));
//! # Ok(()) }
//! ```
//!
//! Or the events as they happen. An `Err` item is not the end of the
//! stream: the run goes on to stop the process, report `ProcessEnd` and
//! remove the container. `event?` on the first error would drop the run, and
//! dropping a run kills it at once, with no grace period and no `ProcessEnd`.
//! Read to the end (`examples/run.rs` runs this):
//!
//! ```no_run
//! use cstream_engine::{EventKind, RunSpec};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let engine = cstream_engine::discover(None).await?;
//! let spec = RunSpec::builder("alpine:3.20").command(["sh", "-c", "echo hi; exit 3"]).build()?;
//! let mut run = engine.run(spec);
//! let mut errors = Vec::new();
//! while let Some(item) = run.next().await {
//!     match item {
//!         Ok(event) => match event.kind {
//!             EventKind::Output { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
//!             EventKind::ProcessEnd(end) => println!("exit code {:?}", end.exit_code),
//!             _ => {}
//!         },
//!         Err(e) => errors.push(e), // and read on
//!     }
//! }
//! if let Some(e) = errors.into_iter().next() {
//!     return Err(e.into());
//! }
//! # Ok(()) }
//! ```
//!
//! [`Engine::run`] starts a task on the current Tokio runtime, and panics,
//! saying so, outside one. What drivers and connectors are built from is in
//! [`driver`].

#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub use cstream_driver_hyper::Seen;
pub use cstream_driver_hyper::core::spec::RunSpecBuilder;
pub use cstream_driver_hyper::{
    Answer, AuthEnv, AuthError, Coalesce, Collected, CommandError, Container, EndReason, Engine, EngineInfo,
    EngineKind, Error, Event, EventKind, ExitStatus, Limits, Listed, Liveness, Output, Owner, Phase, ProcessEnd,
    ProcessId, PullPolicy, RegistryAuth, Run, RunError, RunHandle, RunSpec, Secret, Signal, SignalError, SpecError,
    Stream, TtySize, Version, core, driver,
};
pub use cstream_driver_tcp::{Remote, TcpConnector};
pub use cstream_driver_unix::{DOCKER_SOCKET, PODMAN_SOCKET, UnixConnector, podman_rootless_socket};

mod address;
mod context;
mod discover;
mod env;
mod runtime;
mod ssh;

pub use address::{api_version_from_env, connect, engine};
pub use discover::{Candidate, ContextBy, Discover, Source, discover};
pub use env::Env;
pub use runtime::{Runtime, UnknownRuntime};
pub use ssh::SshConnector;
