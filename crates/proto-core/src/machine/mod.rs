//! The run state machine: one container run, from ping to remove.
//!
//! See the [crate docs](crate) for the run-loop contract. Inputs arrive
//! through [`Machine::handle_input`] and [`Machine::handle_timeout`], the
//! caller's commands through [`Machine::cancel`], [`Machine::write_stdin`],
//! [`Machine::close_stdin`] and [`Machine::resize`]; everything the machine
//! wants done comes out of [`Machine::poll_output`], in order.
//!
//! # The lifecycle
//!
//! A run is in one state at a time, and each state holds the data that
//! matters only there. The machine moves between them through one function,
//! checked against one table of allowed moves (`state.rs`); the arrows below
//! are that table. Each state waits for the answers named beside it.
//!
//! ```text
//!  new / with_api_version                with_engine (pinged already)
//!          │                                       │
//!          ▼                                       │
//!        Ping  GET /_ping ── answered 200 ─────────┤
//!                                                  ▼
//!                                     a CPU limit? ── yes ──▶ Info  GET /info: more CPUs
//!                                                  │ no         │   than NCPU? Error, Done
//!                                                  ◀────────────┘ within the host's
//!                                                  ▼
//!                              pull policy "always"? ── yes ──▶ Pull  POST /images/create
//!                                                  │ no           │
//!                                                  ▼              │ pull ended
//!       Create  POST /containers/create ◀──────────┴──────────────┘
//!          │  └── 404, policy "missing", not pulled yet ──▶ Pull
//!          │ 201, id read
//!          ▼
//!      Prepare  attach (101) and wait (200) registered; Podman with a tty: resize answered
//!          │
//!          ▼
//!        Start  POST /containers/{id}/start
//!          │ 204, or the first output (it may overtake the answer)
//!          ▼
//!      Running  output and heartbeats; then the wait's exit, and the output's end
//!          │  ▲                       (or the drain timeout)
//!          ▼  │ the container still runs: wait again (at most twice)
//!      Inspect  GET /containers/{id}/json: exit code checked, OOMKilled
//!          │ ProcessEnd
//!          ▼
//!       Remove  DELETE /containers/{id}?force=1&v=1, retried with backoff
//!          │    in transport failures until the cleanup deadline
//!          ▼
//!         Done  nothing more is output; every input is ignored
//!
//!        Sweep  a create of unknown outcome (no answer, 5xx, unreadable):
//!               the run's containers, listed by label, each removed ──▶ Done
//! ```
//!
//! Where a failure, a cancel ([`Machine::cancel`]) and the spec's timeout
//! enter (a request that goes unanswered past `limits.request_timeout` is a
//! failure of that request):
//!
//! | state   | failure                          | cancel / timeout                                       |
//! |---------|----------------------------------|--------------------------------------------------------|
//! | Ping    | Error, Done                      | ProcessEnd (not started), Done                         |
//! | Info    | Error, Done                      | ProcessEnd (not started), Done                         |
//! | Pull    | Error, Done                      | ProcessEnd (not started), Done                         |
//! | Create  | Error, Done; Sweep when unknown  | remembered: on 201, ProcessEnd (not started), Remove   |
//! | Prepare | ProcessEnd (start failed), Remove| ProcessEnd (not started), Remove                       |
//! | Start   | ProcessEnd (start failed), Remove| remembered: on start, as in Running                    |
//! | Running | Error, Remove                    | stop signal; SIGKILL after the grace (or a 2nd cancel); no exit by the request timeout: Error, Remove |
//! | Inspect | the wait's code stands, Remove   | ignored: the process has ended                         |
//! | Remove, Sweep | retried, then Error, Done  | ignored                                                |
//!
//! A spec with `keep` goes to Done where it would go to Remove.
//!
//! # The caller's commands
//!
//! A stdin write or close and a resize the machine takes get a
//! [`CommandId`], and exactly one [`Output::Ack`] each (unless the machine is
//! [abandoned](Machine::abandon)): a write or close once the driver reports
//! it [`Input::Written`], a resize once its answer is complete (a 2xx, or the
//! failure: said there and nowhere else), a resize before start at once (the
//! size is applied at start). A command whose request is given up (the
//! process ended, the run failed) is acknowledged as refused
//! ([`CommandError::Ended`]). A command refused at once is an `Err` of the
//! call and takes no id.
//!
//! Inputs the run does not expect (an answer for a request never sent, a
//! second head, bytes before a head or after an end) are reported as
//! [`Error::Unexpected`] and otherwise ignored; inputs about a request the
//! machine aborted are ignored, as [`Output::Abort`] says.

