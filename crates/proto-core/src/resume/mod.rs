//! Resuming a run whose client died: the container a run left (running, or
//! exited already), found by its `io.cstream.run` label, followed to its
//! end from where the caller's copy of its output stops, its real exit code
//! read, and the container removed. The same events, errors and run-loop
//! contract as a container run (see the [crate docs](crate)), through the
//! same [`Lifecycle`](crate::lifecycle::Lifecycle) trait.
//!
//! The caller says how much output it has already ([`Seen`]: bytes of
//! stdout and of stderr, counted apart, or of the terminal); the resume
//! reads the container's logs from their start and delivers each stream
//! from that many bytes on, so what the caller had and what the resume
//! delivers join up byte for byte.
//!
//! The container is never attached to: on Podman, attaching to an exited
//! container starts it again and loses its exit code. Its output is read
//! back from its log driver instead, so a container whose driver keeps
//! nothing (`none`), or keeps nothing the engine can read back, has no
//! output to resume: that is said ([`Error::OutputUnrecoverable`]), and its
//! exit is still read and the container still removed.
//!
//! # The lifecycle
//!
//! One state at a time; every move goes through one function, checked
//! against one table of moves (`state.rs`). The arrows below are that table.
//!
//! ```text
//!   new                                     with_engine (pinged already)
//!    │                                                 │
//!    ▼                                                 │
//!  Ping  GET /_ping ── 200 ────────────────────────────┤
//!                                                      ▼
//!  Find  GET /containers/json?all=1&filters={"label":["io.cstream.run=<id>"]}
//!    │  ├── none: Error (RunNotFound), Done
//!    │  └── its owner's process still runs (the driver's check): Error (RunHeld), Done
//!    ▼
//!  Inspect  GET /containers/{id}/json: Config.Tty, State.Status, the log driver, io.cstream.keep
//!    │  ├── never started: ProcessEnd (start failed), Remove
//!    │  └── log driver none: Error (OutputUnrecoverable) ────────────┐
//!    ▼                                                                │
//!  Following  GET /containers/{id}/logs?follow=1&stdout=1&stderr=1    │
//!    │  frames (or raw, with a terminal) decoded; the seen bytes      │
//!    │  of each stream skipped; the rest is Output. The logs end      │
//!    │  when the container stops.                                     │
//!    │  ├── refused (the driver cannot read back): Error (OutputUnrecoverable)
//!    │  └── more seen than they hold: Error (SeenBeyondLogs)          │
//!    ▼                                                                │
//!  Waiting  POST /containers/{id}/wait?condition=not-running  ◀───────┘
//!    │ the exit code (at once if it has exited)
//!    ▼
//!  Exit  GET /containers/{id}/json: ExitCode and OOMKilled; ProcessEnd (exited)
//!    ▼
//!  Remove  DELETE /containers/{id}?force=1&v=1, retried in transport
//!    │     failures until the cleanup deadline: ContainerRemove
//!    ▼                                     (io.cstream.keep: Done instead)
//!  Done   nothing more is output; every input is ignored
//! ```
//!
//! A failure in Ping, Find or the first Inspect ends the resume (Error,
//! Done): nothing was touched. A failure later is reported, and the resume
//! goes on to the exit and the removal, as a container run does.
//!
//! A cancel ([`ResumeMachine::cancel`]) or the spec's timeout (counted from
//! the resume's start) stops the container as a container run does: its
//! stop signal (`Config.StopSignal`, else the spec's), SIGKILL after the
//! spec's grace (or at a second cancel), then its end is read and it is
//! removed, with `ProcessEnd { reason: Cancelled }` (or `TimedOut`). A stop
//! asked for before the container is inspected is sent once it is known to
//! run; a container that has exited already is not stopped, and its end
//! reads `Exited`. Without an end within `limits.request_timeout` of the
//! SIGKILL, the resume gives up waiting (Error) and removes it.
//!
//! # Who may resume
//!
//! A run still held by a live client must not be taken from under it. The
//! core cannot tell whether a process runs (it has no OS); a driver that
//! can gives the machine a check with [`ResumeMachine::with_owner_check`],
//! which is asked about the container's `io.cstream.owner` label when the
//! container is found, before anything is sent to it. The hyper driver
//! refuses an owner that is alive on its host.
//!
//! # What the events say
//!
//! `Output` with the bytes not seen yet; `ProcessEnd` with the exit code
//! and OOM flag the engine kept, a signal read from codes 129 to 192, and a
//! duration from the resume's start to the end seen (the process's own
//! start is not the resume's to know); `ContainerRemove`. There is no
//! `ContainerCreate` or `ProcessStart`: both happened in the run resumed.
//!
//! # Example
//!
//! ```
//! use core::time::Duration;
//! use bytes::Bytes;
//! use cstream_proto_core::resume::{ResumeMachine, Seen};
//! use cstream_proto_core::{EventKind, Input, Output, RunSpec, Stream};
//!
//! // Only the spec's limits, heartbeat, coalescing, stop and timeout matter here.
//! let spec = RunSpec::builder("scratch").heartbeat(None).build()?;
//! // The caller has the first 3 bytes of stdout ("hi\n") already.
//! let seen = Seen { stdout: 3, ..Seen::default() };
//! let mut m = ResumeMachine::new("r1", seen, spec, Duration::ZERO);
//! let logs = [&[1, 0, 0, 0, 0, 0, 0, 3][..], b"hi\n", &[1, 0, 0, 0, 0, 0, 0, 4], b"bye\n"].concat();
//! let answer = |path: &str| -> (u16, Vec<u8>) {
//!     match path.split('?').next().unwrap() {
//!         "/_ping" => (200, b"OK".to_vec()),
//!         "/v1.41/containers/json" => (200, br#"[{"Id":"c1","Labels":{"io.cstream.run":"r1"}}]"#.to_vec()),
//!         "/v1.41/containers/c1/json" => (200, br#"{"Config":{"Tty":false},
//!             "State":{"Status":"exited","ExitCode":3},"HostConfig":{"LogConfig":{"Type":"json-file"}}}"#.to_vec()),
//!         "/v1.41/containers/c1/logs" => (200, logs.clone()),
//!         "/v1.41/containers/c1/wait" => (200, br#"{"StatusCode":3}"#.to_vec()),
//!         "/v1.41/containers/c1" => (204, Vec::new()),
//!         other => panic!("unexpected {other}"),
//!     }
//! };
//! let mut events = Vec::new();
//! loop {
//!     match m.poll_output() {
//!         Output::Send { id, request } => {
//!             let (status, body) = answer(&request.path);
//!             let now = Duration::from_millis(1);
//!             let headers = vec![("Api-Version".into(), "1.41".into())];
//!             m.handle_input(now, Input::Head { id, status, headers });
//!             m.handle_input(now, Input::Body { id, data: Bytes::from(body) });
//!             m.handle_input(now, Input::End { id });
//!         }
//!         Output::Event(e) => events.push(e.kind),
//!         Output::Error(e) => panic!("{e}"),
//!         Output::Done => break,
//!         _ => {}
//!     }
//! }
//! assert_eq!(events[0], EventKind::Output { stream: Stream::Stdout, data: Bytes::from_static(b"bye\n") });
//! assert!(matches!(&events[1], EventKind::ProcessEnd(end) if end.exit_code == Some(3)));
//! assert_eq!(events[2], EventKind::ContainerRemove { id: "c1".into() });
//! # Ok::<(), cstream_proto_core::SpecError>(())
//! ```
//!
//! [`Error::OutputUnrecoverable`]: crate::Error::OutputUnrecoverable
//! [`Error::SeenBeyondLogs`]: crate::Error::SeenBeyondLogs

