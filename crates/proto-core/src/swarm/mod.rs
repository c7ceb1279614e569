//! A run as a one-off job on a Docker Swarm: the same [`RunSpec`], the same
//! events, errors and run-loop contract as a container run (see the
//! [crate docs](crate)), with the process run as the task of a service in
//! replicated mode with one replica that is never restarted, wherever in the
//! cluster the swarm places it: a one-off job. (Not `ReplicatedJob` mode: on
//! Docker before 24, removing such a service leaves its task's container on
//! the node, running or not, moby#44312.)
//!
//! A driver drives a [`JobMachine`] exactly as a [`Machine`](crate::Machine),
//! through the [`Lifecycle`](crate::lifecycle::Lifecycle) trait both implement, against a swarm manager's
//! Engine API.
//!
//! # The lifecycle
//!
//! One state at a time, each with the data that matters there; every move
//! goes through one function, checked against one table of moves
//! (`state.rs`). The arrows below are that table.
//!
//! ```text
//!   new                                    with_engine (pinged already)
//!    │                                                │
//!    ▼                                                │
//!  Ping  GET /_ping ── 200 ───────────────────────────┤
//!                                                     ▼
//!  Create  POST /services/create ◀── (a spec a swarm cannot run, an API before 1.41:
//!    │  │                               Error, Done, nothing sent)
//!    │  ├── 503 (not a swarm manager, Podman), 409, 4xx: Error, Done
//!    │  └── 5xx but 503, unreadable, no answer: Error, Sweep
//!    │ 201: ContainerCreate { id: the service id }
//!    ▼
//!  Placing  GET /tasks?filters={"service":["<id>"]} every 50 ms for 2 s, then 200 ms
//!    │  └── ended without a container (rejected): Error, ProcessEnd (start failed), Remove
//!    │ a container, or running: ProcessStart { process: ProcessId::Task {..} }
//!    ▼
//!  Running  GET /services/{id}/logs?follow=1: output, live (the stream never ends)
//!    │      tasks as above; GET /nodes/{node} every 1 s:
//!    │        down, unknown, disconnected: Error (NodeDown), Remove
//!    │ the task ended (complete, failed, shutdown, orphaned, remove): follow aborted
//!    ▼                                  (a task that ended before it was seen running
//!  Draining  GET /services/{id}/logs?follow=0       passes through Running at once)
//!    │  the output the follow had not delivered, checked against it; ProcessEnd
//!    ▼
//!  Remove  DELETE /services/{id} (404 counts), retried in transport failures
//!    │     until the cleanup deadline: ContainerRemove { id: the service id }
//!    ▼
//!  Done   nothing more is output; every input is ignored
//!
//!  Stopping  cancel or timeout, from Placing or Running: DELETE /services/{id} at once (the
//!            cluster stops the task: stop signal, grace, kill); tasks polled until it ended
//!            or is gone, at most the stop grace + 5 s; the follow read meanwhile; then
//!            ProcessEnd (cancelled / timed out), ContainerRemove, Done
//!  Sweep     a create of unknown outcome: GET /services?filters={"label":["io.cstream.run=<run>"]},
//!            each one found deleted ──▶ Done
//! ```
//!
//! | state    | failure                                  | cancel / timeout                      |
//! |----------|------------------------------------------|---------------------------------------|
//! | Ping     | Error, Done                              | ProcessEnd (not started), Done        |
//! | Create   | Error, Done; Sweep when unknown          | remembered: on 201, ProcessEnd (not started), Remove |
//! | Placing  | Error, Remove                            | Stopping                              |
//! | Running  | Error, Remove                            | Stopping                              |
//! | Draining | Error, ProcessEnd, Remove                | ignored: the task has ended           |
//! | Stopping, Remove, Sweep | retried, then Error, Done | ignored: the `DELETE` is out          |
//!
//! A unary request unanswered within `limits.request_timeout` fails; the
//! logs follow has no idle limit, and the final read may not go silent for
//! `limits.drain_timeout` (it re-reads the whole output, so its length is
//! not limited).
//!
//! # What maps, and what is refused
//!
//! The service carries the spec's image, command (`ContainerSpec.Args`),
//! entrypoint (`Command`), environment, working directory (`Dir`), user,
//! hostname, extra hosts (`Hosts`), init, read-only root, capabilities,
//! ulimits, bind mounts, volumes and tmpfs (`Mounts`), memory, CPU and PID
//! limits (`Resources.Limits`), stop signal and grace, log driver (`local`
//! unless the spec names one: json-file replaces bytes that are not UTF-8,
//! and the output is read back from the logs), and name (`cstream-<run id>`
//! unless the spec names one: the engine's random names collide now and then
//! when many jobs start at once);
//! the [`Placement`] constraints; restart condition `none`; and cstream's
//! labels (those of a container run, with the user's) on the service and on
//! its container, so `gc` finds either. Registry credentials go in
//! `X-Registry-Auth`, for the node that pulls.
//!
//! Refused before anything is sent, as [`SpecError::Unsupported`] with
//! `engine` "a swarm": a terminal, stdin, `keep` (the service is removed
//! on every path), privileged mode, devices, published ports, a network,
//! a swap limit, no-new-privileges, a `/dev/shm` size, an OCI runtime, a
//! platform (place by `node.platform.*` constraints instead),
//! `create_extra`, SELinux relabeling, log driver `none` (there would be
//! no output to read), and tmpfs options but size, mode and
//! `ro`. An engine that speaks an API older than 1.41 is refused
//! after the ping.
//!
//! The pull policy: the node that runs the task pulls the image itself,
//! before each task, whatever the policy (unless its daemon runs with
//! `DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1`), and uses the image it has
//! when the pull fails. So `Always` and `Missing` both mean what the node
//! does, and `Never` cannot stop its try; an image the node neither has nor
//! can pull ends the task `rejected`, reported as [`Error::ImageMissing`]
//! under `Never` and as [`Error::Pull`] otherwise.
//!
//! # What the events say
//!
//! `ContainerCreate` and `ContainerRemove` carry the service's id;
//! `ProcessStart` names the service, task, node and container
//! ([`ProcessId::Task`]); `ProcessEnd` has the exit code from the task's
//! status (`Status.ContainerStatus.ExitCode`, read only for a `complete` or
//! `failed` task: a `rejected` one says 0 and never ran), a duration from
//! the task seen started to seen ended (polls are 200 ms apart), and
//! `oom_killed` always false: a task's status does not say. A task the
//! cluster ended (`shutdown`, `orphaned`, `remove`) gets an
//! [`Error::TaskEnded`] before its `ProcessEnd`.
//!
//! The output is the service's logs: exactly the bytes the process wrote,
//! each once, stdout and stderr as the logs tell them apart (their order
//! between the two streams is the log driver's). Read live while the task
//! runs, and once more, from the start, when it has ended (a follow read
//! never ends); see `logs.rs` for how the two reads are matched. A live
//! read that fails is not an error: the final read delivers what it
//! missed.
//!
//! # Example
//!
//! A job against a scripted swarm manager (a real driver sends the requests;
//! this one answers each at once, so the task has ended at its first poll):
//!
//! ```
//! use core::time::Duration;
//! use bytes::Bytes;
//! use cstream_proto_core::swarm::{JobMachine, Placement};
//! use cstream_proto_core::{EventKind, Input, Output, RunInfo, RunSpec, Stream};
//!
//! let spec = RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?;
//! let run = RunInfo { run_id: "r1".into(), created_unix: 1_700_000_000, owner: None };
//! let placement = Placement { constraints: vec!["node.role==worker".into()] };
//! let mut m = JobMachine::new(spec, run, placement, Duration::ZERO);
//! let task = r#"[{"ID":"t1","NodeID":"n1","Status":{"State":"complete",
//!     "ContainerStatus":{"ContainerID":"c1","ExitCode":0}}}]"#;
//! // One log message: a frame header (stdout, 34 bytes), its timestamp, a space, the line.
//! let log = [&[1, 0, 0, 0, 0, 0, 0, 34][..], b"2024-05-01T10:00:00.000000001Z hi\n"].concat();
//! let answer = |path: &str| -> (u16, Vec<u8>) {
//!     match path.split('?').next().unwrap() {
//!         "/_ping" => (200, b"OK".to_vec()),
//!         "/v1.41/services/create" => (201, br#"{"ID":"s1"}"#.to_vec()),
//!         "/v1.41/tasks" => (200, task.as_bytes().to_vec()),
//!         "/v1.41/services/s1/logs" => (200, log.clone()),
//!         "/v1.41/services/s1" => (200, Vec::new()),
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
//! assert!(events.contains(&EventKind::Output { stream: Stream::Stdout, data: Bytes::from_static(b"hi\n") }));
//! assert_eq!(events.last(), Some(&EventKind::ContainerRemove { id: "s1".into() }));
//! # Ok::<(), cstream_proto_core::SpecError>(())
//! ```
//!
//! [`Machine`]: crate::Machine
//! [`ProcessId::Task`]: crate::ProcessId::Task
//! [`SpecError::Unsupported`]: crate::SpecError::Unsupported

