//! The end of a resumed run: stops (a cancel, the timeout), the exit read
//! from the wait and the inspect, and the removal.

use alloc::string::{String, ToString};
use core::time::Duration;

use super::ResumeMachine;
use super::calls::Call;
use super::state::{Retry, State, Stop, StopStep};
use crate::api::answers::Inspected;
use crate::api::requests;
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind, ProcessEnd};

impl ResumeMachine {
    /// A cancel or the timeout. Before the container is inspected it is
    /// remembered; while the process may run, the stop signal (SIGKILL if
    /// that was sent already, or the grace is zero); after its end, nothing.
    pub(super) fn request_stop(&mut self, now: Duration, reason: EndReason) {
        self.run_deadline = None;
        match &self.state {
            State::Ping | State::Find | State::Inspect => {
                self.stop.get_or_insert(Stop { reason, step: StopStep::Wanted });
            }
            State::Following | State::Waiting => match self.stop.map(|s| s.step) {
                None | Some(StopStep::Wanted) if !self.spec.stop_grace.is_zero() => {
                    let signal = self.found.stop_signal.clone().unwrap_or_else(|| self.spec.stop_signal.clone());
                    let req = requests::kill(self.api(), self.id(), &signal);
                    self.send(now, Call::Kill, req);
                    let kill_at = now + self.spec.stop_grace;
                    self.stop = Some(Stop { reason, step: StopStep::Signalled { kill_at } });
                }
                None | Some(StopStep::Wanted) => self.kill(now, reason),
                Some(StopStep::Signalled { .. }) => {
                    let reason = self.stop.map_or(reason, |s| s.reason);
                    self.kill(now, reason);
                }
                Some(StopStep::Killed { .. }) => {}
            },
            State::Exit { .. } | State::Remove(_) | State::Done => {}
        }
    }

    pub(super) fn kill(&mut self, now: Duration, reason: EndReason) {
        let req = requests::kill(self.api(), self.id(), "SIGKILL");
        self.send(now, Call::Kill, req);
        let give_up_at = now + self.spec.limits.request_timeout;
        self.stop = Some(Stop { reason, step: StopStep::Killed { give_up_at } });
    }

    /// SIGKILL went out and no end came: the end is not waited for longer.
    pub(super) fn stop_overdue(&mut self, now: Duration) {
        self.abort(Call::Logs);
        self.abort(Call::Wait);
        self.flush_output(now);
        self.error(Error::Timeout { phase: Phase::Stop, after: self.spec.limits.request_timeout });
        let reason = self.stop.map_or(EndReason::Cancelled, |s| s.reason);
        let duration = now.saturating_sub(self.began);
        let end = ProcessEnd { exit_code: None, signal: None, oom_killed: false, duration, reason };
        self.emit(now, EventKind::ProcessEnd(end));
        self.cleanup(now);
    }

    /// The wait answered (with an exit code, or not): the inspect next.
    pub(super) fn waited(&mut self, now: Duration, code: Option<i64>) {
        if !matches!(self.state, State::Waiting) {
            return;
        }
        self.move_to(State::Exit { waited: code });
        let req = requests::inspect(self.api(), self.id());
        self.send(now, Call::Exit, req);
    }

    /// The exit code: the wait's, else the inspect's for a container that
    /// has exited; then the `ProcessEnd`.
    pub(super) fn exited(&mut self, now: Duration, waited: Option<i64>, inspected: Result<Inspected, Error>) {
        let (oom, from_inspect, status) = match inspected {
            Ok(i) => (i.oom_killed, i.exit_code, i.status),
            Err(e) => {
                self.error(e);
                (false, None, None)
            }
        };
        let stopped = status.as_deref().is_none_or(|s| matches!(s, "exited" | "stopped" | "dead"));
        let code = match (waited, from_inspect) {
            (Some(c), _) if (0..=255).contains(&c) && stopped => Some(c),
            (_, Some(c)) if (0..=255).contains(&c) && status.is_some() && stopped => Some(c),
            _ => None,
        };
        let reason = self.stop.filter(|s| s.step != StopStep::Wanted).map_or(EndReason::Exited, |s| s.reason);
        let duration = now.saturating_sub(self.began);
        let end = match code.and_then(|c| i32::try_from(c).ok()) {
            Some(c) => ProcessEnd::from_exit_code(c, oom, duration, reason),
            None => {
                let detail = alloc::format!(
                    "wait said {}, inspect said {} with exit code {}",
                    waited.map_or(String::from("nothing"), |c| c.to_string()),
                    status.as_deref().unwrap_or("nothing"),
                    from_inspect.map_or(String::from("none"), |c| c.to_string()),
                );
                self.error(Error::ExitUnknown { detail });
                ProcessEnd { exit_code: None, signal: None, oom_killed: oom, duration, reason }
            }
        };
        self.flush_output(now);
        self.emit(now, EventKind::ProcessEnd(end));
        self.cleanup(now);
    }

    /// Removes the container unless it is kept; else the resume is over.
    pub(super) fn cleanup(&mut self, now: Duration) {
        self.flush_output(now);
        self.abort_all();
        self.stop = None;
        self.run_deadline = None;
        self.heartbeat_at = None;
        match (&self.container, self.found.keep || self.removed) {
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
        self.heartbeat_at = None;
    }

    /// 2xx, or 404 and 409 (gone, or going): removed.
    pub(super) fn remove_answered(&mut self, now: Duration, status: u16, e: Error) {
        let ok = matches!(status, 200..=299 | 404 | 409);
        match ok {
            true => {
                self.removed = true;
                let id = self.id().to_string();
                self.emit(now, EventKind::ContainerRemove { id });
            }
            false => self.error(e),
        }
        self.finish();
    }

    /// A `DELETE` that failed in transport or timed out is tried again
    /// after a backoff, until the cleanup deadline; past it, `e` is said.
    pub(super) fn remove_failed(&mut self, now: Duration, e: Error) {
        if let State::Remove(r) = &mut self.state {
            if r.again(now) {
                return;
            }
        }
        self.error(e);
        self.finish();
    }
}
