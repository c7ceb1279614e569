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

use core::fmt;
use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::{CommandError, Event, Input, Machine, Output, RequestId};

pub use run::{Canceller, Run};

/// Sends one request outside any run and returns the status and whole body:
/// for a ping, or listing containers (`cstream_proto_core::api::requests`).
pub fn request(socket: impl AsRef<std::path::Path>, call: &Call) -> std::io::Result<(u16, Vec<u8>)> {
    let stream = http::send(socket.as_ref(), call)?;
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    let id = RequestId(0);
    std::thread::spawn(move || http::read_answer(id, stream, false, tx));
    let (mut status, mut body) = (0, Vec::new());
    for msg in rx {
        match msg {
            run::Msg::Input(Input::Head { status: s, .. }) => status = s,
            run::Msg::Input(Input::Body { data, .. }) => body.extend_from_slice(&data),
            run::Msg::Input(Input::End { .. }) => return Ok((status, body)),
            run::Msg::Input(Input::Failed { message, .. }) => return Err(std::io::Error::other(message)),
            _ => {}
        }
    }
    Err(std::io::Error::other("the answer's reader stopped"))
}

/// What the driver needs of a machine: proto-core's [`Machine`], or one
/// behind another boundary. The methods are the machine's, renamed.
pub trait Core {
    /// The errors the machine reports.
    type Error: fmt::Display;

    /// [`Machine::poll_output`].
    fn poll(&mut self) -> Step<Self::Error>;
    /// [`Machine::handle_input`].
    fn input(&mut self, now: Duration, input: Input);
    /// [`Machine::handle_timeout`].
    fn timeout(&mut self, now: Duration);
    /// [`Machine::cancel`].
    fn cancel(&mut self, now: Duration);
    /// [`Machine::write_stdin`].
    fn write_stdin(&mut self, data: Bytes) -> Result<(), CommandError>;
    /// [`Machine::close_stdin`].
    fn close_stdin(&mut self) -> Result<(), CommandError>;
}

/// One output of a [`Core`]; [`Output`] with the request as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step<E> {
    /// Send this request; report its answer under `id`.
    Send {
        /// The request's id.
        id: RequestId,
        /// The request.
        call: Call,
    },
    /// Write stdin on `id`'s upgraded connection.
    Write {
        /// The attach request.
        id: RequestId,
        /// The bytes.
        data: Bytes,
    },
    /// End stdin on `id`'s upgraded connection.
    CloseWrite {
        /// The attach request.
        id: RequestId,
    },
    /// Close `id`'s connection.
    Abort {
        /// The request.
        id: RequestId,
    },
    /// An event for the user.
    Event(Event),
    /// An error for the user; the run goes on cleaning up.
    Error(E),
    /// Wait for input until `deadline`, then call [`Core::timeout`].
    Pending {
        /// When to call [`Core::timeout`].
        deadline: Option<Duration>,
    },
    /// The run is over.
    Done,
}

/// A request to send, as plain data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `GET`, `POST` or `DELETE`.
    pub method: &'static str,
    /// Path and query.
    pub path: String,
    /// Headers beyond `Host`, `Content-Length` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Bytes,
    /// Whether the connection is upgraded (the attach).
    pub upgrade: bool,
}

impl From<Request> for Call {
    fn from(r: Request) -> Self {
        Call {
            method: r.method.as_str(),
            path: r.path,
            headers: r.headers.into_iter().map(|h| (h.name.to_string(), h.value)).collect(),
            body: r.body,
            upgrade: r.kind == RequestKind::Upgrade,
        }
    }
}

impl Core for Machine {
    type Error = cstream_proto_core::Error;

    fn poll(&mut self) -> Step<Self::Error> {
        match self.poll_output() {
            Output::Send { id, request } => Step::Send { id, call: request.into() },
            Output::Write { id, data } => Step::Write { id, data },
            Output::CloseWrite { id } => Step::CloseWrite { id },
            Output::Abort { id } => Step::Abort { id },
            Output::Event(e) => Step::Event(e),
            Output::Error(e) => Step::Error(e),
            Output::Pending { deadline } => Step::Pending { deadline },
            Output::Done => Step::Done,
        }
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
        Machine::write_stdin(self, data)
    }

    fn close_stdin(&mut self) -> Result<(), CommandError> {
        Machine::close_stdin(self)
    }
}
