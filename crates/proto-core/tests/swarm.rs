//! The swarm job machine state by state, against scripted answers as a
//! Docker 20.10 swarm manager gives them: one input at a time, everything
//! that comes out checked, in order. The graph these follow is in the docs
//! of `cstream_proto_core::swarm`.

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::Request;
use cstream_proto_core::spec::{Device, Publish, Secret};
use cstream_proto_core::swarm::{FAST_POLL_INTERVAL, FAST_POLLING, JobMachine, POLL_INTERVAL, Placement};
use cstream_proto_core::{
    CommandError, EndReason, Error, EventKind, Input, Lifecycle, Output, Phase, ProcessEnd, ProcessId, PullPolicy,
    RequestId, RunInfo, RunSpec, SpecError, Stream, TtySize,
};
use serde_json::{Value, json};

const S: &str = "/v1.41/services/s1";
const TASKS: &str = "/v1.41/tasks?filters=%7B%22service%22%3A%5B%22s1%22%5D%7D";
const FOLLOW: &str = "/v1.41/services/s1/logs?follow=1&stdout=1&stderr=1&timestamps=1";
const FINAL: &str = "/v1.41/services/s1/logs?follow=0&stdout=1&stderr=1&timestamps=1";
const NODE: &str = "/v1.41/nodes/n2";

fn run_info() -> RunInfo {
    RunInfo { run_id: "run-1".into(), created_unix: 1_700_000_000, owner: Some("host=ci;pid=7".into()) }
}

fn spec() -> RunSpec {
    RunSpec::builder("cstream-test:latest").command(["sh", "-c", "exit 3"]).heartbeat(None).build().unwrap()
}

/// One task as `GET /tasks` lists it (Docker 20.10's fields, trimmed of the spec).
fn task(state: &str, container: &str, exit: i64, err: Option<&str>) -> Value {
    let mut status = json!({
        "Timestamp": "2026-11-30T12:00:01.123456789Z", "State": state, "Message": "started",
        "ContainerStatus": {"ContainerID": container, "PID": if state == "running" { 4242 } else { 0 }, "ExitCode": exit},
        "PortStatus": {}
    });
    if let Some(e) = err {
        status["Err"] = json!(e);
    }
    json!({
        "ID": "t1", "Version": {"Index": 21}, "CreatedAt": "2026-11-30T12:00:00.5Z",
        "UpdatedAt": "2026-11-30T12:00:01.123456789Z", "Labels": {}, "ServiceID": "s1",
        "NodeID": "n2", "Status": status, "DesiredState": "complete", "JobIteration": {"Index": 19}
    })
}

fn tasks(list: &[Value]) -> Vec<u8> {
    serde_json::to_vec(list).unwrap()
}

fn node(state: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ID": "n2", "Version": {"Index": 9}, "Spec": {"Role": "worker", "Availability": "active"},
        "Description": {"Hostname": "worker-1", "Platform": {"Architecture": "x86_64", "OS": "linux"}},
        "Status": {"State": state, "Message": if state == "down" { "heartbeat failure" } else { "" }, "Addr": "10.231.0.3"}
    }))
    .unwrap()
}

/// One log message as a frame: the timestamp, a space, the bytes.
fn msg(stream: u8, nanos: u32, line: &[u8]) -> Vec<u8> {
    let mut payload = format!("2026-11-30T12:00:01.{nanos:09}Z ").into_bytes();
    payload.extend_from_slice(line);
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(&payload);
    v
}

fn show(o: &Output, sent: &[(RequestId, Request)]) -> String {
    match o {
        Output::Send { request, .. } => format!("send {} {}", request.method.as_str(), request.path),
        Output::Abort { id } => {
            let r = &sent.iter().find(|(i, _)| i == id).unwrap().1;
            format!("abort {}", r.path)
        }
        Output::Event(e) => format!("event {}", e.kind.name()),
        Output::Error(e) => format!("error {e}"),
        Output::Pending { .. } => "pending".into(),
        Output::Done => "done".into(),
        other => format!("{other:?}"),
    }
}

/// A job driven by hand, one input at a time.
struct Run {
    m: JobMachine,
    now: Duration,
    sent: Vec<(RequestId, Request)>,
    outputs: Vec<Output>,
    done: bool,
    /// Requests whose answer has ended.
    answered: Vec<RequestId>,
}

impl Run {
    fn new(spec: RunSpec) -> Run {
        Run::with(spec, Placement::default())
    }

