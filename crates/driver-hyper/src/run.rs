//! A run in progress: the stream of its events, the commands it takes, and
//! the task that drives the machine.
//!
//! The task owns the machine and drains it in the contract's order. Answers
//! come back from one task per request over a bounded channel, and events go
//! to the consumer over another, so a slow consumer slows the reading of the
//! engine's sockets and nothing between them grows without bound.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{
    CommandError, Event, EventKind, Input, Machine, Output, RequestId, RunInfo, RunSpec, TtySize,
};
use futures_core::Stream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::engine::Engine;
use crate::error::Error;
use crate::exchange::{StdinOp, exchange};
use crate::output::{Collector, ExitStatus, Output as RunOutput, RunError};
use crate::transcript::Transcript;

/// Events waiting for the consumer, at most.
const EVENT_BUFFER: usize = 16;
/// Engine answers waiting for the machine, at most.
const INPUT_BUFFER: usize = 4;

/// Answers a stdin write or close: `Ok` once done. Refuse with [`refuse`].
pub type Ack = oneshot::Sender<std::io::Result<()>>;
/// Answers a resize: `Ok` once applied.
pub type ResizeAck = oneshot::Sender<Result<(), Error>>;

/// A caller's command, as a driver receives it through [`RunDriver`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Control {
    /// Cancel the run (a second time: kill at once).
    Cancel,
    /// Write these bytes to stdin (`Some`), or close it (`None`).
    Stdin(Option<Bytes>, Ack),
    /// Set the terminal size.
    Resize(TtySize, ResizeAck),
}

/// Refuses a stdin command, so the caller gets `Error::Command(e)`.
pub fn refuse(ack: Ack, e: CommandError) {
    let _ = ack.send(Err(std::io::Error::other(CommandErrorBox(e))));
}

/// The driver's side of a [`Run`]: where its events go, and where the
/// caller's commands come from. Drivers other than the engine drivers (the
/// local-process driver) use it to give users the same `Run`.
#[derive(Debug)]
pub struct RunDriver {
    /// Events and errors for the caller, in order; bounded, so sending waits
    /// for a slow consumer. A send that fails means the caller dropped the run.
    pub events: mpsc::Sender<Result<Event, Error>>,
    /// The caller's commands; `None` once the caller dropped the run.
    pub control: mpsc::UnboundedReceiver<Control>,
}

/// A run in progress: a [`Stream`] of its events, in order, that ends after
/// the last one (for a container run, `ContainerRemove`).
///
/// For the result rather than the stream, [`output`](Self::output) collects
/// the output and how the process ended, and [`wait`](Self::wait) how it
/// ended, as `std::process` does for a child.
///
/// # An error is not the end of the stream
///
/// An `Err` item says something went wrong (output cut short, the engine
/// gone, an exit in doubt, the container not removed), and the run goes on
/// after it: it still stops the process, reports `ProcessEnd` when it can,
/// and removes the container. So do not leave the loop on the first error:
/// `event?` returns from your function and drops the run, and dropping a run
/// kills the process at once (SIGKILL, no stop signal, no grace period) and
/// reports no `ProcessEnd`; the container is still removed, unseen. Keep the
/// errors and read on until the stream ends:
///
/// ```no_run
/// # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
/// use cstream_driver_hyper::{EventKind, RunSpec};
/// use futures_util::StreamExt;
///
/// let mut run = engine.run(RunSpec::builder("alpine:3.20").command(["make"]).build()?);
/// let mut errors = Vec::new();
/// let mut code = None;
/// while let Some(item) = run.next().await {
///     match item {
///         Ok(event) => match event.kind {
///             EventKind::Output { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
///             EventKind::ProcessEnd(end) => code = end.exit_code,
///             _ => {}
///         },
///         // Not the end: the run goes on stopping and cleaning up.
///         Err(e) => errors.push(e),
///     }
/// }
/// // The stream has ended: the run is over and the container gone.
/// if !errors.is_empty() {
///     return Err(format!("the run failed: {errors:?} (exit code {code:?})").into());
/// }
/// # Ok(()) }
/// ```
///
/// To stop a run, [`cancel`](Self::cancel) it and read on: the stop signal,
/// the grace period, then SIGKILL, and `ProcessEnd { reason: Cancelled }`.
/// Dropping the stream cancels the run as described above: the run's task
/// removes the container without anyone polling.
pub struct Run {
    events: mpsc::Receiver<Result<Event, Error>>,
    control: mpsc::UnboundedSender<Control>,
    /// The container's id, once `ContainerCreate` went by.
    container_id: Option<String>,
}

