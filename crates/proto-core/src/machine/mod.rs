//! The run state machine: one container run, from ping to remove.
//!
//! See the [crate docs](crate) for the run-loop contract. Inputs arrive
//! through [`Machine::handle_input`] and [`Machine::handle_timeout`], the
//! caller's commands through [`Machine::cancel`], [`Machine::write_stdin`],
//! [`Machine::close_stdin`] and [`Machine::resize`]; everything the machine
//! wants done comes out of [`Machine::poll_output`], in order.

pub mod coalesce;
mod exit;
mod inflight;
mod io;
mod lifecycle;
mod pull;
mod sweep;

use alloc::collections::VecDeque;
use alloc::string::String;
use core::time::Duration;

use bytes::Bytes;

pub use inflight::RequestId;
pub use io::{Input, Output};
pub use pull::PROGRESS_INTERVAL;

use crate::api::answers::Exited;
use crate::api::create::RunInfo;
use crate::api::{ApiVersion, EngineInfo, Request};
use crate::decode::FrameDecoder;
use crate::error::{CommandError, Error};
use crate::event::{EndReason, Event, EventKind, TtySize};
use crate::spec::RunSpec;
use coalesce::Coalescer;
use inflight::{Purpose, Table};
use pull::PullTracker;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// Asking the engine's version.
    Ping,
    /// Pulling the image (before the first create, or after a 404).
    Pull,
    /// Creating the container.
    Create,
    /// Attaching and registering the wait, before start.
    Prepare,
    /// Start sent.
    Start,
    /// Running, then draining output and waiting for the exit.
    Running,
    /// Reading the final state.
    Inspect,
    /// Removing the container.
    Remove,
    /// Removing whatever a create of unknown outcome left, found by label.
    Sweep,
    /// Finished.
    Done,
}

/// How far a stop (cancel or timeout) has gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    None,
    /// Asked for; acted on when the stage allows.
    Requested,
    /// The stop signal was sent; SIGKILL follows at the deadline.
    Signalled {
        kill_at: Duration,
    },
    /// SIGKILL was sent; if the exit is not reported by `give_up_at`, the
    /// engine is not doing its part and the container is removed by force.
    Killed {
        give_up_at: Duration,
    },
}

/// Whether the terminal size was set before start, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presize {
    NotTried,
    /// A resize of the created container is under way (Podman).
    Pending(TtySize),
    /// Set before start: by that resize, or at create (`ConsoleSize`, Docker from API 1.42).
    Applied(TtySize),
    Failed,
}

#[derive(Debug)]
struct Attach {
    id: Option<RequestId>,
    ready: bool,
    done: bool,
    decoder: FrameDecoder,
    stdin: VecDeque<Option<Bytes>>,
    stdin_closed: bool,
}

#[derive(Debug, Default)]
struct Timers {
    run: Option<Duration>,
    heartbeat: Option<Duration>,
    drain: Option<Duration>,
    remove_retry: Option<Duration>,
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
    stage: Stage,
    requests: Table,
    out: VecDeque<Output>,
    container: Option<String>,
    /// A create was sent whose outcome is unknown: a container may exist
    /// that the machine has no id for.
    create_unknown: bool,
    pulled: bool,
    pull: Option<PullTracker>,
    attach: Attach,
    wait_ready: bool,
    exit: Option<Exited>,
    /// How many times a wait that answered while the container still ran was asked again.
    rewaits: u32,
    started_at: Option<Duration>,
    exited_at: Option<Duration>,
    stop: Stop,
    reason: EndReason,
    ended: bool,
    remove_attempts: u32,
    remove_deadline: Option<Duration>,
    presize: Presize,
    timers: Timers,
    coalescer: Coalescer,
}

