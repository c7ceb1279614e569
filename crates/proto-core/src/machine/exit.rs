//! How the process ended: the wait's answer checked against inspect.
//!
//! The wait's `StatusCode` is not always right: Podman's compat wait can
//! answer -1, or answer before the container has exited, in races (seen once
//! in 500 runs here), and any engine can put an `Error` in the wait's body
//! (Podman 4.3: "unexpected end of JSON input", about 1 run in 1500 under
//! load). Inspect, read after the output ended, says what the engine
//! recorded. So: an inspect that shows the container still running means the
//! wait answered early, and it is asked again; a terminal inspect's
//! `ExitCode` is the code; the wait's code stands only where inspect could
//! not be read and the wait's answer is plausible (not negative, no `Error`).
//! Anything else is an unknown exit code, with the engine's answers (the
//! wait's `Error` among them) in [`Error::ExitUnknown`], never a made-up one.

use alloc::format;
use alloc::string::String;
use core::time::Duration;

use super::Machine;
use super::lifecycle::end_timing;
use super::state::{Process, State};
use crate::api::answers::{Exited, Inspected};
use crate::api::requests;
use crate::error::Error;
use crate::event::{EventKind, ProcessEnd};

/// How many times a wait that answered early is asked again.
const MAX_REWAITS: u32 = 2;

/// What the wait and inspect together say.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// The process exited with this code.
    Code(i64),
    /// The container still runs: the wait answered too early.
    StillRunning,
    /// Neither can be trusted; why.
    Unknown(String),
}

/// The verdict on a wait answer (if one came) and an inspect (if it could be read).
pub(super) fn verdict(wait: Option<&Exited>, inspected: Option<&Inspected>) -> Verdict {
    let plausible = wait.filter(|w| w.status_code >= 0 && w.error.is_none()).map(|w| w.status_code);
    let Some(i) = inspected else {
        return match plausible {
            Some(code) => Verdict::Code(code),
            None => Verdict::Unknown(format!("the wait answered {wait:?} and the container could not be inspected")),
        };
    };
    match i.status.as_deref() {
        Some("running" | "restarting" | "paused" | "created") => Verdict::StillRunning,
        _ => match i.exit_code.filter(|c| *c >= 0).or(plausible) {
            Some(code) => Verdict::Code(code),
            None => Verdict::Unknown(format!("the wait answered {wait:?} and inspect {i:?}")),
        },
    }
}

impl Machine {
    /// Ends the process by the verdict on the wait and `inspected`, or waits
    /// again when the container still runs.
    pub(super) fn judge_exit(&mut self, now: Duration, inspected: Option<Inspected>) {
        let State::Inspect(p) = &self.state else {
            let detail = format!("an inspect's answer at {}", self.state.step());
            return self.error(Error::Unexpected { detail });
        };
        let mut p = p.clone();
        let oom = inspected.as_ref().is_some_and(|i| i.oom_killed);
        match verdict(p.ends.exit.as_ref().map(|e| &e.wait), inspected.as_ref()) {
            Verdict::StillRunning if p.rewaits < MAX_REWAITS => {
                p.rewaits += 1;
                p.ends.exit = None;
                self.move_to(State::Running(p));
                let req = requests::wait_not_running(self.api(), self.container.as_deref().unwrap_or_default());
                self.send(now, super::Purpose::Wait, req);
            }
            Verdict::Code(code) => {
                let code = i32::try_from(code).unwrap_or(i32::MAX);
                let (duration, reason) = end_timing(&p, now);
                let end = ProcessEnd::from_exit_code(code, oom, duration, reason);
                self.end_process(now, end);
            }
            Verdict::StillRunning => {
                self.exit_unknown(now, &p, oom, "the container still runs after the wait answered")
            }
            Verdict::Unknown(why) => self.exit_unknown(now, &p, oom, &why),
        }
    }

    fn exit_unknown(&mut self, now: Duration, p: &Process, oom_killed: bool, why: &str) {
        self.error(Error::ExitUnknown { detail: why.into() });
        let (duration, reason) = end_timing(p, now);
        let end = ProcessEnd { exit_code: None, signal: None, oom_killed, duration, reason };
        self.end_process(now, end);
    }

    fn end_process(&mut self, now: Duration, end: ProcessEnd) {
        self.flush_output(now);
        self.emit(now, EventKind::ProcessEnd(end));
        self.cleanup(now);
    }
}
