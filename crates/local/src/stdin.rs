//! Writing the process's stdin, in a task of its own.

use bytes::Bytes;
use cstream_driver_hyper::CommandError;
use cstream_driver_hyper::driver::Ack;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;

use crate::spawn::Input;

/// Stdin bytes to write (`None`: end of input), each acknowledged once done.
pub(crate) type StdinOp = (Option<Bytes>, Ack);

/// Writes stdin, in order, in a task of its own: a child that does not read
/// its stdin yet holds up this task only, never the reading of its output
/// (which it may be waiting on before it reads).
pub(crate) async fn write_input(input: Input, mut ops: mpsc::UnboundedReceiver<StdinOp>) {
    let mut input = Some(input);
    while let Some((op, ack)) = ops.recv().await {
        let result = match (input.as_mut(), op) {
            (None, _) => {
                ack.refuse(CommandError::StdinClosed);
                continue;
            }
            (Some(Input::Pipe(w)), Some(data)) => w.write_all(&data).await,
            (Some(Input::Pty(w)), Some(data)) => w.write_all(&data).await,
            (Some(Input::Pipe(_)), None) => {
                input = None;
                Ok(())
            }
            // A terminal has no end of file of its own: ^D, as a user would type it.
            (Some(Input::Pty(w)), None) => w.write_all(b"\x04").await,
        };
        ack.done(result);
    }
}

/// The stdin task, stopped when the run ends (a write may wait forever on a
/// pipe that something outside the process group holds open).
pub(crate) struct StdinTask(pub(crate) tokio::task::JoinHandle<()>);

impl Drop for StdinTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}
