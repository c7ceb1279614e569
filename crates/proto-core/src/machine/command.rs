//! The caller's commands that take time (stdin writes, its close, resizes):
//! their ids, and how each is acknowledged ([`Output::Ack`](super::Output::Ack)).
//!
//! The machine decides when a command is done, so that every driver
//! acknowledges the same way: a stdin write or close when the driver says
//! it was written ([`Input::Written`](super::Input::Written)), a resize when
//! its answer is complete (2xx) or has failed, and any of them, refused as
//! [`CommandError::Ended`], when the request it rides on is given up.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::{Output, RequestId};
use bytes::Bytes;

use crate::error::{CommandError, Error, Phase};
use crate::event::TtySize;

/// One command taken by the machine, to match its [`Output::Ack`](super::Output::Ack).
/// Ids count from 0, one per command taken (a refused command takes none).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CommandId(pub u64);

/// Why a command taken by the machine did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommandFailed {
    /// It was not carried out: the process ended, or the run gave up the
    /// request it rode on, first.
    Refused(CommandError),
    /// It was tried and failed: the engine refused the size, the write or
    /// the connection failed.
    Failed(Error),
}

impl fmt::Display for CommandFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandFailed::Refused(e) => e.fmt(f),
            CommandFailed::Failed(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for CommandFailed {}

/// The commands taken and not yet acknowledged.
#[derive(Debug, Default)]
pub(crate) struct Commands {
    next: u64,
    /// Stdin writes and its close.
    pub stdin: Stdin,
    /// Resizes, one on the wire at a time.
    pub resizes: Resizes,
}

/// The caller's stdin: writes and the close, queued until the stream that
/// carries them is up, then handed to the driver, each acknowledged once
/// the driver says it was written, or refused if the stream is given up
/// first.
#[derive(Debug, Default)]
pub(crate) struct Stdin {
    /// Not yet handed to the driver.
    queued: VecDeque<(CommandId, Option<Bytes>)>,
    /// Handed to the driver, until it says they were written.
    writing: Vec<CommandId>,
    closed: bool,
}

impl Stdin {
    /// Whether the close was taken: nothing more may be written.
    pub(crate) fn closed(&self) -> bool {
        self.closed
    }

    /// Takes a write (`Some`) or the close (`None`) for `command`.
    pub(crate) fn push(&mut self, command: CommandId, data: Option<Bytes>) {
        self.closed |= data.is_none();
        self.queued.push_back((command, data));
    }

    /// Hands what is queued to the driver, to write on request `id`.
    pub(crate) fn flush(&mut self, id: RequestId, out: &mut VecDeque<Output>) {
        for (command, data) in self.queued.drain(..) {
            self.writing.push(command);
            out.push_back(match data {
                Some(data) => Output::Write { id, data, command },
                None => Output::CloseWrite { id, command },
            });
        }
    }

    /// The driver wrote `command`, or failed to (`phase`: the stream's):
    /// acknowledged, unless it was refused already.
    pub(crate) fn written(
        &mut self,
        command: CommandId,
        result: Result<(), String>,
        phase: Phase,
        out: &mut VecDeque<Output>,
    ) {
        let Some(i) = self.writing.iter().position(|c| *c == command) else { return };
        self.writing.remove(i);
        let result = result.map_err(|message| {
            let message = alloc::format!("writing stdin: {message}");
            CommandFailed::Failed(Error::Transport { phase, message })
        });
        out.push_back(Output::Ack { command, result });
    }

    /// Every write not acknowledged yet, handed over or queued, is refused:
    /// the stream that would carry it is gone.
    pub(crate) fn refuse_all(&mut self, out: &mut VecDeque<Output>) {
        let queued = self.queued.drain(..).map(|(c, _)| c);
        let result = || Err(CommandFailed::Refused(CommandError::Ended));
        out.extend(self.writing.drain(..).chain(queued).map(|command| Output::Ack { command, result: result() }));
    }
}

/// Terminal resizes, one on the wire at a time. Each request goes on a
/// connection of its own, so two sent together could reach the engine in
/// either order and leave the older size in place. A size asked for while
/// one is on the wire waits; a newer one replaces it, and the commands that
/// asked for both are acknowledged with the result of the one sent.
#[derive(Debug, Default)]
pub(crate) struct Resizes {
    /// The resize on the wire, and the commands it answers (none for the
    /// machine's own).
    sent: Option<(RequestId, Vec<CommandId>)>,
    /// The newest size asked for and not yet sent, and its commands.
    waiting: Option<(TtySize, Vec<CommandId>)>,
}

impl Resizes {
    /// Takes a size to set, for `command` (none for the machine's own).
    pub(crate) fn ask(&mut self, size: TtySize, command: Option<CommandId>) {
        let waiting = self.waiting.get_or_insert_with(|| (size, Vec::new()));
        waiting.0 = size;
        waiting.1.extend(command);
    }

    /// The size to send now: one waits and none is on the wire. Its request
    /// is then given to [`sent`](Self::sent).
    pub(crate) fn to_send(&self) -> Option<TtySize> {
        self.sent.is_none().then_some(self.waiting.as_ref()?.0)
    }

    /// The waiting size went out as request `id`.
    pub(crate) fn sent(&mut self, id: RequestId) {
        if let Some((_, commands)) = self.waiting.take() {
            self.sent = Some((id, commands));
        }
    }

    /// Request `id` ended with `result`: each command it answers is
    /// acknowledged with it, and a failure of the machine's own resize (no
    /// command) is the run's error. `false` when `id` is not the resize on
    /// the wire; the next size waiting is then still to be sent.
    pub(crate) fn settle(&mut self, id: RequestId, result: Result<(), Error>, out: &mut VecDeque<Output>) -> bool {
        let commands = match &self.sent {
            Some((sent, _)) if *sent == id => self.sent.take().map(|(_, commands)| commands).unwrap_or_default(),
            _ => return false,
        };
        match (result, commands.is_empty()) {
            (Err(e), true) => out.push_back(Output::Error(e)),
            (result, _) => out.extend(commands.into_iter().map(|command| {
                let result = result.clone().map_err(CommandFailed::Failed);
                Output::Ack { command, result }
            })),
        }
        true
    }

    /// Request `id` was given up: if it is the resize on the wire, its
    /// commands and those waiting are refused.
    pub(crate) fn given_up(&mut self, id: RequestId, out: &mut VecDeque<Output>) {
        if self.sent.as_ref().is_some_and(|(sent, _)| *sent == id) {
            self.refuse_all(out);
        }
    }

    /// Every command not acknowledged yet, sent or waiting, is refused: the
    /// run no longer resizes.
    pub(crate) fn refuse_all(&mut self, out: &mut VecDeque<Output>) {
        let sent = self.sent.take().into_iter().flat_map(|(_, c)| c);
        let commands = sent.chain(self.waiting.take().into_iter().flat_map(|(_, c)| c));
        let result = || Err(CommandFailed::Refused(CommandError::Ended));
        out.extend(commands.map(|command| Output::Ack { command, result: result() }));
    }
}

impl Commands {
    pub(crate) fn take(&mut self) -> CommandId {
        let id = CommandId(self.next);
        self.next += 1;
        id
    }
}
