//! The exec step machine state by state, against scripted answers as Docker
//! 20.10 gives them: one input at a time, everything that comes out
//! checked, in order. The graph these follow is in the docs of
//! `cstream_proto_core::exec`.

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::exec::{ExecMachine, STEP_ENV};
use cstream_proto_core::{
    CommandError, EndReason, Error, EventKind, Input, Output, ProcessEnd, ProcessId, RequestId, RunInfo, RunSpec,
    Stream,
};

const CREATE: &str = "/v1.41/containers/c1/exec";
const START: &str = "/v1.41/exec/e1/start";
const INSPECT: &str = "/v1.41/exec/e1/json";

fn spec() -> cstream_proto_core::spec::RunSpecBuilder {
    RunSpec::builder("exec").command(["sh", "-c", "make"]).heartbeat(None)
}

struct Step {
    m: ExecMachine,
    now: Duration,
    sent: Vec<(RequestId, Request)>,
    outputs: Vec<Output>,
}

impl Step {
    fn new(spec: RunSpec) -> Step {
        let run = RunInfo { run_id: "step-1".into(), created_unix: 0, owner: None };
        let m = ExecMachine::new("c1", spec, run, Duration::ZERO);
        let mut s = Step { m, now: Duration::ZERO, sent: Vec::new(), outputs: Vec::new() };
        s.drain();
        s.answer("/_ping", 200, b"OK");
        s
    }

    /// Polls until Pending or Done; returns what came out, shown.
    fn drain(&mut self) -> Vec<String> {
        let mut shown = Vec::new();
        loop {
            let o = self.m.poll_output();
            let line = match &o {
                Output::Send { id, request } => {
                    self.sent.push((*id, request.clone()));
                    format!("send {} {}", request.method.as_str(), request.path)
                }
                Output::Abort { id } => format!("abort {}", self.sent.iter().find(|(i, _)| i == id).unwrap().1.path),
                Output::Event(e) => format!("event {}", e.kind.name()),
                Output::Error(e) => format!("error {e}"),
                Output::Write { data, .. } => format!("write {}", String::from_utf8_lossy(data)),
                Output::CloseWrite { .. } => "close".into(),
                Output::Ack { result, .. } => format!("ack {result:?}"),
                Output::Pending { .. } => break,
                Output::Done => {
                    assert_eq!(self.m.poll_output(), Output::Done, "done is final");
                    shown.push("done".into());
                    break;
                }
            };
            shown.push(line);
            self.outputs.push(o);
        }
        shown
    }

    fn id(&self, path: &str) -> RequestId {
        self.sent.iter().rev().find(|(_, r)| r.path == path).map(|(id, _)| *id).unwrap_or_else(|| panic!("no {path}"))
    }

    fn request(&self, path: &str) -> Request {
        self.sent.iter().rev().find(|(_, r)| r.path == path).unwrap().1.clone()
    }

    fn input(&mut self, input: Input) -> Vec<String> {
        self.m.handle_input(self.now, input);
        self.drain()
    }

    fn head(&mut self, path: &str, status: u16) -> Vec<String> {
        let headers =
            vec![("Api-Version".to_string(), "1.41".to_string()), ("Server".into(), "Docker/20.10.24".into())];
        self.input(Input::Head { id: self.id(path), status, headers })
    }

    fn body(&mut self, path: &str, data: &[u8]) -> Vec<String> {
        self.input(Input::Body { id: self.id(path), data: Bytes::copy_from_slice(data) })
    }

    fn end(&mut self, path: &str) -> Vec<String> {
        self.input(Input::End { id: self.id(path) })
    }

    fn answer(&mut self, path: &str, status: u16, body: &[u8]) -> Vec<String> {
        let mut v = self.head(path, status);
        if !body.is_empty() {
            v.extend(self.body(path, body));
        }
        v.extend(self.end(path));
        v
    }

    fn tick(&mut self, by: Duration) -> Vec<String> {
        self.now += by;
        self.m.handle_timeout(self.now);
        self.drain()
    }

    fn deadline(&mut self) -> Option<Duration> {
        match self.m.poll_output() {
            Output::Pending { deadline } => deadline,
            o => panic!("not pending: {o:?}"),
        }
    }

