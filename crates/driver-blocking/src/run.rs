//! The run loop: the machine's outputs acted on in order, its inputs
//! gathered from the request threads on one channel.

use std::collections::HashMap;
use std::io::Write;
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::{CommandError, CommandId, Error, Event, Input, Machine, Output, RequestId, RunInfo, RunSpec};

use crate::{Core, http};

/// Inputs waiting for the loop, at most: a consumer that stops reading
/// events stops the request threads reading the engine.
const INPUT_BUFFER: usize = 8;

/// What the loop waits for.
enum Msg {
    /// An answer from the engine, from a request's thread.
    Input(Input),
    /// From a [`Canceller`]: look at its count.
    Wake,
}

impl From<Input> for Msg {
    fn from(input: Input) -> Self {
        Msg::Input(input)
    }
}

/// One run: an [`Iterator`] of its events and errors, in order. The work is
/// done inside [`next`](Iterator::next), on the caller's thread; an error
/// does not end the run, which goes on cleaning up, so iterate to the end.
///
/// Dropping an unfinished run cancels it, killing at once, and finishes it
/// there and then, so its container is removed (bounded by the machine's
/// limits if the engine does not answer).
pub struct Run<M: Core> {
    machine: M,
    socket: PathBuf,
    start: Instant,
    tx: SyncSender<Msg>,
    rx: Receiver<Msg>,
    /// Cancels asked for by [`Canceller`]s, not yet acted on.
    cancels: Arc<AtomicUsize>,
    /// The connection of each open request, to close it.
    conns: HashMap<RequestId, UnixStream>,
    /// The stdin writer of the attach, once it has something to write.
    writers: HashMap<RequestId, Sender<(CommandId, Option<Bytes>)>>,
    /// Why the run was refused before anything was sent.
    refused: Option<Error>,
    done: bool,
}

/// Cancels a [`Run`] from another thread, without blocking; the run acts on
/// it when it next waits for input.
#[derive(Clone, Debug)]
pub struct Canceller {
    cancels: Arc<AtomicUsize>,
    wake: SyncSender<Msg>,
}

impl Canceller {
    /// Cancels the run: the stop signal, the grace period, SIGKILL; again
    /// kills at once. Does nothing once the run is over.
    pub fn cancel(&self) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
        // A full buffer means the run has inputs to take, and looks at the count after each.
        let _ = self.wake.try_send(Msg::Wake);
    }
}

impl Run<Machine> {
    /// Runs `spec` on the engine at the Unix socket `socket`, with
    /// proto-core's machine.
    ///
    /// The engine is on this host, so bind-mount sources are checked first
    /// ([`RunSpec::check_mount_sources`]): a missing one is the run's only
    /// item, and nothing is created.
    pub fn start(socket: impl Into<PathBuf>, spec: RunSpec, run: RunInfo) -> Self {
        let refused = spec.check_mount_sources(|source| Path::new(source).exists()).err();
        let mut this = Run::new(socket, Machine::new(spec, run, Duration::ZERO));
        this.refused = refused.map(Error::Spec);
        this
    }
}

impl<M: Core> Run<M> {
    /// Drives `machine`, made just now at time zero, against the engine at
    /// the Unix socket `socket`.
    pub fn new(socket: impl Into<PathBuf>, machine: M) -> Self {
        let (tx, rx) = sync_channel(INPUT_BUFFER);
        let (socket, start, conns, writers) = (socket.into(), Instant::now(), HashMap::new(), HashMap::new());
        let cancels = Arc::new(AtomicUsize::new(0));
        Run { machine, socket, start, tx, rx, cancels, conns, writers, refused: None, done: false }
    }

    /// A handle that cancels this run from another thread.
    pub fn canceller(&self) -> Canceller {
        Canceller { cancels: self.cancels.clone(), wake: self.tx.clone() }
    }

    /// Cancels the run (between two events, on this thread).
    pub fn cancel(&mut self) {
        let now = self.now();
        self.machine.cancel(now);
    }

    /// Writes to the process's stdin (the spec must ask for stdin); the bytes
    /// go out while the run is iterated.
    pub fn write_stdin(&mut self, data: impl Into<Bytes>) -> Result<(), CommandError> {
        self.machine.write_stdin(data.into())
    }