mod calls;
mod end;
mod flow;
mod found;
mod skip;
mod state;
mod time;

#[cfg(test)]
mod tests;

use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::api::{ApiVersion, EngineInfo, Request};
use crate::error::{CommandError, Error};
use crate::event::{Event, EventKind, Stream, TtySize};
use crate::machine::coalesce::Coalescer;
use crate::machine::{CommandId, Input, Output, RequestId};
use crate::spec::RunSpec;
use calls::{Call, Calls};
use found::Container;
use skip::LogReader;
use state::{State, Stop};

/// How many bytes of a run's output the caller already has, per stream:
/// the resume delivers each stream from there on. All zero: from the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Seen {
    /// Bytes of stdout.
    pub stdout: u64,
    /// Bytes of stderr.
    pub stderr: u64,
    /// Bytes of a terminal's one stream (a run with a tty).
    pub tty: u64,
}

impl Seen {
    /// Counts `bytes` more of `stream`, as a caller keeping a count of the
    /// [`Output`](crate::EventKind::Output) events it has does.
    ///
    /// ```
    /// use cstream_proto_core::{resume::Seen, Stream};
    /// let mut seen = Seen::default();
    /// seen.count(Stream::Stdout, 5);
    /// seen.count(Stream::Stderr, 2);
    /// seen.count(Stream::Stdout, 1);
    /// assert_eq!(seen, Seen { stdout: 6, stderr: 2, tty: 0 });
    /// ```
    pub fn count(&mut self, stream: Stream, bytes: u64) {
        let n = match stream {
            Stream::Stdout => &mut self.stdout,
            Stream::Stderr => &mut self.stderr,
            Stream::Tty => &mut self.tty,
        };
        *n = n.saturating_add(bytes);
    }
}

