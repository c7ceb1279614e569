//! The job's answers: what each does to the run, from the ping to the end
//! of the task. Stops, cleanup and the sweep are in `stop.rs`; the passing
//! of time in `time.rs`. The graph is in the [module docs](super).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::answers::{self, Task};
use super::calls::{Arrival, Call, CallName, Open};
use super::logs::Piece;
use super::state::{Job, State, TaskEnd};
use super::{FAST_POLL_INTERVAL, FAST_POLLING, JobMachine, NODE_INTERVAL, POLL_INTERVAL, refuse, requests, service};
use crate::api::EngineInfo;
use crate::error::{Error, Phase};
use crate::event::{EndReason, Event, EventKind, ProcessEnd, ProcessId};
use crate::machine::{Input, Output};
use crate::spec::PullPolicy;

fn output_event(at: Duration, stream: crate::event::Stream, data: Bytes) -> Output {
    Output::Event(Event { at, kind: EventKind::Output { stream, data } })
}

impl JobMachine {
    pub(super) fn begin(&mut self, now: Duration) {
        if let Some(e) = refuse::refusal(&self.spec) {
            return self.fail(now, Error::Spec(e));
        }
        match self.engine {
            None => {
                self.send(now, Call::Ping, crate::api::requests::ping());
            }
            Some(_) => self.after_ping(now),
        }
    }

    fn after_ping(&mut self, now: Duration) {
        if let Some(e) = self.engine.as_ref().and_then(refuse::engine_refusal) {
            return self.fail(now, Error::Spec(e));
        }
        self.move_to(State::Create { stop: None });
        let body = service::body(&self.spec, &self.run, &self.placement);
        let req = requests::create(self.api(), body, self.spec.registry_auth.as_ref());
        self.send(now, Call::Create, req);
    }

    // ---- inputs -------------------------------------------------------

    pub(super) fn on_input(&mut self, now: Duration, input: Input) {
        let state = &self.state;
        let at = || format!("the swarm job was at {}", state.step());
        let Some(arrival) = self.calls.sort(input, self.spec.limits.max_body, &at, &mut self.out) else { return };
        match arrival {
            Arrival::Head { call, status, headers } => {
                // The final read re-reads every message: its limit is on
                // silence, not on its length, which grows with the output.
                if call == Call::Final && status == 200 {
                    self.drain_until = Some(now + self.spec.limits.drain_timeout);
                }
                if call == Call::Ping && status == 200 {
                    let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                    match EngineInfo::from_ping_headers(pairs, None) {
                        Ok(info) => self.engine = Some(info),
                        Err(e) => self.fail(now, Error::Version(e)),
                    }
                }
            }
            Arrival::Stream { call, data } => {
                if call == Call::Final {
                    self.drain_until = Some(now + self.spec.limits.drain_timeout);
                }
                self.on_logs(now, data)
            }
            Arrival::Answered(r) => self.on_end(now, r),
            Arrival::Failed(r, e) => self.on_failure(now, r.call, e),
            Arrival::Written { command, .. } => {
                let detail = format!("a stdin write done for command {}, but a swarm job has no stdin", command.0);
                self.error(Error::Unexpected { detail });
            }
        }
    }