pub mod coalesce;
mod command;
mod exit;
mod inflight;
mod io;
mod lifecycle;
mod pull;
mod state;
mod stop;
mod sweep;
mod time;

use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

use bytes::Bytes;

pub use command::{CommandFailed, CommandId};
pub use inflight::RequestId;
pub use io::{Input, Output};
pub use pull::PROGRESS_INTERVAL;

use crate::api::create::RunInfo;
use crate::api::{ApiVersion, EngineInfo, Request};
use crate::decode::FrameDecoder;
use crate::error::{CommandError, Error};
use crate::event::{EndReason, Event, EventKind, TtySize};
use crate::spec::RunSpec;
use coalesce::Coalescer;
pub(crate) use command::Commands;
use inflight::{Purpose, Table};
pub(crate) use state::Retry;
use state::{State, StopStep};

/// The attach's data, from its request to the end of the run: which request
/// it is, and its frame decoder.
#[derive(Debug)]
struct Attach {
    id: Option<RequestId>,
    decoder: FrameDecoder,
    /// Bytes the attach carried.
    carried: u64,
}

/// One container run, as a state machine with no I/O.
#[derive(Debug)]
pub struct Machine {
    spec: RunSpec,
    run: RunInfo,
    engine: Option<EngineInfo>,
    /// The API version the caller chose, if any (`DOCKER_API_VERSION`).
    pinned: Option<ApiVersion>,
    /// Whether the engine has taken a versioned request (any answer but 400),
    /// so a 400 is about the request, not the version.
    version_taken: bool,
    /// A 400 answer held while `GET /version` tells whether the version was refused.
    held: Option<inflight::Inflight>,
    /// The process's end, held while its output is read back from the logs
    /// (see [`Purpose::Logs`]).
    recovering: Option<crate::event::ProcessEnd>,
    state: State,
    requests: Table,
    out: VecDeque<Output>,
    container: Option<String>,
    attach: Attach,
    /// When the spec's timeout stops the run, until a stop or the exit.
    run_deadline: Option<Duration>,
    coalescer: Coalescer,
    /// The caller's commands taken and not yet acknowledged.
    commands: Commands,
}

impl Machine {
    /// A machine for one run of `spec`, starting at `now` with a ping that
    /// negotiates the API version.
    pub fn new(spec: RunSpec, run: RunInfo, now: Duration) -> Self {
        let mut m = Machine::idle(spec, run, None, now);
        m.begin(now);
        m
    }

    /// A machine that speaks API version `pinned` rather than negotiating
    /// one, as the docker CLI does with `DOCKER_API_VERSION`. It still pings
    /// the engine (Docker or Podman, and whether the engine speaks `pinned`).
    pub fn with_api_version(spec: RunSpec, run: RunInfo, pinned: ApiVersion, now: Duration) -> Self {
        let mut m = Machine::idle(spec, run, None, now);
        m.pinned = Some(pinned);
        m.begin(now);
        m
    }

    /// A machine for an engine already pinged (one ping can serve many runs).
    pub fn with_engine(spec: RunSpec, run: RunInfo, engine: EngineInfo, now: Duration) -> Self {
        let mut m = Machine::idle(spec, run, Some(engine), now);
        m.begin(now);
        m
    }

    fn idle(spec: RunSpec, run: RunInfo, engine: Option<EngineInfo>, now: Duration) -> Self {
        let attach = Attach { id: None, decoder: FrameDecoder::new(spec.limits.max_frame_hold), carried: 0 };
        Machine {
            coalescer: Coalescer::new(spec.coalesce),
            run_deadline: spec.timeout.map(|t| now + t),
            spec,
            run,
            engine,
            pinned: None,
            version_taken: false,
            held: None,
            recovering: None,
            state: State::Ping,
            requests: Table::default(),
            out: VecDeque::new(),
            container: None,
            attach,
            commands: Commands::default(),
        }
    }

