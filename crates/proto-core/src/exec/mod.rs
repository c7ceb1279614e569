//! A step run in a living container (`docker exec`), as a state machine
//! with no I/O: [`ExecMachine`].
//!
//! A job that keeps one container and runs its steps in it starts the
//! container with the container [`Machine`](crate::Machine) (a command that
//! stays up, such as `sleep infinity`) and runs each step with an
//! `ExecMachine` on that container's id. A step has the events of a run,
//! less the container's: `ProcessStart` (with [`ProcessId::Exec`](crate::ProcessId::Exec)),
//! `Output`, `Heartbeat`, `TerminalResize`, `ProcessEnd` with the step's
//! exit code; stdin, resizes, cancel and the spec's timeout work as for a
//! run. The contract with a driver is the crate's (see the crate docs), and
//! the machine is driven through [`Lifecycle`](crate::lifecycle::Lifecycle)
//! like the others.
//!
//! ```text
//!  new                      with_engine (pinged already)
//!   │                              │
//!   ▼                              │
//! Ping  GET /_ping ── 200 ─────────┤
//!                                  ▼
//!   Create  POST /containers/{id}/exec ── 404, 409: ContainerGone ──▶ Done
//!      │ 201, exec id read
//!      ▼
//!    Start  POST /exec/{id}/start, upgraded ── refused: ProcessEnd (start failed) ──▶ Done
//!      │ 101: ProcessStart
//!      ▼
//!  Running  output, stdin, resizes, heartbeats; until the stream ends
//!      │
//!      ▼
//!  Inspect  GET /exec/{id}/json, asked again every 50 ms while it says running
//!      │ ProcessEnd with ExitCode
//!      ▼
//!     Done
//! ```
//!
//! | state   | failure                           | cancel / timeout                                 |
//! |---------|-----------------------------------|--------------------------------------------------|
//! | Ping    | Error, Done                       | ProcessEnd (not started), Done                   |
//! | Create  | Error, ProcessEnd (start failed)  | remembered: on 201, ProcessEnd (not started)     |
//! | Start   | Error, ProcessEnd (start failed)  | remembered: on 101, as in Running                |
//! | Running | Error, ProcessEnd (exit unknown)  | the stop signal; SIGKILL after the grace (or a 2nd cancel) |
//! | Inspect | Error, ProcessEnd (exit unknown)  | ignored: the step has ended                      |
//!
//! # How a step is stopped
//!
//! The Engine API has no kill for an exec. Each step's environment holds
//! [`STEP_ENV`]`=<its run id>`, which its children inherit; a stop runs
//! one more exec in the container, `sh -c` with a loop over `/proc` that
//! sends the signal to every process whose environment holds that mark,
//! and so to the step alone: the container's main process and other steps
//! are left running. It needs `sh`, `tr` and `kill` in the image. When that
//! exec cannot run, [`crate::Error::StepNotStopped`]
//! says so and the step goes on until it ends.
//!
//! A step never removes its container: the container's own run does.

mod requests;
mod run;
mod state;

use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

use bytes::Bytes;

pub use requests::STEP_ENV;

use crate::api::create::RunInfo;
use crate::api::{ApiVersion, EngineInfo, Request};
use crate::calls::Calls;
use crate::decode::FrameDecoder;
use crate::error::{CommandError, Error, Phase};
use crate::event::{EndReason, Event, EventKind, TtySize};
use crate::machine::coalesce::Coalescer;
use crate::machine::{CommandFailed, CommandId, Commands, Input, Output};
use crate::spec::RunSpec;
use state::State;

/// Which call of the step a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Call {
    Ping,
    Create,
    Start,
    Inspect,
    Resize,
    SignalCreate,
    SignalStart,
}

impl crate::calls::CallName for Call {
    fn phase(self) -> Phase {
        match self {
            Call::Ping => Phase::Connect,
            Call::Create | Call::Start | Call::Inspect => Phase::Exec,
            Call::Resize => Phase::Resize,
            Call::SignalCreate | Call::SignalStart => Phase::StepStop,
        }
    }

