//! How a job ends other than by its task's end: a cancel or the timeout
//! (Stopping), a failure, the service's removal, and the sweep after a
//! create of unknown outcome.

use alloc::format;
use alloc::string::ToString;
use core::time::Duration;

use super::calls::Call;
use super::state::{Retry, State, Stopping};
use super::{JobMachine, STOP_MARGIN, answers, requests};
use crate::api::create::labels;
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind, ProcessEnd};

fn removed_status(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s) || s == 404)
}

impl JobMachine {
    /// A cancel or the timeout, by the state the job is in.
    pub(super) fn request_stop(&mut self, now: Duration, reason: EndReason) {
        self.run_deadline = None;
        match &mut self.state {
            State::Ping => {
                self.abort_all();
                self.end_unstarted(now, None, reason);
                self.finish();
            }
            State::Create { stop } => {
                stop.get_or_insert(reason);
            }
            State::Placing => self.stop(now, reason, None),
            State::Running(job) => {
                let job = Some(job.clone());
                self.stop(now, reason, job);
            }
            // The task has ended, or the service is being removed already.
            State::Draining { .. } | State::Stopping(_) | State::Remove(_) | State::Sweep(_) | State::Done => {}
        }
    }

    /// Deletes the service, so the cluster stops the task, and polls the
    /// task until it has ended or is gone. The follow stays open meanwhile.
    fn stop(&mut self, now: Duration, reason: EndReason, job: Option<super::state::Job>) {
        self.abort(Call::Node);
        let give_up_at = now + self.spec.stop_grace + STOP_MARGIN;
        let remove = Retry::first(now, self.spec.limits.cleanup_timeout);
        self.move_to(State::Stopping(Stopping { reason, job, remove, removed: None, over: None, give_up_at }));
        self.send_remove(now);
        if !self.calls.is_out(Call::Tasks) {
            self.poll_at = Some(self.next_poll(now));
        }
    }

    /// The stopped task has ended (with this exit code, if it said) or is gone.
    pub(super) fn task_over(&mut self, now: Duration, code: Option<Option<i64>>) {
        let State::Stopping(s) = &mut self.state else { return };
        s.over.get_or_insert(code.flatten());
        self.poll_at = None;
        self.stop_settled(now);
    }

    /// Both the `DELETE` and the task's end are known: the run ends.
    fn stop_settled(&mut self, now: Duration) {
        let State::Stopping(s) = &self.state else { return };
        let (Some(removed), Some(code)) = (s.removed, s.over) else { return };
        let end = match &s.job {
            Some(job) => {
                let duration = now.saturating_sub(job.started_at);
                match code.and_then(|c| i32::try_from(c).ok()) {
                    Some(c) => ProcessEnd::from_exit_code(c, false, duration, s.reason),
                    None => ProcessEnd { exit_code: None, signal: None, oom_killed: false, duration, reason: s.reason },
                }
            }
            None => ProcessEnd::unstarted(None, s.reason),
        };
        self.abort_all();
        self.flush_output(now);
        self.emit(now, EventKind::ProcessEnd(end));
        if removed {
            self.removed = true;
            let id = self.id().to_string();
            self.emit(now, EventKind::ContainerRemove { id });
        }
        self.finish();
    }

    /// The stop grace and its margin passed with the task not seen ended.
    pub(super) fn stop_overdue(&mut self, now: Duration) {
        let State::Stopping(s) = &self.state else { return };
        let after = self.spec.stop_grace + STOP_MARGIN;
        if s.over.is_none() {
            self.abort(Call::Tasks);
            self.error(Error::Timeout { phase: Phase::Task, after });
            self.task_over(now, None);
        }
    }

    /// A failure that ends the run: reported, then the service removed.
    pub(super) fn fail(&mut self, now: Duration, e: Error) {
        self.error(e);
        if self.state.cleaning() {
            return;
        }
        self.abort_all();
        self.cleanup(now);
    }

