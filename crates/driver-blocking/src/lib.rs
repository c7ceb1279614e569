//! A cstream driver with no async runtime at all: std's blocking
//! [`UnixStream`](std::os::unix::net::UnixStream), a thread reading each
//! open request (and one writing stdin), and HTTP/1.1 written by hand.
//!
//! It is the smallest complete driver of [`cstream_proto_core`]'s machine,
//! and an example of the run-loop contract: the loop in [`Run`] owns the
//! machine, acts on its outputs in order, and between them waits on one
//! channel, fed by the request threads, until the machine's deadline.
//! Requests go one per connection; the attach is an HTTP upgrade whose
//! socket then carries the output one way and stdin the other.
//!
//! ```no_run
//! use cstream_driver_blocking::Run;
//! use cstream_proto_core::{EventKind, RunInfo, RunSpec};
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["sh", "-c", "echo hi; exit 3"]).build()?;
//! let run = RunInfo { run_id: "r1".into(), created_unix: 1_700_000_000, owner: None };
//! for event in Run::start("/var/run/docker.sock", spec, run) {
//!     match event {
//!         Ok(e) => match e.kind {
//!             EventKind::Output { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
//!             other => println!("{other:?}"),
//!         },
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! # Ok::<(), cstream_proto_core::SpecError>(())
//! ```
//!
//! The loop is generic over [`Core`], so the same I/O drives proto-core's
//! [`Machine`] here and the same machine compiled to WebAssembly in
//! `cstream-wasm-host`.

mod http;
mod run;

use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{CommandError, Input, Machine, Output};

pub use http::request;
pub use run::{Canceller, Run};

/// What the driver needs of a machine: proto-core's [`Machine`], or one
/// behind another boundary. The methods are the machine's, renamed; the
/// outputs are the machine's [`Output`], typed errors included.
pub trait Core {
    /// [`Machine::poll_output`].
    fn poll(&mut self) -> Output;
    /// [`Machine::handle_input`].
    fn input(&mut self, now: Duration, input: Input);
    /// [`Machine::handle_timeout`].
    fn timeout(&mut self, now: Duration);
    /// [`Machine::cancel`].
    fn cancel(&mut self, now: Duration);
    /// [`Machine::write_stdin`]: the driver does not wait for its
    /// [`Output::Ack`], so the command's id is not kept.
    fn write_stdin(&mut self, data: Bytes) -> Result<(), CommandError>;
    /// [`Machine::close_stdin`], likewise.
    fn close_stdin(&mut self) -> Result<(), CommandError>;
}

impl Core for Machine {
    fn poll(&mut self) -> Output {
        self.poll_output()
    }

    fn input(&mut self, now: Duration, input: Input) {
        self.handle_input(now, input);
    }

    fn timeout(&mut self, now: Duration) {
        self.handle_timeout(now);
    }

    fn cancel(&mut self, now: Duration) {
        Machine::cancel(self, now);
    }

    fn write_stdin(&mut self, data: Bytes) -> Result<(), CommandError> {
        Machine::write_stdin(self, data).map(drop)
    }

    fn close_stdin(&mut self) -> Result<(), CommandError> {
        Machine::close_stdin(self).map(drop)
    }
}