mod answers;
mod calls;
mod logs;
mod refuse;
mod requests;
mod run;
mod service;
mod state;
mod stop;
mod time;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use crate::api::create::RunInfo;
use crate::api::{ApiVersion, EngineInfo, Request};
use crate::error::{CommandError, Error};
use crate::event::{Event, EventKind, TtySize};
use crate::machine::coalesce::Coalescer;
use crate::machine::{CommandId, Input, Output, RequestId};
use crate::spec::RunSpec;
use calls::{Call, Calls};
use logs::LogReader;
use state::State;

/// How often the task is polled.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// How often the task is polled in the first [`FAST_POLLING`] after the
/// service is created: most jobs start within it, and short ones end in it,
/// so their start and end are seen sooner (a 200 ms poll noticed the end of
/// a `true` 170 ms late, at the median, on the swarm here).
pub const FAST_POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How long after the create the task is polled every [`FAST_POLL_INTERVAL`].
pub const FAST_POLLING: Duration = Duration::from_secs(2);
/// How often the node running the task is checked.
pub const NODE_INTERVAL: Duration = Duration::from_secs(1);
/// How long past the stop grace a cancelled task's end is waited for.
pub const STOP_MARGIN: Duration = Duration::from_secs(5);

/// Where the swarm may place the job's task.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// Placement constraints, as `docker service create --constraint` takes
    /// them: `node.role==worker`, `node.hostname!=n1`, `node.labels.gpu==yes`.
    pub constraints: Vec<String>,
}