/// A run and its driver's side, connected: for drivers other than the engine
/// drivers (the local-process driver), so that their users get the same
/// [`Run`].
pub fn pair() -> (Run, RunDriver) {
    let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
    let (control, control_rx) = mpsc::unbounded_channel();
    (Run { events, control, container_id: None }, RunDriver { events: events_tx, control: control_rx })
}

/// What a run outside a Tokio runtime panics with.
pub(crate) const NO_RUNTIME: &str = "cstream: starting a run needs a Tokio runtime, for the task that drives it: \
    start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").finish_non_exhaustive()
    }
}

impl Run {
    /// Starts the task that drives the run, on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, with [`NO_RUNTIME`]'s message.
    pub(crate) fn spawn(engine: Engine, spec: RunSpec, run: RunInfo, transcript: Option<Transcript>) -> Run {
        let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
        let (control, control_rx) = mpsc::unbounded_channel();
        let machine = match (engine.info(), engine.pinned_api_version()) {
            (Some(info), _) => Machine::with_engine(spec, run, info.clone(), Duration::ZERO),
            (None, Some(pinned)) => Machine::with_api_version(spec, run, pinned, Duration::ZERO),
            (None, None) => Machine::new(spec, run, Duration::ZERO),
        };
        let task = Task {
            machine,
            engine,
            start: Instant::now(),
            events: events_tx,
            detached: false,
            requests: HashMap::new(),
            stdin: None,
            acks: VecDeque::new(),
            transcript,
            resizes: HashMap::new(),
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { panic!("{NO_RUNTIME}") };
        runtime.spawn(task.run(control_rx));
        Run { events, control, container_id: None }
    }

    /// A run that failed before it began: its stream yields `error` and ends.
    pub(crate) fn failed(error: Error) -> Run {
        let (events_tx, events) = mpsc::channel(1);
        let (control, _) = mpsc::unbounded_channel();
        let _ = events_tx.try_send(Err(error));
        Run { events, control, container_id: None }
    }

    /// Reads the run to its end and returns how the process ended and
    /// everything it wrote, as [`std::process::Command::output`] does.
    ///
    /// Any error item makes it an `Err`, even when the process exited 0:
    /// output cut short, an exit the engine could not report, a container
    /// that could not be removed all leave the result in doubt. The
    /// [`RunError`] carries every error, how the process ended when that is
    /// known, and the output as far as it arrived. A run whose process exits
    /// non-zero is an `Ok`: check [`status.success()`](ExitStatus::success).
    /// Events already read from the stream are not in the result.
    ///
    /// The output is held in memory, whatever its size: for a process that
    /// writes a lot, read the stream instead. Dropping the future drops the
    /// run (see [`Run`]: killed at once).
    ///
    /// ```no_run
    /// # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
    /// use cstream_driver_hyper::RunSpec;
    ///
    /// let spec = RunSpec::builder("alpine:3.20").command(["sh", "-c", "echo hi; exit 3"]).build()?;
    /// let out = engine.run(spec).output().await?;
    /// assert_eq!(out.stdout, b"hi\n");
    /// assert_eq!(out.status.code(), Some(3));
    /// assert!(!out.status.success());
    /// # Ok(()) }
    /// ```
    pub async fn output(self) -> Result<RunOutput, RunError> {
        self.collect(Collector::new(true)).await
    }

    /// Reads the run to its end, dropping its output, and returns how the
    /// process ended, as [`std::process::Child::wait`] does. Any error item
    /// makes it an `Err`, as for [`output`](Self::output).
    pub async fn wait(self) -> Result<ExitStatus, RunError> {
        self.collect(Collector::new(false)).await.map(|o| o.status)
    }

    async fn collect(mut self, mut into: Collector) -> Result<RunOutput, RunError> {
        while let Some(item) = std::future::poll_fn(|cx| Pin::new(&mut self).poll_next(cx)).await {
            into.push(item);
        }
        into.finish(self.container_id.take())
    }

    /// The container's id, once this stream has yielded `ContainerCreate`:
    /// `None` before (it is set as the event is read, not when the engine
    /// answers, so it never runs ahead of the stream), and always for local
    /// runs. It stays set after the container is removed.
    pub fn container_id(&self) -> Option<&str> {
        self.container_id.as_deref()
    }

    /// A handle for commands (cancel, stdin, resize) that can be cloned and
    /// used while the stream is being read.
    pub fn handle(&self) -> RunHandle {
        RunHandle { control: self.control.clone() }
    }

    /// Cancels the run: the stop signal, the grace period, then SIGKILL,
    /// then the container is removed. Calling it again kills at once.
    pub fn cancel(&self) {
        self.handle().cancel();
    }

    /// Writes to the process's stdin; returns once the bytes are written to
    /// the engine (the run's spec must ask for stdin).
    pub async fn write_stdin(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.handle().write_stdin(data).await
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&self) -> Result<(), Error> {
        self.handle().close_stdin().await
    }

    /// Sets the terminal size (the run's spec must ask for a tty).
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), Error> {
        self.handle().resize(cols, rows).await
    }