    /// Closes the process's stdin.
    pub fn close_stdin(&mut self) -> Result<(), CommandError> {
        self.machine.close_stdin()
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    fn send(&mut self, id: RequestId, request: &Request) {
        let reader = http::send(&self.socket, request).and_then(|s| Ok((s.try_clone()?, s)));
        match reader {
            Ok((reader, conn)) => {
                self.conns.insert(id, conn);
                let (upgrade, tx) = (request.kind == RequestKind::Upgrade, self.tx.clone());
                std::thread::spawn(move || http::read_answer(id, reader, upgrade, tx));
            }
            Err(e) => {
                let message = format!("{}: {e}", self.socket.display());
                let now = self.now();
                self.machine.input(now, Input::Failed { id, message });
            }
        }
    }

    /// Stdin on the attach's connection, written by a thread of its own so
    /// that a process that does not read its stdin cannot stop this loop
    /// reading its output. Each write (or close) is reported back to the
    /// machine as [`Input::Written`].
    fn write(&mut self, id: RequestId, command: CommandId, data: Option<Bytes>) {
        if !self.writers.contains_key(&id) {
            let Some(mut conn) = self.conns.get(&id).and_then(|c| c.try_clone().ok()) else { return };
            let (tx, rx) = channel::<(CommandId, Option<Bytes>)>();
            let inputs = self.tx.clone();
            std::thread::spawn(move || {
                for (command, op) in rx {
                    let written = match op {
                        Some(data) => conn.write_all(&data),
                        None => conn.shutdown(Shutdown::Write),
                    };
                    let result = written.map_err(|e| e.to_string());
                    let failed = result.is_err();
                    if inputs.send(Msg::Input(Input::Written { command, result })).is_err() || failed {
                        return;
                    }
                }
            });
            self.writers.insert(id, tx);
        }
        if let Some(writer) = self.writers.get(&id) {
            let _ = writer.send((command, data));
        }
    }

    /// Waits for an input until `deadline`, and feeds the machine.
    fn wait(&mut self, deadline: Option<Duration>) {
        let msg = match deadline {
            Some(d) => self.rx.recv_timeout(d.saturating_sub(self.now())).ok(),
            // The run holds a sender itself, so this ends only with a message.
            None => self.rx.recv().ok(),
        };
        let now = self.now();
        match msg {
            Some(Msg::Input(input)) => {
                if let Input::End { id } | Input::Failed { id, .. } = &input {
                    self.conns.remove(id);
                }
                self.machine.input(now, input);
            }
            Some(Msg::Wake) => {}
            None => self.machine.timeout(now),
        }
        for _ in 0..self.cancels.swap(0, Ordering::SeqCst) {
            self.machine.cancel(now);
        }
    }
}

impl<M: Core> Iterator for Run<M> {
    type Item = Result<Event, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.refused.take() {
            self.done = true;
            return Some(Err(e));
        }
        while !self.done {
            match self.machine.poll() {
                Output::Send { id, request } => self.send(id, &request),
                Output::Write { id, data, command } => self.write(id, command, Some(data)),
                Output::CloseWrite { id, command } => self.write(id, command, None),
                // Stdin is written as the run is iterated, and its failures
                // show as the attach's end: no caller waits for these.
                Output::Ack { .. } => {}
                Output::Abort { id } => {
                    self.writers.remove(&id);
                    if let Some(conn) = self.conns.remove(&id) {
                        // Its thread reads the end and goes.
                        let _ = conn.shutdown(Shutdown::Both);
                    }
                }
                Output::Event(e) => return Some(Ok(e)),
                Output::Error(e) => return Some(Err(e)),
                Output::Pending { deadline } => self.wait(deadline),
                Output::Done => {
                    self.done = true;
                    self.writers.clear();
                    for (_, conn) in self.conns.drain() {
                        let _ = conn.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        None
    }
}

impl<M: Core> Drop for Run<M> {
    fn drop(&mut self) {
        if !self.done {
            self.cancel();
            self.cancel();
            while self.next().is_some() {}
        }
    }
}