    fn with(spec: RunSpec, placement: Placement) -> Run {
        let m = JobMachine::new(spec, run_info(), placement, Duration::ZERO);
        let mut r =
            Run { m, now: Duration::ZERO, sent: Vec::new(), outputs: Vec::new(), done: false, answered: Vec::new() };
        r.drain();
        r
    }

    /// Polls until Pending or Done; returns what came out, shown.
    fn drain(&mut self) -> Vec<String> {
        let mut shown = Vec::new();
        loop {
            let o = self.m.poll_output();
            if let Output::Send { id, request } = &o {
                self.sent.push((*id, request.clone()));
            }
            match o {
                Output::Pending { .. } => break,
                Output::Done => {
                    assert_eq!(self.m.poll_output(), Output::Done, "done is final");
                    assert!(self.m.is_done());
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
        shown
    }

    fn deadline(&mut self) -> Option<Duration> {
        match self.m.poll_output() {
            Output::Pending { deadline } => deadline,
            o => panic!("not pending: {o:?}"),
        }
    }

    /// The id of the last request sent to `path`.
    fn id(&self, path: &str) -> RequestId {
        self.sent.iter().rev().find(|(_, r)| r.path == path).map(|(id, _)| *id).unwrap_or_else(|| panic!("no {path}"))
    }

    fn request(&self, path: &str) -> Request {
        self.sent.iter().rev().find(|(_, r)| r.path == path).unwrap().1.clone()
    }

    fn input(&mut self, input: Input) -> Vec<String> {
        if let Input::End { id } | Input::Failed { id, .. } = &input {
            self.answered.push(*id);
        }
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

    /// Moves the clock to the machine's next deadline, and answers the
    /// polls it sent then: the task still runs on a node that is ready.
    fn next_while_running(&mut self) {
        let next = self.deadline().expect("a deadline");
        self.tick(next - self.now);
        for (path, body) in [(TASKS, tasks(&[task("running", "c1", 0, None)])), (NODE, node("ready"))] {
            if self.sent.iter().any(|(id, q)| q.path == path && !self.answered.contains(id)) {
                self.answer(path, 200, &body);
            }
        }
    }

    /// Moves the clock on by `by` and tells the machine.
    fn tick(&mut self, by: Duration) -> Vec<String> {
        self.now += by;
        self.m.handle_timeout(self.now);
        self.drain()
    }

    fn kinds(&self) -> Vec<EventKind> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.kind.clone()),
                _ => None,
            })
            .collect()
    }