/// One resumed run, as a state machine with no I/O.
#[derive(Debug)]
pub struct ResumeMachine {
    spec: RunSpec,
    run_id: String,
    seen: Seen,
    engine: Option<EngineInfo>,
    /// Whether an owner label names a process that still runs.
    owner_alive: Option<fn(&str) -> bool>,
    state: State,
    calls: Calls,
    out: VecDeque<Output>,
    /// The container's id, once found.
    container: Option<String>,
    /// What the first inspect said about it.
    found: Container,
    /// Its `DELETE` was answered: nothing is left to remove.
    removed: bool,
    logs: LogReader,
    stop: Option<Stop>,
    /// When the resume began: a `ProcessEnd`'s duration counts from here.
    began: Duration,
    run_deadline: Option<Duration>,
    heartbeat_at: Option<Duration>,
    coalescer: Coalescer,
}

impl ResumeMachine {
    /// A machine resuming run `run_id`, whose caller has `seen` of its
    /// output, starting at `now` with a ping. `spec` gives the limits,
    /// heartbeat, coalescing, stop signal and grace, and timeout; its image
    /// and the rest are not used.
    pub fn new(run_id: impl Into<String>, seen: Seen, spec: RunSpec, now: Duration) -> Self {
        let mut m = ResumeMachine::idle(run_id.into(), seen, spec, None, now);
        m.begin(now);
        m
    }

    /// A machine for an engine already pinged.
    pub fn with_engine(
        run_id: impl Into<String>,
        seen: Seen,
        spec: RunSpec,
        engine: EngineInfo,
        now: Duration,
    ) -> Self {
        let mut m = ResumeMachine::idle(run_id.into(), seen, spec, Some(engine), now);
        m.begin(now);
        m
    }

    /// Refuses the resume when `alive` says the container's
    /// `io.cstream.owner` label names a process that still runs: its
    /// client holds the run ([`Error::RunHeld`]). Asked once, when the
    /// container is found, before anything is sent to it. Without a check,
    /// every owner is taken to be gone.
    pub fn with_owner_check(mut self, alive: fn(&str) -> bool) -> Self {
        self.owner_alive = Some(alive);
        self
    }

    fn idle(run_id: String, seen: Seen, spec: RunSpec, engine: Option<EngineInfo>, now: Duration) -> Self {
        ResumeMachine {
            coalescer: Coalescer::new(spec.coalesce),
            run_deadline: spec.timeout.map(|t| now + t),
            logs: LogReader::new(seen, false, spec.limits.max_frame_hold),
            spec,
            run_id,
            seen,
            engine,
            owner_alive: None,
            state: State::Ping,
            calls: Calls::default(),
            out: VecDeque::new(),
            container: None,
            found: Container::default(),
            removed: false,
            stop: None,
            began: now,
            heartbeat_at: None,
        }
    }

