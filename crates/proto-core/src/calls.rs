//! A machine's requests that are out: which call of its lifecycle each is,
//! and what of its answer has come; and the bookkeeping of every input
//! about them ([`Calls::sort`]). Shared by the machines that name their
//! calls with an enum of their own (the swarm job's, the exec step's, the
//! resume's).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::error::{Error, Phase};
use crate::machine::{CommandId, Output, RequestId};

/// A machine's names for its calls.
pub(crate) trait CallName: Copy + PartialEq {
    /// The phase a failure of the call is in.
    fn phase(self) -> Phase;
    /// Whether an answer with `status` is read as it comes (logs, an
    /// upgraded stream) rather than kept whole until it ends.
    fn streams(self, status: u16) -> bool;
    /// Whether only the beginning of an answer with `status` has a
    /// deadline: its head clears it.
    fn long(self, status: u16) -> bool {
        self.streams(status)
    }
}

/// What an input comes to, once [`Calls::sort`] has done the bookkeeping.
#[derive(Debug)]
pub(crate) enum Arrival<C> {
    /// The head of an answer; its status is kept.
    Head { call: C, status: u16, headers: Vec<(String, String)> },
    /// Bytes of an answer read as it comes.
    Stream { call: C, data: Bytes },
    /// A whole answer, within the body limit.
    Answered(Open<C>),
    /// A request that failed: in transport, or with a body over the limit.
    Failed(Open<C>, Error),
    /// A stdin write done, or failed.
    Written { command: CommandId, result: Result<(), String> },
}

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

impl<C: CallName> Calls<C> {
    /// Does what every machine does with an input about its requests: keeps
    /// the status, clears the deadline of a long answer at its head, keeps
    /// a body (up to `max_body` bytes) or passes it on as it comes, closes
    /// an ended or failed request. An input the machine cannot expect (a
    /// second head, bytes before the head, anything about a request never
    /// sent or ended) is reported on `out`, `at` saying where the machine
    /// was; one about a request it aborted is ignored. `None`: nothing more
    /// to do.
    pub(crate) fn sort(
        &mut self,
        input: crate::machine::Input,
        max_body: usize,
        at: &dyn Fn() -> String,
        out: &mut VecDeque<Output>,
    ) -> Option<Arrival<C>> {
        use crate::machine::Input;
        let stray = |calls: &Self, id: RequestId, what: &str, out: &mut VecDeque<Output>| {
            let why = match calls.closed(id) {
                Closed::Aborted => return,
                Closed::Ended => "whose answer had ended",
                Closed::Unknown => "which was never sent",
            };
            let detail = format!("{what} for request {}, {why} ({})", id.0, at());
            out.push_back(Output::Error(Error::Unexpected { detail }));
        };
        match input {
            Input::Head { id, status, headers } => {
                let Some(r) = self.get_mut(id) else {
                    stray(self, id, "a head", out);
                    return None;
                };
                if let Some(first) = r.status {
                    let detail = format!(
                        "a second head ({status}) for request {} ({}), which had {first}",
                        id.0,
                        r.call.phase()
                    );
                    out.push_back(Output::Error(Error::Unexpected { detail }));
                    return None;
                }
                r.status = Some(status);
                if r.call.long(status) {
                    r.deadline = None;
                }
                Some(Arrival::Head { call: r.call, status, headers })
            }
            Input::Body { id, data } => {
                let Some(r) = self.get_mut(id) else {
                    stray(self, id, "body bytes", out);
                    return None;
                };
                let Some(status) = r.status else {
                    if r.body.is_empty() {
                        let detail = format!("body bytes for request {} ({}) before its head", id.0, r.call.phase());
                        out.push_back(Output::Error(Error::Unexpected { detail }));
                    }
                    r.keep(&data, max_body);
                    return None;
                };
                if r.call.streams(status) {
                    return Some(Arrival::Stream { call: r.call, data });
                }
                r.keep(&data, max_body);
                None
            }
            Input::End { id } => match self.end(id) {
                Some(r) if r.overflow => {
                    let detail = format!("the answer is larger than {max_body} bytes");
                    let e = Error::Protocol { phase: r.call.phase(), detail };
                    Some(Arrival::Failed(r, e))
                }
                Some(r) => Some(Arrival::Answered(r)),
                None => {
                    stray(self, id, "an end", out);
                    None
                }
            },
            Input::Failed { id, message } => match self.end(id) {
                Some(r) => {
                    let e = Error::Transport { phase: r.call.phase(), message };
                    Some(Arrival::Failed(r, e))
                }
                None => {
                    stray(self, id, "a failure", out);
                    None
                }
            },
            Input::Written { command, result } => Some(Arrival::Written { command, result }),
        }
    }
}

impl<C: CallName> Calls<C> {
    /// The first request past its deadline, closed (its `Abort` pushed on
    /// `out`), with the failure it comes to: no answer within `after`.
    pub(crate) fn time_out(
        &mut self,
        now: Duration,
        after: Duration,
        out: &mut VecDeque<Output>,
    ) -> Option<(Open<C>, Error)> {
        let r = self.expired(now)?;
        out.push_back(Output::Abort { id: r.id });
        let e = Error::Timeout { phase: r.call.phase(), after };
        Some((r, e))
    }
}

impl<C> Open<C> {
    /// Keeps `data` of the body, up to `max` bytes in all.
    fn keep(&mut self, data: &Bytes, max: usize) {
        let room = max.saturating_sub(self.body.len());
        self.overflow |= data.len() > room;
        self.body.extend_from_slice(&data.slice(..data.len().min(room)));
    }
}
