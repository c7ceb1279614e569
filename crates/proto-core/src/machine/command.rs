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
    /// Resizes sent for the caller, by their request.
    pub resizes: Vec<(RequestId, CommandId)>,
}

impl Commands {
    pub(crate) fn take(&mut self) -> CommandId {
        let id = CommandId(self.next);
        self.next += 1;
        id
    }

    /// The command a resize request was sent for, no longer pending.
    pub(crate) fn resize_of(&mut self, request: RequestId) -> Option<CommandId> {
        let i = self.resizes.iter().position(|(r, _)| *r == request)?;
        Some(self.resizes.swap_remove(i).1)
    }

    /// Whether `command` was being written; it no longer is.
    pub(crate) fn written(&mut self, command: CommandId) -> bool {
        let Some(i) = self.writing.iter().position(|c| *c == command) else { return false };
        self.writing.remove(i);
        true
    }
}
