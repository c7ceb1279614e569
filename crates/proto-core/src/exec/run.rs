//! What each answer, timeout and stop does to a step. The graph is in the
//! [module docs](super).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use super::state::{Next, State, Step, Stopping};
use super::{Call, ExecMachine, INSPECT_AGAIN, requests};
use crate::api::EngineInfo;
use crate::calls::{Arrival, CallName};
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
use crate::machine::{Input, Output, RequestId};

/// What `GET /exec/{id}/json` says.
#[derive(Deserialize)]
struct Inspected {
    #[serde(rename = "Running", default)]
    running: bool,
    #[serde(rename = "ExitCode", default)]
    exit_code: Option<i64>,
}

#[derive(Deserialize)]
struct Created {
    #[serde(rename = "Id")]
    id: String,
}

impl ExecMachine {
    pub(super) fn begin(&mut self, now: Duration) {
        if self.spec.command.as_ref().is_none_or(|c| c.is_empty()) {
            let why = "a step needs a command to run";
            let e = crate::spec::SpecError::Invalid { field: "command".into(), value: String::new(), why: why.into() };
            self.error(Error::Spec(e));
            return self.end_unstarted(now, EndReason::StartFailed);
        }
        match self.engine {
            None => {
                self.send(now, Call::Ping, crate::api::requests::ping());
            }
            Some(_) => self.create(now),
        }
    }

    fn create(&mut self, now: Duration) {
        let sized = self.spec.tty_size.filter(|_| self.spec.tty && requests::sized_at_create(self.api()));
        self.move_to(State::Create { stop: None, sized });
        let req = requests::create(self.api(), &self.container, &self.spec, &self.token);
        self.send(now, Call::Create, req);
    }

    pub(super) fn on_input(&mut self, now: Duration, input: Input) {
        let state = &self.state;
        let at = || format!("the step was at {}", state.name());
        let Some(arrival) = self.calls.sort(input, self.spec.limits.max_body, &at, &mut self.out) else { return };
        match arrival {
            Arrival::Head { call: Call::Start, status: 101 | 200, .. } => self.started(now),
            Arrival::Head { call: Call::Ping, status: 200, headers } => {
                let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                if let Err(e) = EngineInfo::from_ping_headers(pairs, None).map(|info| self.engine = Some(info)) {
                    self.error(Error::Version(e));
                    self.end_unstarted(now, EndReason::StartFailed);
                }
            }
            Arrival::Head { .. } => {}
            Arrival::Stream { data, .. } => self.on_output(now, data),
            Arrival::Answered(r) => {
                let body = r.body.freeze();
                self.on_end(now, r.id, r.call, r.status, &body)
            }
            Arrival::Failed(r, e) => {
                self.given_up(r.id);
                self.on_failure(now, r.id, r.call, e)
            }
            Arrival::Written { command, result } => {
                self.commands.stdin.written(command, result, Phase::Exec, &mut self.out);
            }
        }
    }

    fn on_end(&mut self, now: Duration, id: RequestId, call: Call, status: Option<u16>, body: &[u8]) {
        let failed = || Error::answered(call.phase(), status.unwrap_or(0), body);
        match (call, status) {
            (Call::Ping, Some(200)) if self.engine.is_some() => {
                if let State::Ping = self.state {
                    self.create(now)
                }
            }
            (Call::Ping, Some(200)) => {} // failed on the headers already
            (Call::Create, Some(201 | 200)) => match serde_json::from_slice::<Created>(body) {
                Ok(c) => self.created(now, c.id),
                Err(e) => {
                    let detail = format!("the exec create's answer: {e}");
                    self.on_failure(now, id, call, Error::Protocol { phase: Phase::Exec, detail })
                }
            },
            (Call::Create, Some(404 | 409)) => {
                let message = crate::api::answers::error_message(body);
                let e = Error::ContainerGone { container: self.container.clone(), message };
                self.on_failure(now, id, call, e)
            }
            (Call::Start, Some(101 | 200)) => self.output_ended(now),
            (Call::Inspect, Some(200)) => match serde_json::from_slice::<Inspected>(body) {
                Ok(i) if i.running || i.exit_code.is_none() => self.inspect_later(now),
                Ok(i) => self.end(now, i.exit_code.and_then(|c| i32::try_from(c).ok())),
                Err(e) => {
                    let detail = format!("the exec inspect's answer: {e}");
                    self.on_failure(now, id, call, Error::Protocol { phase: Phase::Exec, detail })
                }
            },
            (Call::Resize, Some(200..=299)) => self.resize_answered(now, id, Ok(())),
            (Call::SignalCreate, Some(201 | 200)) => match serde_json::from_slice::<Created>(body) {
                Ok(c) => {
                    let req = requests::start_detached(self.api(), &c.id);
                    self.send(now, Call::SignalStart, req);
                }
                Err(e) => self.on_failure(now, id, call, Error::StepNotStopped { message: e.to_string() }),
            },
            (Call::SignalStart, Some(200..=299)) => {}
            _ => self.on_failure(now, id, call, failed()),
        }
    }