    /// Waits, at most `timeout`, until the containers of runs whose tasks
    /// were dropped mid-run are removed; `true` when none is left to remove.
    ///
    /// A run's task that is dropped before its run ended (its runtime shut
    /// down) removes the container over a blocking connection, off the
    /// runtime's threads and beside the others. Dropping a runtime waits for
    /// those removals; `Runtime::shutdown_timeout` and
    /// `Runtime::shutdown_background` do not, and on a current-thread runtime
    /// they leave them to detached threads: call this before the process
    /// exits, or the containers may stay (for `gc`).
    pub fn wait_for_cleanup(timeout: Duration) -> bool {
        crate::cleanup::wait(timeout)
    }
}

/// Commands for a run, usable from other tasks while its stream is read.
#[derive(Clone)]
pub struct RunHandle {
    control: mpsc::UnboundedSender<Control>,
}

impl std::fmt::Debug for RunHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunHandle").finish_non_exhaustive()
    }
}

impl RunHandle {
    /// Cancels the run: the stop signal, the grace period, then SIGKILL,
    /// then the container is removed. Calling it again kills at once.
    pub fn cancel(&self) {
        let _ = self.control.send(Control::Cancel);
    }

    /// Writes to the process's stdin; returns once the bytes are written to
    /// the engine (the run's spec must ask for stdin).
    pub async fn write_stdin(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.stdin(Some(data.into())).await
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&self) -> Result<(), Error> {
        self.stdin(None).await
    }

    async fn stdin(&self, op: Option<Bytes>) -> Result<(), Error> {
        let (ack, done) = oneshot::channel();
        self.control.send(Control::Stdin(op, ack)).map_err(|_| Error::Command(CommandError::Ended))?;
        match done.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Other => Err(command_error(&e)),
            Ok(Err(e)) => Err(Error::Run(cstream_proto_core::Error::Transport {
                phase: cstream_proto_core::Phase::Attach,
                message: format!("writing stdin: {e}"),
            })),
            Err(_) => Err(Error::Command(CommandError::Ended)),
        }
    }

    /// Sets the terminal size (the run's spec must ask for a tty); returns
    /// once the engine has applied it (or, before the process runs, once it
    /// is set to be applied at start).
    pub async fn resize(&self, cols: u16, rows: u16) -> Result<(), Error> {
        let (ack, done) = oneshot::channel();
        self.control
            .send(Control::Resize(TtySize { cols, rows }, ack))
            .map_err(|_| Error::Command(CommandError::Ended))?;
        done.await.map_err(|_| Error::Command(CommandError::Ended))?
    }
}

/// Command errors travel through the stdin acknowledgement as `io::Error`s.
fn command_error(e: &std::io::Error) -> Error {
    let kind = e.get_ref().and_then(|inner| inner.downcast_ref::<CommandErrorBox>()).map(|b| b.0);
    Error::Command(kind.unwrap_or(CommandError::Ended))
}

#[derive(Debug)]
struct CommandErrorBox(CommandError);

