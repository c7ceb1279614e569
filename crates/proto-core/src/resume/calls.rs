//! The resume's requests that are out: which call each is, and what of its
//! answer has come (the table is the one the machines share).

use crate::error::Phase;

pub(super) use crate::calls::Closed;

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

impl Call {
    pub(super) fn phase(self) -> Phase {
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

    /// Whether its body is read as it comes, with no limit on its length
    /// or time once it has begun.
    pub(super) fn streams(self) -> bool {
        matches!(self, Call::Logs)
    }

    /// Whether only the answer's beginning has a deadline.
    pub(super) fn long(self) -> bool {
        matches!(self, Call::Logs | Call::Wait)
    }
}