    /// Up to a running step: created as e1, its stream upgraded.
    fn running(spec: RunSpec) -> Step {
        let mut s = Step::new(spec);
        assert_eq!(s.answer(CREATE, 201, br#"{"Id":"e1"}"#), [format!("send POST {START}")]);
        assert_eq!(s.head(START, 101), ["event ProcessStart"]);
        s
    }

    fn end_event(&self) -> ProcessEnd {
        self.outputs
            .iter()
            .find_map(|o| match o {
                Output::Event(e) => match &e.kind {
                    EventKind::ProcessEnd(p) => Some(p.clone()),
                    _ => None,
                },
                _ => None,
            })
            .expect("a ProcessEnd")
    }
}

fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(data.len() as u32).to_be_bytes());
    v.extend_from_slice(data);
    v
}

fn json(r: &Request) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn a_step_is_created_started_read_and_inspected() {
    let mut s = Step::new(spec().env("A", "1").working_dir("/src").user("1000").build().unwrap());
    let create = json(&s.request(CREATE));
    assert_eq!(create["Cmd"], serde_json::json!(["sh", "-c", "make"]));
    assert_eq!(create["Env"], serde_json::json!(["A=1", format!("{STEP_ENV}=step-1")]), "marked for a stop");
    assert_eq!((create["WorkingDir"].as_str(), create["User"].as_str()), (Some("/src"), Some("1000")));
    assert_eq!((create["AttachStdin"].as_bool(), create["Tty"].as_bool()), (Some(false), Some(false)));

    assert_eq!(s.answer(CREATE, 201, br#"{"Id":"e1"}"#), [format!("send POST {START}")]);
    let start = s.request(START);
    assert_eq!(start.kind, RequestKind::Upgrade);
    assert_eq!(json(&start), serde_json::json!({"Detach": false, "Tty": false}));
    assert_eq!(s.head(START, 101), ["event ProcessStart"]);
    let process = match &s.outputs.last() {
        Some(Output::Event(e)) => match &e.kind {
            EventKind::ProcessStart { process, .. } => process.clone(),
            _ => unreachable!(),
        },
        _ => unreachable!(),
    };
    assert_eq!(process, ProcessId::Exec { container: "c1".into(), exec: "e1".into() });

    // Frames cut anywhere across reads.
    let bytes = [frame(1, b"out\n"), frame(2, b"err\n")].concat();
    for piece in bytes.chunks(3) {
        s.body(START, piece);
    }
    let (mut out, mut err) = (Vec::new(), Vec::new());
    for o in &s.outputs {
        if let Output::Event(e) = o
            && let EventKind::Output { stream, data } = &e.kind
        {
            match stream {
                Stream::Stdout => out.extend_from_slice(data),
                _ => err.extend_from_slice(data),
            }
        }
    }
    assert_eq!((out.as_slice(), err.as_slice()), (&b"out\n"[..], &b"err\n"[..]));

    assert_eq!(s.end(START), [format!("send GET {INSPECT}")]);
    // The engine may say the step runs a moment after its output ended: asked again.
    assert_eq!(s.answer(INSPECT, 200, br#"{"Running":true,"ExitCode":0}"#), Vec::<String>::new());
    assert_eq!(s.deadline(), Some(s.now + Duration::from_millis(50)));
    assert_eq!(s.tick(Duration::from_millis(50)), [format!("send GET {INSPECT}")]);
    assert_eq!(s.answer(INSPECT, 200, br#"{"Running":false,"ExitCode":3,"Pid":42}"#), ["event ProcessEnd", "done"]);
    assert_eq!((s.end_event().exit_code, s.end_event().reason), (Some(3), EndReason::Exited));
}

/// A terminal's size is in the create where the engine takes it (API 1.42
/// on), and set by a resize just after the start in any case.
#[test]
fn a_terminal_size_is_in_the_create_from_api_1_42_and_resized_at_start() {
    let spec = || spec().tty(true).tty_size(100, 30).build().unwrap();
    let mut s = Step::new(spec());
    assert_eq!(json(&s.request(CREATE)).get("ConsoleSize"), None, "Docker 20.10 refuses nothing, but ignores it");
    s.answer(CREATE, 201, br#"{"Id":"e1"}"#);
    assert_eq!(
        s.head(START, 101),
        ["event ProcessStart", "send POST /v1.41/exec/e1/resize?h=30&w=100", "event TerminalResize"]
    );

    let headers = [("Api-Version", "1.45"), ("Server", "Docker/26.1.5")];
    let engine = cstream_proto_core::api::EngineInfo::from_ping_headers(headers, None).unwrap();
    let run = RunInfo { run_id: "step-2".into(), created_unix: 0, owner: None };
    let mut m = ExecMachine::with_engine("c1", spec(), run, engine, Duration::ZERO);
    let Output::Send { id, request } = m.poll_output() else { panic!("the create first") };
    assert_eq!(json(&request)["ConsoleSize"], serde_json::json!([30, 100]));
    let head = |id, status| Input::Head { id, status, headers: vec![] };
    m.handle_input(Duration::ZERO, head(id, 201));
    m.handle_input(Duration::ZERO, Input::Body { id, data: Bytes::from_static(br#"{"Id":"e1"}"#) });
    m.handle_input(Duration::ZERO, Input::End { id });
    let Output::Send { id, request } = m.poll_output() else { panic!("the start next") };
    assert_eq!(request.path, "/v1.45/exec/e1/start");
    m.handle_input(Duration::ZERO, head(id, 101));
    assert!(matches!(m.poll_output(), Output::Event(e) if e.kind.name() == "ProcessStart"));
    assert!(matches!(m.poll_output(), Output::Pending { .. }), "no resize: the size was in the create");
}

/// Resizes go one at a time (each rides a connection of its own, and two at
/// once could land in either order); of those asked for meanwhile, the
/// newest goes next.
#[test]
fn resizes_go_one_at_a_time_and_the_newest_size_wins() {
    let mut s = Step::running(spec().tty(true).build().unwrap());
    let size = |cols, rows| cstream_proto_core::TtySize { cols, rows };
    let first = "/v1.41/exec/e1/resize?h=30&w=100";
    s.m.resize(s.now, size(100, 30)).unwrap();
    assert_eq!(s.drain(), [format!("send POST {first}"), "event TerminalResize".into()]);
    s.m.resize(s.now, size(120, 40)).unwrap();
    s.m.resize(s.now, size(90, 20)).unwrap();
    assert_eq!(s.drain(), Vec::<String>::new(), "nothing more goes while a resize is on the wire");
    let newest = "/v1.41/exec/e1/resize?h=20&w=90";
    assert_eq!(
        s.answer(first, 200, b""),
        ["ack Ok(())".into(), format!("send POST {newest}"), "event TerminalResize".into()]
    );
    assert_eq!(s.answer(newest, 200, b""), ["ack Ok(())", "ack Ok(())"]);
}

/// Where the create carries the size (API 1.42 on), a resize asked for
/// while the create is out is set once the step runs, not lost.
#[test]
fn a_resize_before_the_step_runs_is_set_once_it_does() {
    let headers = [("Api-Version", "1.45"), ("Server", "Docker/26.1.5")];
    let engine = cstream_proto_core::api::EngineInfo::from_ping_headers(headers, None).unwrap();
    let run = RunInfo { run_id: "step-3".into(), created_unix: 0, owner: None };
    let spec = spec().tty(true).tty_size(100, 30).build().unwrap();
    let mut m = ExecMachine::with_engine("c1", spec, run, engine, Duration::ZERO);
    let Output::Send { id, .. } = m.poll_output() else { panic!("the create first") };
    m.resize(Duration::ZERO, cstream_proto_core::TtySize { cols: 161, rows: 61 }).unwrap();
    assert!(matches!(m.poll_output(), Output::Ack { result: Ok(()), .. }), "applied once the step runs");
    let head = |id, status| Input::Head { id, status, headers: vec![] };
    m.handle_input(Duration::ZERO, head(id, 201));
    m.handle_input(Duration::ZERO, Input::Body { id, data: Bytes::from_static(br#"{"Id":"e1"}"#) });
    m.handle_input(Duration::ZERO, Input::End { id });
    let Output::Send { id, .. } = m.poll_output() else { panic!("the start next") };
    m.handle_input(Duration::ZERO, head(id, 101));
    assert!(matches!(m.poll_output(), Output::Event(e) if e.kind.name() == "ProcessStart"));
    let Output::Send { request, .. } = m.poll_output() else { panic!("the newer size next") };
    assert_eq!(request.path, "/v1.45/exec/e1/resize?h=61&w=161");
}

#[test]
fn a_container_that_is_gone_is_a_typed_error_and_the_step_never_starts() {
    for status in [404, 409] {
        let mut s = Step::new(spec().build().unwrap());
        let said = s.answer(CREATE, status, br#"{"message":"Container c1 is not running"}"#);
        assert_eq!(
            said,
            ["error the container c1 is not running: Container c1 is not running", "event ProcessEnd", "done"]
        );
        let gone = s
            .outputs
            .iter()
            .any(|o| matches!(o, Output::Error(Error::ContainerGone { container, .. }) if container == "c1"));
        assert!(gone, "{:?}", s.outputs);
        assert_eq!((s.end_event().reason, s.end_event().exit_code), (EndReason::StartFailed, None));
    }
}

#[test]
fn a_refused_start_ends_the_step_unstarted() {
    let mut s = Step::new(spec().build().unwrap());
    s.answer(CREATE, 201, br#"{"Id":"e1"}"#);
    let said = s.answer(START, 500, br#"{"message":"boom"}"#);
    assert_eq!(said.last().map(String::as_str), Some("done"));
    assert_eq!((s.end_event().reason, s.end_event().exit_code), (EndReason::StartFailed, None));
}

#[test]
fn cancel_signals_the_step_then_kills_it_after_the_grace() {
    let mut s = Step::running(spec().stop_grace(Duration::from_secs(2)).build().unwrap());
    s.m.cancel(s.now);
    assert_eq!(s.drain(), [format!("send POST {CREATE}")]);
    let signal = json(&s.request(CREATE));
    let cmd: Vec<&str> = signal["Cmd"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!((cmd[0], cmd[1], &cmd[3..]), ("sh", "-c", &["sh", "TERM", "CSTREAM_STEP=step-1"][..]));
    assert_eq!(signal["Env"], serde_json::json!([]), "the signalling exec is not marked itself");
    assert_eq!(s.answer(CREATE, 201, br#"{"Id":"k1"}"#), ["send POST /v1.41/exec/k1/start"]);
    assert_eq!(json(&s.request("/v1.41/exec/k1/start")), serde_json::json!({"Detach": true, "Tty": false}));
    s.answer("/v1.41/exec/k1/start", 200, b"");
    // The step ignores TERM: KILL after the grace.
    assert_eq!(s.deadline(), Some(Duration::from_secs(2)));
    assert_eq!(s.tick(Duration::from_secs(2)), [format!("send POST {CREATE}")]);
    assert_eq!(json(&s.request(CREATE))["Cmd"][4], "KILL");
    s.answer(CREATE, 201, br#"{"Id":"k2"}"#);
    s.answer("/v1.41/exec/k2/start", 200, b"");
    assert_eq!(s.end(START), [format!("send GET {INSPECT}")]);
    s.answer(INSPECT, 200, br#"{"Running":false,"ExitCode":137}"#);
    let end = s.end_event();
    assert_eq!((end.exit_code, end.signal, end.reason), (Some(137), Some(9), EndReason::Cancelled));
}

#[test]
fn a_second_cancel_kills_at_once_and_the_timeout_stops_as_a_cancel_does() {
    let mut s = Step::running(spec().build().unwrap());
    s.m.cancel(s.now);
    s.drain();
    s.m.cancel(s.now);
    assert_eq!(s.drain(), [format!("send POST {CREATE}")]);
    assert_eq!(json(&s.request(CREATE))["Cmd"][4], "KILL");

    let mut s = Step::running(spec().timeout(Duration::from_secs(5)).build().unwrap());
    assert_eq!(s.tick(Duration::from_secs(5)), [format!("send POST {CREATE}")]);
    assert_eq!(json(&s.request(CREATE))["Cmd"][4], "TERM");
    s.end(START);
    s.answer(INSPECT, 200, br#"{"Running":false,"ExitCode":143}"#);
    assert_eq!(s.end_event().reason, EndReason::TimedOut);
}

#[test]
fn a_cancel_before_the_start_never_starts_the_step() {
    let mut s = Step::new(spec().build().unwrap());
    s.m.cancel(s.now);
    assert_eq!(s.drain(), Vec::<String>::new(), "the create is out: its answer is awaited");
    assert_eq!(s.answer(CREATE, 201, br#"{"Id":"e1"}"#), ["event ProcessEnd", "done"]);
    assert!(!s.sent.iter().any(|(_, r)| r.path == START));
    assert_eq!((s.end_event().reason, s.end_event().exit_code), (EndReason::Cancelled, None));
}

#[test]
fn a_step_that_cannot_be_signalled_says_so_and_goes_on() {
    let mut s = Step::running(spec().build().unwrap());
    s.m.cancel(s.now);
    s.drain();
    s.answer(CREATE, 201, br#"{"Id":"k1"}"#);
    let said = s.answer("/v1.41/exec/k1/start", 500, br#"{"message":"exec: \"sh\": executable file not found"}"#);
    assert_eq!(said, ["error stopping the step: exec: \"sh\": executable file not found"]);
    s.body(START, &frame(1, b"still\n"));
    assert!(matches!(s.outputs.last(), Some(Output::Event(e)) if matches!(e.kind, EventKind::Output { .. })));
}

#[test]
fn stdin_waits_for_the_stream_and_each_write_is_acknowledged() {
    let mut s = Step::new(spec().stdin(true).build().unwrap());
    let first = s.m.write_stdin(Bytes::from_static(b"abc")).unwrap();
    let close = s.m.close_stdin().unwrap();
    assert_eq!(s.drain(), Vec::<String>::new(), "nothing written before the stream is up");
    assert_eq!(json(&s.request(CREATE))["AttachStdin"], true);
    s.answer(CREATE, 201, br#"{"Id":"e1"}"#);
    assert_eq!(s.head(START, 101), ["event ProcessStart", "write abc", "close"]);
    assert_eq!(s.input(Input::Written { command: first, result: Ok(()) }), ["ack Ok(())"]);
    assert_eq!(s.input(Input::Written { command: close, result: Ok(()) }), ["ack Ok(())"]);
    assert_eq!(s.m.write_stdin(Bytes::new()), Err(CommandError::StdinClosed));
}

#[test]
fn bad_input_is_typed_and_never_panics() {
    // An empty command is refused before anything is sent.
    let mut s = Step {
        m: ExecMachine::new(
            "c1",
            RunSpec::builder("exec").heartbeat(None).build().unwrap(),
            RunInfo { run_id: "x".into(), created_unix: 0, owner: None },
            Duration::ZERO,
        ),
        now: Duration::ZERO,
        sent: Vec::new(),
        outputs: Vec::new(),
    };
    let said = s.drain();
    assert!(said[0].starts_with("error ") && said[0].contains("command"), "{said:?}");
    assert_eq!(&said[1..], ["event ProcessEnd", "done"]);

    // An answer for a request never sent, garbage where JSON belongs.
    let mut s = Step::new(spec().build().unwrap());
    let said = s.input(Input::End { id: RequestId(99) });
    assert!(said[0].starts_with("error unexpected: an end for request 99"), "{said:?}");
    let said = s.answer(CREATE, 201, b"\xff not json");
    assert!(said[0].starts_with("error ") && said.ends_with(&["event ProcessEnd".into(), "done".into()]), "{said:?}");
    // A malformed frame ends the read with a typed error, then the exit is asked for.
    let mut s = Step::running(spec().build().unwrap());
    let said = s.body(START, &[9, 0, 0, 0, 0, 0, 0, 1, b'x']);
    assert_eq!(said.last(), Some(&format!("send GET {INSPECT}")), "{said:?}");
    assert!(matches!(s.outputs.iter().find(|o| matches!(o, Output::Error(_))), Some(Output::Error(Error::Output(_)))));
}
