//! A scripted engine for deterministic tests of the machine.
//!
//! The engine answers each request the machine sends, as Docker 20.10 or
//! Podman 4.3 would, from a small model of one container: output frames, an
//! exit code, whether it obeys SIGTERM. Replies can be overridden per call to
//! script failures. Body bytes are delivered whole, one byte at a time, or
//! in random splits, on a virtual clock that jumps to the machine's deadlines.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::Method;
use cstream_proto_core::{
    CommandFailed, CommandId, Error, Event, EventKind, Input, Machine, Output, RequestId, RunInfo, RunSpec,
};

/// Which engine's answers to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Docker,
    Podman,
}

/// How body bytes are cut before delivery.
#[derive(Clone, Copy, Debug)]
pub enum Split {
    Whole,
    Bytewise,
    Random(u64),
}

pub const SPLITS: [Split; 5] = [Split::Whole, Split::Bytewise, Split::Random(1), Split::Random(7), Split::Random(42)];

pub use cstream_proto_core::api::Purpose;

/// Which call a request is, read from its method and path as an engine
/// would: a `DELETE` is a [`Purpose::Remove`] whether the machine sent it for
/// its own container or a swept one.
pub fn purpose_of(method: Method, path: &str) -> Purpose {
    let p = path.split('?').next().unwrap();
    match (method, p.rsplit('/').next().unwrap()) {
        (_, "_ping") => Purpose::Ping,
        (Method::Get, "version") => Purpose::Version,
        (Method::Get, "info") => Purpose::Info,
        (_, "create") if p.contains("/images/") => Purpose::Pull,
        (_, "create") => Purpose::Create,
        (_, "attach") => Purpose::Attach,
        (_, "wait") => Purpose::Wait,
        (_, "start") => Purpose::Start,
        (_, "kill") => Purpose::Kill,
        (_, "resize") => Purpose::Resize,
        (Method::Get, "logs") => Purpose::Logs,
        (Method::Get, "json") if p.ends_with("/containers/json") => Purpose::Sweep,
        (Method::Get, "json") => Purpose::Inspect,
        (Method::Delete, _) => Purpose::Remove,
        other => panic!("unexpected request {other:?}"),
    }
}

/// What the calls the engine received were for, in order.
pub fn ops(engine: &Engine) -> Vec<Purpose> {
    let method = |m: &str| match m {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Delete,
    };
    engine.requests.iter().map(|r| r.split_once(' ').unwrap()).map(|(m, p)| purpose_of(method(m), p)).collect()
}

