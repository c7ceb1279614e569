//! The transitions: what each answer, timer and stop does to the run.
//!
//! The order is the race-free one: ping, (pull), create, then attach and
//! `wait?condition=next-exit` both registered before start, output drained
//! to its end, the exit read, inspect for the OOM flag, remove.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::{Input, Machine, Output, Presize, Purpose, Stage, Stop};
use crate::api::answers::{self, BadAnswer, Created, Exited, Inspected, PullLine, Versions};
use crate::api::{ApiVersion, EngineInfo, create, requests};
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
use crate::machine::inflight::Inflight;
use crate::machine::pull::PullTracker;
use crate::spec::PullPolicy;

fn phase(p: Purpose) -> Phase {
    match p {
        Purpose::Ping | Purpose::Version => Phase::Connect,
        Purpose::Pull => Phase::Pull,
        Purpose::Create => Phase::Create,
        Purpose::Attach => Phase::Attach,
        Purpose::Wait => Phase::Wait,
        Purpose::Start => Phase::Start,
        Purpose::Kill => Phase::Stop,
        Purpose::Resize => Phase::Resize,
        Purpose::Inspect => Phase::Inspect,
        Purpose::Remove | Purpose::Sweep | Purpose::SweepRemove => Phase::Remove,
    }
}

fn protocol(p: Purpose, e: BadAnswer) -> Error {
    Error::Protocol { phase: phase(p), detail: e.0 }
}