    /// The step's stream, once upgraded, is read as it comes, for as long
    /// as the step runs.
    fn streams(self, status: u16) -> bool {
        self == Call::Start && matches!(status, 101 | 200)
    }
}

fn output_event(at: Duration, stream: crate::event::Stream, data: Bytes) -> Output {
    Output::Event(Event { at, kind: EventKind::Output { stream, data } })
}

/// How long the engine may go on saying a step runs after its output ended.
const INSPECT_AGAIN: Duration = Duration::from_millis(50);

/// One step run in a living container, as a state machine with no I/O.
///
/// `spec` gives the step's command, env, working dir, user, terminal,
/// stdin, timeout, stop signal and grace, heartbeat, coalescing and limits;
/// its image and the container's own settings (mounts, limits, labels) are
/// the container's and are not used. `run.run_id` marks the step's
/// processes ([`STEP_ENV`]) and must be unique.
#[derive(Debug)]
pub struct ExecMachine {
    spec: RunSpec,
    token: String,
    container: String,
    engine: Option<EngineInfo>,
    state: State,
    calls: Calls<Call>,
    out: VecDeque<Output>,
    exec: Option<String>,
    /// The start request, once sent: its stream is the step's stdio.
    stream: Option<crate::machine::RequestId>,
    decoder: FrameDecoder,
    commands: Commands,
    coalescer: Coalescer,
    run_deadline: Option<Duration>,
}

impl ExecMachine {
    /// A machine for a step of `spec` in `container`, starting at `now` with a ping.
    pub fn new(container: &str, spec: RunSpec, run: RunInfo, now: Duration) -> Self {
        let mut m = ExecMachine::idle(container, spec, run, None, now);
        m.begin(now);
        m
    }

    /// A machine for an engine already pinged.
    pub fn with_engine(container: &str, spec: RunSpec, run: RunInfo, engine: EngineInfo, now: Duration) -> Self {
        let mut m = ExecMachine::idle(container, spec, run, Some(engine), now);
        m.begin(now);
        m
    }

    fn idle(container: &str, spec: RunSpec, run: RunInfo, engine: Option<EngineInfo>, now: Duration) -> Self {
        ExecMachine {
            decoder: FrameDecoder::new(spec.limits.max_frame_hold),
            coalescer: Coalescer::new(spec.coalesce),
            run_deadline: spec.timeout.map(|t| now + t),
            spec,
            token: run.run_id,
            container: container.into(),
            engine,
            state: State::Ping,
            calls: Calls::default(),
            out: VecDeque::new(),
            exec: None,
            stream: None,
            commands: Commands::default(),
        }
    }

    /// Feeds what the engine said about one request.
    pub fn handle_input(&mut self, now: Duration, input: Input) {
        if !matches!(self.state, State::Done) {
            self.on_input(now, input);
        }
    }

