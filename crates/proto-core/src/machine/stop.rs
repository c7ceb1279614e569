//! Stopping: a cancel or the spec's timeout, by the state the run is in.
//! Before the process runs, it ends unstarted (once the container, if any,
//! can be removed); while it runs, the stop signal, SIGKILL after the grace
//! period (or a second cancel), and giving up on an engine that reports no
//! exit; once it has ended, nothing.

use core::time::Duration;

use super::state::{State, StopStep, Stopping};
use super::{Machine, Purpose};
use crate::api::requests;
use crate::event::EndReason;

impl Machine {
    pub(super) fn request_stop(&mut self, now: Duration, reason: EndReason) {
        if self.state.exited() || self.state.process_over() {
            return;
        }
        match &mut self.state {
            State::Ping | State::Info | State::Pull { .. } => {
                self.run_deadline = None;
                self.abort_all();
                self.end_unstarted(now, reason);
                self.finish(now);
            }
            // Create and start answers are awaited: the container may exist, the process may run.
            State::Create { stop, .. } | State::Start { stop, .. } => {
                if stop.is_none() {
                    *stop = Some(reason);
                    self.run_deadline = None;
                }
            }
            State::Prepare { .. } => {
                self.run_deadline = None;
                self.end_unstarted(now, reason);
                self.cleanup(now);
            }
            State::Running(p) => match p.stop {
                None => {
                    self.run_deadline = None;
                    self.signal(now, reason);
                }
                Some(Stopping { reason, step: StopStep::Signalled { .. } }) => self.kill(now, reason),
                Some(Stopping { step: StopStep::Killed { .. }, .. }) => {}
            },
            State::Inspect(_) | State::Remove(_) | State::Sweep(_) | State::Done => {}
        }
    }

    pub(super) fn signal(&mut self, now: Duration, reason: EndReason) {
        if self.spec.stop_grace.is_zero() {
            return self.kill(now, reason);
        }
        let req = requests::kill(self.api(), self.id(), &self.spec.stop_signal);
        self.send(now, Purpose::Kill, req);
        self.set_stop(Stopping { reason, step: StopStep::Signalled { kill_at: now + self.spec.stop_grace } });
    }

    pub(super) fn kill(&mut self, now: Duration, reason: EndReason) {
        let req = requests::kill(self.api(), self.id(), "SIGKILL");
        self.send(now, Purpose::Kill, req);
        let give_up_at = now + self.spec.limits.request_timeout;
        self.set_stop(Stopping { reason, step: StopStep::Killed { give_up_at } });
    }

    pub(super) fn set_stop(&mut self, stop: Stopping) {
        if let State::Running(p) = &mut self.state {
            p.stop = Some(stop);
        }
    }
}
