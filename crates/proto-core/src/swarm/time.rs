//! What the passing of time does to a job: requests past their deadline,
//! the spec's timeout, task and node polls, heartbeats, the final read's
//! limit, the stop's limit, coalesced output and `DELETE` retries.

use core::time::Duration;

use super::JobMachine;
use super::state::State;
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind};

impl JobMachine {
    pub(super) fn on_timeout(&mut self, now: Duration) {
        while let Some((r, e)) = self.calls.time_out(now, self.spec.limits.request_timeout, &mut self.out) {
            self.on_failure(now, r.call, e);
        }
        if self.run_deadline.is_some_and(|t| t <= now) {
            self.request_stop(now, EndReason::TimedOut);
        }
        if self.polling() && self.poll_at.is_some_and(|t| t <= now) {
            self.poll(now);
        }
        if let State::Running(job) = &mut self.state {
            if job.node_at.is_some_and(|t| t <= now) {
                self.check_node(now);
            }
        }
        if let (State::Running(job), Some(every)) = (&mut self.state, self.spec.heartbeat) {
            if job.heartbeat_at.is_some_and(|t| t <= now) {
                job.heartbeat_at = Some(now + every);
                let elapsed = now.saturating_sub(job.started_at);
                self.emit(now, EventKind::Heartbeat { elapsed });
            }
        }
        if matches!(self.state, State::Draining { .. }) && self.drain_until.is_some_and(|t| t <= now) {
            self.abort(super::calls::Call::Final);
            self.error(Error::Timeout { phase: Phase::Output, after: self.spec.limits.drain_timeout });
            self.drained(now);
        }
        if let State::Stopping(s) = &self.state {
            if s.over.is_none() && s.give_up_at <= now {
                self.stop_overdue(now);
            }
        }
        if self.coalescer.deadline().is_some_and(|t| t <= now) {
            self.flush_output(now);
        }
        match &mut self.state {
            State::Remove(r) if r.at.is_some_and(|t| t <= now) => {
                r.retried();
                self.send_remove(now);
            }
            State::Stopping(s) if s.remove.at.is_some_and(|t| t <= now) => {
                s.remove.retried();
                self.send_remove(now);
            }
            State::Sweep(r) if r.at.is_some_and(|t| t <= now) => {
                r.retried();
                self.send_sweep(now);
            }
            _ => {}
        }
    }

    fn polling(&self) -> bool {
        matches!(self.state, State::Placing | State::Running(_) | State::Stopping(_))
    }

    pub(super) fn next_deadline(&self) -> Option<Duration> {
        let poll = self.poll_at.filter(|_| self.polling());
        let state = match &self.state {
            State::Running(job) => [job.node_at, job.heartbeat_at].into_iter().flatten().min(),
            State::Draining { .. } => self.drain_until,
            State::Stopping(s) => [s.over.is_none().then_some(s.give_up_at), s.remove.at].into_iter().flatten().min(),
            State::Remove(r) | State::Sweep(r) => r.at,
            _ => None,
        };
        let calls = self.calls.next_deadline();
        [self.run_deadline, poll, state, calls, self.coalescer.deadline()].into_iter().flatten().min()
    }
}