    /// A request failed: in transport, by its deadline, or in its answer.
    pub(super) fn on_failure(&mut self, now: Duration, id: RequestId, call: Call, e: Error) {
        match call {
            Call::Ping | Call::Create => {
                self.error(e);
                self.end_unstarted(now, EndReason::StartFailed);
            }
            Call::Start if matches!(self.state, State::Start { .. }) => {
                self.error(e);
                self.end_unstarted(now, EndReason::StartFailed);
            }
            // The stream failed mid-step: what it carried next is lost.
            Call::Start => {
                self.error(e);
                self.output_ended(now);
            }
            Call::Inspect => {
                self.error(e);
                self.end(now, None);
            }
            Call::Resize => self.resize_answered(now, id, Err(e)),
            Call::SignalCreate | Call::SignalStart => {
                let message = match e {
                    Error::Engine { message, .. } => message,
                    e => e.to_string(),
                };
                self.error(Error::StepNotStopped { message });
            }
        }
    }

    fn created(&mut self, now: Duration, id: String) {
        let State::Create { stop, sized } = self.state else { return };
        self.exec = Some(id.clone());
        if let Some(reason) = stop {
            return self.end_unstarted(now, reason);
        }
        self.move_to(State::Start { stop: None, sized });
        let req = requests::start(self.api(), &id, self.spec.tty);
        self.stream = Some(self.send(now, Call::Start, req));
    }

    /// The step's stream is up: it runs.
    fn started(&mut self, now: Duration) {
        let State::Start { stop, sized } = self.state else { return };
        let step = Step { started_at: now, heartbeat_at: self.spec.heartbeat.map(|h| now + h), stop: None };
        let argv = self.spec.command.clone().unwrap_or_default();
        let (command, args) = match argv.split_first() {
            Some((c, rest)) => (c.clone(), rest.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let process =
            ProcessId::Exec { container: self.container.clone(), exec: self.exec.clone().unwrap_or_default() };
        self.emit(now, EventKind::ProcessStart { command, args, process });
        self.move_to(State::Running(step));
        self.flush_stdin();
        // Older engines get the size now; newer ones had it in the create,
        // unless a resize asked for since changed it.
        if let Some(size) = self.spec.tty_size.filter(|s| self.spec.tty && sized != Some(*s)) {
            self.commands.resizes.ask(size, None);
            self.push_resize(now);
        }
        if let Some(reason) = stop {
            self.request_stop(now, reason);
        }
    }

    pub(super) fn send_resize(&mut self, now: Duration, size: TtySize) -> RequestId {
        let req = requests::resize(self.api(), self.exec.as_deref().unwrap_or_default(), size);
        let id = self.send(now, Call::Resize, req);
        self.emit(now, EventKind::TerminalResize { size });
        id
    }

    fn on_output(&mut self, now: Duration, mut data: Bytes) {
        if self.spec.tty {
            return self.output(now, Stream::Tty, data);
        }
        loop {
            match self.decoder.decode(&mut data) {
                Ok(Some(chunk)) => self.output(now, chunk.stream, chunk.data),
                Ok(None) => return,
                Err(e) => {
                    self.error(Error::Output(e));
                    self.abort(Call::Start);
                    return self.output_ended(now);
                }
            }
        }
    }

    fn output(&mut self, now: Duration, stream: Stream, data: Bytes) {
        let out = &mut self.out;
        self.coalescer.push(now, stream, data, |s, d| out.push_back(super::output_event(now, s, d)));
    }

    pub(super) fn flush_output(&mut self, now: Duration) {
        let out = &mut self.out;
        self.coalescer.flush(|s, d| out.push_back(super::output_event(now, s, d)));
    }

    /// The step's stream ended: its exit code is asked for.
    fn output_ended(&mut self, now: Duration) {
        let State::Running(step) = &self.state else { return };
        let step = step.clone();
        if !self.spec.tty {
            if let Err(e) = self.decoder.finish() {
                self.error(Error::Output(e));
            }
        }
        self.flush_output(now);
        self.abort(Call::Start);
        self.abort(Call::Resize);
        let give_up_at = now + self.spec.limits.request_timeout;
        self.move_to(State::Inspect { step, again_at: None, give_up_at });
        self.inspect(now);
    }

    fn inspect(&mut self, now: Duration) {
        if let State::Inspect { again_at, .. } = &mut self.state {
            *again_at = None;
        }
        let req = requests::inspect(self.api(), self.exec.as_deref().unwrap_or_default());
        self.send(now, Call::Inspect, req);
    }

    /// The engine says the step runs still, though its output ended: it may
    /// not have recorded the exit yet. Asked again shortly, up to a limit.
    fn inspect_later(&mut self, now: Duration) {
        let State::Inspect { again_at, give_up_at, .. } = &mut self.state else { return };
        if now >= *give_up_at {
            let detail = "the engine still says the step runs, though its output ended".to_string();
            self.error(Error::ExitUnknown { detail });
            return self.end(now, None);
        }
        *again_at = Some(now + INSPECT_AGAIN);
    }

    /// The step ended with `code` (unknown when `None`).
    fn end(&mut self, now: Duration, code: Option<i32>) {
        let (State::Inspect { step, .. } | State::Running(step)) = &self.state else { return };
        let duration = now.saturating_sub(step.started_at);
        let reason = step.stop.map_or(EndReason::Exited, |s| s.reason);
        self.flush_output(now);
        let end = match code {
            Some(code) => ProcessEnd::from_exit_code(code, false, duration, reason),
            None => ProcessEnd { exit_code: None, signal: None, oom_killed: false, duration, reason },
        };
        self.emit(now, EventKind::ProcessEnd(end));
        self.finish();
    }

    /// The step never ran: said, and the machine is done.
    pub(super) fn end_unstarted(&mut self, now: Duration, reason: EndReason) {
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(None, reason)));
        self.finish();
    }

