//! Requests the machine has sent and not yet seen the end of.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

/// Names one request the machine asked for; inputs about it carry the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

/// What a request is for; decides how its answer is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    Ping,
    /// `GET /version`, asked when a first versioned request is refused with 400.
    Version,
    Pull,
    Create,
    Attach,
    Wait,
    Start,
    Kill,
    Resize,
    Inspect,
    Remove,
    /// Listing this run's containers after a create of unknown outcome.
    Sweep,
    /// Removing one of them.
    SweepRemove,
}

#[derive(Debug)]
pub(crate) struct Inflight {
    pub id: RequestId,
    pub purpose: Purpose,
    pub status: Option<u16>,
    pub body: BytesMut,
    pub overflow: bool,
    /// When the answer must be complete (unary) or have begun (streams, upgrades).
    pub deadline: Option<Duration>,
    /// Whether the deadline covers the whole answer, not just its head.
    pub unary: bool,
}

/// The table of open requests. Small: a run has at most a handful open.
#[derive(Debug, Default)]
pub(crate) struct Table {
    open: Vec<Inflight>,
    next: u64,
}

impl Table {
    pub fn open(&mut self, purpose: Purpose, deadline: Duration, unary: bool) -> RequestId {
        let id = RequestId(self.next);
        self.next += 1;
        let deadline = Some(deadline);
        self.open.push(Inflight { id, purpose, status: None, body: BytesMut::new(), overflow: false, deadline, unary });
        id
    }

    pub fn get_mut(&mut self, id: RequestId) -> Option<&mut Inflight> {
        self.open.iter_mut().find(|r| r.id == id)
    }

    pub fn close(&mut self, id: RequestId) -> Option<Inflight> {
        let i = self.open.iter().position(|r| r.id == id)?;
        Some(self.open.swap_remove(i))
    }

    pub fn find(&self, purpose: Purpose) -> Option<RequestId> {
        self.open.iter().find(|r| r.purpose == purpose).map(|r| r.id)
    }

    /// Closes and returns every request.
    pub fn drain(&mut self) -> Vec<Inflight> {
        let mut all = core::mem::take(&mut self.open);
        all.sort_by_key(|r| r.id);
        all
    }

    /// Closes and returns the first request past its deadline.
    pub fn expired(&mut self, now: Duration) -> Option<Inflight> {
        let i = self.open.iter().position(|r| r.deadline.is_some_and(|d| d <= now))?;
        Some(self.open.swap_remove(i))
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.open.iter().filter_map(|r| r.deadline).min()
    }
}
