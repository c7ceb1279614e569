//! The sans-IO core of cstream: one container run as a state machine over the
//! Docker Engine API, for Docker and Podman alike.
//!
//! The core does no I/O, reads no clock, draws no random numbers, spawns no
//! threads and needs no async runtime or `std`. It says which requests to
//! send, as data, and reads the answers it is given. A driver does the rest:
//! `cstream-driver-unix` and `cstream-driver-tcp` with hyper;
//! `cstream-driver-blocking` with nothing but std's blocking Unix sockets and
//! threads, HTTP/1.1 by hand (the place to start for a driver of your own); or
//! your own. `cstream-wasm` runs this same machine compiled to
//! `wasm32-unknown-unknown` behind a small C ABI (`scripts/wasm.sh` builds it).
//!
//! # The machines
//!
//! Two machines run a [`RunSpec`], with the same events, errors and
//! contract, and both implement [`Lifecycle`], so one driver drives either:
//!
//! - [`Machine`]: a container on one engine, Docker or Podman (its states
//!   are drawn in the [`machine`] module docs);
//! - [`swarm::JobMachine`]: a one-off job on a Docker Swarm, run as a
//!   service of one never-restarted replica wherever the cluster places it (drawn
//!   in the [`swarm`] module docs).
//!
//! # The run-loop contract
//!
//! A [`Machine`] is one run. The driver:
//!
//! 1. makes it with [`Machine::new`] (or [`Machine::with_engine`] when it has
//!    pinged the engine already), passing `now`: time is a [`Duration`] on
//!    any monotonic clock the driver likes, since an epoch of its choosing;
//! 2. drains it: calls [`Machine::poll_output`] until it returns
//!    [`Output::Pending`] or [`Output::Done`], acting on each output in order:
//!    - [`Output::Send`]: send the request, on a connection of its own while
//!      another request is still open (attach and wait stay open for the whole
//!      run); report what comes back under the same [`RequestId`];
//!    - [`Output::Write`] / [`Output::CloseWrite`]: stdin on the attach's
//!      upgraded connection, then [`Input::Written`] when it is written;
//!    - [`Output::Abort`]: close that request's connection;
//!    - [`Output::Event`] / [`Output::Error`]: hand to the user, in order;
//!    - [`Output::Ack`]: hand to whoever gave that stdin or resize command;
//!    - [`Output::Pending`]: wait for I/O, a user command, or the deadline;
//!    - [`Output::Done`]: the run is over;
//! 3. feeds it, then drains it again (step 2), after every:
//!    - answer: [`Machine::handle_input`] with [`Input::Head`] (status and
//!      headers; 101 for the upgrade), [`Input::Body`] (bytes of the body, or
//!      of the upgraded stream, split anywhere), [`Input::End`], or
//!      [`Input::Failed`] (the connection failed), and [`Input::Written`]
//!      (a stdin write or close done);
//!    - deadline: [`Machine::handle_timeout`];
//!    - user command: [`Machine::cancel`], [`Machine::write_stdin`],
//!      [`Machine::close_stdin`], [`Machine::resize`].
//!
//! Incomplete input is never an error: bytes may arrive one at a time. Bad
//! input is never a panic: whatever the engine sends becomes a typed
//! [`Error`] output, and the machine goes on to clean up. Every container the
//! machine creates gets a remove request before it reports done (unless the
//! spec says to keep it), and nothing is output after [`Output::Done`].
//! Backpressure is the driver's: the machine produces output only when fed,
//! so a driver that feeds it when the consumer is ready never buffers more
//! than one read.
//!
//! # Driving it fast
//!
//! The machine costs little per byte; what a driver does around it sets the
//! speed. The hyper driver (`cstream-driver-hyper`) does this, and any
//! driver can:
//!
//! - **Read the output where it is consumed.** Read the attach connection
//!   from the code that takes the events (the consumer's poll, or the loop
//!   that prints them), feed each read to the machine and drain it there and
//!   then. One read is then one wake-up, the bytes go from the read buffer to
//!   the consumer's [`EventKind::Output`] with no queue between, and a
//!   consumer that stops taking events stops the reads: backpressure needs
//!   nothing more. Everything else (the short requests, the wait, the
//!   caller's commands, deadlines) is rare and can live anywhere, as long as
//!   one lock or one thread orders the calls into the machine.
//! - **Feed an answer from where it was read.** Each hand-off between
//!   threads is a sleep and a wake-up, which cost more than the work. The
//!   code that reads a short request's answer should itself feed it to the
//!   machine (under the lock) and wake the consumer, rather than queue it
//!   for another task; and it should drive the connection's I/O itself
//!   while it waits, rather than leave that to a task of the connection's
//!   own. The hyper driver's short requests went from three hand-offs to
//!   one this way (its client CPU per run of `true` fell by about 8 %).
//! - **Wake nobody for nothing.** Wake the consumer after letting go of the
//!   lock, not while holding it, or it wakes only to wait on the lock. And
//!   where one task polls a connection and the request on it, their wakes
//!   of each other belong to that same poll: on a multi-threaded runtime a
//!   task woken during its own poll is queued again and another thread is
//!   woken to take it. The hyper driver polls both with a waker that turns
//!   such a wake into another round of the poll and passes only the others
//!   on (its client CPU per run fell by another 8 %).
//! - **Hand over whole reads.** Read into a buffer sized by what the socket
//!   had last time (a read that fills it doubles the next; the hyper driver
//!   goes from 16 to 64 KiB) and pass it as one [`Input::Body`] without
//!   copying (`BytesMut::split().freeze()`). Output events are slices of
//!   that buffer; the decoder copies nothing unless coalescing is on.
//! - **Ask the engine once.** [`Machine::engine`] holds what the run
//!   learned (the ping's API version, the host's CPUs from `GET /info`);
//!   start the next run on the same engine [`Machine::with_engine`] with it
//!   and it skips those requests.
//! - **Keep connections, and open one ahead of need.** Short requests
//!   (create, start, inspect, delete) can share keep-alive connections;
//!   attach and wait each hold one for the whole run, and go out together
//!   once the create is answered. Open a connection while the create is
//!   out, so neither waits for a connect on the way to the start (over ssh
//!   that saved a quarter of a run of `true` here).
//!
//! # The lifecycle
//!
//! `GET /_ping` (API version, Docker or Podman), `POST /containers/create`
//! (a 404 pulls the image and creates again, per the pull policy), attach with
//! an HTTP upgrade and `wait?condition=next-exit`, both before
//! `POST /containers/{id}/start` so no output and no exit is missed; output is
//! demultiplexed to its end, the exit code read from the wait, `OOMKilled`
//! from inspect; then `DELETE /containers/{id}?force=1&v=1`.
//!
//! What the machine does in each state (Ping, Pull, Create, Prepare, Start,
//! Running, Inspect, Remove, Sweep, Done), the answers that move it on, and
//! where a failure, a cancel and the timeout enter, is drawn in one place: the
//! [`machine`] module docs. Its tests are organised the same way, one module
//! per state (`tests/states.rs`).
//!
//! # Example
//!
//! Driving a run against a scripted engine (a real driver sends the requests):
//!
//! ```
//! use core::time::Duration;
//! use bytes::Bytes;
//! use cstream_proto_core::{Input, Machine, Output, RunInfo, RunSpec, EventKind, Stream};
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?;
//! let run = RunInfo { run_id: "r1".into(), created_unix: 1_700_000_000, owner: None };
//! let mut m = Machine::new(spec, run, Duration::ZERO);
//! let mut out = Vec::new();
//! // What the engine answers, keyed by the start of the request path.
//! let answer = |path: &str| -> (u16, &'static [u8]) {
//!     match path.split('?').next().unwrap() {
//!         "/_ping" => (200, b"OK"),
//!         "/v1.41/containers/create" => (201, br#"{"Id":"c1","Warnings":[]}"#),
//!         "/v1.41/containers/c1/attach" => (101, b"\x01\0\0\0\0\0\0\x03hi\n"),
//!         "/v1.41/containers/c1/wait" => (200, br#"{"StatusCode":0}"#),
//!         "/v1.41/containers/c1/start" => (204, b""),
//!         "/v1.41/containers/c1/json" => (200, br#"{"State":{"OOMKilled":false,"ExitCode":0}}"#),
//!         "/v1.41/containers/c1" => (204, b""),
//!         other => panic!("unexpected {other}"),
//!     }
//! };
//! let now = Duration::from_millis(1);
//! loop {
//!     match m.poll_output() {
//!         Output::Send { id, request } => {
//!             let (status, body) = answer(&request.path);
//!             let headers = vec![("Api-Version".into(), "1.41".into())];
//!             m.handle_input(now, Input::Head { id, status, headers });
//!             m.handle_input(now, Input::Body { id, data: Bytes::from_static(body) });
//!             m.handle_input(now, Input::End { id });
//!         }
//!         Output::Event(e) => out.push(e.kind),
//!         Output::Error(e) => panic!("{e}"),
//!         Output::Done => break,
//!         _ => {}
//!     }
//! }
//! assert!(out.contains(&EventKind::Output { stream: Stream::Stdout, data: Bytes::from_static(b"hi\n") }));
//! assert!(matches!(out.last(), Some(EventKind::ContainerRemove { .. })));
//! # Ok::<(), cstream_proto_core::SpecError>(())
//! ```
//!
//! # Features
//!
//! - `std`: turns on `std` in the dependencies. The crate itself needs only
//!   `core` and `alloc`, and builds for `wasm32-unknown-unknown`.
//!
//! [`Duration`]: core::time::Duration

#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs, unreachable_pub, clippy::print_stdout, clippy::print_stderr)]
// Untrusted engine bytes must never panic the core.
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
// no_std hygiene, as rustls does it.
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core, clippy::std_instead_of_alloc)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod api;
mod calls;
pub mod decode;
mod error;
pub mod event;
pub mod exec;
pub mod lifecycle;
pub mod machine;
pub mod resume;
pub mod spec;
pub mod swarm;
pub mod transcript;

pub use api::create::RunInfo;
pub use error::{CommandError, Error, Phase};
pub use event::{EndReason, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
pub use lifecycle::Lifecycle;
pub use machine::{CommandFailed, CommandId, Input, Machine, Output, RequestId};
pub use spec::{PullPolicy, RunSpec, Signal, SignalError, SpecError};
