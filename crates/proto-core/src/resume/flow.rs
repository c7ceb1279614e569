//! The resume's answers: what each does, from the ping to the exit. Stops
//! and the removal are in `end.rs`; the passing of time in `time.rs`. The
//! graph is in the [module docs](super).

use alloc::format;
use alloc::string::ToString;
use core::time::Duration;

use bytes::Bytes;

use super::ResumeMachine;
use super::calls::{Arrival, Call, CallName, Open};
use super::found::{self, Container};
use super::skip::{LogReader, Piece};
use super::state::{State, StopStep};
use crate::api::answers::{Exited, Inspected};
use crate::api::create::labels;
use crate::api::{EngineInfo, requests};
use crate::error::{Error, Phase};
use crate::event::{Event, EventKind};
use crate::machine::coalesce::Coalescer;
use crate::machine::{Input, Output};
use crate::spec::SpecError;

/// Passes one piece of the logs on: output through the coalescer, errors
/// after the output before them.
fn deliver(now: Duration, out: &mut alloc::collections::VecDeque<Output>, coalescer: &mut Coalescer, p: Piece) {
    let mut push =
        |stream, data| out.push_back(Output::Event(Event { at: now, kind: EventKind::Output { stream, data } }));
    match p {
        Piece::Output(stream, data) => coalescer.push(now, stream, data, &mut push),
        Piece::Error(e) => {
            coalescer.flush(&mut push);
            out.push_back(Output::Error(e));
        }
    }
}

impl ResumeMachine {
    pub(super) fn begin(&mut self, now: Duration) {
        if self.run_id.is_empty() || self.run_id.contains(['\0', '\n']) {
            let why = "must be the io.cstream.run label of a run's container";
            let e = SpecError::Invalid { field: "run id".into(), value: self.run_id.clone(), why: why.into() };
            self.error(Error::Spec(e));
            return self.move_to(State::Done);
        }
        match self.engine {
            None => {
                self.send(now, Call::Ping, requests::ping());
            }
            Some(_) => self.find(now),
        }
    }

    fn find(&mut self, now: Duration) {
        self.move_to(State::Find);
        let label = format!("{}={}", labels::RUN, self.run_id);
        let req = requests::list_labelled(self.api(), &[&label]);
        self.send(now, Call::Find, req);
    }

    // ---- inputs -------------------------------------------------------

    pub(super) fn on_input(&mut self, now: Duration, input: Input) {
        let state = &self.state;
        let at = || format!("the resume was at {}", state.step());
        let Some(arrival) = self.calls.sort(input, self.spec.limits.max_body, &at, &mut self.out) else { return };
        match arrival {
            Arrival::Head { call: Call::Ping, status: 200, headers } => {
                let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match EngineInfo::from_ping_headers(pairs, None) {
                    Ok(info) => self.engine = Some(info),
                    Err(e) => {
                        self.abort_all();
                        self.error(Error::Version(e));
                        self.move_to(State::Done);
                    }
                }
            }
            Arrival::Head { .. } => {}
            Arrival::Stream { data, .. } => self.on_logs(now, data),
            Arrival::Answered(r) => self.on_end(now, r),
            Arrival::Failed(r, e) => self.on_failure(now, r.call, e),
            Arrival::Written { command, .. } => {
                let detail = format!("a stdin write done for command {}, but a resumed run has no stdin", command.0);
                self.error(Error::Unexpected { detail });
            }
        }
    }

    fn on_end(&mut self, now: Duration, r: Open) {
        let body = r.body.freeze();
        let status = r.status.unwrap_or(0);
        let failed = || Error::answered(r.call.phase(), status, &body);
        match r.call {
            Call::Ping => match status {
                200 if self.engine.is_some() => self.find(now),
                200 => {} // refused on the headers already
                _ => self.fail(failed()),
            },
            Call::Find => match status {
                200 => self.found(now, &body),
                _ => self.fail(failed()),
            },
            Call::Inspect => match status {
                200 => match Container::parse(&body) {
                    Ok(c) => self.inspected(now, c),
                    Err(e) => self.fail(e.in_phase(Phase::Inspect)),
                },
                // Gone since it was listed: removed by someone else.
                404 => self.fail(Error::RunNotFound { run_id: self.run_id.clone() }),
                _ => self.fail(failed()),
            },
            Call::Logs => {
                match status {
                    200 => {
                        let (out, coalescer) = (&mut self.out, &mut self.coalescer);
                        self.logs.finish(&mut |p| deliver(now, out, coalescer, p));
                    }
                    // The log driver keeps nothing the engine can read back
                    // (Docker: 501 for `none`; Podman: 500), or the container is gone.
                    _ => self.unrecoverable(failed().to_string()),
                }
                self.wait(now);
            }
            Call::Kill => match status {
                // 404, 409: it is not running, or not there; the end says which.
                200..=299 | 404 | 409 => {}
                _ => self.error(failed()),
            },
            Call::Wait => match status {
                200 => match Exited::parse(&body) {
                    Ok(e) => self.waited(now, Some(e.status_code)),
                    Err(e) => {
                        self.error(e.in_phase(Phase::Wait));
                        self.waited(now, None);
                    }
                },
                _ => {
                    self.error(failed());
                    self.waited(now, None);
                }
            },
            Call::Exit => {
                let State::Exit { waited } = self.state else { return };
                let inspected = match status {
                    200 => Inspected::parse(&body).map_err(|e| e.in_phase(Phase::Inspect)),
                    _ => Err(failed()),
                };
                self.exited(now, waited, inspected);
            }
            Call::Remove => self.remove_answered(now, status, failed()),
        }
    }

