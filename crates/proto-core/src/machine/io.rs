//! What goes into the machine ([`Input`]) and what comes out ([`Output`]):
//! the whole of its contract with a driver, as data.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::RequestId;
use crate::api::Request;
use crate::error::Error;
use crate::event::Event;

/// What the engine (through the driver) tells the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The status and headers of request `id`'s answer (101 for an upgrade).
    Head {
        /// Which request.
        id: RequestId,
        /// The HTTP status.
        status: u16,
        /// The headers, names in any case.
        headers: Vec<(String, String)>,
    },
    /// Bytes of request `id`'s body, or of its upgraded stream.
    Body {
        /// Which request.
        id: RequestId,
        /// The bytes, split anywhere.
        data: Bytes,
    },
    /// Request `id`'s body (or upgraded stream) ended cleanly.
    End {
        /// Which request.
        id: RequestId,
    },
    /// Request `id` failed in transport: no connection, connection reset,
    /// an upgrade that did not happen.
    Failed {
        /// Which request.
        id: RequestId,
        /// What the driver saw.
        message: String,
    },
}

/// What the machine wants done, or says happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Send this request; report its answer with the same id.
    Send {
        /// The id to report its answer under.
        id: RequestId,
        /// The request.
        request: Request,
    },
    /// Write stdin bytes on request `id`'s upgraded connection.
    Write {
        /// The attach request.
        id: RequestId,
        /// The bytes.
        data: Bytes,
    },
    /// Close the write half of request `id`'s upgraded connection (end of stdin).
    CloseWrite {
        /// The attach request.
        id: RequestId,
    },
    /// The machine no longer needs request `id`: close its connection.
    /// Inputs about it are ignored from now on.
    Abort {
        /// Which request.
        id: RequestId,
    },
    /// Something happened: pass it to the user.
    Event(Event),
    /// Something failed: pass it to the user. The machine goes on cleaning up.
    Error(Error),
    /// Nothing more until an input arrives, a command is given, or
    /// `deadline` passes (then call [`Machine::handle_timeout`]).
    Pending {
        /// When to call `handle_timeout`, if no input comes first.
        deadline: Option<Duration>,
    },
    /// The run is over: nothing more will be output, and inputs are ignored.
    Done,
}
