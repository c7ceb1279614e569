//! The transitions: what each answer, timer and stop does to the run.
//!
//! The order is the race-free one: ping, (pull), create, then attach and
//! `wait?condition=next-exit` both registered before start, output drained
//! to its end, the exit read, inspect for the OOM flag, remove. The graph is
//! in the [module docs](super).

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::inflight::{Closed, Inflight};
use super::state::{Ends, Exit, Presize, Process, Retry, State};
use super::{Input, Machine, Output, Purpose};
use crate::api::answers::{self, BadAnswer, Created, Exited, HostInfo, Inspected, Versions};
use crate::api::{ApiVersion, EngineInfo, create, requests};
use crate::error::{Error, Phase};
use crate::event::{EndReason, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
use crate::machine::RequestId;
use crate::machine::pull::PullTracker;
use crate::spec::{PullPolicy, SpecError};

pub(super) fn phase(p: Purpose) -> Phase {
    match p {
        Purpose::Ping | Purpose::Version => Phase::Connect,
        Purpose::Info => Phase::HostInfo,
        Purpose::Pull => Phase::Pull,
        Purpose::Create => Phase::Create,
        Purpose::Attach => Phase::Attach,
        Purpose::Wait => Phase::Wait,
        Purpose::Start => Phase::Start,
        Purpose::Kill => Phase::Stop,
        Purpose::Resize => Phase::Resize,
        Purpose::Inspect => Phase::Inspect,
        Purpose::Logs => Phase::Output,
        Purpose::Remove | Purpose::Sweep | Purpose::SweepRemove => Phase::Remove,
    }
}

fn protocol(p: Purpose, e: BadAnswer) -> Error {
    Error::Protocol { phase: phase(p), detail: e.0 }
}

fn success(status: Option<u16>) -> bool {
    status.is_some_and(|s| (200..300).contains(&s))
}

/// The engine's message for an error answer.
fn error_text(body: &[u8], status: Option<u16>) -> String {
    match body.is_empty() {
        true => format!("HTTP {} with an empty body", status.unwrap_or(0)),
        false => answers::error_message(body),
    }
}

impl Machine {
    pub(super) fn begin(&mut self, now: Duration) {
        match self.engine {
            None => {
                self.send(now, Purpose::Ping, requests::ping());
            }
            Some(_) => self.after_ping(now),
        }
    }

    pub(super) fn api(&self) -> ApiVersion {
        self.engine.as_ref().map_or(self.pinned.unwrap_or(ApiVersion::NEWEST), |e| e.api)
    }

    pub(super) fn id(&self) -> &str {
        self.container.as_deref().unwrap_or_default()
    }

    fn after_ping(&mut self, now: Duration) {
        // An option this engine would ignore: refused before anything exists.
        if let Some(e) = self.engine.as_ref().and_then(|info| crate::spec::support::refusal(&self.spec, info)) {
            return self.fail(now, Error::Spec(e));
        }
        // A CPU limit the host cannot meet: refused before anything exists.
        if let Some(cpus) = self.engine.as_ref().and_then(|e| e.host_cpus) {
            return self.host_known(now, HostInfo { cpus });
        }
        if self.spec.cpu_millis().is_some() {
            self.move_to(State::Info);
            let req = requests::info(self.api());
            self.send(now, Purpose::Info, req);
            return;
        }
        self.before_create(now);
    }

    /// The host's CPUs are known: a CPU limit above them is refused.
    fn host_known(&mut self, now: Duration, host: HostInfo) {
        if let Some(engine) = self.engine.as_mut() {
            engine.host_cpus = Some(host.cpus);
        }
        let millis = self.spec.cpu_millis().unwrap_or_default();
        if millis > host.cpus.saturating_mul(1000) {
            let value = format!("{} CPUs, on a host with {}", millis as f64 / 1000.0, host.cpus);
            let e = SpecError::Invalid {
                field: "CPU limit".into(),
                value,
                why: "is more than the engine's host has".into(),
            };
            return self.fail(now, Error::Spec(e));
        }
        self.before_create(now);
    }

    fn before_create(&mut self, now: Duration) {
        match self.spec.pull {
            PullPolicy::Always => self.send_pull(now),
            _ => self.send_create(now, false),
        }
    }

    fn send_pull(&mut self, now: Duration) {
        let image = self.spec.image.to_string();
        let (from, tag) = self.spec.image.pull_params();
        let req = requests::pull(self.api(), &from, tag, self.spec.registry_auth.as_ref());
        let req = requests::with_platform(req, self.spec.platform.as_deref());
        self.move_to(State::Pull { tracker: PullTracker::new(image.clone(), now, self.spec.limits.max_body) });
        self.send(now, Purpose::Pull, req);
        self.emit(now, EventKind::ImagePullStart { image });
    }

    fn send_create(&mut self, now: Duration, pulled: bool) {
        let console_size = self.engine.as_ref().is_some_and(EngineInfo::console_size_at_create);
        let sized = self.spec.tty_size.filter(|_| console_size && self.spec.tty);
        self.move_to(State::Create { pulled, stop: None, sized });
        let body = create::body(&self.spec, &self.run);
        let req = requests::create(self.api(), self.spec.name.as_deref(), body);
        let req = requests::with_platform(req, self.spec.platform.as_deref());
        self.send(now, Purpose::Create, req);
    }

    // ---- inputs -------------------------------------------------------

    pub(super) fn on_input(&mut self, now: Duration, input: Input) {
        match input {
            Input::Head { id, status, headers } => {
                let Some(r) = self.requests.get_mut(id) else { return self.stray(id, "a head") };
                if let Some(first) = r.status {
                    let detail = format!(
                        "a second head ({status}) for request {} ({}), which had {first}",
                        id.0,
                        phase(r.purpose)
                    );
                    return self.error(Error::Unexpected { detail });
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
                let Some(r) = self.requests.get_mut(id) else { return self.stray(id, "body bytes") };
                if r.status.is_none() && r.body.is_empty() {
                    // Reported once, at the first bytes; they are read as they come all the same.
                    let detail = format!("body bytes for request {} ({}) before its head", id.0, phase(r.purpose));
                    self.out.push_back(Output::Error(Error::Unexpected { detail }));
                }
                match (r.purpose, r.status) {
                    (Purpose::Attach, _) if self.state.attach_ready() => self.on_output(now, data),
                    (Purpose::Pull, Some(200)) => self.on_pull_bytes(now, data),
                    _ => {
                        let room = self.spec.limits.max_body.saturating_sub(r.body.len());
                        r.overflow |= data.len() > room;
                        r.body.extend_from_slice(&data.slice(..data.len().min(room)));
                    }
                }
            }
            Input::End { id } => match self.requests.end(id) {
                Some(r) => self.on_end(now, r),
                None => self.stray(id, "an end"),
            },
            Input::Failed { id, message } => match self.requests.end(id) {
                Some(r) => {
                    let e = Error::Transport { phase: phase(r.purpose), message };
                    self.on_failure(now, r.id, r.purpose, e);
                }
                None => self.stray(id, "a failure"),
            },
            Input::Written { command, result } => self.on_written(command, result),
        }
    }

    /// An input about a request that is not open. One the machine aborted is
    /// ignored, as the contract says; anything else is reported.
    fn stray(&mut self, id: RequestId, what: &str) {
        let why = match self.requests.closed(id) {
            Closed::Aborted => return,
            Closed::Ended => "whose answer had ended",
            Closed::Unknown => "which was never sent",
        };
        let detail = format!("{what} for request {}, {why} (the run was at {})", id.0, self.state.step());
        self.error(Error::Unexpected { detail });
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
                if let State::Prepare { attach, .. } = &mut self.state {
                    *attach = true;
                }
                self.flush_stdin();
            }
            Purpose::Wait if status == 200 => {
                if let State::Prepare { wait, .. } = &mut self.state {
                    *wait = true;
                }
            }
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
        let failed = || Error::Engine {
            phase: phase(r.purpose),
            status: r.status.unwrap_or(0),
            message: error_text(&body, r.status),
        };
        if r.overflow && r.purpose != Purpose::Attach {
            let detail = format!("the answer is larger than {} bytes", self.spec.limits.max_body);
            return self.on_failure(now, r.id, r.purpose, Error::Protocol { phase: phase(r.purpose), detail });
        }
        match r.purpose {
            Purpose::Ping => match r.status {
                Some(200) if self.engine.is_some() => self.after_ping(now),
                Some(200) => {} // already failed on the headers
                _ => self.fail(now, failed()),
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
            Purpose::Info if r.status == Some(200) => match HostInfo::parse(&body) {
                Ok(host) => self.host_known(now, host),
                Err(e) => self.fail(now, protocol(r.purpose, e)),
            },
            Purpose::Info => self.fail(now, failed()),
            Purpose::Pull => self.pull_ended(now, r.status, &body),
            Purpose::Create => self.created(now, r.status, &body),
            Purpose::Attach => match self.state.attach_ready() {
                true => self.output_ended(now),
                false => self.prepare_failed(now, failed()),
            },
            Purpose::Wait => match (self.state.wait_ready(), Exited::parse(&body)) {
                (true, Ok(wait)) => {
                    if let Some(ends) = self.state.ends_mut() {
                        ends.exit = Some(Exit { wait, at: now });
                    }
                }
                (true, Err(e)) => self.fail(now, protocol(r.purpose, e)),
                (false, _) => self.prepare_failed(now, failed()),
            },
            Purpose::Start => match r.status {
                Some(204 | 304) | Some(200) => self.started(now),
                _ => self.start_failed(now, failed()),
            },
            Purpose::Kill => {}
            Purpose::Resize => {
                let result = if success(r.status) { Ok(()) } else { Err(failed()) };
                if self.resize_answered(now, r.id, result.clone()) {
                    return;
                }
                match &mut self.state {
                    State::Prepare { presize: presize @ Presize::Pending(_), .. } => {
                        *presize = match (*presize, result.is_ok()) {
                            (Presize::Pending(size), true) => Presize::Applied(size),
                            _ => Presize::Failed,
                        };
                    }
                    _ => {
                        if let Err(e) = result {
                            self.error(e);
                        }
                    }
                }
            }
            Purpose::Inspect => {
                let inspected = match r.status {
                    Some(200) => Inspected::parse(&body).ok(),
                    _ => None,
                };
                self.judge_exit(now, inspected);
            }
            Purpose::Logs => match r.status {
                Some(200) => self.logs_read(now, Ok(body)),
                _ => self.logs_read(now, Err(error_text(&body, r.status))),
            },
            Purpose::Sweep => self.swept(now, r.status, &body),
            Purpose::SweepRemove => self.sweep_removed(now, r.status, failed()),
            Purpose::Remove => match r.status {
                Some(s) if (200..300).contains(&s) || s == 404 || s == 409 => self.removed(now),
                _ => {
                    self.error(failed());
                    self.finish(now);
                }
            },
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
    pub(super) fn on_failure(&mut self, now: Duration, id: RequestId, purpose: Purpose, e: Error) {
        if purpose == Purpose::Resize && self.resize_answered(now, id, Err(e.clone())) {
            return;
        }
        match purpose {
            Purpose::Version => self.release_held(now),
            Purpose::Kill => {}
            Purpose::Resize => match &mut self.state {
                State::Prepare { presize: presize @ Presize::Pending(_), .. } => *presize = Presize::Failed,
                _ => self.error(e),
            },
            Purpose::Inspect => {
                self.error(e);
                self.judge_exit(now, None);
            }
            Purpose::Logs => self.logs_read(now, Err(e.to_string())),
            Purpose::Remove => self.retry_cleanup(now, e),
            Purpose::Start => self.start_failed(now, e),
            Purpose::Attach | Purpose::Wait => self.prepare_failed(now, e),
            Purpose::Sweep | Purpose::SweepRemove => self.sweep_failed(now, e),
            // Sent, and then nothing known: the container may exist.
            Purpose::Create => self.lost_create(now, e),
            _ => self.fail(now, e),
        }
    }

    /// Attach or wait failed. Before start, the process could not be started
    /// (Podman prepares the container while attaching, so a missing command
    /// shows up here); after start, the run is broken.
    fn prepare_failed(&mut self, now: Duration, e: Error) {
        match self.state {
            State::Prepare { .. } | State::Start { .. } => self.start_failed(now, e),
            _ => self.fail(now, e),
        }
    }

    // ---- pull ---------------------------------------------------------

    fn on_pull_bytes(&mut self, now: Duration, data: Bytes) {
        let State::Pull { tracker } = &mut self.state else { return };
        let out = &mut self.out;
        tracker.feed(now, data, |p| out.push_back(progress(now, p)));
    }

    fn pull_ended(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let State::Pull { tracker } = &mut self.state else { return };
        if status == Some(200) {
            let out = &mut self.out;
            tracker.finish(now, |p| out.push_back(progress(now, p)));
        }
        let message = match status {
            Some(200) => tracker.error.take(),
            _ => Some(error_text(body, status)),
        };
        let (image, digest, duration) =
            (tracker.image.clone(), tracker.digest.take(), now.saturating_sub(tracker.began));
        match message {
            Some(message) => self.fail(now, Error::Pull { image, message }),
            None => {
                self.emit(now, EventKind::ImagePullComplete { image, digest, duration });
                self.send_create(now, true);
            }
        }
    }

    // ---- create, prepare, start ----------------------------------------

    fn created(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let State::Create { pulled, stop, sized } = self.state else {
            let detail = format!("a create's answer at {}", self.state.step());
            return self.error(Error::Unexpected { detail });
        };
        let image = self.spec.image.to_string();
        match status {
            Some(200 | 201) => match Created::parse(body) {
                Ok(c) => {
                    self.container = Some(c.id.clone());
                    self.emit(now, EventKind::ContainerCreate { id: c.id, image });
                    if let Some(reason) = stop {
                        self.end_unstarted(now, reason);
                        return self.cleanup(now);
                    }
                    let presize = match sized {
                        // The create body carried it: the terminal has this size from the start.
                        Some(size) => Presize::Applied(size),
                        None => Presize::NotTried,
                    };
                    self.move_to(State::Prepare { attach: false, wait: false, presize, ends: Ends::default() });
                    let attach = requests::attach(self.api(), self.id(), self.spec.stdin);
                    self.attach.id = Some(self.send(now, Purpose::Attach, attach));
                    let wait = requests::wait(self.api(), self.id());
                    self.send(now, Purpose::Wait, wait);
                    if let Some(size) = presize.applied() {
                        self.emit(now, EventKind::TerminalResize { size });
                    }
                }
                // Created, by the status; which container, unreadable.
                Err(e) => self.lost_create(now, protocol(Purpose::Create, e)),
            },
            // The image is there for another platform: the engine's own words,
            // once a pull (when allowed) has not brought one for this platform.
            Some(404) if self.platform_mismatch(body, pulled) => {
                let message = error_text(body, status);
                self.fail(now, Error::Engine { phase: Phase::Create, status: 404, message })
            }
            Some(404) if self.spec.pull == PullPolicy::Missing && !pulled && stop.is_none() => self.send_pull(now),
            Some(404) if self.spec.pull == PullPolicy::Never => self.fail(now, Error::ImageMissing { image }),
            Some(404) => {
                let message = error_text(body, status);
                self.fail(now, Error::Pull { image, message })
            }
            Some(409) => {
                let message = error_text(body, status);
                self.fail(now, Error::NameInUse { message })
            }
            _ => {
                // Docker refuses a bind mount whose source is not on its host.
                if let Some(source) = status.filter(|s| *s == 400).and_then(|_| answers::missing_bind_source(body)) {
                    return self.fail(now, Error::Spec(SpecError::missing_mount_source(source)));
                }
                let message = error_text(body, status);
                let e = Error::Engine { phase: Phase::Create, status: status.unwrap_or(0), message };
                // A failure inside the engine may come after the container was made.
                match status.is_none_or(|s| s >= 500) {
                    true => self.lost_create(now, e),
                    false => self.fail(now, e),
                }
            }
        }
    }

    /// Whether a create's 404 says the image is not for the spec's platform
    /// (Docker: "image with reference X was found but does not match the
    /// specified platform"), and no pull is to be tried first.
    fn platform_mismatch(&self, body: &[u8], pulled: bool) -> bool {
        let pull_first = self.spec.pull == PullPolicy::Missing && !pulled;
        self.spec.platform.is_some() && !pull_first && answers::error_message(body).contains("platform")
    }

    /// A create of unknown outcome failed (no answer, a lost connection, a
    /// failure inside the engine, an unreadable answer): a container may
    /// exist that the machine has no id for, so it is looked for by label.
    fn lost_create(&mut self, now: Duration, e: Error) {
        self.error(e);
        self.abort_all();
        self.flush_output(now);
        match self.spec.keep {
            false => self.sweep(now),
            true => self.finish(now),
        }
    }

    /// The process runs: the start was answered, or output arrived first
    /// (it comes on another connection, and may overtake the answer).
    fn started(&mut self, now: Duration) {
        let State::Start { presized, stop, ends } = &mut self.state else { return };
        let (presized, stop, ends) = (*presized, *stop, core::mem::take(ends));
        let heartbeat_at = self.spec.heartbeat.map(|h| now + h);
        let process = Process { started_at: now, heartbeat_at, ends, drain_until: None, stop: None, rewaits: 0 };
        self.move_to(State::Running(process));
        let argv = self.spec.command.clone().unwrap_or_default();
        let (command, args) = match argv.split_first() {
            Some((c, rest)) => (c.clone(), rest.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let process = ProcessId::Container(self.id().to_string());
        self.emit(now, EventKind::ProcessStart { command, args, process });
        // Unless the size it has was set before start (a resize asked for
        // since then is applied now).
        if let Some(size) = self.spec.tty_size.filter(|s| presized != Some(*s)) {
            self.commands.resizes.ask(size, None);
            self.push_resize(now);
        }
        if let Some(reason) = stop {
            self.signal(now, reason);
        }
    }

    fn start_failed(&mut self, now: Duration, e: Error) {
        if !matches!(self.state, State::Prepare { .. } | State::Start { .. }) {
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
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(code, EndReason::StartFailed)));
        self.cleanup(now);
    }

    pub(super) fn send_resize(&mut self, now: Duration, size: TtySize) -> RequestId {
        let req = requests::resize(self.api(), self.id(), size);
        let id = self.send(now, Purpose::Resize, req);
        self.emit(now, EventKind::TerminalResize { size });
        id
    }

    // ---- output, exit, inspect, remove ---------------------------------

    fn on_output(&mut self, now: Duration, data: Bytes) {
        if matches!(self.state, State::Start { .. }) {
            self.started(now);
        }
        self.attach.carried += data.len() as u64;
        self.demux(now, data);
    }

    /// Output bytes of the process, as its attach (or its logs) carry them:
    /// raw with a terminal, else frames through the attach's decoder.
    pub(super) fn demux(&mut self, now: Duration, mut data: Bytes) {
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
        let out = &mut self.out;
        self.coalescer.push(now, stream, data, |s, d| out.push_back(output_event(now, s, d)));
    }

    pub(super) fn flush_output(&mut self, now: Duration) {
        let out = &mut self.out;
        self.coalescer.flush(|s, d| out.push_back(output_event(now, s, d)));
    }

    fn output_ended(&mut self, now: Duration) {
        if let Some(ends) = self.state.ends_mut() {
            ends.output_ended = true;
        }
        if let State::Running(p) = &mut self.state {
            p.drain_until = None;
        }
        if !self.spec.tty {
            if let Err(e) = self.attach.decoder.finish() {
                // A stream cut inside a frame was cut by a failure, not by the
                // process: what follows is lost, so the run ends here.
                self.fail(now, Error::Output(e));
            }
        }
    }

    fn removed(&mut self, now: Duration) {
        let id = self.id().to_string();
        self.emit(now, EventKind::ContainerRemove { id });
        self.finish(now);
    }

    /// Removes the container if there is one to remove; else finishes.
    pub(super) fn cleanup(&mut self, now: Duration) {
        self.flush_output(now);
        match (&self.container, self.spec.keep) {
            (Some(_), false) => {
                // Everything else is moot: remove with force kills the process.
                self.abort_all();
                self.move_to(State::Remove(Retry::first(now, self.spec.limits.cleanup_timeout)));
                self.send_remove(now);
            }
            _ => self.finish(now),
        }
    }

    /// A remove (or a sweep) failed in transport: the engine may be
    /// restarting, so try again after a backoff, until the cleanup deadline;
    /// past it, report `e` and finish.
    pub(super) fn retry_cleanup(&mut self, now: Duration, e: Error) {
        let scheduled = match &mut self.state {
            State::Remove(r) | State::Sweep(r) => r.again(now),
            _ => false,
        };
        if !scheduled {
            self.error(e);
            self.finish(now);
        }
    }

    pub(super) fn send_remove(&mut self, now: Duration) {
        let req = requests::remove(self.api(), self.id());
        self.send(now, Purpose::Remove, req);
    }

    pub(super) fn finish(&mut self, _now: Duration) {
        self.abort_all();
        // Stdin queued for an attach that never came, and any command left.
        self.refuse_stdin();
        self.commands.resizes.refuse_all(&mut self.out);
        self.move_to(State::Done);
        self.run_deadline = None;
    }

    /// A failure that ends the run: report it, then clean up.
    pub(super) fn fail(&mut self, now: Duration, e: Error) {
        self.error(e);
        if self.state.cleaning() {
            return;
        }
        self.abort_all();
        self.cleanup(now);
    }

    /// A stopped run that never started its process still reports how it ended.
    pub(super) fn end_unstarted(&mut self, now: Duration, reason: EndReason) {
        self.emit(now, EventKind::ProcessEnd(ProcessEnd::unstarted(None, reason)));
    }

    /// Moves on when what a state waits for has all arrived.
    pub(super) fn advance(&mut self, now: Duration) {
        match &mut self.state {
            State::Prepare { attach: true, wait: true, presize, ends } => {
                // Podman takes a terminal size before start, so the process
                // sees it from its first instruction (Docker from API 1.42 had
                // it in the create body). Docker 20.10 refuses a resize before
                // start (409) and ignores ConsoleSize: it gets the size right
                // after start, which a process that reads it at once can miss.
                let podman = self.engine.as_ref().is_some_and(|e| e.kind == crate::api::EngineKind::Podman);
                if let (Some(size), true, Presize::NotTried) = (self.spec.tty_size, podman && self.spec.tty, *presize) {
                    *presize = Presize::Pending(size);
                    self.send_resize(now, size);
                    return;
                }
                if matches!(presize, Presize::Pending(_)) {
                    return;
                }
                let next = State::Start { presized: presize.applied(), stop: None, ends: core::mem::take(ends) };
                self.move_to(next);
                let req = requests::start(self.api(), self.id());
                self.send(now, Purpose::Start, req);
            }
            State::Running(p) if p.ends.exit.is_some() => {
                p.heartbeat_at = None;
                self.run_deadline = None;
                if p.ends.output_ended {
                    let p = p.clone();
                    self.move_to(State::Inspect(p));
                    self.abort_all();
                    let req = requests::inspect(self.api(), self.id());
                    self.send(now, Purpose::Inspect, req);
                } else if p.drain_until.is_none() {
                    p.drain_until = Some(now + self.spec.limits.drain_timeout);
                }
            }
            _ => {}
        }
    }
}

fn progress(now: Duration, p: crate::event::PullProgress) -> Output {
    Output::Event(Event { at: now, kind: EventKind::ImagePullProgress(p) })
}

/// How long the process ran, and why it ended.
pub(super) fn end_timing(p: &Process, now: Duration) -> (Duration, EndReason) {
    let exited_at = p.ends.exit.as_ref().map_or(now, |e| e.at);
    let reason = p.stop.map_or(EndReason::Exited, |s| s.reason);
    (exited_at.saturating_sub(p.started_at), reason)
}

fn output_event(at: Duration, stream: Stream, data: Bytes) -> Output {
    Output::Event(crate::event::Event { at, kind: EventKind::Output { stream, data } })
}
