//! A run as its caller holds it: the [`Stream`] of its events, the
//! commands it takes ([`RunHandle`]), and its result
//! ([`Run::output`], [`Run::wait`]). An engine run is moved by the stream's
//! own polls, which read the attach stream, and by the task beside it
//! ([`drive`](crate::drive), [`task`](crate::task)); another driver's run
//! comes over the channels [`pair`] makes.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{CommandError, Event, EventKind, TtySize};
use futures_core::Stream;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::control::{Ack, Control, RunDriver};
use crate::drive::{EVENT_BUFFER, Shared};
use crate::error::Error;
use crate::output::{Collector, ExitStatus, Output as RunOutput, RunError};

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
    events: Events,
    control: mpsc::UnboundedSender<Control>,
    /// The container's id, once `ContainerCreate` went by.
    container_id: Option<String>,
    /// The run's id, for the runs that label what they make with it.
    run_id: Option<String>,
}

/// Where a run's events come from.
enum Events {
    /// Another driver's task, over a channel.
    Channel(mpsc::Receiver<Result<Event, Error>>),
    /// The engine's run itself, moved by this stream's polls (see
    /// [`drive`](crate::drive)).
    Engine(Arc<Shared>),
}

/// A run and its driver's side, connected: the engine's task drives one,
/// and so can other drivers (the local-process driver), whose users then get
/// the same [`Run`].
pub fn pair() -> (Run, RunDriver) {
    let (events_tx, events) = mpsc::channel(EVENT_BUFFER);
    let (control, control_rx) = mpsc::unbounded_channel();
    let run = Run { events: Events::Channel(events), control, container_id: None, run_id: None };
    (run, RunDriver { events: events_tx, control: control_rx })
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run").finish_non_exhaustive()
    }
}

impl Run {
    /// A run that failed before it began: its stream yields `error` and ends.
    pub(crate) fn failed(error: Error) -> Run {
        let (events_tx, events) = mpsc::channel(1);
        let (control, _) = mpsc::unbounded_channel();
        let _ = events_tx.try_send(Err(error));
        Run { events: Events::Channel(events), control, container_id: None, run_id: None }
    }

    /// An engine run, driven by this stream's polls and by the task beside it.
    pub(crate) fn engine(shared: Arc<Shared>, control: mpsc::UnboundedSender<Control>, run_id: Option<String>) -> Run {
        Run { events: Events::Engine(shared), control, container_id: None, run_id }
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

    /// The run's id, known from the start: the `io.cstream.run` label of the
    /// container (or swarm service) it makes, and what
    /// [`Engine::resume`](crate::Engine::resume) takes should this client
    /// die. `None` for local runs and exec steps, which label nothing.
    pub fn run_id(&self) -> Option<&str> {
        self.run_id.as_deref()
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
    ///
    /// Read the stream meanwhile (from another task, or with `select!`):
    /// the run moves only as its events are taken, so a write awaited while
    /// nobody reads can wait for ever once a few events (a pull's progress,
    /// output) are waiting to be read.
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
    ///
    /// Read the stream meanwhile (from another task, or with `select!`):
    /// the run moves only as its events are taken, so a write awaited while
    /// nobody reads can wait for ever once a few events (a pull's progress,
    /// output) are waiting to be read.
    pub async fn write_stdin(&self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.stdin(Some(data.into())).await
    }

    /// Closes the process's stdin.
    pub async fn close_stdin(&self) -> Result<(), Error> {
        self.stdin(None).await
    }

    async fn stdin(&self, op: Option<Bytes>) -> Result<(), Error> {
        let (ack, done) = Ack::new();
        self.control.send(Control::Stdin(op, ack)).map_err(|_| Error::Command(CommandError::Ended))?;
        done.await.map_err(|_| Error::Command(CommandError::Ended))?
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

impl Stream for Run {
    type Item = Result<Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let item = match &mut self.events {
            Events::Channel(rx) => rx.poll_recv(cx),
            Events::Engine(shared) => poll_engine(shared, cx),
        };
        if let Poll::Ready(Some(Ok(Event { kind: EventKind::ContainerCreate { id, .. }, .. }))) = &item {
            self.container_id = Some(id.clone());
        }
        item
    }
}

/// The next event of an engine run: one waiting, or one read from the attach
/// stream here and now.
fn poll_engine(shared: &Shared, cx: &mut Context<'_>) -> Poll<Option<Result<Event, Error>>> {
    let (mut task, mut room) = (false, false);
    let next = {
        let mut d = shared.lock();
        loop {
            if let Some(item) = d.events.pop_front() {
                room = d.events.len() + 1 == EVENT_BUFFER;
                break Poll::Ready(Some(item));
            }
            if d.done {
                break Poll::Ready(None);
            }
            match d.poll_read(cx) {
                Poll::Ready(()) => task |= d.task_due(),
                Poll::Pending => {
                    if !d.consumer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                        d.consumer = Some(cx.waker().clone());
                    }
                    break Poll::Pending;
                }
            }
        }
    };
    // Woken with the run unlocked, so that they do not wait on it.
    if task {
        shared.wake_task();
    }
    if room {
        shared.room.notify_waiters();
    }
    next
}

/// Dropping an engine run mid-way kills its process at once and leaves the
/// cleanup to the task beside it.
impl Drop for Run {
    fn drop(&mut self) {
        if let Events::Engine(shared) = &self.events {
            let mut d = shared.lock();
            if !d.done {
                d.detach();
                drop(d);
                shared.task.notify_one();
                shared.room.notify_waiters();
            }
        }
    }
}
