//! The machine state by state: what each state does with each input it can
//! get, the expected ones and the unexpected ones (which are reported as
//! `Error::Unexpected`, never dropped in silence, and never a panic).
//!
//! Each module brings a run to its state by the shortest way a Docker engine
//! would, then feeds it one input and checks everything that comes out, in
//! order. The graph these follow is in the docs of `cstream_proto_core::machine`.

mod support;

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::Purpose;
use cstream_proto_core::{CommandId, EndReason, Error, EventKind, Input, Machine, Output, RequestId, RunSpec, TtySize};
use support::{frame, purpose_of, run_info, spec};

/// One output, in a line: `send POST /v1.41/...`, `event ProcessStart`,
/// `error ...`, `abort Wait`, `write 3`, `close-write`, `done`.
fn show(o: &Output, sent: &[(RequestId, Purpose)]) -> String {
    let call = |id: &RequestId| sent.iter().find(|(i, _)| i == id).map(|(_, c)| *c).unwrap();
    match o {
        Output::Send { request, .. } => format!("send {} {}", request.method.as_str(), request.path),
        Output::Write { data, .. } => format!("write {}", data.len()),
        Output::CloseWrite { .. } => "close-write".into(),
        Output::Abort { id } => format!("abort {:?}", call(id)),
        Output::Event(e) => format!("event {}", e.kind.name()),
        Output::Error(e) => format!("error {e}"),
        Output::Ack { command, result: Ok(()) } => format!("ack {} ok", command.0),
        Output::Ack { command, result: Err(e) } => format!("ack {} {e}", command.0),
        Output::Pending { .. } => "pending".into(),
        Output::Done => "done".into(),
    }
}

const C: &str = "/v1.41/containers/c1";

/// A run driven by hand, one input at a time.
struct Run {
    m: Machine,
    now: Duration,
    sent: Vec<(RequestId, Purpose)>,
    /// Everything output so far, shown.
    log: Vec<String>,
    /// Every output so far.
    outputs: Vec<Output>,
    done: bool,
}

impl Run {
    fn new(spec: RunSpec) -> Run {
        Run::on(Machine::new(spec, run_info(), Duration::ZERO))
    }

    fn on(m: Machine) -> Run {
        let mut r = Run { m, now: Duration::ZERO, sent: Vec::new(), log: Vec::new(), outputs: Vec::new(), done: false };
        r.drain();
        r
    }

    /// Polls until Pending or Done; returns what came out, shown.
    fn drain(&mut self) -> Vec<String> {
        let mut shown = Vec::new();
        loop {
            let o = self.m.poll_output();
            if let Output::Send { id, request } = &o {
                self.sent.push((*id, purpose_of(request.method, &request.path)));
            }
            match o {
                Output::Pending { .. } => break,
                Output::Done => {
                    assert_eq!(self.m.poll_output(), Output::Done, "done is final");
                    self.done = true;
                    shown.push("done".into());
                    break;
                }
                o => {
                    shown.push(show(&o, &self.sent));
                    self.outputs.push(o);
                }
            }
        }
        self.log.extend(shown.iter().cloned());
        shown
    }

    /// The id of the last request of `call`.
    fn id(&self, call: Purpose) -> RequestId {
        self.sent.iter().rev().find(|(_, c)| *c == call).map(|(id, _)| *id).unwrap_or_else(|| panic!("no {call:?}"))
    }

    fn input(&mut self, input: Input) -> Vec<String> {
        self.m.handle_input(self.now, input);
        self.drain()
    }

    fn head(&mut self, call: Purpose, status: u16) -> Vec<String> {
        let headers = vec![("Api-Version".to_string(), "1.41".to_string())];
        self.input(Input::Head { id: self.id(call), status, headers })
    }

    fn body(&mut self, call: Purpose, data: &[u8]) -> Vec<String> {
        self.input(Input::Body { id: self.id(call), data: Bytes::copy_from_slice(data) })
    }

    fn end(&mut self, call: Purpose) -> Vec<String> {
        self.input(Input::End { id: self.id(call) })
    }

    fn fail(&mut self, call: Purpose) -> Vec<String> {
        self.input(Input::Failed { id: self.id(call), message: "connection reset".into() })
    }

    /// A whole answer: head, body (when not empty), end.
    fn answer(&mut self, call: Purpose, status: u16, body: &[u8]) -> Vec<String> {
        let mut v = self.head(call, status);
        if !body.is_empty() {
            v.extend(self.body(call, body));
        }
        v.extend(self.end(call));
        v
    }

    fn at(&mut self, t: Duration) -> &mut Self {
        self.now = t;
        self
    }

    fn timeout(&mut self) -> Vec<String> {
        self.m.handle_timeout(self.now);
        self.drain()
    }

    fn cancel(&mut self) -> Vec<String> {
        self.m.cancel(self.now);
        self.drain()
    }

    fn deadline(&mut self) -> Option<Duration> {
        match self.m.poll_output() {
            Output::Pending { deadline } => deadline,
            other => panic!("expected pending, got {other:?}"),
        }
    }

    /// The `Error::Unexpected` outputs so far.
    fn unexpected(&self) -> Vec<String> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Error(e @ Error::Unexpected { .. }) => Some(e.to_string()),
                _ => None,
            })
            .collect()
    }

    fn process_end(&self) -> cstream_proto_core::ProcessEnd {
        self.outputs
            .iter()
            .find_map(|o| match o {
                Output::Event(e) => match &e.kind {
                    EventKind::ProcessEnd(p) => Some(p.clone()),
                    _ => None,
                },
                _ => None,
            })
            .expect("a process end")
    }
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const CREATED: &[u8] = br#"{"Id":"c1","Warnings":[]}"#;