    /// Removes the service if there is one; else the run is over.
    pub(super) fn cleanup(&mut self, now: Duration) {
        self.flush_output(now);
        self.abort_all();
        self.poll_at = None;
        self.drain_until = None;
        match (&self.service, self.removed) {
            (Some(_), false) => {
                self.move_to(State::Remove(Retry::first(now, self.spec.limits.cleanup_timeout)));
                self.send_remove(now);
            }
            _ => self.finish(),
        }
    }

    pub(super) fn send_remove(&mut self, now: Duration) {
        let req = requests::remove(self.api(), self.id());
        self.send(now, Call::Remove, req);
    }

    pub(super) fn finish(&mut self) {
        self.abort_all();
        self.move_to(State::Done);
        self.run_deadline = None;
        self.poll_at = None;
        self.drain_until = None;
    }

    pub(super) fn remove_answered(&mut self, now: Duration, status: Option<u16>, e: Error) {
        let ok = removed_status(status);
        if !ok {
            self.error(e);
        }
        match &mut self.state {
            State::Stopping(s) => {
                s.removed = Some(ok);
                self.stop_settled(now);
            }
            State::Remove(_) => {
                if ok {
                    self.removed = true;
                    let id = self.id().to_string();
                    self.emit(now, EventKind::ContainerRemove { id });
                }
                self.finish();
            }
            _ => {}
        }
    }

    /// A `DELETE` failed in transport or timed out: the manager may be
    /// restarting, so it is tried again after a backoff, until the cleanup
    /// deadline; past it, `e` is reported and the removal given up.
    pub(super) fn remove_failed(&mut self, now: Duration, e: Error) {
        let retry = match &mut self.state {
            State::Remove(r) => r.again(now),
            State::Stopping(s) => s.remove.again(now),
            _ => false,
        };
        if retry {
            return;
        }
        self.error(e);
        match &mut self.state {
            State::Stopping(s) => {
                s.removed = Some(false);
                self.stop_settled(now);
            }
            _ => self.finish(),
        }
    }

    /// A create of unknown outcome: a service may exist that the machine
    /// has no id for, so the run's services are looked for by label.
    pub(super) fn lost_create(&mut self, now: Duration, e: Error) {
        self.error(e);
        self.abort_all();
        self.move_to(State::Sweep(Retry::first(now, self.spec.limits.cleanup_timeout)));
        self.send_sweep(now);
    }

    pub(super) fn send_sweep(&mut self, now: Duration) {
        let label = format!("{}={}", labels::RUN, self.run.run_id);
        let req = requests::list_labelled(self.api(), &label);
        self.send(now, Call::Sweep, req);
    }

    pub(super) fn swept(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let found = match status {
            Some(200) => answers::services(body).map_err(|e| e.in_phase(Phase::ServiceRemove)),
            _ => Err(Error::answered(Phase::ServiceRemove, status.unwrap_or(0), body)),
        };
        match found {
            Ok(ids) if !ids.is_empty() => {
                for id in ids {
                    let req = requests::remove(self.api(), &id);
                    self.send(now, Call::SweepRemove, req);
                }
            }
            Ok(_) => self.finish(),
            Err(e) => {
                self.error(e);
                self.finish();
            }
        }
    }

    pub(super) fn sweep_removed(&mut self, _now: Duration, status: Option<u16>, e: Error) {
        if !removed_status(status) {
            self.error(e);
        }
        if !self.calls.is_out(Call::SweepRemove) {
            self.finish();
        }
    }

    pub(super) fn sweep_failed(&mut self, now: Duration, call: Call, e: Error) {
        if let (State::Sweep(r), Call::Sweep) = (&mut self.state, call) {
            if r.again(now) {
                return;
            }
        }
        self.error(e);
        if !self.calls.is_out(Call::SweepRemove) {
            self.finish();
        }
    }
}
