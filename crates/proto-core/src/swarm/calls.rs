//! The job's requests that are out: which call each is, and what of its
//! answer has come.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;

use crate::error::Phase;
use crate::machine::RequestId;

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

impl Call {
    pub(super) fn phase(self) -> Phase {
        match self {
            Call::Ping => Phase::Connect,
            Call::Create => Phase::Service,
            Call::Tasks => Phase::Task,
            Call::Node => Phase::Node,
            Call::Follow | Call::Final => Phase::Output,
            Call::Remove | Call::Sweep | Call::SweepRemove => Phase::ServiceRemove,
        }
    }

    /// Whether the body is read as it comes (logs) rather than kept whole.
    pub(super) fn streams(self) -> bool {
        matches!(self, Call::Follow | Call::Final)
    }
}

/// One request out.
#[derive(Debug)]
pub(super) struct Open {
    pub id: RequestId,
    pub call: Call,
    pub status: Option<u16>,
    pub body: BytesMut,
    pub overflow: bool,
    /// When the answer must be whole (unary) or have begun (logs).
    pub deadline: Option<Duration>,
}

/// Why a request is not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Closed {
    /// The machine aborted it: inputs about it are ignored.
    Aborted,
    /// Its answer ended or failed already.
    Ended,
    /// Never sent.
    Unknown,
}

/// The requests out. A job has a handful at most; tasks are polled five
/// times a second, so only the few aborted ids are remembered, not every
/// ended one.
#[derive(Debug, Default)]
pub(super) struct Calls {
    open: Vec<Open>,
    next: u64,
    aborted: Vec<RequestId>,
}

impl Calls {
    pub(super) fn open(&mut self, call: Call, deadline: Duration) -> RequestId {
        let id = RequestId(self.next);
        self.next += 1;
        let open = Open { id, call, status: None, body: BytesMut::new(), overflow: false, deadline: Some(deadline) };
        self.open.push(open);
        id
    }

    pub(super) fn get_mut(&mut self, id: RequestId) -> Option<&mut Open> {
        self.open.iter_mut().find(|r| r.id == id)
    }

    /// Closes `id`, whose answer ended or failed.
    pub(super) fn end(&mut self, id: RequestId) -> Option<Open> {
        let i = self.open.iter().position(|r| r.id == id)?;
        Some(self.open.swap_remove(i))
    }

    /// Closes `id`, which the machine no longer needs.
    pub(super) fn abort(&mut self, id: RequestId) -> Option<Open> {
        let r = self.end(id)?;
        self.aborted.push(id);
        Some(r)
    }

    pub(super) fn closed(&self, id: RequestId) -> Closed {
        match id.0 >= self.next {
            true => Closed::Unknown,
            false if self.aborted.contains(&id) => Closed::Aborted,
            false => Closed::Ended,
        }
    }

    pub(super) fn find(&self, call: Call) -> Option<RequestId> {
        self.open.iter().find(|r| r.call == call).map(|r| r.id)
    }

    pub(super) fn is_out(&self, call: Call) -> bool {
        self.find(call).is_some()
    }

    /// Every open request, oldest first; each is then aborted.
    pub(super) fn drain(&mut self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = self.open.drain(..).map(|r| r.id).collect();
        ids.sort();
        self.aborted.extend(ids.iter().copied());
        ids
    }

    /// Closes and returns the first request past its deadline (it counts as aborted).
    pub(super) fn expired(&mut self, now: Duration) -> Option<Open> {
        let id = self.open.iter().find(|r| r.deadline.is_some_and(|d| d <= now))?.id;
        self.abort(id)
    }

    pub(super) fn next_deadline(&self) -> Option<Duration> {
        self.open.iter().filter_map(|r| r.deadline).min()
    }
}
