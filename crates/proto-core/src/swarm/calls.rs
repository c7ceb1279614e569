//! The job's requests that are out: which call each is, and what of its
//! answer has come.

use crate::error::Phase;

pub(super) use crate::calls::{Arrival, CallName};

/// The job's requests out.
pub(super) type Calls = crate::calls::Calls<Call>;
/// One of them.
pub(super) type Open = crate::calls::Open<Call>;

/// Which call of the job's lifecycle a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Call {
    /// `GET /_ping`.
    Ping,
    /// `POST /services/create`.
    Create,
    /// `GET /tasks?filters={"service":[..]}`.
    Tasks,
    /// `GET /nodes/{id}`.
    Node,
    /// `GET /services/{id}/logs?follow=1..`: open while the task runs.
    Follow,
    /// `GET /services/{id}/logs?follow=0..`: the final read, once the task ended.
    Final,
    /// `DELETE /services/{id}`.
    Remove,
    /// `GET /services?filters={"label":[..]}`, after a create of unknown outcome.
    Sweep,
    /// `DELETE /services/{id}` of a service the sweep found.
    SweepRemove,
}

impl crate::calls::CallName for Call {
    fn phase(self) -> Phase {
        match self {
            Call::Ping => Phase::Connect,
            Call::Create => Phase::Service,
            Call::Tasks => Phase::Task,
            Call::Node => Phase::Node,
            Call::Follow | Call::Final => Phase::Output,
            Call::Remove | Call::Sweep | Call::SweepRemove => Phase::ServiceRemove,
        }
    }

    /// The logs are read as they come.
    fn streams(self, status: u16) -> bool {
        matches!(self, Call::Follow | Call::Final) && status == 200
    }
}
