//! The hyper driver shared by `cstream-driver-unix` and `cstream-driver-tcp`:
//! it runs the [`cstream_proto_core`] machine over real connections to a
//! Docker or Podman engine, and gives users a [`Stream`](futures_core::Stream)
//! of events.
//!
//! The two socket drivers differ only in their [`Connector`](driver::Connector); everything else
//! lives here once: the connection pool, the HTTP exchanges (with the attach
//! upgrade), and the task that drives a run.
//!
//! The result of a run, as `std::process::Command::output` gives it
//! ([`Run::output`]; [`Run::wait`] for the exit alone). Any error the run
//! reports makes it an `Err` ([`RunError`], with what was collected), so a
//! cut-off output or an exit in doubt never reads as success:
//!
//! ```no_run
//! # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use cstream_driver_hyper::RunSpec;
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?;
//! let out = engine.run(spec).output().await?;
//! assert_eq!(out.stdout, b"hi\n");
//! assert!(out.status.success());
//! # Ok(()) }
//! ```
//!
//! Or the events as they happen. An `Err` item is not the end of the
//! stream: the run goes on to stop the process, report `ProcessEnd` and
//! remove the container. `event?` on the first error would drop the run, and
//! dropping a run kills it at once, with no grace period and no
//! `ProcessEnd`. Read to the end:
//!
//! ```no_run
//! # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use cstream_driver_hyper::{EventKind, RunSpec};
//! use futures_util::StreamExt;
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?;
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

#![warn(missing_docs, unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

mod auth;
mod cleanup;
mod connect;
mod container;
mod control;
mod drive;
mod engine;
mod error;
mod exchange;
mod known;
mod output;
mod owner;
mod pool;
mod relay;
mod resume;
mod run;
mod task;
mod transcript;

pub use auth::{AuthEnv, AuthError, RegistryAuth};
pub use container::Container;
pub use cstream_proto_core::api::answers::Listed;
pub use cstream_proto_core::api::{EngineInfo, EngineKind};
pub use cstream_proto_core::resume::Seen;
pub use cstream_proto_core::spec::{Coalesce, Limits, Secret};
pub use cstream_proto_core::{
    CommandError, EndReason, Event, EventKind, Phase, ProcessEnd, ProcessId, PullPolicy, RunSpec, Signal, SignalError,
    SpecError, Stream, TtySize,
};
pub use engine::{Answer, Collected, Engine, Version};
pub use error::Error;
pub use output::{ExitStatus, Output, RunError};
pub use owner::{Liveness, Owner};
pub use run::{Run, RunHandle};

/// What drivers and connectors are made of, apart from what users of a run
/// need: the connection traits, the driver's side of a [`Run`], and the
/// transcript of a run's exchange with the engine.
pub mod driver {
    pub use crate::connect::{BlockingIo, BoxFuture, BoxIo, Connector, Io};
    pub use crate::control::{Ack, Control, ResizeAck, RunDriver};
    pub use crate::run::pair;
    pub use crate::transcript::{Transcript, data_json};
}

/// The core, for users who want its lower-level parts.
pub use cstream_proto_core as core;