/// The longest wait between two tries of a remove that failed in transport.
const MAX_REMOVE_BACKOFF: Duration = Duration::from_secs(5);

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
        let attach = Attach {
            id: None,
            ready: false,
            done: false,
            decoder: FrameDecoder::new(spec.limits.max_frame_hold),
            stdin: VecDeque::new(),
            stdin_closed: false,
        };
        let timers = Timers { run: spec.timeout.map(|t| now + t), ..Timers::default() };
        Machine {
            coalescer: Coalescer::new(spec.coalesce),
            spec,
            run,
            engine,
            pinned: None,
            version_taken: false,
            held: None,
            stage: Stage::Ping,
            requests: Table::default(),
            out: VecDeque::new(),
            container: None,
            create_unknown: false,
            pulled: false,
            pull: None,
            attach,
            wait_ready: false,
            exit: None,
            rewaits: 0,
            started_at: None,
            exited_at: None,
            stop: Stop::None,
            reason: EndReason::Exited,
            ended: false,
            remove_attempts: 0,
            remove_deadline: None,
            presize: Presize::NotTried,
            timers,
        }
    }

    /// Feeds what the engine said about one request.
    pub fn handle_input(&mut self, now: Duration, input: Input) {
        if self.stage == Stage::Done {
            return;
        }
        self.on_input(now, input);
        self.advance(now);
    }

    /// Tells the machine the time is `now`; call it when the deadline of
    /// [`Output::Pending`] passes (calling it early is harmless).
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.stage == Stage::Done {
            return;
        }
        self.on_timeout(now);
        self.advance(now);
    }

    /// Cancels the run: the stop signal, then SIGKILL after the grace
    /// period, then cleanup. Calling it again sends SIGKILL at once.
    pub fn cancel(&mut self, now: Duration) {
        if self.stage == Stage::Done {
            return;
        }
        self.request_stop(now, EndReason::Cancelled);
        self.advance(now);
    }

    /// Writes bytes to the process's stdin (queued until the attach is up).
    pub fn write_stdin(&mut self, data: Bytes) -> Result<(), CommandError> {
        self.stdin_usable()?;
        self.attach.stdin.push_back(Some(data));
        self.flush_stdin();
        Ok(())
    }

    /// Closes the process's stdin; it reads end of file.
    pub fn close_stdin(&mut self) -> Result<(), CommandError> {
        self.stdin_usable()?;
        self.attach.stdin_closed = true;
        self.attach.stdin.push_back(None);
        self.flush_stdin();
        Ok(())
    }

    /// Sets the terminal size (with tty mode). Returns the id of the resize
    /// request when one is sent now (its answer says the size is applied);
    /// `None` before the process runs: the size is applied when it starts.
    pub fn resize(&mut self, now: Duration, size: TtySize) -> Result<Option<RequestId>, CommandError> {
        if !self.spec.tty {
            return Err(CommandError::NoTty);
        }
        if size.cols == 0 || size.rows == 0 {
            return Err(CommandError::BadSize);
        }
        if self.ended || self.stage >= Stage::Inspect {
            return Err(CommandError::Ended);
        }
        self.spec.tty_size = Some(size);
        match self.started_at {
            Some(_) => Ok(Some(self.send_resize(now, size))),
            None => Ok(None),
        }
    }

    /// The next thing to do. Call until it returns [`Output::Pending`] or
    /// [`Output::Done`], after every input, timeout and command.
    pub fn poll_output(&mut self) -> Output {
        if let Some(o) = self.out.pop_front() {
            return o;
        }
        match self.stage {
            Stage::Done => Output::Done,
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

    /// Whether the run is over.
    pub fn is_done(&self) -> bool {
        self.stage == Stage::Done && self.out.is_empty()
    }

    fn next_deadline(&self) -> Option<Duration> {
        let stop = match self.stop {
            _ if self.exit.is_some() || self.stage >= Stage::Inspect => None,
            Stop::Signalled { kill_at: t } | Stop::Killed { give_up_at: t } => Some(t),
            Stop::None | Stop::Requested => None,
        };
        let t = &self.timers;
        [t.run, t.heartbeat, t.drain, t.remove_retry, stop, self.requests.next_deadline(), self.coalescer.deadline()]
            .into_iter()
            .flatten()
            .min()
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
            self.requests.close(id);
            self.out.push_back(Output::Abort { id });
        }
    }

    fn abort_all(&mut self) {
        for r in self.requests.drain() {
            self.out.push_back(Output::Abort { id: r.id });
        }
    }

    fn stdin_usable(&self) -> Result<(), CommandError> {
        if !self.spec.stdin {
            return Err(CommandError::StdinNotEnabled);
        }
        if self.attach.stdin_closed {
            return Err(CommandError::StdinClosed);
        }
        if self.ended || self.exit.is_some() || self.stage >= Stage::Inspect {
            return Err(CommandError::Ended);
        }
        Ok(())
    }

    fn flush_stdin(&mut self) {
        let Some(id) = self.attach.id.filter(|_| self.attach.ready) else { return };
        while let Some(item) = self.attach.stdin.pop_front() {
            self.out.push_back(match item {
                Some(data) => Output::Write { id, data },
                None => Output::CloseWrite { id },
            });
        }
    }
}