    fn on_end(&mut self, now: Duration, r: Open) {
        let body = r.body.freeze();
        let status = r.status;
        let failed = || Error::answered(r.call.phase(), status.unwrap_or(0), &body);
        match r.call {
            Call::Ping => match status {
                Some(200) if self.engine.is_some() => self.after_ping(now),
                Some(200) => {} // failed on the headers already
                _ => self.fail(now, failed()),
            },
            Call::Create => self.created(now, status, &body),
            Call::Tasks => match status {
                Some(200) => match answers::tasks(&body) {
                    Ok(tasks) => self.polled(now, Some(tasks)),
                    Err(e) => self.on_failure(now, Call::Tasks, e.in_phase(Phase::Task)),
                },
                // The service is gone: so is its task.
                Some(404) if matches!(self.state, State::Stopping(_)) => self.polled(now, None),
                _ => self.on_failure(now, Call::Tasks, failed()),
            },
            Call::Node => match status.map(|_| answers::node(&body)) {
                Some(Ok(node)) if status == Some(200) => self.node_checked(now, node),
                Some(Err(e)) if status == Some(200) => self.fail(now, e.in_phase(Phase::Node)),
                _ => self.fail(now, failed()),
            },
            // A follow that ends (it should not) or fails leaves nothing
            // behind: the final read delivers what it did not. One the
            // engine refuses is said, and the final read not tried.
            Call::Follow if status == Some(200) => {}
            Call::Follow => {
                self.logs_refused = true;
                self.error(failed());
            }
            Call::Final => {
                if status == Some(200) {
                    let (out, coalescer) = (&mut self.out, &mut self.coalescer);
                    self.logs.finish(true, &mut |p| deliver(now, out, coalescer, p));
                } else {
                    self.error(failed());
                }
                self.drained(now);
            }
            Call::Remove => self.remove_answered(now, status, failed()),
            Call::Sweep => self.swept(now, status, &body),
            Call::SweepRemove => self.sweep_removed(now, status, failed()),
        }
    }

    /// A request failed: in transport, by its deadline, or with an answer
    /// that cannot be read.
    pub(super) fn on_failure(&mut self, now: Duration, call: Call, e: Error) {
        match call {
            // The final read delivers what the follow missed.
            Call::Follow => {}
            Call::Final => {
                self.error(e);
                self.drained(now);
            }
            // Sent, and then nothing known: the service may exist.
            Call::Create => self.lost_create(now, e),
            Call::Tasks if matches!(self.state, State::Stopping(_)) => {
                // The task's end cannot be learned: the stop ends without it.
                self.error(e);
                self.task_over(now, None);
            }
            Call::Remove => self.remove_failed(now, e),
            Call::Sweep | Call::SweepRemove => self.sweep_failed(now, call, e),
            Call::Ping | Call::Tasks | Call::Node => self.fail(now, e),
        }
    }

    /// When to poll the task next: soon in the first seconds, then less often.
    pub(super) fn next_poll(&self, now: Duration) -> Duration {
        now + if now < self.fast_until { FAST_POLL_INTERVAL } else { POLL_INTERVAL }
    }

    fn on_logs(&mut self, now: Duration, data: Bytes) {
        let (out, coalescer) = (&mut self.out, &mut self.coalescer);
        self.logs.feed(data, &mut |p| deliver(now, out, coalescer, p));
    }

    pub(super) fn flush_output(&mut self, now: Duration) {
        let out = &mut self.out;
        self.coalescer.flush(|s, d| out.push_back(output_event(now, s, d)));
    }

    // ---- create -------------------------------------------------------

    fn created(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let State::Create { stop } = self.state else {
            let detail = format!("a service create's answer at {}", self.state.step());
            return self.error(Error::Unexpected { detail });
        };
        let failed = || Error::answered(Phase::Service, status.unwrap_or(0), body);
        match status {
            Some(200 | 201) => match answers::created(body) {
                Ok(id) => {
                    self.service = Some(id.clone());
                    self.emit(now, EventKind::ContainerCreate { id, image: self.spec.image.to_string() });
                    if let Some(reason) = stop {
                        self.end_unstarted(now, None, reason);
                        return self.cleanup(now);
                    }
                    self.move_to(State::Placing);
                    self.fast_until = now + FAST_POLLING;
                    self.poll(now);
                }
                Err(e) => self.lost_create(now, e.in_phase(Phase::Service)),
            },
            Some(409) => {
                let message = crate::api::answers::error_message(body);
                self.fail(now, Error::NameInUse { message })
            }
            // Not a swarm manager (Docker), no swarm at all (Podman): nothing was made.
            Some(s) if s < 500 || s == 503 => self.fail(now, failed()),
            // A failure inside the manager may come after the service was made.
            _ => self.lost_create(now, failed()),
        }
    }

