//! One run's machine and the I/O it asks for, shared by the places that
//! move it: the consumer's poll of its [`Run`](crate::Run), which reads the
//! attach stream; each request's task, which hands its answer to the machine
//! itself ([`Inbox`]); and the run's task ([`task`](crate::task)), which
//! carries out the caller's commands, the timers, and the whole run once
//! the consumer is gone.
//!
//! Neither path has a hand-off between tasks: a read of the attach socket
//! is made by the consumer's own poll, fed to the machine, and its events
//! handed back from that same poll; a short request's answer is fed by the
//! task that read it, which wakes the consumer. A consumer that stops
//! polling stops the reads, and past [`EVENT_BUFFER`] events the answers.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cstream_proto_core::api::RequestKind;
use cstream_proto_core::{CommandFailed, CommandId, Event, Input, Lifecycle, Output, RequestId};
use tokio::io::ReadHalf;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::control::{Ack, Control, ResizeAck};
use crate::error::Error;
use crate::exchange::{Arrival, StdinOp, Upgraded, exchange};
use crate::known::Known;
use crate::pool::Pool;
use crate::transcript::Transcript;

/// Events the run may queue for a consumer that has not taken them; past
/// this no answer is taken until the consumer catches up.
pub(crate) const EVENT_BUFFER: usize = 16;

/// The smallest and largest read of the attach stream. A read that fills
/// its buffer doubles the next one, up to the largest; one that fills less
/// than a quarter halves it.
const READ_MIN: usize = 16 * 1024;
const READ_MAX: usize = 64 * 1024;

/// What both sides hold: the run, and a way to wake its task.
pub(crate) struct Shared {
    drive: Mutex<Drive>,
    /// Wakes the run's task: the deadline came sooner, the run is done, or
    /// the consumer is gone.
    pub(crate) task: Notify,
    /// Wakes the requests' tasks waiting to hand over an answer: there is
    /// room for events again, or the consumer is gone.
    pub(crate) room: Notify,
}