    fn finish(&mut self) {
        for id in self.calls.drain() {
            self.out.push_back(Output::Abort { id });
            self.given_up(id);
        }
        self.run_deadline = None;
        self.move_to(State::Done);
    }

    // ---- stops and time -----------------------------------------------

    pub(super) fn request_stop(&mut self, now: Duration, reason: EndReason) {
        match &mut self.state {
            State::Ping => {
                for id in self.calls.drain() {
                    self.out.push_back(Output::Abort { id });
                }
                self.end_unstarted(now, reason);
            }
            State::Create { stop, .. } | State::Start { stop, .. } => {
                stop.get_or_insert(reason);
            }
            State::Running(step) => match step.stop {
                // A second stop: SIGKILL at once.
                Some(Stopping { reason, next: Next::Kill { .. } }) => self.signal(now, reason, "SIGKILL"),
                Some(_) => {}
                None => {
                    let signal = self.spec.stop_signal.clone();
                    self.signal(now, reason, &signal)
                }
            },
            State::Inspect { .. } | State::Done => {}
        }
    }

    /// Sends `signal` to the step's processes.
    fn signal(&mut self, now: Duration, reason: EndReason, signal: &str) {
        let State::Running(step) = &mut self.state else { return };
        let kill = signal == "SIGKILL";
        let next = match kill {
            true => Next::GiveUp { give_up_at: now + self.spec.limits.request_timeout },
            false => Next::Kill { kill_at: now + self.spec.stop_grace },
        };
        step.stop = Some(Stopping { reason, next });
        let req = requests::signal(self.api(), &self.container, &self.spec, &self.token, signal);
        self.send(now, Call::SignalCreate, req);
    }

    pub(super) fn on_timeout(&mut self, now: Duration) {
        while let Some((r, e)) = self.calls.time_out(now, self.spec.limits.request_timeout, &mut self.out) {
            self.given_up(r.id);
            self.on_failure(now, r.id, r.call, e);
        }
        if self.run_deadline.is_some_and(|t| t <= now) {
            self.run_deadline = None;
            self.request_stop(now, EndReason::TimedOut);
        }
        if let State::Running(step) = &mut self.state {
            match step.stop {
                Some(Stopping { reason, next: Next::Kill { kill_at } }) if kill_at <= now => {
                    self.signal(now, reason, "SIGKILL")
                }
                Some(Stopping { next: Next::GiveUp { give_up_at }, .. }) if give_up_at <= now => {
                    let after = self.spec.limits.request_timeout;
                    let message = format!("the step's output did not end within {after:?} of SIGKILL");
                    self.error(Error::StepNotStopped { message });
                    self.flush_output(now);
                    self.end(now, None);
                }
                _ => {}
            }
        }
        if let (State::Running(step), Some(every)) = (&mut self.state, self.spec.heartbeat) {
            if step.heartbeat_at.is_some_and(|t| t <= now) {
                let elapsed = now.saturating_sub(step.started_at);
                step.heartbeat_at = Some(now + every);
                self.emit(now, EventKind::Heartbeat { elapsed });
            }
        }
        if let State::Inspect { again_at: Some(t), .. } = self.state {
            if t <= now {
                self.inspect(now);
            }
        }
        if self.coalescer.deadline().is_some_and(|t| t <= now) {
            self.flush_output(now);
        }
    }
}