fn success(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

impl Machine {
    pub(super) fn begin(&mut self, now: Duration) {
        match self.engine {
            None => {
                self.stage = Stage::Ping;
                self.send(now, Purpose::Ping, requests::ping());
            }
            Some(_) => self.after_ping(now),
        }
    }

    pub(super) fn api(&self) -> ApiVersion {
        self.engine.as_ref().map_or(self.pinned.unwrap_or(ApiVersion::NEWEST), |e| e.api)
    }

    fn id(&self) -> &str {
        self.container.as_deref().unwrap_or_default()
    }

    fn after_ping(&mut self, now: Duration) {
        // An option this engine would ignore: refused before anything exists.
        if let Some(e) = self.engine.as_ref().and_then(|info| crate::spec::support::refusal(&self.spec, info)) {
            return self.fail(now, Error::Spec(e));
        }
        match self.spec.pull {
            PullPolicy::Always if !self.pulled => self.send_pull(now),
            _ => self.send_create(now),
        }
    }

    fn send_pull(&mut self, now: Duration) {
        self.stage = Stage::Pull;
        self.pulled = true;
        let image = self.spec.image.to_string();
        let (from, tag) = self.spec.image.pull_params();
        let req = requests::pull(self.api(), &from, tag, self.spec.registry_auth.as_ref());
        let req = requests::with_platform(req, self.spec.platform.as_deref());
        self.send(now, Purpose::Pull, req);
        self.pull = Some(PullTracker::new(image.clone(), now, self.spec.limits.max_body));
        self.emit(now, EventKind::ImagePullStart { image });
    }

    fn send_create(&mut self, now: Duration) {
        self.stage = Stage::Create;
        let body = create::body(&self.spec, &self.run);
        let req = requests::create(self.api(), self.spec.name.as_deref(), body);
        let req = requests::with_platform(req, self.spec.platform.as_deref());
        self.send(now, Purpose::Create, req);
    }

    // ---- inputs -------------------------------------------------------

    pub(super) fn on_input(&mut self, now: Duration, input: Input) {
        match input {
            Input::Head { id, status, headers } => {
                let Some(r) = self.requests.get_mut(id) else { return };
                if r.status.is_some() {
                    return;
                }
                r.status = Some(status);
                if !r.unary {
                    // A stream has begun; it may stay open as long as the process runs.
                    r.deadline = None;
                }
                let purpose = r.purpose;
                self.on_head(now, purpose, status, &headers);
            }
            Input::Body { id, data } => {
                let Some(r) = self.requests.get_mut(id) else { return };
                match (r.purpose, r.status) {
                    (Purpose::Attach, _) if self.attach.ready => self.on_output(now, data),
                    (Purpose::Pull, Some(200)) => self.on_pull_bytes(now, data),
                    _ => {
                        let room = self.spec.limits.max_body.saturating_sub(r.body.len());
                        r.overflow |= data.len() > room;
                        r.body.extend_from_slice(&data.slice(..data.len().min(room)));
                    }
                }
            }
            Input::End { id } => {
                if let Some(r) = self.requests.close(id) {
                    self.on_end(now, r);
                }
            }
            Input::Failed { id, message } => {
                if let Some(r) = self.requests.close(id) {
                    let e = Error::Transport { phase: phase(r.purpose), message };
                    self.on_failure(now, r.purpose, e);
                }
            }
        }
    }

    fn on_head(&mut self, now: Duration, purpose: Purpose, status: u16, headers: &[(String, String)]) {
        // Docker answers 400 to every path of a version it does not take.
        self.version_taken |= status != 400 && !matches!(purpose, Purpose::Ping | Purpose::Version);
        match purpose {
            Purpose::Ping if status == 200 => {
                let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                match EngineInfo::from_ping_headers(pairs, self.pinned) {
                    Ok(info) => self.engine = Some(info),
                    Err(e) => self.fail(now, Error::Version(e)),
                }
            }
            Purpose::Attach if status == 101 || status == 200 => {
                self.attach.ready = true;
                self.flush_stdin();
            }
            Purpose::Wait if status == 200 => self.wait_ready = true,
            _ => {}
        }
    }

    fn on_end(&mut self, now: Duration, r: Inflight) {
        if r.status == Some(400) && !self.version_taken && !matches!(r.purpose, Purpose::Ping | Purpose::Version) {
            // The first versioned request refused: is it the version? Ask
            // the engine's range, once; the answer is read when that is known.
            self.version_taken = true;
            self.held = Some(r);
            self.send(now, Purpose::Version, requests::version());
            return;
        }
        let body = r.body.freeze();
        let failed = |m: &Self| Error::Engine {
            phase: phase(r.purpose),
            status: r.status.unwrap_or(0),
            message: m.error_text(&body, r.status),
        };
        if r.overflow && r.purpose != Purpose::Attach {
            let detail = alloc::format!("the answer is larger than {} bytes", self.spec.limits.max_body);
            return self.on_failure(now, r.purpose, Error::Protocol { phase: phase(r.purpose), detail });
        }
        match r.purpose {
            Purpose::Ping => match r.status {
                Some(200) if self.engine.is_some() => self.after_ping(now),
                Some(200) => {} // already failed on the headers
                _ => self.fail(now, failed(self)),
            },
            Purpose::Version => {
                let range = Versions::parse(&body).ok().filter(|_| r.status == Some(200));
                match range.map(|v| v.agree(self.api())) {
                    Some(Err(refused)) => {
                        self.held = None;
                        self.fail(now, Error::Version(refused))
                    }
                    _ => self.release_held(now),
                }
            }
            Purpose::Pull => self.pull_ended(now, r.status, &body),
            Purpose::Create => self.created(now, r.status, &body),
            Purpose::Attach => match self.attach.ready {
                true => self.output_ended(now),
                false => {
                    let e = failed(self);
                    self.prepare_failed(now, e)
                }
            },
            Purpose::Wait => match (self.wait_ready, Exited::parse(&body)) {
                (true, Ok(exit)) => {
                    self.exited_at = Some(now);
                    self.exit = Some(exit);
                }
                (true, Err(e)) => self.fail(now, protocol(r.purpose, e)),
                (false, _) => {
                    let e = failed(self);
                    self.prepare_failed(now, e)
                }
            },
            Purpose::Start => match r.status {
                Some(204 | 304) | Some(200) => self.started(now),
                _ => {
                    let e = failed(self);
                    self.start_failed(now, e)
                }
            },
            Purpose::Kill => {}
            Purpose::Resize if matches!(self.presize, Presize::Pending(_)) => {
                self.presize = match (self.presize, success(r.status)) {
                    (Presize::Pending(size), true) => Presize::Applied(size),
                    _ => Presize::Failed,
                };
            }
            Purpose::Resize if success(r.status) => {}
            Purpose::Resize => self.error(failed(self)),
            Purpose::Inspect => {
                let inspected = match r.status {
                    Some(200) => Inspected::parse(&body).ok(),
                    _ => None,
                };
                self.judge_exit(now, inspected);
            }
            Purpose::Sweep => self.swept(now, r.status, &body),
            Purpose::SweepRemove => {
                let e = failed(self);
                self.sweep_removed(now, r.status, e)
            }
            Purpose::Remove => match r.status {
                Some(s) if (200..300).contains(&s) || s == 404 || s == 409 => self.removed(now),
                _ => {
                    let e = failed(self);
                    self.error(e);
                    self.finish(now);
                }
            },
        }
    }

    fn error_text(&self, body: &[u8], status: Option<u16>) -> String {
        match body.is_empty() {
            true => alloc::format!("HTTP {} with an empty body", status.unwrap_or(0)),
            false => answers::error_message(body),
        }
    }

    /// The version is not the trouble (or cannot be known): the held answer
    /// is read as it came.
    fn release_held(&mut self, now: Duration) {
        if let Some(held) = self.held.take() {
            self.on_end(now, held);
        }
    }

    /// A request failed in transport or timed out.
    fn on_failure(&mut self, now: Duration, purpose: Purpose, e: Error) {
        match purpose {
            Purpose::Version => self.release_held(now),
            Purpose::Kill => {}
            Purpose::Resize if matches!(self.presize, Presize::Pending(_)) => self.presize = Presize::Failed,
            Purpose::Resize => self.error(e),
            Purpose::Inspect => {
                self.error(e);
                self.judge_exit(now, None);
            }
            Purpose::Remove => self.retry_cleanup(now, e),
            Purpose::Start => self.start_failed(now, e),
            Purpose::Attach | Purpose::Wait => self.prepare_failed(now, e),
            Purpose::Sweep | Purpose::SweepRemove => self.sweep_failed(now, e),
            // Sent, and then nothing known: the container may exist.
            Purpose::Create => {
                self.create_unknown = true;
                self.fail(now, e)
            }
            _ => self.fail(now, e),
        }
    }

    /// Attach or wait failed. Before start, the process could not be started
    /// (Podman prepares the container while attaching, so a missing command
    /// shows up here); after start, the run is broken.
    fn prepare_failed(&mut self, now: Duration, e: Error) {
        match self.stage {
            Stage::Prepare | Stage::Start if self.started_at.is_none() => self.start_failed(now, e),
            _ => self.fail(now, e),
        }
    }

    // ---- pull ---------------------------------------------------------

    fn on_pull_bytes(&mut self, now: Duration, mut data: Bytes) {
        let Some(mut tracker) = self.pull.take() else { return };
        loop {
            match tracker.lines.decode(&mut data) {
                Ok(Some(line)) => self.pull_line(now, &mut tracker, &line),
                Ok(None) => break,
                Err(e) => {
                    tracker.error.get_or_insert(e.to_string());
                    break;
                }
            }
        }
        self.pull = Some(tracker);
    }

    fn pull_line(&mut self, now: Duration, tracker: &mut PullTracker, line: &[u8]) {
        match PullLine::parse(line) {
            Ok(l) => {
                if let Some(p) = tracker.line(now, l) {
                    self.emit(now, EventKind::ImagePullProgress(p));
                }
            }
            Err(e) => {
                tracker.error.get_or_insert(e.0);
            }
        }
    }

    fn pull_ended(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let Some(mut tracker) = self.pull.take() else { return };
        if status == Some(200) {
            if let Some(last) = tracker.lines.finish() {
                self.pull_line(now, &mut tracker, &last);
            }
        }
        let image = tracker.image.clone();
        let message = match status {
            Some(200) => tracker.error.take(),
            _ => Some(self.error_text(body, status)),
        };
        match message {
            Some(message) => self.fail(now, Error::Pull { image, message }),
            None => {
                let duration = now.saturating_sub(tracker.began);
                self.emit(now, EventKind::ImagePullComplete { image, digest: tracker.digest, duration });
                if self.stop == Stop::None {
                    self.send_create(now);
                }
            }
        }
    }

    // ---- create, prepare, start ----------------------------------------

    fn created(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let image = self.spec.image.to_string();
        match status {
            Some(200 | 201) => match Created::parse(body) {
                Ok(c) => {
                    self.container = Some(c.id.clone());
                    self.emit(now, EventKind::ContainerCreate { id: c.id, image });
                    if self.stop != Stop::None {
                        self.end_unstarted(now, self.reason);
                        return self.cleanup(now);
                    }
                    self.stage = Stage::Prepare;
                    let attach = requests::attach(self.api(), self.id(), self.spec.stdin);
                    self.attach.id = Some(self.send(now, Purpose::Attach, attach));
                    let wait = requests::wait(self.api(), self.id());
                    self.send(now, Purpose::Wait, wait);
                    let console_size = self.engine.as_ref().is_some_and(EngineInfo::console_size_at_create);
                    if let (Some(size), true) = (self.spec.tty_size, console_size && self.spec.tty) {
                        // The create body carried it: the terminal has this size from the start.
                        self.presize = Presize::Applied(size);
                        self.emit(now, EventKind::TerminalResize { size });
                    }
                }
                Err(e) => {
                    // Created, by the status; which container, unreadable.
                    self.create_unknown = true;
                    self.fail(now, protocol(Purpose::Create, e))
                }
            },
            // The image is there for another platform: the engine's own words,
            // once a pull (when allowed) has not brought one for this platform.
            Some(404) if self.platform_mismatch(body) => {
                let message = self.error_text(body, status);
                self.fail(now, Error::Engine { phase: Phase::Create, status: 404, message })
            }
            Some(404) if self.spec.pull == PullPolicy::Missing && !self.pulled && self.stop == Stop::None => {
                self.send_pull(now)
            }
            Some(404) if self.spec.pull == PullPolicy::Never => self.fail(now, Error::ImageMissing { image }),
            Some(404) => {
                let message = self.error_text(body, status);
                self.fail(now, Error::Pull { image, message })
            }
            Some(409) => {
                let message = self.error_text(body, status);
                self.fail(now, Error::NameInUse { message })
            }
            _ => {
                // A failure inside the engine may come after the container was made.
                self.create_unknown |= status.is_none_or(|s| s >= 500);
                let message = self.error_text(body, status);
                self.fail(now, Error::Engine { phase: Phase::Create, status: status.unwrap_or(0), message })
            }
        }
    }

    /// Whether a create's 404 says the image is not for the spec's platform
    /// (Docker: "image with reference X was found but does not match the
    /// specified platform"), and no pull is to be tried first.
    fn platform_mismatch(&self, body: &[u8]) -> bool {
        let pull_first = self.spec.pull == PullPolicy::Missing && !self.pulled;
        self.spec.platform.is_some() && !pull_first && answers::error_message(body).contains("platform")
    }

    /// The process runs: the start was answered, or output arrived first
    /// (it comes on another connection, and may overtake the answer).
    fn started(&mut self, now: Duration) {
        if self.started_at.is_some() {
            return;
        }
        self.stage = Stage::Running;
        self.started_at = Some(now);
        let argv = self.spec.command.clone().unwrap_or_default();
        let (command, args) = match argv.split_first() {
            Some((c, rest)) => (c.clone(), rest.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let process = ProcessId::Container(self.id().to_string());
        self.emit(now, EventKind::ProcessStart { command, args, process });
        self.timers.heartbeat = self.spec.heartbeat.map(|h| now + h);
        // Unless the size it has was set before start (a resize asked for
        // since then is applied now).
        if let Some(size) = self.spec.tty_size.filter(|s| self.presize != Presize::Applied(*s)) {
            self.send_resize(now, size);
        }
        if self.stop == Stop::Requested {
            self.signal(now);
        }
    }

    fn start_failed(&mut self, now: Duration, e: Error) {
        if self.started_at.is_some() {
            // Output showed the process running before the start's answer
            // failed: the connection broke, not the start.
            return self.fail(now, e);
        }
        let code = match &e {
            Error::Engine { message, .. } => answers::start_failure_exit_code(message),
            _ => None,
        };
        self.error(e);
        self.abort(Purpose::Attach);
        self.abort(Purpose::Wait);
        self.ended = true;
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(code, EndReason::StartFailed)));
        self.cleanup(now);
    }

    pub(super) fn send_resize(&mut self, now: Duration, size: TtySize) -> crate::RequestId {
        let req = requests::resize(self.api(), self.id(), size);
        let id = self.send(now, Purpose::Resize, req);
        self.emit(now, EventKind::TerminalResize { size });
        id
    }

    // ---- output, exit, inspect, remove ---------------------------------

    fn on_output(&mut self, now: Duration, mut data: Bytes) {
        if self.stage == Stage::Start {
            self.started(now);
        }
        if self.spec.tty {
            return self.output(now, Stream::Tty, data);
        }
        loop {
            match self.attach.decoder.decode(&mut data) {
                Ok(Some(chunk)) => self.output(now, chunk.stream, chunk.data),
                Ok(None) => return,
                Err(e) => return self.error(Error::Output(e)),
            }
        }
    }

    fn output(&mut self, now: Duration, stream: Stream, data: Bytes) {
        let mut due = Vec::new();
        self.coalescer.push(now, stream, data, |s, d| due.push((s, d)));
        for (stream, data) in due {
            self.emit(now, EventKind::Output { stream, data });
        }
    }

    pub(super) fn flush_output(&mut self, now: Duration) {
        let mut due = Vec::new();
        self.coalescer.flush(|s, d| due.push((s, d)));
        for (stream, data) in due {
            self.emit(now, EventKind::Output { stream, data });
        }
    }

    fn output_ended(&mut self, now: Duration) {
        self.attach.done = true;
        self.timers.drain = None;
        if !self.spec.tty {
            if let Err(e) = self.attach.decoder.finish() {
                // A stream cut inside a frame was cut by a failure, not by the
                // process: what follows is lost, so the run ends here.
                self.fail(now, Error::Output(e));
            }
        }
    }

    /// How long the process ran, and why it ended.
    pub(super) fn end_timing(&self, now: Duration) -> (Duration, EndReason) {
        let started = self.started_at.unwrap_or(now);
        let duration = self.exited_at.unwrap_or(now).saturating_sub(started);
        let reason = match self.stop {
            Stop::None => EndReason::Exited,
            _ => self.reason,
        };
        (duration, reason)
    }

    fn removed(&mut self, now: Duration) {
        let id = self.id().to_string();
        self.emit(now, EventKind::ContainerRemove { id });
        self.finish(now);
    }

    /// Removes the container if there is one to remove; else finishes.
    pub(super) fn cleanup(&mut self, now: Duration) {
        self.flush_output(now);
        self.timers.heartbeat = None;
        self.timers.drain = None;
        match (&self.container, self.spec.keep) {
            (Some(_), false) => {
                // Everything else is moot: remove with force kills the process.
                self.abort_all();
                self.stage = Stage::Remove;
                self.send_remove(now);
            }
            (None, false) if self.create_unknown => {
                self.abort_all();
                self.sweep(now);
            }
            _ => self.finish(now),
        }
    }

    /// A remove (or a sweep) failed in transport: the engine may be
    /// restarting, so try again after a backoff, until the cleanup deadline;
    /// past it, report `e` and finish.
    pub(super) fn retry_cleanup(&mut self, now: Duration, e: Error) {
        match self.remove_deadline.is_some_and(|d| now + self.remove_backoff() <= d) {
            true => self.timers.remove_retry = Some(now + self.remove_backoff()),
            false => {
                self.error(e);
                self.finish(now);
            }
        }
    }

    /// 0.5 s after the first failed remove, doubling up to 5 s.
    pub(super) fn remove_backoff(&self) -> Duration {
        let shift = self.remove_attempts.saturating_sub(1).min(4);
        (Duration::from_millis(500) * (1 << shift)).min(super::MAX_REMOVE_BACKOFF)
    }

    fn send_remove(&mut self, now: Duration) {
        self.remove_attempts += 1;
        self.timers.remove_retry = None;
        self.remove_deadline.get_or_insert(now + self.spec.limits.cleanup_timeout);
        let req = requests::remove(self.api(), self.id());
        self.send(now, Purpose::Remove, req);
    }

    pub(super) fn finish(&mut self, _now: Duration) {
        self.abort_all();
        self.stage = Stage::Done;
        self.timers = Default::default();
    }

    /// A failure that ends the run: report it, then clean up.
    fn fail(&mut self, now: Duration, e: Error) {
        if self.stage >= Stage::Remove {
            return self.error(e);
        }
        self.error(e);
        self.abort_all();
        self.cleanup(now);
    }

    /// A stopped run that never started its process still reports how it ended.
    fn end_unstarted(&mut self, now: Duration, reason: EndReason) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(None, reason)));
    }

    // ---- stopping -----------------------------------------------------

    pub(super) fn request_stop(&mut self, now: Duration, reason: EndReason) {
        if self.stage >= Stage::Inspect || self.exit.is_some() {
            return;
        }
        match self.stop {
            Stop::None => {
                self.stop = Stop::Requested;
                self.reason = reason;
                self.timers.run = None;
                match self.stage {
                    Stage::Ping | Stage::Pull => {
                        self.abort_all();
                        self.end_unstarted(now, reason);
                        self.finish(now);
                    }
                    Stage::Prepare => {
                        self.end_unstarted(now, reason);
                        self.cleanup(now);
                    }
                    Stage::Running => self.signal(now),
                    // Create and start answers are awaited: the container may exist, the process may run.
                    _ => {}
                }
            }
            Stop::Signalled { .. } => self.kill(now),
            Stop::Requested | Stop::Killed { .. } => {}
        }
    }

    fn signal(&mut self, now: Duration) {
        if self.spec.stop_grace.is_zero() {
            return self.kill(now);
        }
        let req = requests::kill(self.api(), self.id(), &self.spec.stop_signal);
        self.send(now, Purpose::Kill, req);
        self.stop = Stop::Signalled { kill_at: now + self.spec.stop_grace };
    }

    fn kill(&mut self, now: Duration) {
        let req = requests::kill(self.api(), self.id(), "SIGKILL");
        self.send(now, Purpose::Kill, req);
        self.stop = Stop::Killed { give_up_at: now + self.spec.limits.request_timeout };
    }

    // ---- time and progress ----------------------------------------------

    pub(super) fn on_timeout(&mut self, now: Duration) {
        while let Some(r) = self.requests.expired(now) {
            self.out.push_back(Output::Abort { id: r.id });
            let e = Error::Timeout { phase: phase(r.purpose), after: self.spec.limits.request_timeout };
            self.on_failure(now, r.purpose, e);
        }
        if self.timers.run.is_some_and(|t| t <= now) {
            self.timers.run = None;
            self.request_stop(now, EndReason::TimedOut);
        }
        match self.stop {
            Stop::Signalled { kill_at } if kill_at <= now && self.exit.is_none() => self.kill(now),
            Stop::Killed { give_up_at } if give_up_at <= now && self.exit.is_none() && self.stage < Stage::Inspect => {
                let after = self.spec.limits.request_timeout;
                self.fail(now, Error::Timeout { phase: Phase::Stop, after });
            }
            _ => {}
        }
        if let (Some(t), Some(every)) = (self.timers.heartbeat, self.spec.heartbeat) {
            if t <= now && !self.ended && self.exit.is_none() {
                let elapsed = now.saturating_sub(self.started_at.unwrap_or(now));
                self.emit(now, EventKind::Heartbeat { elapsed });
                self.timers.heartbeat = Some(now + every);
            }
        }
        if self.timers.drain.is_some_and(|t| t <= now) {
            self.timers.drain = None;
            self.abort(Purpose::Attach);
            self.attach.done = true;
            self.error(Error::Timeout { phase: Phase::Output, after: self.spec.limits.drain_timeout });
        }
        if self.coalescer.deadline().is_some_and(|t| t <= now) {
            self.flush_output(now);
        }
        if self.timers.remove_retry.is_some_and(|t| t <= now) {
            match self.stage {
                Stage::Remove => self.send_remove(now),
                Stage::Sweep => self.sweep(now),
                _ => {}
            }
        }
    }

    /// Moves on when what a stage waits for has all arrived.
    pub(super) fn advance(&mut self, now: Duration) {
        match self.stage {
            Stage::Prepare if self.attach.ready && self.wait_ready => {
                // Podman takes a terminal size before start, so the process
                // sees it from its first instruction (Docker from API 1.42 had
                // it in the create body). Docker 20.10 refuses a resize before
                // start (409) and ignores ConsoleSize: it gets the size right
                // after start, which a process that reads it at once can miss.
                let podman = self.engine.as_ref().is_some_and(|e| e.kind == crate::api::EngineKind::Podman);
                if let (Some(size), true, Presize::NotTried) =
                    (self.spec.tty_size, podman && self.spec.tty, self.presize)
                {
                    self.presize = Presize::Pending(size);
                    self.send_resize(now, size);
                    return;
                }
                if matches!(self.presize, Presize::Pending(_)) {
                    return;
                }
                self.stage = Stage::Start;
                let req = requests::start(self.api(), self.id());
                self.send(now, Purpose::Start, req);
            }
            Stage::Running if self.exit.is_some() => {
                self.timers.heartbeat = None;
                self.timers.run = None;
                if self.attach.done {
                    self.stage = Stage::Inspect;
                    self.abort_all();
                    let req = requests::inspect(self.api(), self.id());
                    self.send(now, Purpose::Inspect, req);
                } else if self.timers.drain.is_none() {
                    self.timers.drain = Some(now + self.spec.limits.drain_timeout);
                }
            }
            _ => {}
        }
    }
}
