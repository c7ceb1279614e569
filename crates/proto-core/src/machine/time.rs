//! What the passing of time does: requests past their deadline, the spec's
//! timeout, SIGKILL after the grace period, heartbeats, the output drain,
//! coalesced output, and remove retries.

use core::time::Duration;

use super::lifecycle::phase;
use super::state::{State, StopStep, Stopping};
use super::{Machine, Output, Purpose};
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind};

impl Machine {
    pub(super) fn on_timeout(&mut self, now: Duration) {
        while let Some(r) = self.requests.expired(now) {
            self.out.push_back(Output::Abort { id: r.id });
            let e = Error::Timeout { phase: phase(r.purpose), after: self.spec.limits.request_timeout };
            self.on_failure(now, r.id, r.purpose, e);
        }
        if self.run_deadline.is_some_and(|t| t <= now) {
            self.run_deadline = None;
            self.request_stop(now, EndReason::TimedOut);
        }
        if let State::Running(p) = &self.state {
            match p.stop {
                _ if p.ends.exit.is_some() => {}
                Some(Stopping { reason, step: StopStep::Signalled { kill_at } }) if kill_at <= now => {
                    self.kill(now, reason)
                }
                Some(Stopping { step: StopStep::Killed { give_up_at }, .. }) if give_up_at <= now => {
                    let after = self.spec.limits.request_timeout;
                    self.fail(now, Error::Timeout { phase: Phase::Stop, after });
                }
                _ => {}
            }
        }
        if let (State::Running(p), Some(every)) = (&mut self.state, self.spec.heartbeat) {
            if p.heartbeat_at.is_some_and(|t| t <= now) && p.ends.exit.is_none() {
                let elapsed = now.saturating_sub(p.started_at);
                p.heartbeat_at = Some(now + every);
                self.emit(now, EventKind::Heartbeat { elapsed });
            }
        }
        if let State::Running(p) = &mut self.state {
            if p.drain_until.is_some_and(|t| t <= now) {
                p.drain_until = None;
                p.ends.output_ended = true;
                self.abort(Purpose::Attach);
                self.error(Error::Timeout { phase: Phase::Output, after: self.spec.limits.drain_timeout });
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
            State::Sweep(r) if r.at.is_some_and(|t| t <= now) => {
                r.retried();
                self.send_list(now);
            }
            _ => {}
        }
    }
}