/// A run whose create is out.
fn at_create(spec: RunSpec) -> Run {
    let mut r = Run::new(spec);
    r.at(ms(1)).answer(Purpose::Ping, 200, b"OK");
    r
}

/// A run whose attach and wait are out.
fn at_prepare(spec: RunSpec) -> Run {
    let mut r = at_create(spec);
    r.at(ms(2)).answer(Purpose::Create, 201, CREATED);
    r
}

/// A run whose start is out.
fn at_start(spec: RunSpec) -> Run {
    let mut r = at_prepare(spec);
    r.at(ms(3)).head(Purpose::Attach, 101);
    r.head(Purpose::Wait, 200);
    r
}

/// A run whose process runs.
fn at_running(spec: RunSpec) -> Run {
    let mut r = at_start(spec);
    r.at(ms(4)).answer(Purpose::Start, 204, b"");
    r
}

/// A run whose inspect is out (the process exited 0, output ended).
fn at_inspect(spec: RunSpec) -> Run {
    let mut r = at_running(spec);
    r.at(ms(5)).end(Purpose::Attach);
    r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
    r.end(Purpose::Wait);
    r
}

/// A run whose remove is out.
fn at_remove(spec: RunSpec) -> Run {
    let mut r = at_inspect(spec);
    r.at(ms(6)).answer(Purpose::Inspect, 200, br#"{"State":{"Status":"exited","ExitCode":0,"OOMKilled":false}}"#);
    r
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

mod ping {
    use super::*;

    #[test]
    fn answered_sends_the_create() {
        let mut r = Run::new(spec());
        assert_eq!(r.log, s(&["send GET /_ping"]));
        assert_eq!(r.head(Purpose::Ping, 200), Vec::<String>::new());
        assert_eq!(r.body(Purpose::Ping, b"OK"), Vec::<String>::new());
        assert_eq!(r.end(Purpose::Ping), s(&["send POST /v1.41/containers/create"]));
    }

    #[test]
    fn an_error_status_ends_the_run_with_nothing_to_clean() {
        let mut r = Run::new(spec());
        let out = r.answer(Purpose::Ping, 500, br#"{"message":"down"}"#);
        assert_eq!(out, s(&["error connecting to the engine: the engine answered 500: down", "done"]));
    }

    #[test]
    fn a_cancel_ends_an_unstarted_process_at_once() {
        let mut r = Run::new(spec());
        assert_eq!(r.cancel(), s(&["abort Ping", "event ProcessEnd", "done"]));
        assert_eq!(r.process_end().reason, EndReason::Cancelled);
        assert_eq!(r.process_end().exit_code, None);
    }

    #[test]
    fn an_answer_to_a_request_never_sent_is_reported_and_the_run_goes_on() {
        let mut r = Run::new(spec());
        let out = r.input(Input::Head { id: RequestId(99), status: 200, headers: vec![] });
        assert_eq!(out, s(&["error unexpected: a head for request 99, which was never sent (the run was at ping)"]));
        let out = r.input(Input::Body { id: RequestId(99), data: Bytes::from_static(b"x") });
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(r.answer(Purpose::Ping, 200, b"OK"), s(&["send POST /v1.41/containers/create"]));
    }

    #[test]
    fn body_bytes_before_the_head_are_reported_once_and_read() {
        let mut r = Run::new(spec());
        let out = r.body(Purpose::Ping, b"O");
        assert_eq!(out, s(&["error unexpected: body bytes for request 0 (connecting to the engine) before its head"]));
        assert_eq!(r.body(Purpose::Ping, b"K"), Vec::<String>::new(), "once per request");
        r.head(Purpose::Ping, 500);
        let out = r.end(Purpose::Ping);
        assert_eq!(out, s(&["error connecting to the engine: the engine answered 500: OK", "done"]));
    }
}

/// A spec with a CPU limit: the host's CPUs are asked before the create.
mod info {
    use super::*;

    fn cpus(millis: u64) -> RunSpec {
        RunSpec::builder("cstream-test:latest").command(["true"]).heartbeat(None).cpu_millis(millis).build().unwrap()
    }

    fn at_info(millis: u64) -> Run {
        let mut r = Run::new(cpus(millis));
        assert_eq!(r.at(ms(1)).answer(Purpose::Ping, 200, b"OK"), s(&["send GET /v1.41/info"]));
        r
    }

    #[test]
    fn a_limit_the_host_meets_goes_on_to_the_create() {
        let mut r = at_info(2000);
        let out = r.answer(Purpose::Info, 200, br#"{"NCPU":2,"Name":"h"}"#);
        assert_eq!(out.len(), 1, "{out:?}");
        assert!(out[0].starts_with("send POST /v1.41/containers/create"), "{out:?}");
    }

    #[test]
    fn a_limit_above_the_host_is_refused_before_anything_exists() {
        let mut r = at_info(2500);
        let out = r.answer(Purpose::Info, 200, br#"{"NCPU":2}"#);
        let refused = "error invalid CPU limit \"2.5 CPUs, on a host with 2\": is more than the engine's host has";
        assert_eq!(out, s(&[refused, "done"]));
        assert!(matches!(r.outputs.last(), Some(Output::Error(Error::Spec(_)))), "{:?}", r.outputs);
    }

    #[test]
    fn an_answer_without_the_cpus_is_a_typed_error() {
        let mut r = at_info(1000);
        let out = r.answer(Purpose::Info, 200, br#"{"Name":"h"}"#);
        let bad = "error asking the engine about its host: malformed answer from the engine: info: no NCPU";
        assert_eq!(out, s(&[bad, "done"]));
        let mut r = at_info(1000);
        let out = r.answer(Purpose::Info, 500, br#"{"message":"down"}"#);
        assert_eq!(out, s(&["error asking the engine about its host: the engine answered 500: down", "done"]));
    }

    #[test]
    fn the_answer_is_kept_with_the_engine() {
        let mut r = at_info(2000);
        r.answer(Purpose::Info, 200, br#"{"NCPU":2}"#);
        assert_eq!(r.m.engine().and_then(|e| e.host_cpus), Some(2));
    }

    #[test]
    fn a_host_already_known_is_not_asked_again() {
        let pinged = |millis| {
            let mut r = Run::new(cpus(millis));
            r.at(ms(1)).answer(Purpose::Ping, 200, b"OK");
            let mut engine = r.m.engine().unwrap().clone();
            engine.host_cpus = Some(2);
            Run::on(Machine::with_engine(cpus(millis), run_info(), engine, Duration::ZERO))
        };
        let r = pinged(2000);
        assert_eq!(r.log.len(), 1, "{:?}", r.log);
        assert!(r.log[0].starts_with("send POST /v1.41/containers/create"), "{:?}", r.log);
        let refused = "error invalid CPU limit \"2.5 CPUs, on a host with 2\": is more than the engine's host has";
        assert_eq!(pinged(2500).log, s(&[refused, "done"]));
    }

    #[test]
    fn no_limit_no_info() {
        let mut r = Run::new(spec());
        let out = r.at(ms(1)).answer(Purpose::Ping, 200, b"OK");
        assert!(out[0].starts_with("send POST /v1.41/containers/create"), "{out:?}");
    }

    #[test]
    fn a_cancel_ends_the_unstarted_process_at_once() {
        let mut r = at_info(1000);
        assert_eq!(r.cancel(), s(&["abort Info", "event ProcessEnd", "done"]));
    }
}

mod pull {
    use super::*;

    fn always() -> RunSpec {
        RunSpec::builder("cstream-test:latest").pull(cstream_proto_core::PullPolicy::Always).build().unwrap()
    }

    #[test]
    fn progress_then_its_end_sends_the_create() {
        let mut r = Run::new(always());
        let out = r.answer(Purpose::Ping, 200, b"OK");
        assert_eq!(
            out,
            s(&["send POST /v1.41/images/create?fromImage=cstream-test&tag=latest", "event ImagePullStart"])
        );
        r.head(Purpose::Pull, 200);
        let line = br#"{"status":"Downloading","id":"l1","progressDetail":{"current":1,"total":2}}"#;
        assert_eq!(r.body(Purpose::Pull, &[&line[..], b"\n"].concat()), s(&["event ImagePullProgress"]));
        assert_eq!(r.end(Purpose::Pull), s(&["event ImagePullComplete", "send POST /v1.41/containers/create"]));
    }

    #[test]
    fn an_error_line_fails_the_pull() {
        let mut r = Run::new(always());
        r.answer(Purpose::Ping, 200, b"OK");
        let out = r.answer(Purpose::Pull, 200, b"{\"error\":\"denied\"}\n");
        assert_eq!(out, s(&["error pulling image cstream-test:latest failed: denied", "done"]));
    }

    #[test]
    fn a_cancel_aborts_the_pull_and_ends_the_run() {
        let mut r = Run::new(always());
        r.answer(Purpose::Ping, 200, b"OK");
        assert_eq!(r.cancel(), s(&["abort Pull", "event ProcessEnd", "done"]));
        assert_eq!(r.process_end().reason, EndReason::Cancelled);
    }
}

mod create {
    use super::*;

    /// A `/version` answer for which 1.41 is fine: the 400 was not about it.
    const VERSIONS: &[u8] = br#"{"ApiVersion":"1.41","MinAPIVersion":"1.12"}"#;

    #[test]
    fn created_sends_attach_and_wait_together() {
        let mut r = at_create(spec());
        let out = r.answer(Purpose::Create, 201, CREATED);
        let attach = format!("send POST {C}/attach?stream=1&stdin=0&stdout=1&stderr=1");
        let wait = format!("send POST {C}/wait?condition=next-exit");
        assert_eq!(out, vec!["event ContainerCreate".to_string(), attach, wait]);
    }

    #[test]
    fn a_404_pulls_once_then_creates_again() {
        let mut r = at_create(spec());
        let out = r.answer(Purpose::Create, 404, br#"{"message":"No such image: cstream-test:latest"}"#);
        assert_eq!(out[1], "event ImagePullStart");
        r.answer(Purpose::Pull, 200, b"");
        let out = r.answer(Purpose::Create, 404, br#"{"message":"No such image: cstream-test:latest"}"#);
        assert_eq!(
            out,
            s(&["error pulling image cstream-test:latest failed: No such image: cstream-test:latest", "done"])
        );
    }

    #[test]
    fn dockers_refusal_of_a_missing_bind_source_is_the_specs_error() {
        let mut r = at_create(spec());
        let body =
            br#"{"message":"invalid mount config for type \"bind\": bind source path does not exist: /srv/data"}"#;
        assert_eq!(r.answer(Purpose::Create, 400, body), s(&["send GET /version"]), "a first 400 asks the version");
        let out = r.answer(Purpose::Version, 200, VERSIONS);
        let refusal = r#"error invalid mount source "/srv/data": does not exist on the engine's host"#;
        assert_eq!(out, s(&[refusal, "done"]));
    }

    #[test]
    fn another_400_is_the_engines_words() {
        let mut r = at_create(spec());
        r.answer(Purpose::Create, 400, br#"{"message":"invalid reference format"}"#);
        let out = r.answer(Purpose::Version, 200, VERSIONS);
        assert_eq!(
            out,
            s(&["error creating the container: the engine answered 400: invalid reference format", "done"])
        );
    }

    /// Docker from API 1.42 takes the size in the create. A resize asked for
    /// while the create is out is not in it, so it goes at start; the
    /// machine used to count the newer size as the one applied.
    #[test]
    fn a_resize_while_the_create_is_out_is_applied_at_start() {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).tty_size(80, 24).build().unwrap();
        let mut r = Run::new(spec);
        let headers = vec![("Api-Version".to_string(), "1.45".to_string())];
        r.input(Input::Head { id: r.id(Purpose::Ping), status: 200, headers });
        r.end(Purpose::Ping);
        assert_eq!(r.m.resize(r.now, TtySize { cols: 161, rows: 61 }), Ok(CommandId(0)));
        assert_eq!(r.drain(), s(&["ack 0 ok"]), "applied at start");
        r.answer(Purpose::Create, 201, CREATED);
        r.head(Purpose::Attach, 101);
        r.head(Purpose::Wait, 200);
        let out = r.answer(Purpose::Start, 204, b"");
        assert!(out.contains(&"send POST /v1.45/containers/c1/resize?h=61&w=161".to_string()), "{out:?}");
    }

    #[test]
    fn a_cancel_waits_for_the_answer_then_removes_what_was_made() {
        let mut r = at_create(spec());
        assert_eq!(r.cancel(), Vec::<String>::new(), "the container may be made: the answer is awaited");
        let out = r.answer(Purpose::Create, 201, CREATED);
        assert_eq!(
            out,
            vec!["event ContainerCreate".into(), "event ProcessEnd".into(), format!("send DELETE {C}?force=1&v=1")]
        );
        assert_eq!(r.process_end().reason, EndReason::Cancelled);
    }

    #[test]
    fn a_failure_inside_the_engine_sweeps_by_label() {
        let mut r = at_create(spec());
        let out = r.answer(Purpose::Create, 500, br#"{"message":"boom"}"#);
        assert_eq!(out[0], "error creating the container: the engine answered 500: boom");
        assert!(out[1].starts_with("send GET /v1.41/containers/json?all=1&filters="), "{out:?}");
        assert_eq!(r.answer(Purpose::Sweep, 200, b"[]"), s(&["done"]));
    }

    #[test]
    fn bytes_after_the_end_are_reported() {
        let mut r = at_create(spec());
        r.answer(Purpose::Create, 201, CREATED);
        let out = r.body(Purpose::Create, b"late");
        assert_eq!(
            out,
            s(&["error unexpected: body bytes for request 1, whose answer had ended (the run was at prepare)"])
        );
        let out = r.end(Purpose::Create);
        assert_eq!(
            out,
            s(&["error unexpected: an end for request 1, whose answer had ended (the run was at prepare)"])
        );
    }
}

mod prepare {
    use super::*;

    #[test]
    fn start_waits_for_both_attach_and_wait() {
        let mut r = at_prepare(spec());
        assert_eq!(r.head(Purpose::Attach, 101), Vec::<String>::new());
        assert_eq!(r.head(Purpose::Wait, 200), vec![format!("send POST {C}/start")]);
        let mut r = at_prepare(spec());
        assert_eq!(r.head(Purpose::Wait, 200), Vec::<String>::new());
        assert_eq!(r.head(Purpose::Attach, 101), vec![format!("send POST {C}/start")]);
    }

    #[test]
    fn stdin_is_held_until_the_attach_is_upgraded() {
        let spec = RunSpec::builder("cstream-test:latest").stdin(true).build().unwrap();
        let mut r = at_prepare(spec);
        r.m.write_stdin(Bytes::from_static(b"abc")).unwrap();
        r.m.close_stdin().unwrap();
        assert_eq!(r.drain(), Vec::<String>::new());
        assert_eq!(r.head(Purpose::Attach, 101), s(&["write 3", "close-write"]));
    }

    #[test]
    fn stdin_queued_for_an_attach_that_never_comes_is_refused_once() {
        let spec = RunSpec::builder("cstream-test:latest").stdin(true).build().unwrap();
        let mut r = at_create(spec);
        r.m.write_stdin(Bytes::from_static(b"abc")).unwrap();
        let out = r.answer(Purpose::Create, 403, br#"{"message":"no"}"#);
        assert!(out.contains(&"ack 0 the process has ended".to_string()), "{out:?}");
        assert_eq!(r.log.iter().filter(|l| l.starts_with("ack")).count(), 1, "{:?}", r.log);
    }

    #[test]
    fn a_refused_attach_is_a_failed_start_and_the_container_is_removed() {
        let mut r = at_prepare(spec());
        let out = r.answer(Purpose::Attach, 500, br#"{"message":"no"}"#);
        let remove = format!("send DELETE {C}?force=1&v=1");
        let want = vec![
            "error attaching to the container: the engine answered 500: no".to_string(),
            "abort Wait".into(),
            "event ProcessEnd".into(),
            remove,
        ];
        assert_eq!(out, want);
        assert_eq!(r.process_end().reason, EndReason::StartFailed);
    }

    #[test]
    fn a_cancel_ends_the_unstarted_process_and_removes() {
        let mut r = at_prepare(spec());
        let out = r.cancel();
        assert_eq!(
            out,
            vec![
                "event ProcessEnd".into(),
                "abort Attach".into(),
                "abort Wait".into(),
                format!("send DELETE {C}?force=1&v=1")
            ]
        );
        assert_eq!(r.process_end().reason, EndReason::Cancelled);
    }

    #[test]
    fn a_second_head_is_reported_and_start_is_sent_once() {
        let mut r = at_prepare(spec());
        r.head(Purpose::Attach, 101);
        let out = r.head(Purpose::Attach, 101);
        assert_eq!(
            out,
            s(&["error unexpected: a second head (101) for request 2 (attaching to the container), which had 101"])
        );
        r.head(Purpose::Wait, 200);
        assert_eq!(r.log.iter().filter(|l| l.ends_with("/start")).count(), 1);
    }
}

mod start {
    use super::*;

    #[test]
    fn answered_the_process_runs() {
        let mut r = at_start(spec());
        assert_eq!(r.answer(Purpose::Start, 204, b""), s(&["event ProcessStart"]));
    }

    #[test]
    fn output_may_overtake_the_answer() {
        let mut r = at_start(spec());
        let out = r.body(Purpose::Attach, &frame(1, b"hi\n"));
        assert_eq!(out, s(&["event ProcessStart", "event Output"]));
        assert_eq!(r.answer(Purpose::Start, 204, b""), Vec::<String>::new(), "started once");
    }

    #[test]
    fn the_wait_may_overtake_the_answer() {
        let mut r = at_start(spec());
        r.body(Purpose::Wait, br#"{"StatusCode":3}"#);
        assert_eq!(r.end(Purpose::Wait), Vec::<String>::new());
        assert_eq!(r.end(Purpose::Attach), Vec::<String>::new());
        let out = r.answer(Purpose::Start, 204, b"");
        assert_eq!(out, vec!["event ProcessStart".to_string(), format!("send GET {C}/json")]);
    }

    #[test]
    fn a_cancel_is_acted_on_once_the_process_runs() {
        let mut r = at_start(spec());
        assert_eq!(r.cancel(), Vec::<String>::new());
        let out = r.answer(Purpose::Start, 204, b"");
        assert_eq!(out, vec!["event ProcessStart".to_string(), format!("send POST {C}/kill?signal=SIGTERM")]);
    }

    #[test]
    fn refused_it_ends_the_process_unstarted_with_the_shell_code() {
        let mut r = at_start(spec());
        let msg = br#"{"message":"exec: \"nope\": executable file not found in $PATH"}"#;
        let out = r.answer(Purpose::Start, 400, msg);
        assert_eq!(out.last().unwrap(), &format!("send DELETE {C}?force=1&v=1"));
        assert_eq!(r.process_end().reason, EndReason::StartFailed);
        assert_eq!(r.process_end().exit_code, Some(127));
    }
}

mod running {
    use super::*;

    #[test]
    fn output_then_exit_then_its_end_inspects() {
        let mut r = at_running(spec());
        assert_eq!(r.body(Purpose::Attach, &frame(2, b"e")), s(&["event Output"]));
        r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
        assert_eq!(r.end(Purpose::Wait), Vec::<String>::new(), "the output is still open");
        assert_eq!(r.end(Purpose::Attach), vec![format!("send GET {C}/json")]);
    }

    #[test]
    fn an_exit_with_the_output_still_open_drains_until_the_deadline() {
        let mut r = at_running(spec());
        r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
        r.end(Purpose::Wait);
        let drain = r.deadline().unwrap();
        let out = r.at(drain).timeout();
        assert_eq!(out[0], "abort Attach");
        assert!(out[1].starts_with("error reading the container's output: no answer"), "{out:?}");
        assert_eq!(out.last().unwrap(), &format!("send GET {C}/json"));
    }

    #[test]
    fn a_cancel_signals_and_a_second_kills() {
        let mut r = at_running(spec());
        assert_eq!(r.cancel(), vec![format!("send POST {C}/kill?signal=SIGTERM")]);
        assert_eq!(r.cancel(), vec![format!("send POST {C}/kill?signal=SIGKILL")]);
        assert_eq!(r.cancel(), Vec::<String>::new());
    }

    #[test]
    fn sigkill_follows_the_grace_and_a_silent_engine_is_given_up_on() {
        let mut r = at_running(spec());
        r.cancel();
        r.answer(Purpose::Kill, 204, b"");
        let kill_at = r.deadline().unwrap();
        assert_eq!(kill_at, ms(4) + secs(10));
        assert_eq!(r.at(kill_at).timeout(), vec![format!("send POST {C}/kill?signal=SIGKILL")]);
        r.answer(Purpose::Kill, 204, b"");
        let give_up = r.deadline().unwrap();
        let out = r.at(give_up).timeout();
        assert!(out.iter().any(|l| l.starts_with("error stopping the container: no answer")), "{out:?}");
        assert_eq!(out.last().unwrap(), &format!("send DELETE {C}?force=1&v=1"));
    }

    #[test]
    fn a_resize_is_sent_at_once() {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).build().unwrap();
        let mut r = at_running(spec);
        assert_eq!(r.m.resize(r.now, TtySize { cols: 80, rows: 24 }), Ok(CommandId(0)));
        assert_eq!(r.drain(), vec![format!("send POST {C}/resize?h=24&w=80"), "event TerminalResize".into()]);
        assert_eq!(r.answer(Purpose::Resize, 200, b""), s(&["ack 0 ok"]), "acknowledged once its answer is complete");
    }

    fn resizing() -> Run {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).build().unwrap();
        let mut r = at_running(spec);
        r.m.resize(r.now, TtySize { cols: 80, rows: 24 }).unwrap();
        r.drain();
        r
    }

    /// A refused resize used to reach the caller twice: as a run error on the
    /// event stream (the engine's message) and as the resize's own answer
    /// (the driver's message). The machine now says it once, to the caller.
    #[test]
    fn a_refused_resize_is_acknowledged_once_with_the_engines_message() {
        let mut r = resizing();
        let out = r.answer(Purpose::Resize, 500, br#"{"message":"cannot resize"}"#);
        assert_eq!(out, s(&["ack 0 resizing the terminal: the engine answered 500: cannot resize"]));
        assert!(!r.log.iter().any(|l| l.starts_with("error")), "{:?}", r.log);
    }

    #[test]
    fn a_lost_resize_is_acknowledged_once_with_the_transport_failure() {
        let mut r = resizing();
        let out = r.fail(Purpose::Resize);
        assert_eq!(out, s(&["ack 0 resizing the terminal: connection to the engine failed: connection reset"]));
    }

    #[test]
    fn a_resize_out_when_the_process_ends_is_refused() {
        let mut r = resizing();
        r.at(ms(5)).end(Purpose::Attach);
        r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
        let out = r.end(Purpose::Wait);
        assert!(out.contains(&"ack 0 the process has ended".to_string()), "{out:?}");
        assert_eq!(r.log.iter().filter(|l| l.starts_with("ack")).count(), 1, "{:?}", r.log);
    }

    /// Each resize goes on a connection of its own: two on the wire at once
    /// could be applied in either order, leaving the older size. So one is
    /// sent at a time, and of the sizes asked for meanwhile the newest goes.
    #[test]
    fn resizes_go_one_at_a_time_and_the_newest_size_wins() {
        let mut r = resizing();
        assert_eq!(r.m.resize(r.now, TtySize { cols: 100, rows: 30 }), Ok(CommandId(1)));
        assert_eq!(r.m.resize(r.now, TtySize { cols: 120, rows: 40 }), Ok(CommandId(2)));
        assert_eq!(r.drain(), Vec::<String>::new(), "nothing more goes while a resize is on the wire");
        let out = r.answer(Purpose::Resize, 200, b"");
        let next = format!("send POST {C}/resize?h=40&w=120");
        assert_eq!(out, vec!["ack 0 ok".into(), next, "event TerminalResize".into()]);
        assert_eq!(r.answer(Purpose::Resize, 200, b""), s(&["ack 1 ok", "ack 2 ok"]));
    }

    #[test]
    fn the_size_set_at_start_is_answered_before_a_callers_goes() {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).tty_size(90, 30);
        let mut r = at_running(spec.build().unwrap());
        assert!(r.log.contains(&format!("send POST {C}/resize?h=30&w=90")), "{:?}", r.log);
        r.m.resize(r.now, TtySize { cols: 120, rows: 40 }).unwrap();
        assert_eq!(r.drain(), Vec::<String>::new(), "the caller's size waits for the one on the wire");
        let out = r.answer(Purpose::Resize, 200, b"");
        assert_eq!(out, vec![format!("send POST {C}/resize?h=40&w=120"), "event TerminalResize".into()]);
        assert_eq!(r.answer(Purpose::Resize, 200, b""), s(&["ack 0 ok"]));
    }

    #[test]
    fn a_size_waiting_when_the_process_ends_is_refused_once() {
        let mut r = resizing();
        r.m.resize(r.now, TtySize { cols: 120, rows: 40 }).unwrap();
        r.at(ms(5)).end(Purpose::Attach);
        r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
        r.end(Purpose::Wait);
        let acks: Vec<&String> = r.log.iter().filter(|l| l.starts_with("ack")).collect();
        assert_eq!(acks, ["ack 0 the process has ended", "ack 1 the process has ended"], "{:?}", r.log);
    }

    #[test]
    fn a_resize_before_start_is_acknowledged_at_once() {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).build().unwrap();
        let mut r = at_create(spec);
        assert_eq!(r.m.resize(r.now, TtySize { cols: 80, rows: 24 }), Ok(CommandId(0)));
        assert_eq!(r.drain(), s(&["ack 0 ok"]));
    }

    #[test]
    fn stdin_is_acknowledged_when_the_driver_says_it_is_written() {
        let spec = RunSpec::builder("cstream-test:latest").stdin(true).build().unwrap();
        let mut r = at_running(spec);
        let (a, b) = (r.m.write_stdin(Bytes::from_static(b"ab")).unwrap(), r.m.close_stdin().unwrap());
        assert_eq!(r.drain(), s(&["write 2", "close-write"]), "nothing acknowledged before it is written");
        assert_eq!(r.input(Input::Written { command: b, result: Ok(()) }), s(&["ack 1 ok"]));
        let failed = r.input(Input::Written { command: a, result: Err("broken pipe".into()) });
        assert_eq!(
            failed,
            s(&["ack 0 attaching to the container: connection to the engine failed: writing stdin: broken pipe"])
        );
        assert_eq!(r.input(Input::Written { command: a, result: Ok(()) }), Vec::<String>::new(), "once");
    }

    #[test]
    fn a_second_end_of_the_start_is_reported() {
        let mut r = at_running(spec());
        let out = r.end(Purpose::Start);
        assert_eq!(
            out,
            s(&["error unexpected: an end for request 4, whose answer had ended (the run was at running)"])
        );
        assert_eq!(r.body(Purpose::Attach, &frame(1, b"x")), s(&["event Output"]), "the run goes on");
    }
}

mod inspect {
    use super::*;

    /// A run on Podman whose wait said 3 and whose attach carried `attach`
    /// (nothing, when empty): its inspect is out.
    fn podman_at_inspect(attach: &[u8]) -> Run {
        let mut r = Run::new(spec());
        let headers = vec![("Api-Version".into(), "1.41".into()), ("Libpod-Api-Version".into(), "4.3.1".into())];
        let ping = r.id(Purpose::Ping);
        r.at(ms(1)).input(Input::Head { id: ping, status: 200, headers });
        r.end(Purpose::Ping);
        r.at(ms(2)).answer(Purpose::Create, 201, CREATED);
        r.at(ms(3)).head(Purpose::Attach, 101);
        r.head(Purpose::Wait, 200);
        r.at(ms(4)).answer(Purpose::Start, 204, b"");
        if !attach.is_empty() {
            r.body(Purpose::Attach, attach);
        }
        r.at(ms(5)).end(Purpose::Attach);
        r.body(Purpose::Wait, br#"{"StatusCode":3}"#);
        r.end(Purpose::Wait);
        r
    }

    const EXITED_3: &[u8] = br#"{"State":{"Status":"exited","ExitCode":3}}"#;

    fn frame(stream: u8, data: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(data.len() as u32).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    fn output_bytes(r: &Run) -> Vec<(String, Vec<u8>)> {
        r.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(cstream_proto_core::Event { kind: EventKind::Output { stream, data }, .. }) => {
                    Some((format!("{stream:?}"), data.to_vec()))
                }
                _ => None,
            })
            .collect()
    }

    /// Podman 4.3 can start the container before its attach is joined to
    /// the process: the attach is upgraded, then carries nothing. Seen once
    /// in a 1500-run soak as a run with its exit code and no output at all.
    #[test]
    fn on_podman_an_attach_that_carried_nothing_is_read_back_from_the_logs() {
        let mut r = podman_at_inspect(b"");
        let out = r.at(ms(6)).answer(Purpose::Inspect, 200, EXITED_3);
        assert_eq!(out, vec![format!("send GET {C}/logs?stdout=1&stderr=1")], "the end waits for the logs");
        let logs = [frame(1, b"out\n"), frame(2, b"err\n")].concat();
        let out = r.answer(Purpose::Logs, 200, &logs);
        let removed = format!("send DELETE {C}?force=1&v=1");
        assert_eq!(out, vec!["event Output".into(), "event Output".into(), "event ProcessEnd".into(), removed]);
        let want = vec![("Stdout".to_string(), b"out\n".to_vec()), ("Stderr".to_string(), b"err\n".to_vec())];
        assert_eq!(output_bytes(&r), want);
        assert_eq!(r.process_end().exit_code, Some(3));
    }

    #[test]
    fn on_podman_an_attach_that_carried_output_is_not_read_again() {
        let mut r = podman_at_inspect(&frame(1, b"out\n"));
        let out = r.at(ms(6)).answer(Purpose::Inspect, 200, EXITED_3);
        assert_eq!(out, vec!["event ProcessEnd".to_string(), format!("send DELETE {C}?force=1&v=1")]);
    }

    #[test]
    fn on_podman_logs_that_cannot_be_read_say_the_output_is_unrecoverable() {
        let mut r = podman_at_inspect(b"");
        r.at(ms(6)).answer(Purpose::Inspect, 200, EXITED_3);
        let out = r.answer(Purpose::Logs, 500, br#"{"message":"no logs"}"#);
        let said = "error the output of container c1 cannot be recovered (log driver \"\"): the attach carried nothing, and the logs could not be read: no logs";
        assert_eq!(out, vec![said.into(), "event ProcessEnd".into(), format!("send DELETE {C}?force=1&v=1")]);
        assert_eq!(r.process_end().exit_code, Some(3));
    }

    #[test]
    fn the_exit_code_ends_the_process_and_removes() {
        let mut r = at_inspect(spec());
        let out = r.answer(Purpose::Inspect, 200, br#"{"State":{"Status":"exited","ExitCode":3,"OOMKilled":true}}"#);
        assert_eq!(out, vec!["event ProcessEnd".to_string(), format!("send DELETE {C}?force=1&v=1")]);
        assert_eq!(r.process_end().exit_code, Some(3));
        assert!(r.process_end().oom_killed);
    }

    #[test]
    fn a_container_still_running_is_waited_for_again() {
        let mut r = at_inspect(spec());
        let out = r.answer(Purpose::Inspect, 200, br#"{"State":{"Status":"running","ExitCode":0}}"#);
        assert_eq!(out, vec![format!("send POST {C}/wait?condition=not-running")]);
        r.answer(Purpose::Wait, 200, br#"{"StatusCode":9}"#);
        r.answer(Purpose::Inspect, 200, br#"{"State":{"Status":"exited","ExitCode":9}}"#);
        assert_eq!(r.process_end().exit_code, Some(9));
    }

    #[test]
    fn commands_and_cancel_are_refused_the_process_has_ended() {
        let spec = RunSpec::builder("cstream-test:latest").tty(true).stdin(true).build().unwrap();
        let mut r = at_inspect(spec);
        assert_eq!(r.cancel(), Vec::<String>::new());
        assert_eq!(r.m.write_stdin(Bytes::from_static(b"x")), Err(cstream_proto_core::CommandError::Ended));
        assert_eq!(r.m.resize(r.now, TtySize { cols: 1, rows: 1 }), Err(cstream_proto_core::CommandError::Ended));
    }
}

mod remove {
    use super::*;

    #[test]
    fn removed_the_run_is_done() {
        let mut r = at_remove(spec());
        assert_eq!(r.answer(Purpose::Remove, 204, b""), s(&["event ContainerRemove", "done"]));
        assert!(r.m.is_done());
    }

    #[test]
    fn a_transport_failure_is_retried_after_a_backoff() {
        let mut r = at_remove(spec());
        assert_eq!(r.fail(Purpose::Remove), Vec::<String>::new());
        assert_eq!(r.deadline(), Some(ms(6) + ms(500)));
        assert_eq!(r.at(ms(506)).timeout(), vec![format!("send DELETE {C}?force=1&v=1")]);
    }

    #[test]
    fn an_error_status_is_reported_and_the_run_ends() {
        let mut r = at_remove(spec());
        let out = r.answer(Purpose::Remove, 500, br#"{"message":"busy"}"#);
        assert_eq!(out, s(&["error removing the container: the engine answered 500: busy", "done"]));
    }

    #[test]
    fn a_cancel_changes_nothing() {
        let mut r = at_remove(spec());
        assert_eq!(r.cancel(), Vec::<String>::new());
    }

    /// A cancel's SIGKILL deadline used to outlive the process: a failure
    /// after the stop signal moved the run to its remove, and a timeout past
    /// the grace (a remove retry) then sent SIGKILL to a container being
    /// removed. The deadline now lives with the running process.
    #[test]
    fn no_sigkill_is_sent_after_the_remove_began() {
        let mut r = at_running(spec());
        r.cancel();
        r.fail(Purpose::Attach);
        assert!(r.log.last().unwrap().starts_with("send DELETE"), "{:?}", r.log);
        // The remove fails while the engine restarts; its retries run past the grace.
        let mut t = r.now;
        for _ in 0..8 {
            r.fail(Purpose::Remove);
            t = r.deadline().unwrap().max(t);
            r.at(t).timeout();
        }
        assert!(t > ms(4) + secs(10), "the retries ran past the grace");
        let kills = r.log.iter().filter(|l| l.contains("/kill")).count();
        assert_eq!(kills, 1, "only the stop signal: {:?}", r.log);
    }
}

mod sweep {
    use super::*;

    #[test]
    fn each_listed_container_of_the_run_is_removed() {
        let mut r = at_create(spec());
        r.fail(Purpose::Create);
        let listed =
            br#"[{"Id":"x1","Labels":{"io.cstream.run":"run-1"}},{"Id":"x2","Labels":{"io.cstream.run":"other"}}]"#;
        let out = r.answer(Purpose::Sweep, 200, listed);
        assert_eq!(out, s(&["send DELETE /v1.41/containers/x1?force=1&v=1"]));
        assert_eq!(r.answer(Purpose::Remove, 204, b""), s(&["done"]));
    }
}

mod done {
    use super::*;

    #[test]
    fn every_input_is_ignored() {
        let mut r = at_remove(spec());
        r.answer(Purpose::Remove, 204, b"");
        assert!(r.done);
        for id in [0, 2, 99] {
            assert_eq!(r.input(Input::End { id: RequestId(id) }), s(&["done"]));
        }
        assert_eq!(r.timeout(), s(&["done"]));
        assert_eq!(r.cancel(), s(&["done"]));
        assert!(r.unexpected().is_empty());
    }

    #[test]
    fn inputs_about_aborted_requests_are_ignored_as_the_contract_says() {
        let mut r = at_running(spec());
        r.fail(Purpose::Attach);
        assert!(r.log.contains(&"abort Wait".to_string()), "{:?}", r.log);
        r.body(Purpose::Wait, br#"{"StatusCode":0}"#);
        r.end(Purpose::Wait);
        assert!(r.unexpected().is_empty(), "{:?}", r.unexpected());
    }
}

/// What a driver sends when it drops a run it can no longer drive.
mod abandon {
    use super::*;

    fn removal(r: &mut Run) -> Option<String> {
        let req = r.m.abandon()?;
        assert_eq!(purpose_of(req.method, &req.path), Purpose::Remove);
        Some(format!("{} {}", req.method.as_str(), req.path))
    }

    fn delete() -> Option<String> {
        Some(format!("DELETE {C}?force=1&v=1"))
    }

    fn keep() -> RunSpec {
        RunSpec::builder("cstream-test:latest").command(["true"]).heartbeat(None).keep(true).build().unwrap()
    }

    #[test]
    fn before_the_create_answered_there_is_nothing_to_remove() {
        assert_eq!(removal(&mut Run::new(spec())), None);
        assert_eq!(removal(&mut at_create(spec())), None);
    }

    #[test]
    fn once_created_the_container_is_removed_in_every_state() {
        for mut r in [at_prepare(spec()), at_start(spec()), at_running(spec()), at_inspect(spec()), at_remove(spec())] {
            assert_eq!(removal(&mut r), delete(), "{:?}", r.log);
        }
    }

    #[test]
    fn a_kept_container_is_left() {
        assert_eq!(removal(&mut at_running(keep())), None);
    }

    #[test]
    fn a_removed_container_is_not_removed_again() {
        let mut r = at_remove(spec());
        r.answer(Purpose::Remove, 204, b"");
        assert_eq!(removal(&mut r), None);
    }

    #[test]
    fn abandoned_the_run_is_done_and_asks_once() {
        let mut r = at_running(spec());
        assert_eq!(removal(&mut r), delete());
        assert_eq!(r.drain(), s(&["done"]));
        assert_eq!(removal(&mut r), None, "a second call sends nothing");
        assert!(r.unexpected().is_empty(), "{:?}", r.unexpected());
    }
}
