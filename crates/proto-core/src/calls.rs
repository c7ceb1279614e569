//! A machine's requests that are out: which call of its lifecycle each is,
//! and what of its answer has come. Shared by the machines that name their
//! calls with an enum of their own (the swarm job's, the exec step's).

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;

use crate::machine::RequestId;

/// One request out.
#[derive(Debug)]
pub(crate) struct Open<C> {
    pub id: RequestId,
    pub call: C,
    pub status: Option<u16>,
    pub body: BytesMut,
    pub overflow: bool,
    /// When the answer must be whole (unary) or have begun (logs).
    pub deadline: Option<Duration>,
}

/// Why a request is not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// The machine aborted it: inputs about it are ignored.
    Aborted,
    /// Its answer ended or failed already.
    Ended,
    /// Never sent.
    Unknown,
}

/// The requests out. A run has a handful at most, and some are polled
/// several times a second, so only the few aborted ids are remembered, not
/// every ended one.
#[derive(Debug)]
pub(crate) struct Calls<C> {
    open: Vec<Open<C>>,
    next: u64,
    aborted: Vec<RequestId>,
}

impl<C> Default for Calls<C> {
    fn default() -> Self {
        Calls { open: Vec::new(), next: 0, aborted: Vec::new() }
    }
}

impl<C: Copy + PartialEq> Calls<C> {
    pub(crate) fn open(&mut self, call: C, deadline: Duration) -> RequestId {
        let id = RequestId(self.next);
        self.next += 1;
        let open = Open { id, call, status: None, body: BytesMut::new(), overflow: false, deadline: Some(deadline) };
        self.open.push(open);
        id
    }

    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut Open<C>> {
        self.open.iter_mut().find(|r| r.id == id)
    }

    /// Closes `id`, whose answer ended or failed.
    pub(crate) fn end(&mut self, id: RequestId) -> Option<Open<C>> {
        let i = self.open.iter().position(|r| r.id == id)?;
        Some(self.open.swap_remove(i))
    }

    /// Closes `id`, which the machine no longer needs.
    pub(crate) fn abort(&mut self, id: RequestId) -> Option<Open<C>> {
        let r = self.end(id)?;
        self.aborted.push(id);
        Some(r)
    }

    pub(crate) fn closed(&self, id: RequestId) -> Closed {
        match id.0 >= self.next {
            true => Closed::Unknown,
            false if self.aborted.contains(&id) => Closed::Aborted,
            false => Closed::Ended,
        }
    }

    pub(crate) fn find(&self, call: C) -> Option<RequestId> {
        self.open.iter().find(|r| r.call == call).map(|r| r.id)
    }

    pub(crate) fn is_out(&self, call: C) -> bool {
        self.find(call).is_some()
    }

    /// Every open request, oldest first; each is then aborted.
    pub(crate) fn drain(&mut self) -> Vec<RequestId> {
        let mut ids: Vec<RequestId> = self.open.drain(..).map(|r| r.id).collect();
        ids.sort();
        self.aborted.extend(ids.iter().copied());
        ids
    }

    /// Closes and returns the first request past its deadline (it counts as aborted).
    pub(crate) fn expired(&mut self, now: Duration) -> Option<Open<C>> {
        let id = self.open.iter().find(|r| r.deadline.is_some_and(|d| d <= now))?.id;
        self.abort(id)
    }

    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.open.iter().filter_map(|r| r.deadline).min()
    }
}
