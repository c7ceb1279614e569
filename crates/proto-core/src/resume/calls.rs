//! The resume's requests that are out: which call each is, and what of its
//! answer has come (the table is the one the machines share).

use crate::error::Phase;

pub(super) use crate::calls::{Arrival, CallName};

/// The resume's requests out.
pub(super) type Calls = crate::calls::Calls<Call>;
/// One of them.
pub(super) type Open = crate::calls::Open<Call>;

/// Which call of the resume a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    /// `GET /_ping`.
    Ping,
    /// `GET /containers/json?all=1&filters=..`: the run's container, by label.
    Find,
    /// `GET /containers/{id}/json`, before the logs.
    Inspect,
    /// `GET /containers/{id}/logs?follow=1..`.
    Logs,
    /// `POST /containers/{id}/kill`.
    Kill,
    /// `POST /containers/{id}/wait?condition=not-running`.
    Wait,
    /// `GET /containers/{id}/json`, after the end.
    Exit,
    /// `DELETE /containers/{id}?force=1&v=1`.
    Remove,
}

impl crate::calls::CallName for Call {
    fn phase(self) -> Phase {
        match self {
            Call::Ping => Phase::Connect,
            Call::Find => Phase::List,
            Call::Inspect | Call::Exit => Phase::Inspect,
            Call::Logs => Phase::Output,
            Call::Kill => Phase::Stop,
            Call::Wait => Phase::Wait,
            Call::Remove => Phase::Remove,
        }
    }

    /// The logs are read as they come, with no limit on their length or
    /// time once they have begun.
    fn streams(self, status: u16) -> bool {
        matches!(self, Call::Logs) && status == 200
    }

    /// The logs and the wait last as long as the process: only their
    /// beginning has a deadline.
    fn long(self, status: u16) -> bool {
        matches!(self, Call::Logs | Call::Wait) && status == 200
    }
}