    /// A request failed: in transport, by its deadline, or with an answer
    /// that cannot be read.
    pub(super) fn on_failure(&mut self, now: Duration, call: Call, e: Error) {
        match call {
            Call::Ping | Call::Find | Call::Inspect => self.fail(e),
            // The output from here on is lost to this resume; the exit is not.
            Call::Logs => {
                self.error(e);
                self.wait(now);
            }
            Call::Kill => self.error(e),
            Call::Wait => {
                self.error(e);
                self.waited(now, None);
            }
            Call::Exit => {
                let State::Exit { waited } = self.state else { return };
                self.exited(now, waited, Err(e));
            }
            Call::Remove => self.remove_failed(now, e),
        }
    }

    /// A failure before anything was done to the container: said, and the
    /// resume is over.
    fn fail(&mut self, e: Error) {
        self.abort_all();
        self.error(e);
        self.move_to(State::Done);
        self.run_deadline = None;
    }

    // ---- the container ------------------------------------------------

    fn found(&mut self, now: Duration, body: &[u8]) {
        let list = match found::listed(body) {
            Ok(list) => list,
            Err(e) => return self.fail(e.in_phase(Phase::List)),
        };
        if list.is_empty() {
            return self.fail(Error::RunNotFound { run_id: self.run_id.clone() });
        }
        if list.len() > 1 {
            let detail = format!("{} containers are labelled {}={}", list.len(), labels::RUN, self.run_id);
            return self.fail(Error::Protocol { phase: Phase::List, detail });
        }
        let Some(c) = list.into_iter().next() else { return };
        if let (Some(owner), Some(alive)) = (&c.owner, self.owner_alive) {
            if alive(owner) {
                let e = Error::RunHeld { run_id: self.run_id.clone(), owner: owner.clone() };
                return self.fail(e);
            }
        }
        self.container = Some(c.id);
        self.move_to(State::Inspect);
        let req = requests::inspect(self.api(), self.id());
        self.send(now, Call::Inspect, req);
    }

    fn inspected(&mut self, now: Duration, c: Container) {
        self.found = c;
        self.heartbeat_at = self.spec.heartbeat.map(|h| now + h);
        if self.found.never_started() {
            // Its client died between create and start: no process, no output.
            self.stop = None;
            let reason = crate::event::EndReason::StartFailed;
            self.emit(now, EventKind::ProcessEnd(crate::event::ProcessEnd::unstarted(None, reason)));
            return self.cleanup(now);
        }
        if self.found.log_driver == "none" {
            let detail = "its log driver is none, which keeps no output".to_string();
            self.unrecoverable(detail);
            self.move_to(State::Waiting);
            self.send_wait(now);
        } else {
            self.logs = LogReader::new(self.seen, self.found.tty, self.spec.limits.max_frame_hold);
            self.move_to(State::Following);
            let req = found::logs(self.api(), self.id());
            self.send(now, Call::Logs, req);
        }
        if let Some(stop) = self.stop.filter(|s| s.step == StopStep::Wanted) {
            self.stop = None;
            match self.found.status.as_str() {
                "running" | "paused" | "restarting" => self.request_stop(now, stop.reason),
                _ => {} // Exited already: there is nothing to stop.
            }
        }
    }

    fn unrecoverable(&mut self, detail: alloc::string::String) {
        let e = Error::OutputUnrecoverable {
            container: self.id().to_string(),
            log_driver: self.found.log_driver.clone(),
            detail,
        };
        self.error(e);
    }

    fn on_logs(&mut self, now: Duration, data: Bytes) {
        let (out, coalescer) = (&mut self.out, &mut self.coalescer);
        self.logs.feed(data, &mut |p| deliver(now, out, coalescer, p));
    }

    pub(super) fn flush_output(&mut self, now: Duration) {
        let out = &mut self.out;
        self.coalescer.flush(|stream, data| {
            out.push_back(Output::Event(Event { at: now, kind: EventKind::Output { stream, data } }))
        });
    }

    /// The logs have ended (the container stopped) or failed: its exit next.
    fn wait(&mut self, now: Duration) {
        self.flush_output(now);
        if matches!(self.state, State::Following) {
            self.move_to(State::Waiting);
            self.send_wait(now);
        }
    }

    fn send_wait(&mut self, now: Duration) {
        let req = requests::wait_not_running(self.api(), self.id());
        self.send(now, Call::Wait, req);
    }
}