    // ---- the task -----------------------------------------------------

    /// Asks for the service's tasks, unless that is under way.
    pub(super) fn poll(&mut self, now: Duration) {
        self.poll_at = None;
        if !self.calls.is_out(Call::Tasks) {
            let req = requests::tasks(self.api(), self.id());
            self.send(now, Call::Tasks, req);
        }
    }

    /// The tasks answered: `None` when the service is gone.
    fn polled(&mut self, now: Duration, tasks: Option<Vec<Task>>) {
        let tasks = tasks.unwrap_or_default();
        match &self.state {
            State::Placing => match tasks.into_iter().find(|t| t.started() || t.ended()) {
                Some(t) if t.started() => self.started(now, t),
                Some(t) => self.unstarted(now, t),
                None => self.poll_at = Some(self.next_poll(now)),
            },
            State::Running(job) => match tasks.into_iter().find(|t| t.id == job.task) {
                Some(t) if t.ended() => self.ended(now, t),
                Some(_) => self.poll_at = Some(self.next_poll(now)),
                None => {
                    let task = job.task.clone();
                    let message = "the task is no longer listed by its service".to_string();
                    self.ended(now, Task { id: task, state: "gone".into(), message, ..Task::default() })
                }
            },
            State::Stopping(s) => {
                let task = s.job.as_ref().map(|j| j.task.clone());
                let mine = |t: &Task| task.as_ref().is_none_or(|id| *id == t.id);
                let live = tasks.iter().filter(|t| mine(t)).any(|t| !t.ended());
                match live {
                    true => self.poll_at = Some(self.next_poll(now)),
                    false => {
                        let code = task.and_then(|id| tasks.iter().find(|t| t.id == id).and_then(exit_code));
                        self.task_over(now, Some(code));
                    }
                }
            }
            // The run moved on while the poll was out.
            _ => {}
        }
    }

