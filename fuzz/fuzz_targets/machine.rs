//! The machine driven by an arbitrary sequence of answers, timeouts and user
//! commands, and after it is done, by more of them. Checked:
//! - no panic, and nothing but `Done` output after `Done`, whatever comes;
//! - every container the machine learned of gets a remove request before
//!   `Done`, unless the spec says to keep it, and then no `DELETE` is sent;
//! - at most one `ProcessStart` and at most one `ProcessEnd`, the end after
//!   the start; once the process started, exactly one `ProcessEnd`, unless a
//!   failure was reported (no exit code is made up after a broken run);
//! - the exit code is the one the engine gave: the wait's `StatusCode` when
//!   inspect could not be read, the `ExitCode` of a terminal inspect when it
//!   could; a process end with no code comes with an error saying why;
//! - from any state, an engine that then fails everything brings the run to
//!   `Done` within a bounded number of steps;
//! - every stdin write, close and resize the machine took is acknowledged
//!   exactly once by `Done`, and nothing else is;
//! - `Error::Unexpected` (no phase) is counted apart from the failures: it is
//!   reported and the run goes on, so it excuses no missing process end.
#![no_main]

use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::Method;
use cstream_proto_core::{
    CommandId, EndReason, Error, EventKind, Input, Machine, Output, Phase, ProcessEnd, RequestId, RunInfo, RunSpec,
    TtySize,
};
use libfuzzer_sys::fuzz_target;

/// What happens next. `Reply` is the answer a healthy engine gives the
/// request (for a wait or an attach, only its head: the rest comes as the
/// process runs), `code` being the exit code an inspect answers; with it the
/// fuzzer reaches a running process quickly.
#[derive(arbitrary::Arbitrary, Debug)]
enum Action {
    Head { req: u8, status: u16, old_api: bool },
    Body { req: u8, data: Vec<u8> },
    Created { req: u8 },
    Frame { req: u8, stream: u8, data: Vec<u8> },
    Exit { req: u8, code: i16 },
    End { req: u8 },
    Failed { req: u8 },
    Advance { ms: u32 },
    Cancel,
    Stdin { data: Vec<u8> },
    CloseStdin,
    Resize { cols: u16, rows: u16 },
    Inspected { req: u8, code: i16 },
    Reply { req: u8, code: i16 },
}

#[derive(arbitrary::Arbitrary, Debug)]
struct Case {
    keep: bool,
    tty: bool,
    stdin: bool,
    pull_always: bool,
    timeout_s: Option<u8>,
    actions: Vec<Action>,
}

/// What a request is, as far as the checks care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Wait,
    Inspect,
    Other,
}

/// What the harness fed one open request.
#[derive(Debug)]
struct Open {
    id: RequestId,
    kind: Kind,
    method: Method,
    path: String,
    /// The first status given (the machine ignores later ones).
    status: Option<u16>,
    body: Vec<u8>,
}

/// How the engine answered a wait or an inspect, as far as the harness can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    /// 200 with exactly `{"StatusCode":n}`, or an exited container's state with `ExitCode` n.
    Code(i64),
    /// An inspect that failed, timed out or was refused: the machine cannot read it.
    Unreadable,
    /// Anything else: the harness does not predict what the machine makes of it.
    Other,
}

struct Harness {
    m: Machine,
    now: Duration,
    open: Vec<Open>,
    deadline: Option<Duration>,
    delete_sent: bool,
    done: bool,
    keep: bool,
    starts: usize,
    ends: Vec<ProcessEnd>,
    /// Errors that may end a run before its process end (all but resize and
    /// remove failures, and unexpected inputs, which the run goes on after).
    failures: usize,
    /// Commands the machine took, and those acknowledged, in order.
    taken: Vec<CommandId>,
    acked: Vec<CommandId>,
    /// Stdin handed out to be written, reported written when time passes.
    writing: Vec<CommandId>,
    wait: Option<Answer>,
    inspect: Option<Answer>,
    /// A wait or inspect answer the harness cannot predict was given: the exit code is not checked.
    unpredictable: bool,
}

