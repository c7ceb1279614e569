//! The caller's commands as a driver receives them, and their answers: the
//! driver's side of a [`Run`](crate::Run), shared by the engine task and
//! other drivers (the local-process driver).

use bytes::Bytes;
use cstream_proto_core::{CommandError, Event, TtySize};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;

/// Answers one stdin write or close: [`done`](Self::done) with how the
/// write went, or [`refuse`](Self::refuse) with why it was not tried. The
/// caller gets a refusal as [`Error::Command`] and a failed write as the
/// core's transport error, each carried as itself.
#[derive(Debug)]
pub struct Ack(oneshot::Sender<Result<(), Error>>);

impl Ack {
    /// An acknowledgement and where the caller awaits it.
    pub(crate) fn new() -> (Ack, oneshot::Receiver<Result<(), Error>>) {
        let (tx, rx) = oneshot::channel();
        (Ack(tx), rx)
    }

    /// The write (or close) was tried: `Ok` once done, else the I/O error.
    pub fn done(self, result: std::io::Result<()>) {
        let _ = self.0.send(result.map_err(|e| Error::stdin_write(&e)));
    }

    /// The command was not tried, for `why`.
    pub fn refuse(self, why: CommandError) {
        let _ = self.0.send(Err(Error::Command(why)));
    }

    /// The answer the machine gave ([`Output::Ack`](cstream_proto_core::Output::Ack)).
    pub(crate) fn answer(self, result: Result<(), Error>) {
        let _ = self.0.send(result);
    }
}

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

/// The driver's side of a [`Run`](crate::Run): where its events go, and
/// where the caller's commands come from. Made by [`pair`](crate::driver::pair).
#[derive(Debug)]
pub struct RunDriver {
    /// Events and errors for the caller, in order; bounded, so sending waits
    /// for a slow consumer. A send that fails means the caller dropped the run.
    pub events: mpsc::Sender<Result<Event, Error>>,
    /// The caller's commands; `None` once the caller dropped the run.
    pub control: mpsc::UnboundedReceiver<Control>,
}