/// A scripted answer to one call.
#[derive(Clone, Debug)]
pub enum Reply {
    /// Answer with this status and body (JSON error bodies in the flavor's shape).
    Status(u16, Vec<u8>),
    /// An engine error in the flavor's error shape.
    EngineError(u16, &'static str),
    /// The connection fails.
    Transport(&'static str),
    /// Never answer.
    Silent,
}

/// What the process in the container does.
#[derive(Clone, Debug)]
pub struct Process {
    /// Output written at start, as (stream byte, payload) frames.
    pub frames: Vec<(u8, Vec<u8>)>,
    /// Exit code when it exits by itself.
    pub exit_code: i64,
    /// Exits right after writing its output; else runs until signalled.
    pub exits: bool,
    /// Ignores SIGTERM (only SIGKILL ends it).
    pub ignores_term: bool,
    /// The engine accepts kills but never reports an exit (a stuck engine).
    pub unkillable: bool,
    /// The wait answer comes before the end of the output stream.
    pub wait_first: bool,
    /// Inspect reports OOMKilled.
    pub oom: bool,
    /// Raw attach bytes instead of frames (a TTY, or hostile bytes).
    pub raw: Option<Vec<u8>>,
    /// The attach stream ends with these extra bytes (a cut frame, say).
    pub trailer: Vec<u8>,
}

impl Default for Process {
    fn default() -> Self {
        Process {
            frames: vec![(1, b"out\n".to_vec()), (2, b"err\n".to_vec())],
            exit_code: 0,
            exits: true,
            ignores_term: false,
            unkillable: false,
            wait_first: false,
            oom: false,
            raw: None,
            trailer: Vec::new(),
        }
    }
}

pub fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// The id of the container the scripted engine makes.
pub const CONTAINER: &str = "c0ffee";

/// The scripted engine and its record of what happened.
pub struct Engine {
    pub flavor: Flavor,
    pub split: Split,
    pub process: Process,
    pub replies: HashMap<Purpose, VecDeque<Reply>>,
    pub pull_body: Vec<u8>,
    pub api_version: &'static str,
    /// The oldest API version it takes; it answers 400 to paths of older
    /// ones, and of newer ones than `api_version`, as Docker does.
    pub min_api_version: &'static str,
    /// Every request sent, as "METHOD path".
    pub requests: Vec<String>,
    pub stdin: Vec<u8>,
    pub stdin_closed: bool,
    /// The containers the engine holds, by id: its own list, whatever the
    /// machine learned. A create the engine received makes one unless it was
    /// refused (a 4xx), even when its answer is lost.
    pub containers: Vec<String>,
    queue: VecDeque<Input>,
    attach: Option<RequestId>,
    wait: Option<RequestId>,
    running: bool,
    exited: bool,
    exit_code: i64,
    rng: u64,
}

impl Engine {
    pub fn new(flavor: Flavor, split: Split) -> Self {
        let rng = match split {
            Split::Random(seed) => seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            _ => 1,
        };
        Engine {
            flavor,
            split,
            process: Process::default(),
            replies: HashMap::new(),
            pull_body: Vec::new(),
            api_version: "1.41",
            min_api_version: "1.12",
            requests: Vec::new(),
            stdin: Vec::new(),
            stdin_closed: false,
            containers: Vec::new(),
            queue: VecDeque::new(),
            attach: None,
            wait: None,
            running: false,
            exited: false,
            exit_code: 0,
            rng,
        }
    }

    /// Scripts the next answers to `op`, in order; later calls answer normally.
    pub fn reply(mut self, op: Purpose, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.replies.entry(op).or_default().extend(replies);
        self
    }

    pub fn process(mut self, p: Process) -> Self {
        self.process = p;
        self
    }

    fn next_rand(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn error_body(&self, status: u16, message: &str) -> Vec<u8> {
        match self.flavor {
            Flavor::Docker => serde_json::to_vec(&serde_json::json!({ "message": message })).unwrap(),
            Flavor::Podman => {
                let cause = message.rsplit(": ").next().unwrap_or(message);
                serde_json::to_vec(&serde_json::json!({ "cause": cause, "message": message, "response": status }))
                    .unwrap()
            }
        }
    }

    fn headers(&self, op: Purpose, status: u16) -> Vec<(String, String)> {
        let mut h = vec![("Api-Version".to_string(), self.api_version.to_string())];
        match self.flavor {
            Flavor::Docker => {
                h.push(("Docker-Experimental".into(), "false".into()));
                h.push(("Server".into(), "Docker/20.10.24+dfsg1 (linux)".into()));
            }
            Flavor::Podman => {
                h.push(("Libpod-Api-Version".into(), "4.3.1".into()));
                h.push(("Server".into(), "Libpod/4.3.1 (linux)".into()));
            }
        }
        if op == Purpose::Attach && status == 101 {
            h.push(("Connection".into(), "Upgrade".into()));
            h.push(("Upgrade".into(), "tcp".into()));
        }
        h
    }

    fn push_body(&mut self, id: RequestId, data: &[u8]) {
        let mut rest = data;
        while !rest.is_empty() {
            let n = match self.split {
                Split::Whole => rest.len(),
                Split::Bytewise => 1,
                Split::Random(_) => 1 + (self.next_rand() as usize % rest.len().min(24)),
            };
            let (a, b) = rest.split_at(n);
            self.queue.push_back(Input::Body { id, data: Bytes::copy_from_slice(a) });
            rest = b;
        }
    }

    fn answer(&mut self, id: RequestId, op: Purpose, status: u16, body: &[u8]) {
        let headers = self.headers(op, status);
        self.queue.push_back(Input::Head { id, status, headers });
        self.push_body(id, body);
        self.queue.push_back(Input::End { id });
    }

    /// Takes one request from the machine and queues the engine's answer.
    pub fn receive(&mut self, id: RequestId, method: Method, path: &str) {
        self.requests.push(format!("{} {}", method.as_str(), path));
        let op = purpose_of(method, path);
        if let Some(refusal) = self.refuse_version(path) {
            let body = self.error_body(400, &refusal);
            return self.answer(id, op, 400, &body);
        }
        let reply = self.replies.get_mut(&op).and_then(|q| q.pop_front());
        let refused = matches!(reply, Some(Reply::Status(400..500, _) | Reply::EngineError(400..500, _)));
        if op == Purpose::Create && !refused {
            self.containers.push(CONTAINER.to_string());
        }
        if let Some(reply) = reply {
            match reply {
                Reply::Status(s, body) => {
                    if op == Purpose::Start && (200..300).contains(&s) {
                        self.start();
                    }
                    return self.answer(id, op, s, &body);
                }
                Reply::EngineError(s, msg) => {
                    let body = self.error_body(s, msg);
                    return self.answer(id, op, s, &body);
                }
                Reply::Transport(m) => return self.queue.push_back(Input::Failed { id, message: m.into() }),
                Reply::Silent => return,
            }
        }
        match op {
            Purpose::Ping => self.answer(id, op, 200, b"OK"),
            Purpose::Version => {
                let body = serde_json::json!({
                    "Version": "29.0.0", "ApiVersion": self.api_version, "MinAPIVersion": self.min_api_version,
                    "Os": "linux", "Arch": "amd64"
                });
                self.answer(id, op, 200, &serde_json::to_vec(&body).unwrap())
            }
            // A host with 2 CPUs, as Docker and Podman say it.
            Purpose::Info => self.answer(id, op, 200, br#"{"NCPU":2,"MemTotal":1}"#),
            Purpose::Pull => {
                let body = self.pull_body.clone();
                self.answer(id, op, 200, &body)
            }
            Purpose::Create => {
                let body: &[u8] = match self.flavor {
                    Flavor::Docker => br#"{"Id":"c0ffee","Warnings":[]}"#,
                    Flavor::Podman => br#"{"Id":"c0ffee","Warnings":null}"#,
                };
                self.answer(id, op, 201, body)
            }
            Purpose::Attach => {
                self.attach = Some(id);
                let headers = self.headers(op, 101);
                self.queue.push_back(Input::Head { id, status: 101, headers });
            }
            Purpose::Wait if self.exited && path.contains("condition=not-running") => {
                let body = format!(r#"{{"StatusCode":{},"Error":null}}"#, self.exit_code);
                self.answer(id, op, 200, body.as_bytes())
            }
            Purpose::Wait => {
                self.wait = Some(id);
                let headers = self.headers(op, 200);
                self.queue.push_back(Input::Head { id, status: 200, headers });
            }
            Purpose::Start => {
                let status = if self.running || self.exited { 304 } else { 204 };
                self.answer(id, op, status, b"");
                if status == 204 {
                    self.start();
                }
            }
            Purpose::Kill => {
                let signal = path.split("signal=").nth(1).unwrap_or("").to_string();
                if !self.running {
                    let body = self.error_body(409, "container is not running");
                    return self.answer(id, op, 409, &body);
                }
                self.answer(id, op, 204, b"");
                let term = signal.contains("TERM");
                if self.process.unkillable {
                } else if signal.contains("KILL") {
                    self.exit(137);
                } else if term && !self.process.ignores_term {
                    self.exit(143);
                }
            }
            Purpose::Resize => self.answer(id, op, 200, b""),
            Purpose::Inspect => {
                let body = serde_json::json!({
                    "Id": "c0ffee",
                    "State": {"Status": "exited", "Running": false, "OOMKilled": self.process.oom, "ExitCode": self.exit_code}
                });
                self.answer(id, op, 200, &serde_json::to_vec(&body).unwrap())
            }
            // What the process wrote, which the scripted attach carried already.
            Purpose::Logs => self.answer(id, op, 200, b""),
            Purpose::Remove => {
                let target = path.split('?').next().unwrap().rsplit('/').next().unwrap();
                let held = self.containers.len();
                self.containers.retain(|c| c != target);
                if target == CONTAINER {
                    self.running = false;
                }
                let status = if self.containers.len() < held { 204 } else { 404 };
                self.answer(id, op, status, b"")
            }
            Purpose::Sweep => {
                let list: Vec<_> = self
                    .containers
                    .iter()
                    .map(|c| {
                        let run = if c == CONTAINER { run_info().run_id } else { "another-run".to_string() };
                        serde_json::json!({"Id": c, "Labels": {"io.cstream.run": run}, "Created": 1, "State": "created"})
                    })
                    .collect();
                self.answer(id, op, 200, &serde_json::to_vec(&list).unwrap())
            }
            other => panic!("the scripted engine does not answer {other:?}"),
        }
    }

    /// Docker's answer to a path whose version it does not take.
    fn refuse_version(&self, path: &str) -> Option<String> {
        let v = |s: &str| -> Option<(u16, u16)> {
            let (a, b) = s.split_once('.')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let asked = path.strip_prefix("/v")?.split('/').next()?;
        let (min, max) = (v(self.min_api_version)?, v(self.api_version)?);
        if v(asked)? < min {
            let m = self.min_api_version;
            return Some(format!(
                "client version {asked} is too old. Minimum supported API version is {m}, please upgrade your client to a newer version"
            ));
        }
        if v(asked)? > max {
            let m = self.api_version;
            return Some(format!("client version {asked} is too new. Maximum supported API version is {m}"));
        }
        None
    }

    fn start(&mut self) {
        self.running = true;
        let Some(attach) = self.attach else { return };
        let bytes = match &self.process.raw {
            Some(raw) => raw.clone(),
            None => self.process.frames.iter().flat_map(|(s, p)| frame(*s, p)).collect(),
        };
        self.push_body(attach, &bytes);
        if self.process.exits {
            self.exit(self.process.exit_code);
        }
    }

    fn exit(&mut self, code: i64) {
        if self.exited {
            return;
        }
        self.running = false;
        self.exited = true;
        self.exit_code = code;
        let body = format!(r#"{{"StatusCode":{code},"Error":null}}"#).into_bytes();
        let end_output = |e: &mut Engine| {
            if let Some(a) = e.attach {
                let trailer = e.process.trailer.clone();
                e.push_body(a, &trailer);
                e.queue.push_back(Input::End { id: a });
            }
        };
        if !self.process.wait_first {
            end_output(self);
        }
        if let Some(w) = self.wait {
            self.push_body(w, &body);
            self.queue.push_back(Input::End { id: w });
        }
        if self.process.wait_first {
            end_output(self);
        }
    }

    pub fn next_input(&mut self) -> Option<Input> {
        self.queue.pop_front()
    }
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Transcript {
    pub events: Vec<Event>,
    pub errors: Vec<Error>,
    /// Everything output, in order, as short strings ("send POST ...", "event ...", "error ...", "abort N").
    pub log: Vec<String>,
    pub done: bool,
    pub steps: usize,
    pub now: Duration,
    /// Set when nothing can happen without the hook.
    pub stuck: bool,
    /// The commands acknowledged, in order (not in `log`).
    pub acks: Vec<(CommandId, Result<(), CommandFailed>)>,
}

impl Transcript {
    pub fn kinds(&self) -> Vec<EventKind> {
        self.events.iter().map(|e| e.kind.clone()).collect()
    }

    /// Output bytes per stream, concatenated.
    pub fn output(&self, stream: cstream_proto_core::Stream) -> Vec<u8> {
        self.events
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::Output { stream: s, data } if *s == stream => Some(data.to_vec()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    /// Event names in order, with consecutive Output events merged.
    pub fn names(&self) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        for e in &self.events {
            let n = name(&e.kind);
            if n == "Output" && v.last() == Some(&"Output") {
                continue;
            }
            v.push(n);
        }
        v
    }

    pub fn process_end(&self) -> Option<cstream_proto_core::ProcessEnd> {
        self.events.iter().find_map(|e| match &e.kind {
            EventKind::ProcessEnd(p) => Some(p.clone()),
            _ => None,
        })
    }
}

pub fn name(k: &EventKind) -> &'static str {
    k.name()
}

pub fn run_info() -> RunInfo {
    RunInfo { run_id: "run-1".into(), created_unix: 1_700_000_000, owner: None }
}

/// A hook called at each step with the machine and the virtual time, so a
/// test can cancel or write stdin at chosen moments. Returning `true` stops
/// the hook from being called again.
pub type Hook<'a> = &'a mut dyn FnMut(&mut Machine, Duration, &Transcript) -> bool;

/// Runs `machine` against `engine` until done, jumping the clock to each deadline.
pub fn drive(machine: &mut Machine, engine: &mut Engine, mut hook: Option<Hook<'_>>) -> Transcript {
    let mut t = Transcript::default();
    let mut now = Duration::from_millis(1);
    const MAX_STEPS: usize = 200_000;
    while t.steps < MAX_STEPS {
        t.steps += 1;
        if let Some(h) = hook.as_mut() {
            if h(machine, now, &t) {
                hook = None;
            }
        }
        match machine.poll_output() {
            Output::Send { id, request } => {
                t.log.push(format!("send {} {}", request.method.as_str(), request.path));
                engine.receive(id, request.method, &request.path);
            }
            Output::Write { data, command, .. } => {
                t.log.push(format!("write {}", data.len()));
                engine.stdin.extend_from_slice(&data);
                machine.handle_input(now, Input::Written { command, result: Ok(()) });
            }
            Output::CloseWrite { command, .. } => {
                t.log.push("close-write".into());
                engine.stdin_closed = true;
                machine.handle_input(now, Input::Written { command, result: Ok(()) });
            }
            Output::Ack { command, result } => t.acks.push((command, result)),
            Output::Abort { id } => t.log.push(format!("abort {}", id.0)),
            Output::Event(e) => {
                t.log.push(format!("event {}", name(&e.kind)));
                t.events.push(e);
            }
            Output::Error(e) => {
                t.log.push(format!("error {e}"));
                t.errors.push(e);
            }
            Output::Done => {
                // Done is final: polling again must say Done and nothing else.
                assert_eq!(machine.poll_output(), Output::Done);
                t.done = true;
                t.now = now;
                return t;
            }
            Output::Pending { deadline } => match engine.next_input() {
                Some(input) => machine.handle_input(now, input),
                None => match deadline {
                    Some(d) => {
                        assert!(d >= now || d + Duration::from_secs(3600) > now, "deadline in the past");
                        now = now.max(d);
                        machine.handle_timeout(now);
                    }
                    None => {
                        // Nothing to feed and no deadline: only the hook can move things on.
                        match hook.take() {
                            Some(h) => {
                                t.stuck = true;
                                h(machine, now, &t);
                            }
                            None => {
                                t.now = now;
                                return t;
                            }
                        }
                    }
                },
            },
        }
    }
    panic!("no end after {MAX_STEPS} steps: {:?}", &t.log[t.log.len().saturating_sub(20)..]);
}

/// Runs `spec` against a fresh engine made by `make`.
pub fn run(spec: &RunSpec, flavor: Flavor, split: Split, make: impl FnOnce(Engine) -> Engine) -> (Transcript, Engine) {
    let mut engine = make(Engine::new(flavor, split));
    let mut m = Machine::new(spec.clone(), run_info(), Duration::ZERO);
    let t = drive(&mut m, &mut engine, None);
    (t, engine)
}

/// The invariant, on the engine's own list: the run finished, and the engine
/// holds no container of it (unless kept), whatever the machine learned.
pub fn assert_cleaned_up(t: &Transcript, engine: &Engine) {
    assert!(t.done, "the run did not finish: {:?}", t.log);
    assert!(
        !engine.containers.iter().any(|c| c == CONTAINER),
        "the engine still holds the run's container: {:?} {:?}",
        engine.requests,
        t.errors
    );
}

pub fn spec() -> RunSpec {
    RunSpec::builder("cstream-test:latest")
        .command(["sh", "-c", "echo out; echo err >&2"])
        .heartbeat(None)
        .build()
        .unwrap()
}
