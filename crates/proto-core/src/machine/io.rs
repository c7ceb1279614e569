//! What goes into the machine ([`Input`]) and what comes out ([`Output`]):
//! the whole of its contract with a driver, as data.
//!
//! Both serialize with serde, so the contract can cross a boundary as it
//! is: the WebAssembly module's C ABI is these types, postcard-encoded.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{CommandFailed, CommandId, RequestId};
use crate::api::Request;
use crate::error::Error;
use crate::event::Event;

/// What the engine (through the driver) tells the machine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each variant's doc says what its fields are.
pub enum Input {
    /// The status and headers of request `id`'s answer (101 for an upgrade).
    Head {
        id: RequestId,
        /// The HTTP status.
        status: u16,
        /// The headers, names in any case.
        headers: Vec<(String, String)>,
    },
    /// Bytes of request `id`'s body, or of its upgraded stream.
    Body {
        id: RequestId,
        /// The bytes, split anywhere.
        data: Bytes,
    },
    /// Request `id`'s body (or upgraded stream) ended cleanly.
    End { id: RequestId },
    /// Request `id` failed in transport: no connection, connection reset,
    /// an upgrade that did not happen.
    Failed {
        id: RequestId,
        /// What the driver saw.
        message: String,
    },
    /// The stdin write (or close) of [`Output::Write`] (or
    /// [`Output::CloseWrite`]) for `command` is done: `Err` with what the
    /// driver saw when it failed.
    Written {
        command: CommandId,
        /// `Ok`, or the driver's description of the failure.
        result: Result<(), String>,
    },
}

/// What the machine wants done, or says happened.
///
/// Serializes with serde, errors included: an output read back from bytes
/// (the WebAssembly module's) is the one the machine made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each variant's doc says what its fields are.
pub enum Output {
    /// Send `request`; report its answer under `id`.
    Send { id: RequestId, request: Request },
    /// Write stdin bytes on request `id`'s upgraded connection (the attach),
    /// then report [`Input::Written`] for `command`.
    Write { id: RequestId, data: Bytes, command: CommandId },
    /// Close the write half of request `id`'s upgraded connection (the
    /// attach): the end of stdin. Then report [`Input::Written`] for `command`.
    CloseWrite { id: RequestId, command: CommandId },
    /// The machine no longer needs request `id`: close its connection.
    /// Inputs about it are ignored from now on.
    Abort { id: RequestId },
    /// Something happened: pass it to the user.
    Event(Event),
    /// Something failed: pass it to the user. The machine goes on cleaning up.
    Error(Error),
    /// The caller's command `command` (a stdin write or close, a resize) is
    /// done: pass `result` to whoever gave it. Each command taken gets
    /// exactly one, unless the machine is [abandoned](super::Machine::abandon).
    Ack { command: CommandId, result: Result<(), CommandFailed> },
    /// Nothing more until an input arrives, a command is given, or
    /// `deadline` passes (then call [`Machine::handle_timeout`](super::Machine::handle_timeout)).
    Pending {
        /// When to call `handle_timeout`, if no input comes first.
        deadline: Option<Duration>,
    },
    /// The run is over: nothing more will be output, and inputs are ignored.
    Done,
}