    /// Tells the machine the time is `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        if !matches!(self.state, State::Done) {
            self.on_timeout(now);
        }
    }

    /// Stops the step: the stop signal, SIGKILL after the grace (at once
    /// when called again).
    pub fn cancel(&mut self, now: Duration) {
        if !matches!(self.state, State::Done) {
            self.request_stop(now, EndReason::Cancelled);
        }
    }

    /// Bytes for the step's stdin, queued until its stream is up.
    pub fn write_stdin(&mut self, data: Bytes) -> Result<CommandId, CommandError> {
        self.stdin_usable()?;
        let command = self.commands.take();
        self.commands.stdin.push(command, Some(data));
        self.flush_stdin();
        Ok(command)
    }

    /// Closes the step's stdin.
    pub fn close_stdin(&mut self) -> Result<CommandId, CommandError> {
        self.stdin_usable()?;
        let command = self.commands.take();
        self.commands.stdin.push(command, None);
        self.flush_stdin();
        Ok(command)
    }

    /// Sets the step's terminal size; acknowledged when the engine answers,
    /// or at once before the step runs (the size is then set when it starts).
    /// One resize is on the wire at a time, as for
    /// [`Machine::resize`](crate::Machine::resize).
    pub fn resize(&mut self, now: Duration, size: TtySize) -> Result<CommandId, CommandError> {
        if !self.spec.tty {
            return Err(CommandError::NoTty);
        }
        if size.cols == 0 || size.rows == 0 {
            return Err(CommandError::BadSize);
        }
        if matches!(self.state, State::Inspect { .. } | State::Done) {
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

    /// Gives the step up: its requests are dropped. A step leaves nothing
    /// to remove (the container is its run's), so this returns `None`.
    pub fn abandon(&mut self) -> Option<Request> {
        let _ = self.calls.drain();
        self.out.clear();
        self.commands = Commands::default();
        self.state = State::Done;
        None
    }

    /// The next thing to do.
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

    /// The exec instance's id, once created.
    pub fn exec_id(&self) -> Option<&str> {
        self.exec.as_deref()
    }

    /// The spec this step runs.
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

    fn move_to(&mut self, next: State) {
        if let Err(e) = state::check(self.state.name(), next.name()) {
            debug_assert!(false, "{e}");
            self.error(e);
        }
        self.state = next;
    }

    fn next_deadline(&self) -> Option<Duration> {
        let state = match &self.state {
            State::Running(s) => {
                let stop = s.stop.map(|s| match s.next {
                    state::Next::Kill { kill_at } => kill_at,
                    state::Next::GiveUp { give_up_at } => give_up_at,
                });
                [stop, s.heartbeat_at].into_iter().flatten().min()
            }
            State::Inspect { again_at, .. } => *again_at,
            _ => None,
        };
        [self.run_deadline, state, self.calls.next_deadline(), self.coalescer.deadline()].into_iter().flatten().min()
    }

    fn emit(&mut self, now: Duration, kind: EventKind) {
        self.out.push_back(Output::Event(Event { at: now, kind }));
    }

    fn error(&mut self, e: Error) {
        self.out.push_back(Output::Error(e));
    }

    fn send(&mut self, now: Duration, call: Call, request: Request) -> crate::machine::RequestId {
        // A stream's answer need only begin in time: its head clears the deadline.
        let id = self.calls.open(call, now + self.spec.limits.request_timeout);
        self.out.push_back(Output::Send { id, request });
        id
    }

    fn abort(&mut self, call: Call) {
        while let Some(id) = self.calls.find(call) {
            self.calls.abort(id);
            self.out.push_back(Output::Abort { id });
            self.given_up(id);
        }
    }

    fn ack(&mut self, command: CommandId, result: Result<(), CommandFailed>) {
        self.out.push_back(Output::Ack { command, result });
    }

    /// Request `id` was given up: the commands riding on it are refused.
    fn given_up(&mut self, id: crate::machine::RequestId) {
        if self.stream == Some(id) {
            self.commands.stdin.refuse_all(&mut self.out);
        }
        self.commands.resizes.given_up(id, &mut self.out);
    }

    /// A resize of the running step ended: each command it answers is
    /// acknowledged with what happened (the machine's own reports a failure
    /// as the run's error), and the next size waiting goes out.
    fn resize_answered(&mut self, now: Duration, id: crate::machine::RequestId, result: Result<(), Error>) {
        if self.commands.resizes.settle(id, result, &mut self.out) {
            self.push_resize(now);
        }
    }

    /// Sends the size waiting, if any and none is on the wire; once the
    /// step no longer runs, refuses it instead.
    fn push_resize(&mut self, now: Duration) {
        let Some(size) = self.commands.resizes.to_send() else { return };
        if !matches!(self.state, State::Running(_)) {
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
        if matches!(self.state, State::Inspect { .. } | State::Done) {
            return Err(CommandError::Ended);
        }
        Ok(())
    }

    fn flush_stdin(&mut self) {
        let Some(id) = self.stream.filter(|_| matches!(self.state, State::Running(_))) else { return };
        self.commands.stdin.flush(id, &mut self.out);
    }
}

crate::lifecycle::forward_lifecycle!(ExecMachine, made: exec_id);