impl std::fmt::Display for CommandErrorBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for CommandErrorBox {}

impl Stream for Run {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = self.events.poll_recv(cx);
        if let Poll::Ready(Some(Ok(Event { kind: EventKind::ContainerCreate { id, .. }, .. }))) = &item {
            self.container_id = Some(id.clone());
        }
        item
    }
}

struct Task {
    machine: Machine,
    engine: Engine,
    start: Instant,
    events: mpsc::Sender<Result<Event, Error>>,
    /// The consumer is gone: events are dropped, the run is being torn down.
    detached: bool,
    requests: HashMap<RequestId, JoinHandle<()>>,
    /// The attach's stdin writer, once sent.
    stdin: Option<(RequestId, mpsc::UnboundedSender<StdinOp>)>,
    /// Acknowledgements for stdin operations, in the order the machine will output them.
    acks: VecDeque<Ack>,
    transcript: Option<Transcript>,
    /// Resizes sent for the caller, acknowledged when the engine answers.
    /// With the status of their answer, once it came.
    resizes: HashMap<RequestId, (Option<u16>, ResizeAck)>,
}

impl Task {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Checks what only the engine's host can tell, before anything is created.
    async fn preflight(&self) -> Result<(), Error> {
        let Some(millis) = self.machine.spec().cpu_millis() else { return Ok(()) };
        let host = self.engine.host_cpus().await?;
        if millis > host * 1000 {
            let value = format!("{} CPUs, on a host with {host}", millis as f64 / 1000.0);
            let why = "is more than the engine's host has";
            return Err(Error::Spec(cstream_proto_core::SpecError::Invalid { field: "CPU limit", value, why }));
        }
        Ok(())
    }

    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
        if let Err(e) = self.preflight().await {
            self.deliver(Err(e)).await;
            return;
        }
        let (inputs_tx, mut inputs) = mpsc::channel::<Input>(INPUT_BUFFER);
        let mut control_open = true;
        loop {
            let deadline = match self.drain(&inputs_tx).await {
                Some(deadline) => deadline,
                None => break,
            };
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(self.start + d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(input) = inputs.recv() => {
                    let now = self.now();
                    if let Some(t) = &self.transcript {
                        t.input(now, &input);
                    }
                    self.resize_answered(&input);
                    self.machine.handle_input(now, input);
                }
                () = sleep => {
                    let now = self.now();
                    if let Some(t) = &self.transcript {
                        t.timeout(now);
                    }
                    self.machine.handle_timeout(now);
                }
                c = control.recv(), if control_open => match c {
                    Some(c) => self.command(c),
                    None => {
                        control_open = false;
                        self.detach();
                    }
                },
                () = self.events.closed(), if !self.detached => self.detach(),
            }
        }
        for (_, task) in self.requests.drain() {
            task.abort();
        }
    }

    /// The consumer is gone: stop the process at once and clean up.
    fn detach(&mut self) {
        if !self.detached {
            self.detached = true;
            let now = self.now();
            self.record(now, "cancel", None);
            self.machine.cancel(now);
            self.record(now, "cancel", None);
            self.machine.cancel(now);
        }
    }

    fn record(&self, now: Duration, name: &str, data: Option<&Bytes>) {
        if let Some(t) = &self.transcript {
            t.command(now, name, data);
        }
    }

    fn command(&mut self, c: Control) {
        let now = self.now();
        match &c {
            Control::Cancel => self.record(now, "cancel", None),
            Control::Stdin(Some(data), _) => self.record(now, "stdin", Some(data)),
            Control::Stdin(None, _) => self.record(now, "close_stdin", None),
            Control::Resize(..) => {}
        }
        match c {
            Control::Cancel => self.machine.cancel(now),
            Control::Resize(size, ack) => match self.machine.resize(now, size) {
                Ok(Some(id)) => {
                    self.resizes.insert(id, (None, ack));
                }
                Ok(None) => {
                    let _ = ack.send(Ok(()));
                }
                Err(e) => {
                    let _ = ack.send(Err(Error::Command(e)));
                }
            },
            Control::Stdin(op, ack) => {
                let result = match &op {
                    Some(data) => self.machine.write_stdin(data.clone()),
                    None => self.machine.close_stdin(),
                };
                match result {
                    Ok(()) => self.acks.push_back(ack),
                    Err(e) => refuse(ack, e),
                }
            }
        }
    }

    /// Acts on the machine's outputs until it is pending (its deadline) or done (`None`).
    async fn drain(&mut self, inputs: &mpsc::Sender<Input>) -> Option<Option<Duration>> {
        loop {
            let output = self.machine.poll_output();
            if let Some(t) = &self.transcript {
                t.output(&output);
            }
            match output {
                Output::Send { id, request } => {
                    let stdin = match request.kind {
                        cstream_proto_core::api::RequestKind::Upgrade => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            self.stdin = Some((id, tx));
                            Some(rx)
                        }
                        _ => None,
                    };
                    let task = tokio::spawn(exchange(self.engine.pool(), id, request, inputs.clone(), stdin));
                    self.requests.insert(id, task);
                }
                Output::Write { id, data } => self.stdin_op(id, Some(data)),
                Output::CloseWrite { id } => self.stdin_op(id, None),
                Output::Abort { id } => {
                    if let Some(task) = self.requests.remove(&id) {
                        task.abort();
                    }
                    if self.stdin.as_ref().is_some_and(|(s, _)| *s == id) {
                        self.stdin = None;
                        self.acks.clear();
                    }
                }
                Output::Event(e) => self.deliver(Ok(e)).await,
                Output::Error(e) => self.deliver(Err(Error::Run(e))).await,
                Output::Pending { deadline } => return Some(deadline),
                Output::Done => return None,
            }
        }
    }

    /// Acknowledges a caller's resize once its answer is complete.
    fn resize_answered(&mut self, input: &Input) {
        match input {
            Input::Head { id, status, .. } => {
                if let Some((s, _)) = self.resizes.get_mut(id) {
                    *s = Some(*status);
                }
            }
            Input::End { id } | Input::Failed { id, .. } => {
                if let Some((status, ack)) = self.resizes.remove(id) {
                    let result = match (input, status) {
                        (Input::End { .. }, Some(200..=299)) => Ok(()),
                        (Input::Failed { message, .. }, _) => Err(Error::Run(cstream_proto_core::Error::Transport {
                            phase: cstream_proto_core::Phase::Resize,
                            message: message.clone(),
                        })),
                        (_, status) => Err(Error::Run(cstream_proto_core::Error::Engine {
                            phase: cstream_proto_core::Phase::Resize,
                            status: status.unwrap_or(0),
                            message: "the engine refused the terminal size".into(),
                        })),
                    };
                    let _ = ack.send(result);
                }
            }
            Input::Body { .. } => {}
        }
    }

    fn stdin_op(&mut self, id: RequestId, op: Option<Bytes>) {
        let ack = self.acks.pop_front();
        match &self.stdin {
            Some((sid, tx)) if *sid == id => {
                let _ = tx.send((op, ack));
            }
            _ => {
                if let Some(ack) = ack {
                    refuse(ack, CommandError::Ended);
                }
            }
        }
    }

    async fn deliver(&mut self, item: Result<Event, Error>) {
        if self.detached {
            return;
        }
        if self.events.send(item).await.is_err() {
            self.detach();
        }
    }
}

/// The task was dropped before its run finished: the runtime is shutting
/// down, or the task panicked. No async I/O is possible any more, so the
/// container is removed over a blocking connection, waiting at most a few
/// seconds, off the runtime's threads and beside the removals of the other
/// runs dropped with it (see [`Run::wait_for_cleanup`]).
impl Drop for Task {
    fn drop(&mut self) {
        if self.machine.is_done() || self.machine.spec().keep() {
            return;
        }
        let (Some(id), Some(engine)) = (self.machine.container_id(), self.machine.engine()) else { return };
        let req = cstream_proto_core::api::requests::remove(engine.api, id);
        let id = id.to_string();
        let pool = self.engine.pool();
        crate::cleanup::in_background(move || {
            match crate::cleanup::blocking_call(pool.connector(), &req, Duration::from_secs(5)) {
                Ok(status) => tracing::debug!("removed container {id} while shutting down: HTTP {status}"),
                Err(e) => tracing::warn!("could not remove container {id} while shutting down: {e}; `gc` will"),
            }
        });
    }
}
