//! Requests the machine has sent and not yet seen the end of.

use alloc::vec::Vec;
use core::time::Duration;

use bytes::BytesMut;
use serde::{Deserialize, Serialize};

// Which call each open request is; public in `api`, for drivers and tests.
pub(crate) use crate::api::Purpose;

/// Names one request the machine asked for; inputs about it carry the same id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

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

/// What the table knows of a request that is not open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closed {
    /// The machine aborted it (or it timed out): inputs about it are ignored.
    Aborted,
    /// Its answer ended, or failed: the driver said so already.
    Ended,
    /// No such request was sent.
    Unknown,
}

/// The table of open requests. Small: a run has at most a handful open.
#[derive(Debug, Default)]
pub(crate) struct Table {
    open: Vec<Inflight>,
    next: u64,
    /// One bit per request sent: set when its answer ended or failed (as the
    /// driver said), clear when the machine aborted it.
    ended: Vec<u64>,
}

impl Table {
    pub(crate) fn open(&mut self, purpose: Purpose, deadline: Duration, unary: bool) -> RequestId {
        let id = RequestId(self.next);
        self.next += 1;
        let deadline = Some(deadline);
        self.open.push(Inflight { id, purpose, status: None, body: BytesMut::new(), overflow: false, deadline, unary });
        id
    }

    pub(crate) fn get_mut(&mut self, id: RequestId) -> Option<&mut Inflight> {
        self.open.iter_mut().find(|r| r.id == id)
    }

    /// Closes request `id`, whose answer ended or failed.
    pub(crate) fn end(&mut self, id: RequestId) -> Option<Inflight> {
        let r = self.abort(id)?;
        let (word, bit) = Self::bit(id);
        if self.ended.len() <= word {
            self.ended.resize(word + 1, 0);
        }
        if let Some(w) = self.ended.get_mut(word) {
            *w |= bit;
        }
        Some(r)
    }

    /// Closes request `id`, which the machine no longer needs.
    pub(crate) fn abort(&mut self, id: RequestId) -> Option<Inflight> {
        let i = self.open.iter().position(|r| r.id == id)?;
        Some(self.open.swap_remove(i))
    }

    /// Why request `id` is not open (it is not).
    pub(crate) fn closed(&self, id: RequestId) -> Closed {
        let (word, bit) = Self::bit(id);
        match self.ended.get(word) {
            _ if id.0 >= self.next => Closed::Unknown,
            Some(w) if w & bit != 0 => Closed::Ended,
            _ => Closed::Aborted,
        }
    }

    fn bit(id: RequestId) -> (usize, u64) {
        (usize::try_from(id.0 / 64).unwrap_or(usize::MAX), 1 << (id.0 % 64))
    }

    pub(crate) fn find(&self, purpose: Purpose) -> Option<RequestId> {
        self.open.iter().find(|r| r.purpose == purpose).map(|r| r.id)
    }

    /// Closes and returns every request.
    pub(crate) fn drain(&mut self) -> Vec<Inflight> {
        let mut all = core::mem::take(&mut self.open);
        all.sort_by_key(|r| r.id);
        all
    }

    /// Closes and returns the first request past its deadline.
    pub(crate) fn expired(&mut self, now: Duration) -> Option<Inflight> {
        let i = self.open.iter().position(|r| r.deadline.is_some_and(|d| d <= now))?;
        Some(self.open.swap_remove(i))
    }

    pub(crate) fn next_deadline(&self) -> Option<Duration> {
        self.open.iter().filter_map(|r| r.deadline).min()
    }
}