fn wait_code(body: &[u8]) -> Option<i64> {
    core::str::from_utf8(body).ok()?.strip_prefix(r#"{"StatusCode":"#)?.strip_suffix('}')?.parse().ok()
}

fn inspect_body(code: i16) -> String {
    format!(r#"{{"State":{{"Status":"exited","ExitCode":{code},"OOMKilled":false}}}}"#)
}

fn inspect_code(body: &[u8]) -> Option<i64> {
    let s = core::str::from_utf8(body).ok()?;
    let code: i16 = s
        .strip_prefix(r#"{"State":{"Status":"exited","ExitCode":"#)?
        .strip_suffix(r#","OOMKilled":false}}"#)?
        .parse()
        .ok()?;
    (s == inspect_body(code)).then_some(i64::from(code))
}

impl Harness {
    fn drain(&mut self) {
        for _ in 0..10_000 {
            let output = self.m.poll_output();
            if self.done {
                assert_eq!(output, Output::Done, "output after done");
                return;
            }
            match output {
                Output::Send { id, request } => {
                    if request.method == Method::Delete {
                        assert!(!self.keep, "DELETE sent although the spec says keep: {}", request.path);
                        self.delete_sent = true;
                    }
                    let kind = match request.path.split('?').next().unwrap_or_default() {
                        p if p.ends_with("/wait") => Kind::Wait,
                        p if request.method == Method::Get && p.starts_with("/v") && p.ends_with("/json") => {
                            match p.split('/').nth(2) {
                                Some("containers") if !p.ends_with("/containers/json") => Kind::Inspect,
                                _ => Kind::Other,
                            }
                        }
                        _ => Kind::Other,
                    };
                    let (method, path) = (request.method, request.path);
                    self.open.push(Open { id, kind, method, path, status: None, body: Vec::new() });
                }
                Output::Abort { id } => {
                    // An inspect that timed out: the machine goes on without it.
                    if self.close(id).is_some_and(|r| r.kind == Kind::Inspect) {
                        self.inspect = Some(Answer::Unreadable);
                    }
                }
                Output::Pending { deadline } => {
                    self.deadline = deadline;
                    return;
                }
                Output::Done => {
                    if self.m.container_id().is_some() && !self.keep {
                        assert!(self.delete_sent, "done without removing the container");
                    }
                    if self.starts == 1 && self.failures == 0 {
                        assert_eq!(self.ends.len(), 1, "the process started and no failure was reported");
                    }
                    let mut acked = self.acked.clone();
                    acked.sort();
                    assert_eq!(acked, self.taken, "every command taken is acknowledged once by done");
                    self.done = true;
                }
                Output::Event(e) => match e.kind {
                    EventKind::ProcessStart { .. } => {
                        assert!(self.ends.is_empty(), "ProcessStart after ProcessEnd");
                        self.starts += 1;
                        assert_eq!(self.starts, 1, "a second ProcessStart");
                    }
                    EventKind::ProcessEnd(end) => {
                        assert!(self.ends.is_empty(), "a second ProcessEnd: {:?} then {end:?}", self.ends);
                        self.check_exit(&end);
                        self.ends.push(end);
                    }
                    _ => {}
                },
                Output::Error(e) => {
                    match e {
                        // Reported, and the run goes on: it excuses nothing.
                        Error::Unexpected { .. } => {}
                        _ if matches!(e.phase(), Some(Phase::Resize | Phase::Remove)) => {}
                        _ => self.failures += 1,
                    }
                    if let Error::ExitUnknown { .. } = e {
                        assert!(self.ends.is_empty(), "ExitUnknown after ProcessEnd");
                    }
                }
                Output::Write { command, .. } | Output::CloseWrite { command, .. } => self.writing.push(command),
                Output::Ack { command, .. } => {
                    assert!(self.taken.contains(&command), "an ack for a command never taken: {command:?}");
                    assert!(!self.acked.contains(&command), "a second ack for {command:?}");
                    self.acked.push(command);
                }
            }
        }
        panic!("the machine never stopped producing output");
    }

    /// The exit code is the one the engine gave.
    fn check_exit(&self, end: &ProcessEnd) {
        if end.reason == EndReason::StartFailed || self.starts == 0 {
            return;
        }
        if end.exit_code.is_none() {
            assert!(self.failures > 0, "a process end without an exit code, and no error saying why: {end:?}");
        }
        if self.unpredictable {
            return;
        }
        let (Some(Answer::Code(waited)), Some(inspected)) = (self.wait, self.inspect) else { return };
        let expected = match inspected {
            Answer::Code(code) if code >= 0 => Some(code),
            Answer::Code(_) | Answer::Unreadable => (waited >= 0).then_some(waited),
            Answer::Other => return,
        };
        let expected = expected.map(|c| i32::try_from(c).unwrap());
        assert_eq!(end.exit_code, expected, "the wait answered {waited}, inspect {inspected:?}: {end:?}");
    }

    fn close(&mut self, id: RequestId) -> Option<Open> {
        let i = self.open.iter().position(|r| r.id == id)?;
        Some(self.open.remove(i))
    }

    fn pick(&self, req: u8) -> RequestId {
        match self.open.len() {
            0 => RequestId(u64::from(req)),
            n => self.open[usize::from(req) % n].id,
        }
    }

    fn input(&mut self, input: Input) {
        match &input {
            Input::Head { id, status, .. } => {
                if let Some(r) = self.open.iter_mut().find(|r| r.id == *id) {
                    r.status.get_or_insert(*status);
                }
            }
            Input::Body { id, data } => {
                if let Some(r) = self.open.iter_mut().find(|r| r.id == *id) {
                    r.body.extend_from_slice(data);
                }
            }
            Input::End { id } => {
                if let Some(r) = self.close(*id) {
                    self.answered(&r, false);
                }
            }
            Input::Failed { id, .. } => {
                if let Some(r) = self.close(*id) {
                    self.answered(&r, true);
                }
            }
            Input::Written { .. } => {}
        }
        self.m.handle_input(self.now, input);
    }

    /// A wait or inspect answered (or failed): what the machine will make of it.
    fn answered(&mut self, r: &Open, failed: bool) {
        let answer = match (r.kind, failed, r.status) {
            (Kind::Other, ..) => return,
            (Kind::Wait, true, _) => return,
            (Kind::Wait, false, Some(200)) => wait_code(&r.body).map_or(Answer::Other, Answer::Code),
            (Kind::Wait, false, _) => Answer::Other,
            (Kind::Inspect, true, _) => Answer::Unreadable,
            (Kind::Inspect, false, Some(200)) => inspect_code(&r.body).map_or(Answer::Other, Answer::Code),
            (Kind::Inspect, false, _) => Answer::Unreadable,
        };
        self.unpredictable |= answer == Answer::Other;
        match r.kind {
            Kind::Wait => {
                self.wait = Some(answer);
                self.inspect = None;
            }
            _ => self.inspect = Some(answer),
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Head { req, status, old_api } => {
                let v = if old_api { "1.20" } else { "1.41" };
                let id = self.pick(req);
                self.input(Input::Head { id, status, headers: vec![("Api-Version".into(), v.into())] });
            }
            Action::Body { req, data } => {
                let id = self.pick(req);
                self.input(Input::Body { id, data: Bytes::from(data) });
            }
            Action::Created { req } => {
                let id = self.pick(req);
                self.input(Input::Body { id, data: Bytes::from_static(br#"{"Id":"c0ffee"}"#) });
            }
            Action::Frame { req, stream, data } => {
                let id = self.pick(req);
                self.input(Input::Body { id, data: frame(stream, &data) });
            }
            Action::Exit { req, code } => {
                let id = self.pick(req);
                self.input(Input::Body { id, data: Bytes::from(format!(r#"{{"StatusCode":{code}}}"#)) });
            }
            Action::Inspected { req, code } => {
                let id = self.pick(req);
                self.input(Input::Body { id, data: Bytes::from(inspect_body(code)) });
            }
            Action::End { req } => {
                let id = self.pick(req);
                self.input(Input::End { id });
            }
            Action::Reply { req, code } => {
                let id = self.pick(req);
                let Some(r) = self.open.iter().find(|r| r.id == id) else { return self.drain() };
                let path = r.path.split('?').next().unwrap_or_default();
                let (status, body, end): (u16, Bytes, bool) = match (r.method, r.kind) {
                    (_, Kind::Wait) => (200, Bytes::new(), false),
                    (_, Kind::Inspect) => (200, Bytes::from(inspect_body(code)), true),
                    (Method::Delete, _) => (204, Bytes::new(), true),
                    _ if path == "/_ping" => (200, Bytes::from_static(b"OK"), true),
                    _ if path == "/version" => {
                        (200, Bytes::from_static(br#"{"ApiVersion":"1.41","MinAPIVersion":"1.12"}"#), true)
                    }
                    _ if path.ends_with("/containers/create") => {
                        (201, Bytes::from_static(br#"{"Id":"c0ffee","Warnings":[]}"#), true)
                    }
                    _ if path.ends_with("/images/create") => {
                        (200, Bytes::from_static(b"{\"status\":\"Pulling from x\",\"id\":\"v1\"}\n"), true)
                    }
                    _ if path.ends_with("/attach") => (101, Bytes::new(), false),
                    _ if path.ends_with("/start") || path.ends_with("/kill") => (204, Bytes::new(), true),
                    _ if path.ends_with("/containers/json") => (200, Bytes::from_static(b"[]"), true),
                    _ => (200, Bytes::new(), true),
                };
                // Drained after each part, as a driver would, so the harness
                // sees what the machine made of it before the next.
                self.input(Input::Head { id, status, headers: vec![("Api-Version".into(), "1.41".into())] });
                self.drain();
                if !body.is_empty() {
                    self.input(Input::Body { id, data: body });
                    self.drain();
                }
                if end {
                    self.input(Input::End { id });
                }
            }
            Action::Failed { req } => {
                let id = self.pick(req);
                self.input(Input::Failed { id, message: "cut".into() });
            }
            Action::Advance { ms } => {
                for command in core::mem::take(&mut self.writing) {
                    self.m.handle_input(self.now, Input::Written { command, result: Ok(()) });
                }
                self.now += Duration::from_millis(u64::from(ms));
                self.m.handle_timeout(self.now);
            }
            Action::Cancel => self.m.cancel(self.now),
            Action::Stdin { data } => {
                let taken = self.m.write_stdin(Bytes::from(data));
                self.taken.extend(taken);
            }
            Action::CloseStdin => {
                let taken = self.m.close_stdin();
                self.taken.extend(taken);
            }
            Action::Resize { cols, rows } => {
                let taken = self.m.resize(self.now, TtySize { cols, rows });
                self.taken.extend(taken);
            }
        }
        self.drain();
    }
}

fn frame(stream: u8, data: &[u8]) -> Bytes {
    let mut v = vec![stream % 4, 0, 0, 0];
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    Bytes::from(v)
}

fuzz_target!(|case: Case| {
    let mut b = RunSpec::builder("cstream-test").keep(case.keep).tty(case.tty).stdin(case.stdin);
    if case.pull_always {
        b = b.pull(cstream_proto_core::PullPolicy::Always);
    }
    if let Some(t) = case.timeout_s {
        b = b.timeout(Duration::from_secs(u64::from(t) + 1));
    }
    let spec = b.build().expect("a valid spec");
    let run = RunInfo { run_id: "fuzz".into(), created_unix: 0, owner: None };
    let mut h = Harness {
        m: Machine::new(spec, run, Duration::ZERO),
        now: Duration::ZERO,
        open: Vec::new(),
        deadline: None,
        delete_sent: false,
        done: false,
        keep: case.keep,
        starts: 0,
        ends: Vec::new(),
        failures: 0,
        taken: Vec::new(),
        acked: Vec::new(),
        writing: Vec::new(),
        wait: None,
        inspect: None,
        unpredictable: false,
    };
    h.drain();
    let mut actions = case.actions.into_iter().take(200);
    // Until done; what is left comes after done, and must change nothing.
    for action in actions.by_ref() {
        h.act(action);
        if h.done {
            break;
        }
    }
    // From here the engine fails every request: the run must still end.
    h.m.cancel(h.now);
    h.drain();
    let mut steps = 0;
    while !h.done {
        steps += 1;
        assert!(steps <= 1_000, "the run did not end against a failing engine");
        if let Some(id) = h.open.first().map(|r| r.id) {
            h.input(Input::Failed { id, message: "engine gone".into() });
        } else if let Some(d) = h.deadline {
            h.now = h.now.max(d);
            h.m.handle_timeout(h.now);
        } else {
            panic!("stuck: no open request and no deadline");
        }
        h.drain();
    }
    // Done: whatever still comes, nothing more is output.
    for action in actions {
        h.act(action);
    }
    for id in 0..8 {
        h.act(Action::Failed { req: id });
        h.act(Action::End { req: id });
    }
    h.act(Action::Advance { ms: u32::MAX });
    h.act(Action::Cancel);
});