    /// The task's process has started (it may have ended already, too).
    fn started(&mut self, now: Duration, t: Task) {
        let job = Job {
            task: t.id.clone(),
            node: t.node.clone(),
            container: t.container.clone(),
            started_at: now,
            node_at: None,
            heartbeat_at: self.spec.heartbeat.map(|h| now + h),
        };
        let argv = self.spec.command.clone().unwrap_or_default();
        let (command, args) = match argv.split_first() {
            Some((c, rest)) => (c.clone(), rest.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let process = ProcessId::Task {
            service: self.id().to_string(),
            task: job.task.clone(),
            node: job.node.clone(),
            container: job.container.clone(),
        };
        self.emit(now, EventKind::ProcessStart { command, args, process });
        self.move_to(State::Running(job));
        if t.ended() {
            return self.ended(now, t);
        }
        let follow = requests::logs(self.api(), self.id(), true);
        self.logs.begin();
        self.send(now, Call::Follow, follow);
        self.poll_at = Some(self.next_poll(now));
        self.check_node(now);
    }

    /// Asks for the state of the task's node, unless that is under way.
    pub(super) fn check_node(&mut self, now: Duration) {
        let State::Running(job) = &mut self.state else { return };
        job.node_at = None;
        if job.node.is_empty() || self.calls.is_out(Call::Node) {
            return;
        }
        let node = job.node.clone();
        let req = requests::node(self.api(), &node);
        self.send(now, Call::Node, req);
    }

    fn node_checked(&mut self, now: Duration, node: answers::Node) {
        let State::Running(job) = &mut self.state else { return };
        if !node.lost() {
            job.node_at = Some(now + NODE_INTERVAL);
            return;
        }
        let id = job.node.clone();
        let hostname = if node.hostname.is_empty() { id.clone() } else { node.hostname };
        self.fail(now, Error::NodeDown { node: id, hostname, state: node.state });
    }

    /// A task that ended without running: rejected (a missing image, a
    /// mount the node lacks), or failed or shut down before its container.
    fn unstarted(&mut self, now: Duration, t: Task) {
        let image = self.spec.image.to_string();
        let e = match t.err.to_ascii_lowercase().contains("no such image") {
            true if self.spec.pull == PullPolicy::Never => Error::ImageMissing { image },
            true => Error::Pull { image, message: t.message.clone() },
            false => Error::TaskEnded { task: t.id.clone(), state: t.state.clone(), message: t.message.clone() },
        };
        self.error(e);
        let code = crate::api::answers::start_failure_exit_code(&t.err);
        self.end_unstarted(now, code, EndReason::StartFailed);
        self.cleanup(now);
    }

    /// The running task ended: the live read is closed, the final one sent.
    fn ended(&mut self, now: Duration, t: Task) {
        let State::Running(job) = &mut self.state else { return };
        let job = job.clone();
        self.abort(Call::Follow);
        self.abort(Call::Node);
        self.poll_at = None;
        let end = TaskEnd { exit_code: exit_code(&t), state: t.state, message: t.message };
        self.move_to(State::Draining { job, end });
        if self.logs_refused {
            return self.drained(now);
        }
        self.logs.begin();
        let req = requests::logs(self.api(), self.id(), false);
        self.send(now, Call::Final, req);
    }

    /// The final read is over (or failed): the process's end is reported.
    pub(super) fn drained(&mut self, now: Duration) {
        let State::Draining { job, end } = &self.state else { return };
        let (job, end) = (job.clone(), end.clone());
        self.drain_until = None;
        self.abort(Call::Final);
        self.flush_output(now);
        if !matches!(end.state.as_str(), "complete" | "failed") {
            let (task, state, message) = (job.task.clone(), end.state.clone(), end.message.clone());
            self.error(Error::TaskEnded { task, state, message });
        }
        let duration = now.saturating_sub(job.started_at);
        let code = end.exit_code.and_then(|c| i32::try_from(c).ok());
        let ran = matches!(end.state.as_str(), "complete" | "failed");
        let e = match code {
            Some(code) => ProcessEnd::from_exit_code(code, false, duration, EndReason::Exited),
            None => {
                if ran {
                    let detail = format!("task {} ended {} with exit code {:?}", job.task, end.state, end.exit_code);
                    self.error(Error::ExitUnknown { detail });
                }
                ProcessEnd { exit_code: None, signal: None, oom_killed: false, duration, reason: EndReason::Exited }
            }
        };
        self.emit(now, EventKind::ProcessEnd(e));
        self.cleanup(now);
    }

    /// A process that never ran reports how it ended.
    pub(super) fn end_unstarted(&mut self, now: Duration, code: Option<i32>, reason: EndReason) {
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(code, reason)));
    }
}

/// The exit code a task's status gives: only for one that ran to its end
/// (`complete`, `failed`), whose code is its process's. A `rejected` task
/// says 0 and never ran.
pub(super) fn exit_code(t: &Task) -> Option<i64> {
    match t.state.as_str() {
        "complete" | "failed" => t.exit_code.or_else(|| answers::exit_in_err(&t.err)),
        _ => t.exit_code.filter(|_| !t.container.is_empty() && t.state != "rejected"),
    }
}

/// Passes one piece of a logs read on: output through the coalescer, an
/// error after the output before it.
fn deliver(
    now: Duration,
    out: &mut alloc::collections::VecDeque<Output>,
    coalescer: &mut crate::machine::coalesce::Coalescer,
    piece: Piece,
) {
    match piece {
        Piece::Output(stream, data) => coalescer.push(now, stream, data, |s, d| out.push_back(output_event(now, s, d))),
        Piece::Error(e) => {
            coalescer.flush(|s, d| out.push_back(output_event(now, s, d)));
            out.push_back(Output::Error(e));
        }
    }
}
