//! The caller's commands that take time (stdin writes, its close, resizes):
//! their ids, and how each is acknowledged ([`Output::Ack`](super::Output::Ack)).
//!
//! The machine decides when a command is done, so that every driver
//! acknowledges the same way: a stdin write or close when the driver says
//! it was written ([`Input::Written`](super::Input::Written)), a resize when
//! its answer is complete (2xx) or has failed, and any of them, refused as
//! [`CommandError::Ended`], when the request it rides on is given up.

use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use super::RequestId;
use crate::error::{CommandError, Error};
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
    /// Stdin writes and closes handed to the driver, until it says they were written.
    pub writing: Vec<CommandId>,
    /// Resizes, one on the wire at a time.
    pub resizes: Resizes,
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

    /// Request `id` is answered or failed: the commands it answers, or
    /// `None` when it is not the resize on the wire.
    pub(crate) fn answered(&mut self, id: RequestId) -> Option<Vec<CommandId>> {
        match &self.sent {
            Some((sent, _)) if *sent == id => self.sent.take().map(|(_, commands)| commands),
            _ => None,
        }
    }

    /// Every command not acknowledged yet, sent or waiting: the run no
    /// longer resizes.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = CommandId> {
        let sent = self.sent.take().into_iter().flat_map(|(_, c)| c);
        sent.chain(self.waiting.take().into_iter().flat_map(|(_, c)| c))
    }
}

impl Commands {
    pub(crate) fn take(&mut self) -> CommandId {
        let id = CommandId(self.next);
        self.next += 1;
        id
    }

    /// Whether `command` was being written; it no longer is.
    pub(crate) fn written(&mut self, command: CommandId) -> bool {
        let Some(i) = self.writing.iter().position(|c| *c == command) else { return false };
        self.writing.remove(i);
        true
    }
}