    fn names(&self) -> Vec<&'static str> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Event(e) => Some(e.kind.name()),
                _ => None,
            })
            .collect()
    }

    fn errors(&self) -> Vec<Error> {
        self.outputs
            .iter()
            .filter_map(|o| match o {
                Output::Error(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    fn output(&self, stream: Stream) -> Vec<u8> {
        let mut all = Vec::new();
        for k in self.kinds() {
            if let EventKind::Output { stream: s, data } = k {
                if s == stream {
                    all.extend_from_slice(&data);
                }
            }
        }
        all
    }

    fn end_event(&self) -> ProcessEnd {
        self.kinds()
            .into_iter()
            .find_map(|k| match k {
                EventKind::ProcessEnd(e) => Some(e),
                _ => None,
            })
            .expect("a ProcessEnd")
    }

    fn sent_paths(&self) -> Vec<String> {
        self.sent.iter().map(|(_, r)| format!("{} {}", r.method.as_str(), r.path)).collect()
    }
}

/// A job pinged and created: its first task poll is out.
fn placing(spec: RunSpec) -> Run {
    let mut r = Run::new(spec);
    r.answer("/_ping", 200, b"OK");
    r.answer("/v1.41/services/create", 201, br#"{"ID":"s1"}"#);
    r
}

/// A job whose task runs on node n2 (checked ready), its logs followed.
fn running(spec: RunSpec) -> Run {
    let mut r = placing(spec);
    r.answer(TASKS, 200, &tasks(&[task("running", "c1", 0, None)]));
    r.answer(NODE, 200, &node("ready"));
    r.head(FOLLOW, 200);
    r
}

mod happy_path {
    use super::*;

    #[test]
    fn exit_3_with_every_byte_once_from_the_follow_and_the_final_read() {
        // The follow delivers two whole messages and part of a third, then
        // is cut off; the final read has all five, split anyhow.
        let messages = [
            msg(1, 1, b"out1\n"),
            msg(2, 2, b"err1\n"),
            msg(1, 3, b"a long line, cut in the follow\n"),
            msg(2, 4, b"err2\n"),
            msg(1, 5, b"last\n"),
        ];
        let whole: Vec<u8> = messages.concat();
        let follow_len = messages[0].len() + messages[1].len() + 8 + 31 + 9; // into the third message
        for split in [1usize, 3, 7, 64, whole.len()] {
            let mut r = Run::new(spec());
            assert_eq!(r.sent_paths(), ["GET /_ping"]);
            assert_eq!(r.answer("/_ping", 200, b"OK"), ["send POST /v1.41/services/create"]);
            assert_eq!(
                r.answer("/v1.41/services/create", 201, br#"{"ID":"s1","Warnings":null}"#),
                ["event ContainerCreate", format!("send GET {TASKS}").as_str()]
            );
            // Not placed yet: polled again 50 ms later (the first 2 s are polled fast).
            assert_eq!(r.answer(TASKS, 200, &tasks(&[task("pending", "", 0, None)])), Vec::<String>::new());
            assert_eq!(r.deadline(), Some(FAST_POLL_INTERVAL));
            assert_eq!(r.tick(POLL_INTERVAL), [format!("send GET {TASKS}")]);
            assert_eq!(
                r.answer(TASKS, 200, &tasks(&[task("running", "c1", 0, None)])),
                ["event ProcessStart", &format!("send GET {FOLLOW}"), &format!("send GET {NODE}")]
            );
            r.answer(NODE, 200, &node("ready"));
            r.head(FOLLOW, 200);
            for piece in whole[..follow_len].chunks(split) {
                r.body(FOLLOW, piece);
            }
            r.tick(POLL_INTERVAL);
            assert_eq!(
                r.answer(TASKS, 200, &tasks(&[task("failed", "c1", 3, Some("task: non-zero exit (3)"))])),
                [format!("abort {FOLLOW}"), format!("send GET {FINAL}")]
            );
            r.head(FINAL, 200);
            for piece in whole.chunks(split) {
                r.body(FINAL, piece);
            }
            assert_eq!(r.end(FINAL), ["event ProcessEnd", &format!("send DELETE {S}")]);
            assert_eq!(r.answer(S, 200, b""), ["event ContainerRemove", "done"]);

            assert_eq!(r.errors(), [], "split {split}");
            assert_eq!(r.output(Stream::Stdout), b"out1\na long line, cut in the follow\nlast\n", "split {split}");
            assert_eq!(r.output(Stream::Stderr), b"err1\nerr2\n", "split {split}");
            let end = r.end_event();
            assert_eq!(
                (end.exit_code, end.signal, end.oom_killed, end.reason),
                (Some(3), None, false, EndReason::Exited)
            );
            let kinds = r.kinds();
            assert_eq!(kinds[0], EventKind::ContainerCreate { id: "s1".into(), image: "cstream-test:latest".into() });
            assert_eq!(
                kinds[1],
                EventKind::ProcessStart {
                    command: "sh".into(),
                    args: vec!["-c".into(), "exit 3".into()],
                    process: ProcessId::Task {
                        service: "s1".into(),
                        task: "t1".into(),
                        node: "n2".into(),
                        container: "c1".into()
                    },
                }
            );
            assert_eq!(kinds.last(), Some(&EventKind::ContainerRemove { id: "s1".into() }));
        }
    }

    #[test]
    fn a_job_that_ended_between_two_polls_is_read_once_at_the_end() {
        let mut r = placing(spec());
        let ended = tasks(&[task("complete", "c1", 0, None)]);
        assert_eq!(r.answer(TASKS, 200, &ended), ["event ProcessStart", &format!("send GET {FINAL}")]);
        r.head(FINAL, 200);
        r.body(FINAL, &msg(1, 9, b"hi\n"));
        r.end(FINAL);
        r.answer(S, 404, br#"{"message":"service s1 not found"}"#);
        assert!(r.done);
        assert_eq!(r.output(Stream::Stdout), b"hi\n");
        assert_eq!(r.end_event().exit_code, Some(0));
        assert_eq!(r.names(), ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"]);
        assert_eq!(r.errors(), []);
    }

    #[test]
    fn output_slices_the_input_without_copying() {
        let mut r = running(spec());
        let body = Bytes::from(msg(1, 1, b"zero-copy\n"));
        r.input(Input::Body { id: r.id(FOLLOW), data: body.clone() });
        let data = r
            .kinds()
            .into_iter()
            .find_map(|k| match k {
                EventKind::Output { data, .. } => Some(data),
                _ => None,
            })
            .unwrap();
        assert_eq!(data, "zero-copy\n");
        let start = body.as_ptr() as usize + body.len() - data.len();
        assert_eq!(data.as_ptr() as usize, start, "a slice of the body");
    }
}

mod final_read {
    use super::*;

    fn ended_after(follow: &[Vec<u8>]) -> Run {
        let mut r = running(spec());
        r.body(FOLLOW, &follow.concat());
        r.tick(POLL_INTERVAL);
        r.answer(TASKS, 200, &tasks(&[task("complete", "c1", 0, None)]));
        r.head(FINAL, 200);
        r
    }

    #[test]
    fn a_final_read_that_does_not_line_up_is_an_error_and_delivers_nothing_more() {
        let mut r = ended_after(&[msg(1, 1, b"one\n"), msg(1, 2, b"two\n")]);
        // The second message is not the one delivered: what follows cannot be placed.
        r.body(FINAL, &[msg(1, 1, b"one\n"), msg(1, 7, b"TWO\n"), msg(1, 8, b"three\n")].concat());
        assert_eq!(r.end(FINAL), ["event ProcessEnd", &format!("send DELETE {S}")]);
        assert_eq!(r.output(Stream::Stdout), b"one\ntwo\n", "nothing repeated, nothing guessed");
        match &r.errors()[..] {
            [Error::OutputUnvouched { detail }] => {
                assert!(detail.contains("message 2") && detail.contains("12:00:01.000000007Z"), "{detail}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.errors()[0].phase(), Some(Phase::Output));
        r.answer(S, 200, b"");
        assert!(r.done);
    }

    #[test]
    fn a_final_read_shorter_than_what_was_delivered_is_an_error() {
        let mut r = ended_after(&[msg(1, 1, b"one\n"), msg(2, 2, b"two\n")]);
        r.body(FINAL, &msg(1, 1, b"one\n"));
        r.end(FINAL);
        match &r.errors()[..] {
            [Error::OutputUnvouched { detail }] => assert!(detail.contains("has 1 messages, and 2"), "{detail}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.output(Stream::Stdout), b"one\n");
        assert_eq!(r.output(Stream::Stderr), b"two\n");
    }

    #[test]
    fn a_message_without_a_timestamp_is_the_engines_error() {
        let mut r = running(spec());
        let mut frame = vec![1, 0, 0, 0, 0, 0, 0, 33];
        frame.extend_from_slice(b"Error grabbing logs: rpc error\n\0\0");
        r.body(FOLLOW, &frame);
        assert!(
            matches!(&r.errors()[..], [Error::Output(cstream_proto_core::decode::FrameError::Engine(m))] if m.starts_with("Error grabbing logs: rpc error")),
            "{:?}",
            r.errors()
        );
        assert_eq!(r.output(Stream::Stdout), b"");
    }

    #[test]
    fn a_final_read_that_never_ends_is_given_up_after_the_drain_timeout() {
        let mut r = ended_after(&[]);
        r.body(FINAL, &msg(1, 1, b"partial"));
        assert_eq!(r.deadline(), Some(r.now + Duration::from_secs(10)));
        let out = r.tick(Duration::from_secs(10));
        assert_eq!(out[0], format!("abort {FINAL}"));
        assert!(matches!(r.errors()[..], [Error::Timeout { phase: Phase::Output, .. }]), "{:?}", r.errors());
        assert_eq!(r.end_event().exit_code, Some(0));
        assert_eq!(r.output(Stream::Stdout), b"partial");
    }

    #[test]
    fn a_final_read_that_keeps_coming_is_not_cut_by_the_drain_timeout() {
        // A big output re-read at the end takes as long as it takes; only silence ends it.
        let mut r = ended_after(&[]);
        for i in 1..=3u8 {
            r.body(FINAL, &msg(1, u32::from(i), &[b'0' + i]));
            let out = r.tick(Duration::from_secs(8));
            assert!(!out.iter().any(|o| o.starts_with("abort")), "{out:?}");
        }
        assert!(r.errors().is_empty(), "{:?}", r.errors());
        assert_eq!(r.output(Stream::Stdout), b"123");
    }
}

mod placing {
    use super::*;

    fn rejected(pull: PullPolicy) -> Run {
        let spec = RunSpec::builder("cstream-nope:latest").pull(pull).heartbeat(None).build().unwrap();
        let mut r = placing(spec);
        let t = task("rejected", "", 0, Some("No such image: cstream-nope:latest"));
        let out = r.answer(TASKS, 200, &tasks(&[t]));
        assert_eq!(out[1..], ["event ProcessEnd", &format!("send DELETE {S}")]);
        assert_eq!(r.answer(S, 200, b""), ["event ContainerRemove", "done"]);
        r
    }

    #[test]
    fn a_missing_image_ends_rejected_with_code_0_and_is_not_an_exit() {
        let r = rejected(PullPolicy::Missing);
        assert_eq!(
            r.errors(),
            [Error::Pull { image: "cstream-nope:latest".into(), message: "No such image: cstream-nope:latest".into() }]
        );
        assert_eq!(r.end_event(), ProcessEnd::unstarted(None, EndReason::StartFailed));
        assert_eq!(r.names(), ["ContainerCreate", "ProcessEnd", "ContainerRemove"], "never started, no logs read");
        assert!(!r.sent_paths().iter().any(|p| p.contains("/logs")));
        let r = rejected(PullPolicy::Never);
        assert_eq!(r.errors(), [Error::ImageMissing { image: "cstream-nope:latest".into() }]);
    }

    #[test]
    fn another_rejection_names_the_task_and_the_swarms_words() {
        let mut r = placing(spec());
        let t =
            task("rejected", "", 0, Some("invalid mount config for type \"bind\": bind source path does not exist"));
        r.answer(TASKS, 200, &tasks(&[t]));
        assert_eq!(
            r.errors(),
            [Error::TaskEnded {
                task: "t1".into(),
                state: "rejected".into(),
                message: "invalid mount config for type \"bind\": bind source path does not exist".into()
            }]
        );
    }

    #[test]
    fn a_failed_poll_ends_the_run_and_removes_the_service() {
        let mut r = placing(spec());
        let out = r.input(Input::Failed { id: r.id(TASKS), message: "connection reset".into() });
        assert_eq!(
            out,
            [
                "error following the swarm task: connection to the engine failed: connection reset",
                &format!("send DELETE {S}")
            ]
        );
    }
}

mod running {
    use super::*;

    #[test]
    fn the_task_is_polled_fast_at_first_then_every_200_ms() {
        // From the create on (at 0 here): 50 ms apart for 2 s, 200 ms apart after.
        let mut r = running(spec());
        let mut gaps = Vec::new();
        let mut last = r.now;
        while r.now < FAST_POLLING + Duration::from_secs(1) {
            let next = r.deadline().expect("a poll");
            let out = r.tick(next - r.now);
            if out.iter().any(|o| o == &format!("send GET {TASKS}")) {
                gaps.push(r.now - last);
                last = r.now;
                r.answer(TASKS, 200, &tasks(&[task("running", "c1", 0, None)]));
                if out.iter().any(|o| o == &format!("send GET {NODE}")) {
                    r.answer(NODE, 200, &node("ready"));
                }
            }
        }
        assert!(gaps.iter().take(30).all(|g| *g == FAST_POLL_INTERVAL), "{gaps:?}");
        assert_eq!(gaps.last(), Some(&POLL_INTERVAL), "{gaps:?}");
    }

    #[test]
    fn a_node_that_goes_down_ends_the_run_with_its_name() {
        let mut r = running(spec());
        assert_eq!(r.deadline(), Some(FAST_POLL_INTERVAL), "the next task poll");
        r.tick(POLL_INTERVAL);
        r.answer(TASKS, 200, &tasks(&[task("running", "c1", 0, None)]));
        // The node is checked once a second.
        assert_eq!(r.tick(Duration::from_millis(800)), [format!("send GET {TASKS}"), format!("send GET {NODE}")]);
        r.answer(TASKS, 200, &tasks(&[task("running", "c1", 0, None)]));
        let out = r.answer(NODE, 200, &node("down"));
        assert_eq!(
            out,
            [
                "error the swarm node worker-1 (n2) running the task is down",
                &format!("abort {FOLLOW}"),
                &format!("send DELETE {S}")
            ]
        );
        assert_eq!(
            r.errors(),
            [Error::NodeDown { node: "n2".into(), hostname: "worker-1".into(), state: "down".into() }]
        );
        assert_eq!(r.answer(S, 200, b""), ["event ContainerRemove", "done"]);
    }

    #[test]
    fn stdin_and_resize_are_refused() {
        let mut r = running(spec());
        assert_eq!(r.m.write_stdin(Bytes::from_static(b"x")), Err(CommandError::StdinNotEnabled));
        assert_eq!(r.m.close_stdin(), Err(CommandError::StdinNotEnabled));
        assert_eq!(r.m.resize(r.now, TtySize { cols: 80, rows: 24 }), Err(CommandError::NoTty));
        assert!(r.drain().is_empty());
    }

    #[test]
    fn an_answer_to_a_request_never_sent_is_reported() {
        let mut r = running(spec());
        let out = r.input(Input::Body { id: RequestId(99), data: Bytes::from_static(b"x") });
        assert_eq!(
            out,
            ["error unexpected: body bytes for request 99, which was never sent (the swarm job was at running)"]
        );
    }

    #[test]
    fn heartbeats_come_while_the_task_runs() {
        let spec = RunSpec::builder("cstream-test:latest").heartbeat(Some(Duration::from_secs(1))).build().unwrap();
        let mut r = running(spec);
        while r.now < Duration::from_millis(2100) {
            r.next_while_running();
        }
        let beats: Vec<EventKind> = r.kinds().into_iter().filter(|k| k.name() == "Heartbeat").collect();
        let elapsed = |s| EventKind::Heartbeat { elapsed: Duration::from_secs(s) };
        assert_eq!(beats, [elapsed(1), elapsed(2)]);
    }
}

mod stopping {
    use super::*;

    #[test]
    fn cancel_deletes_the_service_once_and_waits_for_the_task_to_go() {
        let mut r = running(spec());
        r.body(FOLLOW, &msg(1, 1, b"before\n"));
        assert_eq!(r.input_cancel(), [format!("send DELETE {S}")]);
        assert!(r.input_cancel().is_empty(), "a second cancel: the DELETE is out");
        r.answer(S, 200, b"");
        // Output still comes while the task stops.
        r.body(FOLLOW, &msg(1, 2, b"stopping\n"));
        r.tick(POLL_INTERVAL);
        let out = r.answer(TASKS, 404, br#"{"message":"service s1 not found"}"#);
        assert_eq!(
            out,
            [format!("abort {FOLLOW}"), "event ProcessEnd".into(), "event ContainerRemove".into(), "done".into()]
        );
        let end = r.end_event();
        assert_eq!((end.exit_code, end.reason), (None, EndReason::Cancelled));
        assert_eq!(r.output(Stream::Stdout), b"before\nstopping\n");
        assert_eq!(r.errors(), []);
        assert_eq!(r.sent_paths().iter().filter(|p| p.starts_with("DELETE")).count(), 1);
    }

    #[test]
    fn the_timeout_stops_the_task_and_reports_its_code() {
        let spec =
            RunSpec::builder("cstream-test:latest").timeout(Duration::from_secs(3)).heartbeat(None).build().unwrap();
        let mut r = running(spec);
        for _ in 0..100 {
            if r.sent_paths().iter().any(|p| p.starts_with("DELETE")) {
                break;
            }
            r.next_while_running();
        }
        assert_eq!(r.now, Duration::from_secs(3));
        r.tick(POLL_INTERVAL);
        r.answer(TASKS, 200, &tasks(&[task("shutdown", "c1", 137, None)]));
        assert_eq!(
            r.answer(S, 200, b""),
            [format!("abort {FOLLOW}"), "event ProcessEnd".into(), "event ContainerRemove".into(), "done".into()]
        );
        let end = r.end_event();
        assert_eq!((end.exit_code, end.signal, end.reason), (Some(137), Some(9), EndReason::TimedOut));
        assert_eq!(r.errors(), []);
    }

    #[test]
    fn cancel_before_the_task_starts_ends_it_unstarted() {
        let mut r = placing(spec());
        r.answer(TASKS, 200, &tasks(&[task("pending", "", 0, None)]));
        assert_eq!(r.input_cancel(), [format!("send DELETE {S}")]);
        r.answer(S, 200, b"");
        r.tick(POLL_INTERVAL);
        r.answer(TASKS, 200, b"[]");
        assert_eq!(r.end_event(), ProcessEnd::unstarted(None, EndReason::Cancelled));
        assert!(r.done);
    }

    #[test]
    fn a_task_that_never_says_it_ended_is_given_up_after_the_grace_and_a_margin() {
        let mut r = running(spec());
        r.input_cancel();
        r.answer(S, 200, b"");
        // The manager answers every poll with the task still running.
        for _ in 0..200 {
            if r.done {
                break;
            }
            r.next_while_running();
        }
        assert_eq!(r.now, Duration::from_secs(15), "10 s of grace, 5 of margin");
        assert!(matches!(r.errors()[..], [Error::Timeout { phase: Phase::Task, .. }]), "{:?}", r.errors());
        assert_eq!(r.end_event().reason, EndReason::Cancelled);
        assert_eq!(r.names().last(), Some(&"ContainerRemove"));
    }

    #[test]
    fn abandon_returns_the_services_delete() {
        let mut r = running(spec());
        let req = r.m.abandon().expect("a DELETE");
        assert_eq!((req.method.as_str(), req.path.as_str()), ("DELETE", S));
        assert_eq!(r.m.poll_output(), Output::Done);
        assert_eq!(r.m.abandon(), None);
        // Before a service exists there is nothing to remove.
        let mut r = Run::new(spec());
        assert_eq!(r.m.abandon(), None);
    }

    impl Run {
        fn input_cancel(&mut self) -> Vec<String> {
            self.m.cancel(self.now);
            self.drain()
        }
    }
}

mod refusals {
    use super::*;

    fn refused(spec: RunSpec) -> (String, Vec<String>, usize) {
        let mut r = Run::new(spec);
        let sent = r.sent.len();
        match &r.errors()[..] {
            [Error::Spec(SpecError::Unsupported { field, engine, .. })] => {
                assert_eq!(engine, "a swarm");
                (field.to_string(), r.drain(), sent)
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_a_swarm_cannot_do_is_refused_before_anything_is_sent() {
        let base = || RunSpec::builder("cstream-test:latest");
        let cases: Vec<(RunSpec, &str)> = vec![
            (base().tty(true).build().unwrap(), "terminal (tty)"),
            (base().stdin(true).build().unwrap(), "stdin"),
            (base().log_driver("none").build().unwrap(), "log driver none"),
            (base().keep(true).build().unwrap(), "keep"),
            (base().privileged(true).build().unwrap(), "privileged mode"),
            (base().publish(Publish::tcp(8080, 80)).build().unwrap(), "published port"),
            (base().network("host").build().unwrap(), "network"),
            (base().memory(64 << 20).memory_swap(128 << 20).build().unwrap(), "memory+swap limit"),
            (base().runtime("runc").build().unwrap(), "OCI runtime"),
            (base().platform("linux/amd64").build().unwrap(), "platform"),
            (base().create_extra(json!({"HostConfig": {"OomScoreAdj": 5}})).build().unwrap(), "create_extra"),
            (base().tmpfs("/t", "noexec").build().unwrap(), "tmpfs option \"noexec\""),
            (
                base()
                    .device(Device { host: "/dev/null".into(), container: "/dev/n".into(), permissions: "rwm".into() })
                    .build()
                    .unwrap(),
                "device",
            ),
        ];
        for (spec, field) in cases {
            let (got, rest, sent) = refused(spec);
            assert_eq!(got, field);
            assert_eq!(sent, 0, "{field}: nothing sent, not even the ping");
            assert_eq!(rest, ["done"]);
        }
    }

    #[test]
    fn an_engine_that_is_no_swarm_manager_refuses_the_create() {
        let not_manager = "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.";
        let podman = "Podman does not support service: /v1.41/services/create";
        for (body, message) in [
            (json!({ "message": not_manager }).to_string(), not_manager),
            (json!({"cause": podman, "message": podman, "response": 503}).to_string(), podman),
        ] {
            let mut r = Run::new(spec());
            r.answer("/_ping", 200, b"OK");
            let out = r.answer("/v1.41/services/create", 503, body.as_bytes());
            assert_eq!(out.last().map(String::as_str), Some("done"));
            assert_eq!(r.errors(), [Error::Engine { phase: Phase::Service, status: 503, message: message.into() }]);
            assert!(r.kinds().is_empty(), "nothing was made, nothing removed");
            assert_eq!(r.sent.len(), 2);
        }
    }

    #[test]
    fn a_create_of_unknown_outcome_sweeps_the_runs_services() {
        let mut r = Run::new(spec());
        r.answer("/_ping", 200, b"OK");
        let out = r.input(Input::Failed { id: r.id("/v1.41/services/create"), message: "connection reset".into() });
        let list = "/v1.41/services?filters=%7B%22label%22%3A%5B%22io.cstream.run%3Drun-1%22%5D%7D";
        assert_eq!(out[1], format!("send GET {list}"));
        assert_eq!(r.answer(list, 200, br#"[{"ID":"s9","Spec":{"Name":"x"}}]"#), ["send DELETE /v1.41/services/s9"]);
        assert_eq!(r.answer("/v1.41/services/s9", 200, b""), ["done"]);
    }
}

mod create_body {
    use super::*;

    #[test]
    fn the_service_spec_field_by_field() {
        let spec = RunSpec::builder("127.0.0.1:5001/cstream-test:v1")
            .entrypoint(["/bin/sh", "-c"])
            .command(["echo hi"])
            .env("A", "1")
            .working_dir("/w")
            .user("1000:1000")
            .hostname("job")
            .label("team", "ci")
            .name("my-job")
            .mount("/srv/data", "/data", true)
            .volume("cache", "/cache", false)
            .tmpfs("/scratch", "size=64m,mode=1777")
            .memory(256 << 20)
            .cpu_millis(1500)
            .pids_limit(64)
            .init(true)
            .stop_signal("SIGINT")
            .stop_grace(Duration::from_secs(3))
            .registry_auth(Secret::new("e30="))
            .build()
            .unwrap();
        let placement = Placement { constraints: vec!["node.role==worker".into()] };
        let mut r = Run::with(spec, placement);
        r.answer("/_ping", 200, b"OK");
        let req = r.request("/v1.41/services/create");
        assert_eq!(req.header("X-Registry-Auth"), Some("e30="));
        assert_eq!(req.header("Content-Type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let labels = json!({
            "team": "ci", "io.cstream.run": "run-1", "io.cstream.created": "1700000000",
            "io.cstream.creator": concat!("cstream/", env!("CARGO_PKG_VERSION")), "io.cstream.owner": "host=ci;pid=7"
        });
        assert_eq!(body["Name"], "my-job");
        assert_eq!(body["Labels"], labels);
        assert_eq!(body["Mode"], json!({"Replicated": {"Replicas": 1}}));
        let t = &body["TaskTemplate"];
        assert_eq!(t["RestartPolicy"], json!({"Condition": "none"}));
        assert_eq!(t["LogDriver"], json!({"Name": "local"}), "bytes kept as written unless the spec names a driver");
        assert_eq!(t["Placement"], json!({"Constraints": ["node.role==worker"]}));
        assert_eq!(
            t["Resources"],
            json!({"Limits": {"NanoCPUs": 1_500_000_000u64, "MemoryBytes": 256u64 << 20, "Pids": 64}})
        );
        let c = &t["ContainerSpec"];
        assert_eq!(c["Image"], "127.0.0.1:5001/cstream-test:v1");
        assert_eq!(c["Labels"], labels);
        assert_eq!(c["Command"], json!(["/bin/sh", "-c"]));
        assert_eq!(c["Args"], json!(["echo hi"]));
        assert_eq!(c["Env"], json!(["A=1"]));
        assert_eq!(c["Dir"], "/w");
        assert_eq!(c["User"], "1000:1000");
        assert_eq!(c["Hostname"], "job");
        assert_eq!(c["TTY"], false);
        assert_eq!(c["OpenStdin"], false);
        assert_eq!(c["Init"], true);
        assert_eq!(c["StopSignal"], "SIGINT");
        assert_eq!(c["StopGracePeriod"], 3_000_000_000u64);
        assert_eq!(
            c["Mounts"],
            json!([
                {"Type": "bind", "Source": "/srv/data", "Target": "/data", "ReadOnly": true},
                {"Type": "volume", "Source": "cache", "Target": "/cache", "ReadOnly": false},
                {"Type": "tmpfs", "Target": "/scratch", "ReadOnly": false, "TmpfsOptions": {"SizeBytes": 64u64 << 20, "Mode": 0o1777}}
            ])
        );
    }

    #[test]
    fn with_no_options_only_what_a_job_needs() {
        let spec = RunSpec::builder("cstream-test:latest").build().unwrap();
        let mut r = Run::with(spec, Placement::default());
        r.answer("/_ping", 200, b"OK");
        let body: Value = serde_json::from_slice(&r.request("/v1.41/services/create").body).unwrap();
        // Named after the run, not at random: the engine's random names collide now and then.
        assert_eq!(body["Name"], "cstream-run-1");
        assert_eq!(body["TaskTemplate"]["Placement"], json!({}));
        assert_eq!(body["TaskTemplate"]["Resources"], json!({"Limits": {}}));
        let c = &body["TaskTemplate"]["ContainerSpec"];
        assert_eq!((c.get("Command"), c.get("Args"), c.get("Mounts")), (None, None, None));
        assert_eq!(r.request("/v1.41/services/create").header("X-Registry-Auth"), None);
    }

    #[test]
    fn the_machine_is_a_lifecycle() {
        let mut m: Box<dyn Lifecycle + Send> =
            Box::new(JobMachine::new(spec(), run_info(), Placement::default(), Duration::ZERO));
        assert!(matches!(m.poll_output(), Output::Send { .. }));
        assert_eq!(m.made(), None);
        assert_eq!(m.spec().image().to_string(), "cstream-test:latest");
    }
}