    /// Feeds what the engine said about one request.
    pub fn handle_input(&mut self, now: Duration, input: Input) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.on_input(now, input);
        self.advance(now);
    }

    /// Tells the machine the time is `now`; call it when the deadline of
    /// [`Output::Pending`] passes (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Duration) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.on_timeout(now);
        self.advance(now);
    }

    /// Cancels the run: the stop signal, then SIGKILL after the grace
    /// period, then cleanup. Calling it again sends SIGKILL at once.
    pub fn cancel(&mut self, now: Duration) {
        if matches!(self.state, State::Done) {
            return;
        }
        self.request_stop(now, EndReason::Cancelled);
        self.advance(now);
    }

    /// Writes bytes to the process's stdin (queued until the attach is up).
    /// Returns the command's id: an [`Output::Ack`] with it says when the
    /// bytes are written (or why not).
    pub fn write_stdin(&mut self, data: Bytes) -> Result<CommandId, CommandError> {
        self.stdin_usable()?;
        let command = self.commands.take();
        self.commands.stdin.push(command, Some(data));
        self.flush_stdin();
        Ok(command)
    }

    /// Closes the process's stdin; it reads end of file. Returns the
    /// command's id, acknowledged like a write's.
    pub fn close_stdin(&mut self) -> Result<CommandId, CommandError> {
        self.stdin_usable()?;
        let command = self.commands.take();
        self.commands.stdin.push(command, None);
        self.flush_stdin();
        Ok(command)
    }

    /// Sets the terminal size (with tty mode). Returns the command's id: its
    /// [`Output::Ack`] comes when the engine's answer to the resize is
    /// complete (`Ok` for a 2xx, else the one error saying why), or at once
    /// before the process runs: the size is then applied when it starts.
    ///
    /// One resize is on the wire at a time, since two could reach the
    /// engine in either order: a size asked for meanwhile waits, a newer one
    /// replaces it, and the commands of both are acknowledged with the result
    /// of the one sent.
    pub fn resize(&mut self, now: Duration, size: TtySize) -> Result<CommandId, CommandError> {
        if !self.spec.tty {
            return Err(CommandError::NoTty);
        }
        if size.cols == 0 || size.rows == 0 {
            return Err(CommandError::BadSize);
        }
        if self.state.process_over() {
            return Err(CommandError::Ended);
        }
        self.spec.tty_size = Some(size);
        let command = self.commands.take();
        match self.state {
            State::Running(_) => {
                self.commands.resizes.ask(size, Some(command));
                self.push_resize(now);
            }
            _ => self.ack(command, Ok(())),
        }
        Ok(command)
    }

    /// Gives the run up without finishing it: the driver can no longer carry
    /// its requests out (its runtime is shutting down, or its task was
    /// dropped). Returns the remove request to send, by whatever means the
    /// driver still has, when the run left a container behind: its id is
    /// known, the spec does not `keep` it, and it was not removed already.
    ///
    /// The machine is done afterwards: [`poll_output`](Self::poll_output)
    /// returns [`Output::Done`], and a second call returns `None`.
    pub fn abandon(&mut self) -> Option<Request> {
        if matches!(self.state, State::Done) {
            return None;
        }
        let remove = match (&self.container, self.spec.keep) {
            (Some(id), false) => Some(crate::api::requests::remove(self.api(), id)),
            _ => None,
        };
        let _ = self.requests.drain();
        self.out.clear();
        self.commands = Commands::default();
        self.move_to(State::Done);
        self.run_deadline = None;
        remove
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

    /// The spec this machine runs.
    pub fn spec(&self) -> &RunSpec {
        &self.spec
    }

    /// The container's id, once created.
    pub fn container_id(&self) -> Option<&str> {
        self.container.as_deref()
    }

    /// The engine, once known.
    pub fn engine(&self) -> Option<&EngineInfo> {
        self.engine.as_ref()
    }

    /// Whether the run is over: [`poll_output`](Self::poll_output) returns
    /// [`Output::Done`] next.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done) && self.out.is_empty()
    }

    /// The one way the state changes: checked against the table of allowed
    /// moves. A move the table does not allow is a bug in the machine: it is
    /// reported as [`Error::Unexpected`] (and trips a debug assertion), and
    /// made anyway, so the run still reaches its end.
    fn move_to(&mut self, next: State) {
        if let Err(e) = state::check(self.state.step(), next.step()) {
            debug_assert!(false, "{e}");
            self.error(e);
        }
        self.state = next;
    }

    fn next_deadline(&self) -> Option<Duration> {
        let state = match &self.state {
            State::Running(p) => {
                let stop = match p.stop.map(|s| s.step) {
                    _ if p.ends.exit.is_some() => None,
                    Some(StopStep::Signalled { kill_at: t } | StopStep::Killed { give_up_at: t }) => Some(t),
                    None => None,
                };
                [stop, p.heartbeat_at, p.drain_until].into_iter().flatten().min()
            }
            State::Remove(r) | State::Sweep(r) => r.at,
            _ => None,
        };
        [self.run_deadline, state, self.requests.next_deadline(), self.coalescer.deadline()].into_iter().flatten().min()
    }

    fn emit(&mut self, now: Duration, kind: EventKind) {
        self.out.push_back(Output::Event(Event { at: now, kind }));
    }

    fn error(&mut self, e: Error) {
        self.out.push_back(Output::Error(e));
    }

    fn send(&mut self, now: Duration, purpose: Purpose, request: Request) -> RequestId {
        let unary = request.kind == crate::api::RequestKind::Unary;
        let id = self.requests.open(purpose, now + self.spec.limits.request_timeout, unary);
        self.out.push_back(Output::Send { id, request });
        id
    }

    fn abort(&mut self, purpose: Purpose) {
        while let Some(id) = self.requests.find(purpose) {
            self.requests.abort(id);
            self.out.push_back(Output::Abort { id });
            self.given_up(id);
        }
    }

    fn abort_all(&mut self) {
        for r in self.requests.drain() {
            self.out.push_back(Output::Abort { id: r.id });
            self.given_up(r.id);
        }
    }

    fn ack(&mut self, command: CommandId, result: Result<(), CommandFailed>) {
        self.out.push_back(Output::Ack { command, result });
    }

    /// Request `id` was given up: the commands riding on it are refused.
    fn given_up(&mut self, id: RequestId) {
        if self.attach.id == Some(id) {
            self.refuse_stdin();
        }
        self.commands.resizes.given_up(id, &mut self.out);
    }

    /// Stdin written, queued or not, that will never be: each is refused.
    fn refuse_stdin(&mut self) {
        self.commands.stdin.refuse_all(&mut self.out);
    }

    /// The driver wrote (or failed to write) the stdin of `command`.
    fn on_written(&mut self, command: CommandId, result: Result<(), String>) {
        self.commands.stdin.written(command, result, crate::error::Phase::Attach, &mut self.out);
    }

    /// A resize of the running process ended: each command it answers is
    /// acknowledged, once, with what happened (the machine's own, with no
    /// command, reports a failure as the run's error), and the next size
    /// waiting goes out. `false` when `id` is not one (the size set before
    /// start).
    fn resize_answered(&mut self, now: Duration, id: RequestId, result: Result<(), Error>) -> bool {
        if !self.commands.resizes.settle(id, result, &mut self.out) {
            return false;
        }
        self.push_resize(now);
        true
    }

    /// Sends the size waiting, if any and none is on the wire; once the
    /// process is no longer running, refuses it instead.
    fn push_resize(&mut self, now: Duration) {
        let Some(size) = self.commands.resizes.to_send() else { return };
        if !matches!(self.state, State::Running(_)) || self.state.process_over() {
            return self.commands.resizes.refuse_all(&mut self.out);
        }
        let id = self.send_resize(now, size);
        self.commands.resizes.sent(id);
    }

    fn stdin_usable(&self) -> Result<(), CommandError> {
        if !self.spec.stdin {
            return Err(CommandError::StdinNotEnabled);
        }
        if self.commands.stdin.closed() {
            return Err(CommandError::StdinClosed);
        }
        if self.state.exited() || self.state.process_over() {
            return Err(CommandError::Ended);
        }
        Ok(())
    }

    fn flush_stdin(&mut self) {
        let Some(id) = self.attach.id.filter(|_| self.state.attach_ready()) else { return };
        self.commands.stdin.flush(id, &mut self.out);
    }
}
