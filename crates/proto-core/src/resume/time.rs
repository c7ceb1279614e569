//! What the passing of time does to a resume: requests past their
//! deadline, the spec's timeout, the stop's steps, heartbeats, coalesced
//! output and `DELETE` retries.

use core::time::Duration;

use super::ResumeMachine;
use super::state::{State, StopStep};
use crate::event::{EndReason, EventKind};

impl ResumeMachine {
    pub(super) fn on_timeout(&mut self, now: Duration) {
        while let Some((r, e)) = self.calls.time_out(now, self.spec.limits.request_timeout, &mut self.out) {
            self.on_failure(now, r.call, e);
        }
        if self.run_deadline.is_some_and(|t| t <= now) {
            self.request_stop(now, EndReason::TimedOut);
        }
        if self.state.live() {
            match self.stop.map(|s| (s.reason, s.step)) {
                Some((reason, StopStep::Signalled { kill_at })) if kill_at <= now => self.kill(now, reason),
                Some((_, StopStep::Killed { give_up_at })) if give_up_at <= now => self.stop_overdue(now),
                _ => {}
            }
        }
        if let (true, Some(at), Some(every)) = (self.state.live(), self.heartbeat_at, self.spec.heartbeat) {
            if at <= now {
                self.heartbeat_at = Some(now + every);
                self.flush_output(now);
                self.emit(now, EventKind::Heartbeat { elapsed: now.saturating_sub(self.began) });
            }
        }
        if self.coalescer.deadline().is_some_and(|t| t <= now) {
            self.flush_output(now);
        }
        if let State::Remove(r) = &mut self.state {
            if r.at.is_some_and(|t| t <= now) {
                r.retried();
                self.send_remove(now);
            }
        }
    }

    pub(super) fn next_deadline(&self) -> Option<Duration> {
        let stop = match self.stop.map(|s| s.step) {
            Some(StopStep::Signalled { kill_at: t } | StopStep::Killed { give_up_at: t }) if self.state.live() => {
                Some(t)
            }
            _ => None,
        };
        let heartbeat = self.heartbeat_at.filter(|_| self.state.live());
        let retry = match &self.state {
            State::Remove(r) => r.at,
            _ => None,
        };
        [self.run_deadline, stop, heartbeat, retry, self.calls.next_deadline(), self.coalescer.deadline()]
            .into_iter()
            .flatten()
            .min()
    }
}
