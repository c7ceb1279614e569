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
use bytes::Bytes;

use crate::api::EngineKind;
use crate::api::answers::{Exited, Inspected};
use crate::api::requests;
use crate::decode::FrameDecoder;
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
                match self.attach_carried_nothing_on_podman() {
                    true => self.read_back(now, end),
                    false => self.end_process(now, end),
                }
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

    /// Podman 4.3 can start a container before its attach is joined to the
    /// process (a race in its compat API, fixed in Podman 5.2): the attach
    /// is upgraded and then carries nothing, and the output would be lost
    /// without a word. An attach that carried no byte at all is therefore
    /// checked against the logs before the end is told (unless the spec
    /// asked for no logs: log driver `none`).
    fn attach_carried_nothing_on_podman(&self) -> bool {
        let podman = self.engine.as_ref().is_some_and(|e| e.kind == EngineKind::Podman);
        let logged = self.spec.log_driver.as_deref() != Some("none");
        podman && logged && self.attach.carried == 0 && self.container.is_some()
    }

    /// Reads the process's output back from the logs, holding its `end`.
    fn read_back(&mut self, now: Duration, end: ProcessEnd) {
        self.recovering = Some(end);
        let req = requests::logs(self.api(), self.container.as_deref().unwrap_or_default());
        self.send(now, super::Purpose::Logs, req);
    }

    /// The logs' answer, or why none could be read: what they hold is the
    /// output the attach did not carry, then the held end.
    pub(super) fn logs_read(&mut self, now: Duration, answer: Result<Bytes, String>) {
        let Some(end) = self.recovering.take() else {
            let detail = format!("a logs answer at {}", self.state.step());
            return self.error(Error::Unexpected { detail });
        };
        match answer {
            Ok(logs) => {
                // The attach's decoder ended with the attach: the logs are a stream of their own.
                self.attach.decoder = FrameDecoder::new(self.spec.limits.max_frame_hold);
                if !logs.is_empty() {
                    self.demux(now, logs);
                }
                if let Err(e) = self.attach.decoder.finish().map_err(Error::Output) {
                    self.error(e);
                }
            }
            Err(why) => self.error(Error::OutputUnrecoverable {
                container: self.container.clone().unwrap_or_default(),
                log_driver: String::new(),
                detail: format!("the attach carried nothing, and the logs could not be read: {why}"),
            }),
        }
        self.end_process(now, end);
    }

    fn end_process(&mut self, now: Duration, end: ProcessEnd) {
        self.flush_output(now);
        self.emit(now, EventKind::ProcessEnd(end));
        self.cleanup(now);
    }
}
