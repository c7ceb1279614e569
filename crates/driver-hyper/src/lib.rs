//! The hyper driver shared by `cstream-driver-unix` and `cstream-driver-tcp`:
//! it runs the [`cstream_proto_core`] machine over real connections to a
//! Docker or Podman engine, and gives users a [`Stream`](futures_core::Stream)
//! of events.
//!
//! The two socket drivers differ only in their [`Connector`]; everything else
//! lives here once: the connection pool, the HTTP exchanges (with the attach
//! upgrade), and the task that drives a run.
//!
//! ```no_run
//! # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), cstream_driver_hyper::Error> {
//! use cstream_driver_hyper::{EventKind, RunSpec};
//! use futures_util::StreamExt;
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?;
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

mod auth;
mod cleanup;
mod connect;
mod engine;
mod error;
mod exchange;
mod owner;
mod pool;
mod run;
mod transcript;

pub use auth::RegistryAuth;
pub use connect::{BlockingIo, BoxFuture, BoxIo, Connector, Io};
pub use cstream_proto_core::api::answers::Listed;
pub use cstream_proto_core::api::{EngineInfo, EngineKind};
pub use cstream_proto_core::spec::{Coalesce, Limits, Secret};
pub use cstream_proto_core::{
    CommandError, EndReason, Event, EventKind, Phase, ProcessEnd, ProcessId, PullPolicy, RunSpec, SpecError, Stream,
    TtySize,
};
pub use engine::{Answer, Collected, Engine, Version};
pub use error::Error;
pub use owner::{Liveness, Owner};
pub use run::{Ack, Control, ResizeAck, Run, RunDriver, RunHandle, refuse};
pub use transcript::{Transcript, data_json};

/// The core, for users who want its lower-level parts.
pub use cstream_proto_core as core;