impl Shared {
    /// Shares `drive` and sends the machine's first requests.
    pub(crate) fn new(mut drive: Drive) -> Arc<Shared> {
        let shared = Arc::new_cyclic(|me| {
            drive.inbox = me.clone();
            Shared { drive: Mutex::new(drive), task: Notify::new(), room: Notify::new() }
        });
        shared.lock().drain();
        shared
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Drive> {
        self.drive.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes the run's task (see [`Drive::task_due`]). Called with the run
    /// unlocked, as every wake is: a task woken under the lock would find it
    /// held and sleep again on it.
    pub(crate) fn wake_task(&self) {
        self.task.notify_one();
    }
}

/// Where a request's task hands the answer it reads: straight to the run's
/// machine, under the run's lock, with no task in between. It waits while
/// the consumer has [`EVENT_BUFFER`] events to take, so a slow consumer
/// slows the engine's sockets.
#[derive(Clone)]
pub(crate) enum Inbox {
    Run(Weak<Shared>),
    #[cfg(test)]
    Channel(mpsc::Sender<Arrival>),
}

/// The run is over: nobody takes answers any more.
pub(crate) struct Closed;

impl Inbox {
    pub(crate) async fn send(&self, arrival: Arrival) -> Result<(), Closed> {
        let shared = match self {
            Inbox::Run(run) => run.upgrade().ok_or(Closed)?,
            #[cfg(test)]
            Inbox::Channel(tx) => return tx.send(arrival).await.map_err(|_| Closed),
        };
        loop {
            let room = shared.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            {
                let mut d = shared.lock();
                if d.done {
                    return Err(Closed);
                }
                if d.events.len() < EVENT_BUFFER || d.detached {
                    let upgraded = matches!(arrival, Arrival::Upgraded { .. });
                    d.arrive(arrival);
                    let consumer = (upgraded || d.done || !d.events.is_empty()).then(|| d.consumer.take()).flatten();
                    // Detached, the task reads the attach: it must see it.
                    let task = (upgraded && d.detached) || d.task_due();
                    // Woken with the run unlocked, so that they do not wait on it.
                    drop(d);
                    if let Some(w) = consumer {
                        w.wake();
                    }
                    if task {
                        shared.wake_task();
                    }
                    return Ok(());
                }
            }
            room.await;
        }
    }
}

/// The attach stream's read side, once upgraded.
struct Attach {
    id: RequestId,
    reader: ReadHalf<Upgraded>,
    buf: BytesMut,
    /// How much the next read asks for.
    want: usize,
}

/// A caller waiting for the machine's acknowledgement of a command.
enum Waiting {
    Stdin(Ack),
    Resize(ResizeAck),
}

/// One run: its machine, the requests it has out, and the events it made
/// that nobody has taken yet.
pub(crate) struct Drive {
    /// A container run's machine, or a swarm job's.
    machine: Box<dyn Lifecycle + Send>,
    start: Instant,
    pool: Arc<Pool>,
    known: Arc<Known>,
    runtime: tokio::runtime::Handle,
    /// This run, for its requests' tasks to hand their answers to.
    inbox: Weak<Shared>,
    requests: HashMap<RequestId, JoinHandle<()>>,
    attach: Option<Attach>,
    /// The attach's stdin writer, once upgraded.
    stdin: Option<(RequestId, mpsc::UnboundedSender<StdinOp>)>,
    /// The caller's commands the machine took, until it acknowledges them.
    commands: HashMap<CommandId, Waiting>,
    /// Made and not yet taken by the consumer.
    pub(crate) events: VecDeque<Result<Event, Error>>,
    /// The consumer's waker, while it waits.
    pub(crate) consumer: Option<Waker>,
    /// When the machine wants [`Machine::handle_timeout`].
    pub(crate) deadline: Option<Duration>,
    /// The deadline the run's task sleeps until (`None`: no deadline).
    pub(crate) task_sleeps_until: Option<Duration>,
    /// The machine is done: no more events, nothing left to do.
    pub(crate) done: bool,
    /// The consumer is gone: events are dropped, the run is torn down.
    pub(crate) detached: bool,
    transcript: Option<Transcript>,
}

impl Drive {
    pub(crate) fn new(
        machine: Box<dyn Lifecycle + Send>,
        pool: Arc<Pool>,
        known: Arc<Known>,
        runtime: tokio::runtime::Handle,
        transcript: Option<Transcript>,
    ) -> Drive {
        Drive {
            machine,
            start: Instant::now(),
            pool,
            known,
            runtime,
            inbox: Weak::new(),
            requests: HashMap::new(),
            attach: None,
            stdin: None,
            commands: HashMap::new(),
            events: VecDeque::new(),
            consumer: None,
            deadline: None,
            task_sleeps_until: None,
            done: false,
            detached: false,
            transcript,
        }
    }

    /// The run's task must wake: it sleeps past the machine's deadline, or
    /// the run is done. Otherwise it has nothing new to do.
    pub(crate) fn task_due(&self) -> bool {
        let sooner = self.deadline.is_some_and(|new| self.task_sleeps_until.is_none_or(|old| new < old));
        sooner || self.done
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    /// An answer, or part of one, arrived.
    pub(crate) fn arrive(&mut self, arrival: Arrival) {
        match arrival {
            Arrival::Input(input) => {
                // The request's task ends once it has told this: its handle,
                // which holds the finished task's memory, is let go now
                // rather than kept until the run ends.
                if let Input::End { id } | Input::Failed { id, .. } = &input {
                    self.requests.remove(id);
                }
                self.input(input)
            }
            // An attach the machine gave up meanwhile is dropped with its socket.
            Arrival::Upgraded { id, reader } if self.requests.contains_key(&id) => {
                self.attach = Some(Attach { id, reader, buf: BytesMut::new(), want: READ_MIN * 2 });
            }
            Arrival::Upgraded { .. } => {}
        }
    }

    fn input(&mut self, input: Input) {
        let now = self.now();
        if let Some(t) = &self.transcript {
            t.input(now, &input);
        }
        let learn = !matches!(input, Input::Body { .. });
        self.machine.handle_input(now, input);
        if learn {
            self.known.learn(&*self.machine);
        }
        self.drain();
    }

    pub(crate) fn timeout(&mut self) {
        let now = self.now();
        if let Some(t) = &self.transcript {
            t.timeout(now);
        }
        self.machine.handle_timeout(now);
        self.drain();
    }

    /// The consumer is gone: stop the process at once and clean up.
    pub(crate) fn detach(&mut self) {
        if self.detached {
            return;
        }
        self.detached = true;
        self.events.clear();
        self.consumer = None;
        let now = self.now();
        for _ in 0..2 {
            self.record(now, "cancel", None);
            self.machine.cancel(now);
        }
        self.drain();
    }

    fn record(&self, now: Duration, name: &str, data: Option<&Bytes>) {
        if let Some(t) = &self.transcript {
            t.command(now, name, data);
        }
    }

    pub(crate) fn command(&mut self, c: Control) {
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
                Ok(command) => {
                    self.commands.insert(command, Waiting::Resize(ack));
                }
                Err(e) => {
                    let _ = ack.send(Err(Error::Command(e)));
                }
            },
            Control::Stdin(op, ack) => {
                let result = match op {
                    Some(data) => self.machine.write_stdin(data),
                    None => self.machine.close_stdin(),
                };
                match result {
                    Ok(command) => {
                        self.commands.insert(command, Waiting::Stdin(ack));
                    }
                    Err(e) => ack.refuse(e),
                }
            }
        }
        self.drain();
    }

    /// Reads the attach stream once, if it is open and has bytes, and feeds
    /// what came to the machine. `Ready` when something was fed; `Pending`
    /// when there is nothing to read yet (the waker is registered with the
    /// socket if there is one).
    pub(crate) fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(attach) = &mut self.attach else { return Poll::Pending };
        if attach.buf.capacity() < attach.want {
            attach.buf.reserve(attach.want);
        }
        let asked = attach.buf.capacity() - attach.buf.len();
        let read = match tokio_util::io::poll_read_buf(Pin::new(&mut attach.reader), cx, &mut attach.buf) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(read) => read,
        };
        let id = attach.id;
        let input = match read {
            Ok(0) => {
                self.attach = None;
                Input::End { id }
            }
            Ok(n) => {
                attach.want = match n {
                    n if n == asked => (asked * 2).min(READ_MAX),
                    n if n < asked / 4 => (asked / 2).max(READ_MIN),
                    _ => asked,
                };
                Input::Body { id, data: attach.buf.split().freeze() }
            }
            Err(e) => {
                self.attach = None;
                Input::Failed { id, message: format!("output stream: {e}") }
            }
        };
        self.input(input);
        Poll::Ready(())
    }

    /// Acts on the machine's outputs until it is pending or done.
    pub(crate) fn drain(&mut self) {
        loop {
            let output = self.machine.poll_output();
            if let Some(t) = &self.transcript {
                t.output(&output);
            }
            match output {
                Output::Send { id, request } => {
                    // Stdin is queued for the attach from now, and written once it is upgraded.
                    let stdin = (request.kind == RequestKind::Upgrade).then(|| {
                        let (tx, rx) = mpsc::unbounded_channel();
                        self.stdin = Some((id, tx));
                        rx
                    });
                    let inbox = Inbox::Run(self.inbox.clone());
                    let task = self.runtime.spawn(exchange(self.pool.clone(), id, request, inbox, stdin));
                    self.requests.insert(id, task);
                }
                Output::Write { id, data, command } => self.stdin_op(id, command, Some(data)),
                Output::CloseWrite { id, command } => self.stdin_op(id, command, None),
                Output::Ack { command, result } => self.acknowledge(command, result),
                Output::Abort { id } => {
                    if let Some(task) = self.requests.remove(&id) {
                        task.abort();
                    }
                    if self.attach.as_ref().is_some_and(|a| a.id == id) {
                        self.attach = None;
                    }
                    if self.stdin.as_ref().is_some_and(|(s, _)| *s == id) {
                        self.stdin = None;
                    }
                }
                Output::Event(e) => self.deliver(Ok(e)),
                Output::Error(e) => self.deliver(Err(Error::Run(e))),
                Output::Pending { deadline } => {
                    self.deadline = deadline;
                    return;
                }
                Output::Done => {
                    self.done = true;
                    self.deadline = None;
                    self.attach = None;
                    self.stdin = None;
                    for (_, task) in self.requests.drain() {
                        task.abort();
                    }
                    return;
                }
            }
        }
    }

    fn deliver(&mut self, item: Result<Event, Error>) {
        if !self.detached {
            self.events.push_back(item);
        }
    }

    /// Hands the machine's acknowledgement of a command to its caller.
    fn acknowledge(&mut self, command: CommandId, result: Result<(), CommandFailed>) {
        let result = result.map_err(|e| match e {
            CommandFailed::Refused(why) => Error::Command(why),
            CommandFailed::Failed(e) => Error::Run(e),
        });
        match self.commands.remove(&command) {
            Some(Waiting::Stdin(ack)) => ack.answer(result),
            Some(Waiting::Resize(ack)) => {
                let _ = ack.send(result);
            }
            None => {}
        }
    }

    /// Stdin for the attach's writer; the write reports back as an input.
    /// A writer already gone has its attach ending: the machine refuses
    /// what was not written when it gives the attach up.
    fn stdin_op(&mut self, id: RequestId, command: CommandId, op: Option<Bytes>) {
        if let Some((sid, tx)) = &self.stdin
            && *sid == id
        {
            let _ = tx.send((op, command));
        }
    }

    /// The run was dropped unfinished (its runtime is shutting down): the
    /// container is removed over a blocking connection, and a consumer still
    /// waiting is told the stream has ended.
    pub(crate) fn abandon(&mut self) {
        if self.done {
            return;
        }
        crate::cleanup::remove_abandoned(&mut *self.machine, &self.pool);
        self.done = true;
        self.attach = None;
        self.stdin = None;
        if let Some(w) = self.consumer.take() {
            w.wake();
        }
    }
}