/// One run as a swarm job, as a state machine with no I/O.
#[derive(Debug)]
pub struct JobMachine {
    spec: RunSpec,
    run: RunInfo,
    placement: Placement,
    engine: Option<EngineInfo>,
    state: State,
    calls: Calls,
    out: VecDeque<Output>,
    service: Option<String>,
    /// The service's `DELETE` was answered: nothing is left to remove.
    removed: bool,
    logs: LogReader,
    /// The follow was refused with an error status: the final read is not tried.
    logs_refused: bool,
    run_deadline: Option<Duration>,
    /// When the task is next polled (in Placing, Running and Stopping).
    poll_at: Option<Duration>,
    /// Until when the task is polled fast (the create's answer + [`FAST_POLLING`]).
    fast_until: Duration,
    /// When the final read of the logs must have ended.
    drain_until: Option<Duration>,
    coalescer: Coalescer,
}

impl JobMachine {
    /// A machine for one job running `spec`, placed by `placement`, starting
    /// at `now` with a ping.
    pub fn new(spec: RunSpec, run: RunInfo, placement: Placement, now: Duration) -> Self {
        let mut m = JobMachine::idle(spec, run, placement, None, now);
        m.begin(now);
        m
    }

    /// A machine for an engine already pinged.
    pub fn with_engine(spec: RunSpec, run: RunInfo, placement: Placement, engine: EngineInfo, now: Duration) -> Self {
        let mut m = JobMachine::idle(spec, run, placement, Some(engine), now);
        m.begin(now);
        m
    }

    fn idle(spec: RunSpec, run: RunInfo, placement: Placement, engine: Option<EngineInfo>, now: Duration) -> Self {
        JobMachine {
            coalescer: Coalescer::new(spec.coalesce),
            run_deadline: spec.timeout.map(|t| now + t),
            spec,
            run,
            placement,
            engine,
            state: State::Ping,
            calls: Calls::default(),
            out: VecDeque::new(),
            service: None,
            removed: false,
            logs: LogReader::default(),
            logs_refused: false,
            poll_at: None,
            fast_until: Duration::ZERO,
            drain_until: None,
        }
    }

    /// The service's id, once created.
    pub fn service_id(&self) -> Option<&str> {
        self.service.as_deref()
    }

    /// Whether the run is over: [`poll_output`](Self::poll_output) returns
    /// [`Output::Done`] next.
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

    /// Cancels the run: the service is deleted, so the cluster stops the
    /// task (its stop signal, then SIGKILL after its grace). A second call
    /// changes nothing: the `DELETE` is out.
    pub fn cancel(&mut self, now: Duration) {
        if !matches!(self.state, State::Done) {
            self.request_stop(now, crate::event::EndReason::Cancelled);
        }
    }

    /// A swarm job has no stdin: always [`CommandError::StdinNotEnabled`].
    pub fn write_stdin(&mut self, _data: Bytes) -> Result<CommandId, CommandError> {
        Err(CommandError::StdinNotEnabled)
    }

    /// A swarm job has no stdin: always [`CommandError::StdinNotEnabled`].
    pub fn close_stdin(&mut self) -> Result<CommandId, CommandError> {
        Err(CommandError::StdinNotEnabled)
    }

    /// A swarm job has no terminal: always [`CommandError::NoTty`].
    pub fn resize(&mut self, _now: Duration, _size: TtySize) -> Result<CommandId, CommandError> {
        Err(CommandError::NoTty)
    }

    /// Gives the run up without finishing it (see
    /// [`Machine::abandon`](crate::Machine::abandon)): the service's
    /// `DELETE`, when a service exists and was not removed yet. The machine
    /// is done afterwards.
    pub fn abandon(&mut self) -> Option<Request> {
        if matches!(self.state, State::Done) {
            return None;
        }
        let remove = match (&self.service, self.removed) {
            (Some(id), false) => Some(requests::remove(self.api(), id)),
            _ => None,
        };
        let _ = self.calls.drain();
        self.out.clear();
        self.move_to(State::Done);
        self.run_deadline = None;
        remove
    }

    /// The spec this machine runs.
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
        self.service.as_deref().unwrap_or_default()
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

crate::lifecycle::forward_lifecycle!(JobMachine, made: service_id);