    /// The run being resumed.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The container's id, once found.
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_deref()
    }

    /// Whether the resume is over: [`poll_output`](Self::poll_output)
    /// returns [`Output::Done`] next.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done) && self.out.is_empty()
    }

    /// The next thing to do. Call until it returns [`Output::Pending`] or
    /// [`Output::Done`], after every input, timeout and command.
    #[must_use = "every output must be acted on, in order"]
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        match self.state {
            State::Done => Output::Done,
            _ => Output::Pending { deadline: self.next_deadline() },
        }
    }

    /// Feeds what the engine said about one request.
    pub fn handle_input(&mut self, now: Duration, input: Input) {
        if !matches!(self.state, State::Done) {
            self.on_input(now, input);
        }
    }

    /// Tells the machine the time is `now`; call it when the deadline of
    /// [`Output::Pending`] passes (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Duration) {
        if !matches!(self.state, State::Done) {
            self.on_timeout(now);
        }
    }

    /// Stops the container: its stop signal, then SIGKILL after the grace
    /// period (at once on a second call), then its end is read and it is
    /// removed. Before the container is inspected, the stop waits until it
    /// is known to run.
    pub fn cancel(&mut self, now: Duration) {
        if !matches!(self.state, State::Done) {
            self.request_stop(now, crate::event::EndReason::Cancelled);
        }
    }

    /// A resumed run has no stdin: always [`CommandError::StdinNotEnabled`]
    /// (it would need an attach).
    pub fn write_stdin(&mut self, _data: Bytes) -> Result<CommandId, CommandError> {
        Err(CommandError::StdinNotEnabled)
    }

    /// A resumed run has no stdin: always [`CommandError::StdinNotEnabled`].
    pub fn close_stdin(&mut self) -> Result<CommandId, CommandError> {
        Err(CommandError::StdinNotEnabled)
    }

    /// A resumed run's terminal is not resized: always [`CommandError::NoTty`].
    pub fn resize(&mut self, _now: Duration, _size: TtySize) -> Result<CommandId, CommandError> {
        Err(CommandError::NoTty)
    }

    /// Gives the resume up without finishing it (see
    /// [`Machine::abandon`](crate::Machine::abandon)): the container's
    /// `DELETE`, once it is found, unless it is kept or removed already.
    /// The machine is done afterwards.
    pub fn abandon(&mut self) -> Option<Request> {
        if matches!(self.state, State::Done) {
            return None;
        }
        // Found but not yet inspected: whether it is kept is not known, and
        // nothing has been done to it.
        let inspected = !matches!(self.state, State::Ping | State::Find | State::Inspect);
        let remove = match (&self.container, self.removed || self.found.keep || !inspected) {
            (Some(id), false) => Some(crate::api::requests::remove(self.api(), id)),
            _ => None,
        };
        let _ = self.calls.drain();
        self.out.clear();
        self.move_to(State::Done);
        self.run_deadline = None;
        remove
    }

    /// The spec this machine takes its limits from.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// The engine, once known.
    pub fn engine(&self) -> Option<&EngineInfo> {
        self.engine.as_ref()
    }

    fn api(&self) -> ApiVersion {
        self.engine.as_ref().map_or(ApiVersion::NEWEST, |e| e.api)
    }

    fn id(&self) -> &str {
        self.container.as_deref().unwrap_or_default()
    }

    /// The one way the state changes, checked against the table of moves.
    fn move_to(&mut self, next: State) {
        if let Err(e) = state::check(self.state.step(), next.step()) {
            debug_assert!(false, "{e}");
            self.error(e);
        }
        self.state = next;
    }

    fn emit(&mut self, now: Duration, kind: EventKind) {
        self.out.push_back(Output::Event(Event { at: now, kind }));
    }

    fn error(&mut self, e: Error) {
        self.out.push_back(Output::Error(e));
    }

    fn send(&mut self, now: Duration, call: Call, request: Request) -> RequestId {
        let id = self.calls.open(call, now + self.spec.limits.request_timeout);
        self.out.push_back(Output::Send { id, request });
        id
    }

    fn abort(&mut self, call: Call) {
        while let Some(id) = self.calls.find(call) {
            self.calls.abort(id);
            self.out.push_back(Output::Abort { id });
        }
    }

    fn abort_all(&mut self) {
        for id in self.calls.drain() {
            self.out.push_back(Output::Abort { id });
        }
    }
}

crate::lifecycle::forward_lifecycle!(ResumeMachine, made: container_id);
