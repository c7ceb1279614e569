//! The resume, state by state, against a scripted engine: each state with
//! the answers it may get, the logs cut at every byte, stops at each state,
//! and input that makes no sense.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;

use super::{ResumeMachine, Seen};
use crate::api::version::ApiVersion;
use crate::api::{EngineInfo, EngineKind, Method, Request};
use crate::decode::FrameError;
use crate::error::{Error, Phase};
use crate::event::{EndReason, EventKind, ProcessEnd, Stream};
use crate::machine::{Input, Output, RequestId};
use crate::spec::{Limits, RunSpec};

fn engine() -> EngineInfo {
    let v = ApiVersion::new(1, 41);
    EngineInfo { kind: EngineKind::Docker, engine_api: v, api: v, host_cpus: None }
}

fn spec() -> RunSpec {
    RunSpec::builder("scratch").heartbeat(None).stop_grace(Duration::from_secs(2)).build().unwrap()
}

fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// stdout `out1\nout2\n`, stderr `err1\n`, interleaved.
fn logs() -> Vec<u8> {
    [frame(1, b"out1\n"), frame(2, b"err1\n"), frame(1, b"out2\n")].concat()
}

const LIST: &[u8] =
    br#"[{"Id":"c1","Labels":{"io.cstream.run":"r1","io.cstream.owner":"host=h;boot=b;pid=7;start=9"}}]"#;

fn inspect(status: &str, extra: &str) -> Vec<u8> {
    alloc::format!(
        r#"{{"Id":"c1","Config":{{"Tty":false,"Labels":{{"io.cstream.run":"r1"{extra}}}}},
        "State":{{"Status":"{status}","ExitCode":3,"OOMKilled":false}},"HostConfig":{{"LogConfig":{{"Type":"json-file"}}}}}}"#
    )
    .into_bytes()
}

fn exited() -> Vec<u8> {
    inspect("exited", "")
}

/// The machine, and everything it has said.
struct Harness {
    m: ResumeMachine,
    now: Duration,
    sent: Vec<(RequestId, Request)>,
    aborted: Vec<RequestId>,
    events: Vec<EventKind>,
    errors: Vec<Error>,
    done: bool,
}

impl Harness {
    fn new(seen: Seen) -> Harness {
        Harness::of(ResumeMachine::with_engine("r1", seen, spec(), engine(), Duration::ZERO))
    }

    fn of(m: ResumeMachine) -> Harness {
        let mut h = Harness {
            m,
            now: Duration::ZERO,
            sent: Vec::new(),
            aborted: Vec::new(),
            events: Vec::new(),
            errors: Vec::new(),
            done: false,
        };
        h.drain();
        h
    }

    fn drain(&mut self) {
        loop {
            match self.m.poll_output() {
                Output::Send { id, request } => self.sent.push((id, request)),
                Output::Abort { id } => self.aborted.push(id),
                Output::Event(e) => self.events.push(e.kind),
                Output::Error(e) => self.errors.push(e),
                Output::Pending { .. } => return,
                Output::Done => {
                    self.done = true;
                    return;
                }
                other => panic!("a resume makes no {other:?}"),
            }
        }
    }

    /// The last request sent whose method and path start so (the path
    /// after `/v1.41`).
    fn req(&self, method: Method, path: &str) -> RequestId {
        let full = alloc::format!("/v1.41{path}");
        self.sent
            .iter()
            .rev()
            .find(|(_, r)| r.method == method && (r.path.starts_with(&full) || r.path.starts_with(path)))
            .map(|(id, _)| *id)
            .unwrap_or_else(|| panic!("no {method:?} {path} in {:?}", self.paths()))
    }

    fn paths(&self) -> Vec<String> {
        self.sent.iter().map(|(_, r)| alloc::format!("{:?} {}", r.method, r.path)).collect()
    }

    fn has(&self, method: Method, path: &str) -> bool {
        let full = alloc::format!("/v1.41{path}");
        self.sent.iter().any(|(_, r)| r.method == method && r.path.starts_with(&full))
    }

    fn input(&mut self, input: Input) {
        self.m.handle_input(self.now, input);
        self.drain();
    }

    fn head(&mut self, id: RequestId, status: u16) {
        self.input(Input::Head { id, status, headers: vec![("Api-Version".into(), "1.41".into())] });
    }

    fn body(&mut self, id: RequestId, data: &[u8]) {
        self.input(Input::Body { id, data: Bytes::copy_from_slice(data) });
    }

    fn answer(&mut self, id: RequestId, status: u16, body: &[u8]) {
        self.head(id, status);
        if !body.is_empty() {
            self.body(id, body);
        }
        self.input(Input::End { id });
    }

    fn at(&mut self, now: Duration) {
        self.now = now;
        self.m.handle_timeout(now);
        self.drain();
    }

    fn cancel(&mut self) {
        self.m.cancel(self.now);
        self.drain();
    }

    fn find(&mut self, body: &[u8]) {
        let id = self.req(Method::Get, "/containers/json");
        self.answer(id, 200, body);
    }

    fn inspect(&mut self, body: &[u8]) {
        let id = self.req(Method::Get, "/containers/c1/json");
        self.answer(id, 200, body);
    }

    fn logs(&mut self, status: u16, body: &[u8]) {
        let id = self.req(Method::Get, "/containers/c1/logs");
        self.answer(id, status, body);
    }

    fn wait(&mut self, body: &[u8]) {
        let id = self.req(Method::Post, "/containers/c1/wait");
        self.answer(id, 200, body);
    }

    fn remove(&mut self, status: u16) {
        let id = self.req(Method::Delete, "/containers/c1");
        self.answer(id, status, b"");
    }

    /// Everything from the inspect on, for an exited container with `logs`.
    fn finish_run(&mut self, logs: &[u8]) {
        self.inspect(&exited());
        self.logs(200, logs);
        self.wait(br#"{"StatusCode":3}"#);
        self.inspect(&exited());
        self.remove(204);
    }

    fn stdout(&self, stream: Stream) -> Vec<u8> {
        let mut v = Vec::new();
        for e in &self.events {
            if let EventKind::Output { stream: s, data } = e {
                if *s == stream {
                    v.extend_from_slice(data);
                }
            }
        }
        v
    }

    fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.events.iter().map(EventKind::name).collect();
        names.dedup();
        names
    }

    fn end(&self) -> ProcessEnd {
        self.events
            .iter()
            .find_map(|e| match e {
                EventKind::ProcessEnd(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ProcessEnd in {:?}", self.events))
    }

    fn kills(&self) -> Vec<String> {
        self.sent.iter().filter(|(_, r)| r.path.contains("/kill?")).map(|(_, r)| r.path.clone()).collect()
    }
}

mod ping {
    use super::*;

    #[test]
    fn a_new_machine_pings_then_lists_the_runs_container_by_label() {
        let mut h = Harness::of(ResumeMachine::new("r1", Seen::default(), spec(), Duration::ZERO));
        assert_eq!(h.paths(), ["Get /_ping"]);
        let ping = h.sent[0].0;
        h.answer(ping, 200, b"OK");
        let filters = "%7B%22label%22%3A%5B%22io.cstream.run%3Dr1%22%5D%7D";
        assert_eq!(h.paths()[1], alloc::format!("Get /v1.41/containers/json?all=1&filters={filters}"));
        h.find(LIST);
        h.finish_run(&logs());
        assert!(h.errors.is_empty(), "{:?}", h.errors);
        assert!(h.done);
    }

    #[test]
    fn a_failed_ping_ends_it_with_nothing_touched() {
        for (status, headers) in
            [(500, vec![]), (200, vec![]), (200, vec![("Api-Version".to_string(), "x".to_string())])]
        {
            let mut h = Harness::of(ResumeMachine::new("r1", Seen::default(), spec(), Duration::ZERO));
            let ping = h.sent[0].0;
            h.input(Input::Head { id: ping, status, headers });
            h.input(Input::End { id: ping });
            assert!(h.done, "{status}");
            assert_eq!(h.errors.len(), 1, "{:?}", h.errors);
            assert_eq!(h.sent.len(), 1, "nothing but the ping: {:?}", h.paths());
        }
    }

    #[test]
    fn a_run_id_that_cannot_be_one_is_refused_before_anything_is_sent() {
        for bad in ["", "a\nb"] {
            let h = Harness::of(ResumeMachine::new(bad, Seen::default(), spec(), Duration::ZERO));
            assert!(h.done && h.sent.is_empty());
            assert!(matches!(&h.errors[..], [Error::Spec(_)]), "{:?}", h.errors);
        }
    }
}

mod find {
    use super::*;

    #[test]
    fn no_container_is_run_not_found_and_nothing_else_is_sent() {
        let mut h = Harness::new(Seen::default());
        h.find(b"[]");
        assert_eq!(h.errors, [Error::RunNotFound { run_id: "r1".into() }]);
        assert!(h.done && h.events.is_empty());
        assert_eq!(h.sent.len(), 1);
    }

    #[test]
    fn two_containers_an_unreadable_list_a_refusal_and_a_lost_connection_end_it() {
        let two = br#"[{"Id":"c1"},{"Id":"c2"}]"#;
        let cases: [(u16, &[u8]); 4] = [(200, two), (200, b"{nope"), (500, br#"{"message":"boom"}"#), (0, b"")];
        for (status, body) in cases {
            let mut h = Harness::new(Seen::default());
            let id = h.req(Method::Get, "/containers/json");
            match status {
                0 => h.input(Input::Failed { id, message: "reset".into() }),
                _ => h.answer(id, status, body),
            }
            assert!(h.done, "{status}");
            assert_eq!(h.errors.len(), 1);
            assert_eq!(h.errors[0].phase(), Some(Phase::List), "{:?}", h.errors);
            assert_eq!(h.sent.len(), 1);
        }
    }

    #[test]
    fn a_live_owner_is_refused_with_the_container_untouched() {
        fn alive(owner: &str) -> bool {
            owner.contains("pid=7;")
        }
        let m =
            ResumeMachine::with_engine("r1", Seen::default(), spec(), engine(), Duration::ZERO).with_owner_check(alive);
        let mut h = Harness::of(m);
        h.find(LIST);
        assert_eq!(h.errors, [Error::RunHeld { run_id: "r1".into(), owner: "host=h;boot=b;pid=7;start=9".into() }]);
        assert!(h.done);
        assert_eq!(h.sent.len(), 1, "only the list: {:?}", h.paths());
        assert_eq!(h.m.abandon(), None);
    }

    #[test]
    fn a_gone_owner_or_none_goes_on() {
        fn gone(_: &str) -> bool {
            false
        }
        fn never_asked(_: &str) -> bool {
            panic!("no owner label: nothing to ask")
        }
        let m =
            ResumeMachine::with_engine("r1", Seen::default(), spec(), engine(), Duration::ZERO).with_owner_check(gone);
        let mut h = Harness::of(m);
        h.find(LIST);
        assert!(h.has(Method::Get, "/containers/c1/json"));
        let m = ResumeMachine::with_engine("r1", Seen::default(), spec(), engine(), Duration::ZERO)
            .with_owner_check(never_asked);
        let mut h = Harness::of(m);
        h.find(br#"[{"Id":"c1"}]"#);
        assert!(h.has(Method::Get, "/containers/c1/json"));
    }
}

mod inspect {
    use super::*;

    #[test]
    fn a_container_gone_since_it_was_listed_is_not_found_and_not_removed() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        let id = h.req(Method::Get, "/containers/c1/json");
        h.answer(id, 404, br#"{"message":"No such container: c1"}"#);
        assert_eq!(h.errors, [Error::RunNotFound { run_id: "r1".into() }]);
        assert!(h.done && !h.has(Method::Delete, "/containers/c1"));
    }

    #[test]
    fn an_unreadable_inspect_ends_it_untouched() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(b"[]");
        assert!(matches!(&h.errors[..], [Error::Protocol { phase: Phase::Inspect, .. }]), "{:?}", h.errors);
        assert!(h.done && !h.has(Method::Delete, "/containers/c1"));
    }

    #[test]
    fn log_driver_none_says_the_output_is_lost_and_still_reads_the_exit_and_removes() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited().replace_driver("none"));
        assert!(!h.has(Method::Get, "/containers/c1/logs"), "{:?}", h.paths());
        assert!(
            matches!(&h.errors[..], [Error::OutputUnrecoverable { container, log_driver, .. }] if container == "c1" && log_driver == "none"),
            "{:?}",
            h.errors
        );
        h.wait(br#"{"StatusCode":3}"#);
        h.inspect(&exited());
        h.remove(204);
        assert_eq!(h.end().exit_code, Some(3));
        assert_eq!(h.names(), ["ProcessEnd", "ContainerRemove"]);
        assert!(h.done);
    }

    #[test]
    fn a_container_never_started_ends_unstarted_and_is_removed() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("created", ""));
        assert_eq!(h.end(), ProcessEnd::unstarted(None, EndReason::StartFailed));
        h.remove(204);
        assert_eq!(h.names(), ["ProcessEnd", "ContainerRemove"]);
        assert!(!h.has(Method::Get, "/containers/c1/logs") && !h.has(Method::Post, "/containers/c1/wait"));
    }

    #[test]
    fn a_kept_container_is_not_removed() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("exited", r#","io.cstream.keep":"1""#));
        h.logs(200, &logs());
        h.wait(br#"{"StatusCode":3}"#);
        assert_eq!(h.m.abandon(), None, "kept: nothing to remove");
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("exited", r#","io.cstream.keep":"1""#));
        h.logs(200, &logs());
        h.wait(br#"{"StatusCode":3}"#);
        h.inspect(&exited());
        assert!(h.done && !h.has(Method::Delete, "/containers/c1"));
        assert_eq!(h.names(), ["Output", "ProcessEnd"]);
    }
}

trait ReplaceDriver {
    fn replace_driver(self, driver: &str) -> Vec<u8>;
}

impl ReplaceDriver for Vec<u8> {
    fn replace_driver(self, driver: &str) -> Vec<u8> {
        String::from_utf8(self).unwrap().replace("json-file", driver).into_bytes()
    }
}

mod following {
    use super::*;

    #[test]
    fn the_whole_output_from_the_start() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.finish_run(&logs());
        assert_eq!(h.stdout(Stream::Stdout), b"out1\nout2\n");
        assert_eq!(h.stdout(Stream::Stderr), b"err1\n");
        assert_eq!(h.names(), ["Output", "ProcessEnd", "ContainerRemove"]);
        // Read from the logs, never attached to (Podman would restart an exited container).
        let filters = "%7B%22label%22%3A%5B%22io.cstream.run%3Dr1%22%5D%7D";
        let want = [
            alloc::format!("Get /v1.41/containers/json?all=1&filters={filters}"),
            "Get /v1.41/containers/c1/json".into(),
            "Get /v1.41/containers/c1/logs?follow=1&stdout=1&stderr=1".into(),
            "Post /v1.41/containers/c1/wait?condition=not-running".into(),
            "Get /v1.41/containers/c1/json".into(),
            "Delete /v1.41/containers/c1?force=1&v=1".into(),
        ];
        assert_eq!(h.paths(), want);
        let end = h.end();
        assert_eq!((end.exit_code, end.reason, end.signal), (Some(3), EndReason::Exited, None));
        assert!(h.errors.is_empty() && h.done);
    }

    /// Every split of the logs' body in two, with every count of seen
    /// bytes on each stream: what comes out continues what was seen.
    #[test]
    fn the_logs_cut_anywhere_skip_exactly_the_seen_bytes() {
        let all = logs();
        for so in 0..=10u64 {
            for se in 0..=5u64 {
                for cut in 0..=all.len() {
                    let mut h = Harness::new(Seen { stdout: so, stderr: se, tty: 0 });
                    h.find(LIST);
                    h.inspect(&exited());
                    let id = h.req(Method::Get, "/containers/c1/logs");
                    h.head(id, 200);
                    h.body(id, &all[..cut]);
                    h.body(id, &all[cut..]);
                    h.input(Input::End { id });
                    assert_eq!(h.stdout(Stream::Stdout), &b"out1\nout2\n"[so as usize..], "{so} {se} {cut}");
                    assert_eq!(h.stdout(Stream::Stderr), &b"err1\n"[se as usize..], "{so} {se} {cut}");
                    assert!(h.errors.is_empty(), "{:?}", h.errors);
                    assert!(h.has(Method::Post, "/containers/c1/wait"));
                }
            }
        }
    }

    #[test]
    fn more_seen_than_the_logs_hold_is_said_and_the_run_still_ends_and_is_removed() {
        let mut h = Harness::new(Seen { stdout: 11, stderr: 0, tty: 0 });
        h.find(LIST);
        h.finish_run(&logs());
        assert_eq!(h.errors, [Error::SeenBeyondLogs { stream: Stream::Stdout, seen: 11, logged: 10 }]);
        assert_eq!(h.stdout(Stream::Stderr), b"err1\n");
        assert_eq!(h.end().exit_code, Some(3));
        assert_eq!(h.names().last(), Some(&"ContainerRemove"));
    }

    #[test]
    fn a_terminal_is_one_raw_stream() {
        let mut h = Harness::new(Seen { stdout: 0, stderr: 0, tty: 3 });
        h.find(LIST);
        let tty = String::from_utf8(exited()).unwrap().replace(r#""Tty":false"#, r#""Tty":true"#);
        h.inspect(tty.as_bytes());
        h.logs(200, b"one\r\ntwo\r\n");
        assert_eq!(h.stdout(Stream::Tty), b"\r\ntwo\r\n");
        assert!(h.errors.is_empty());
    }

    #[test]
    fn a_driver_that_cannot_read_back_says_so_and_the_exit_is_still_read() {
        for status in [501, 500] {
            let mut h = Harness::new(Seen::default());
            h.find(LIST);
            h.inspect(&exited());
            h.logs(status, br#"{"message":"configured logging driver does not support reading"}"#);
            assert!(
                matches!(&h.errors[..], [Error::OutputUnrecoverable { detail, .. }] if detail.contains("does not support reading")),
                "{:?}",
                h.errors
            );
            h.wait(br#"{"StatusCode":3}"#);
            h.inspect(&exited());
            h.remove(204);
            assert_eq!(h.end().exit_code, Some(3));
            assert!(h.done);
        }
    }

    #[test]
    fn logs_cut_inside_a_frame_or_lost_in_transport_are_said_and_the_run_ends() {
        let all = logs();
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.finish_run(&all[..all.len() - 1]);
        assert_eq!(h.errors, [Error::Output(FrameError::Truncated { declared: 5, missing: 1 })]);
        assert_eq!(h.stdout(Stream::Stdout), b"out1\n", "a cut frame is never output");
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited());
        let id = h.req(Method::Get, "/containers/c1/logs");
        h.head(id, 200);
        h.input(Input::Failed { id, message: "reset".into() });
        assert!(matches!(&h.errors[..], [Error::Transport { phase: Phase::Output, .. }]));
        assert!(h.has(Method::Post, "/containers/c1/wait"));
    }

    #[test]
    fn heartbeats_while_following() {
        let spec = RunSpec::builder("scratch").heartbeat(Some(Duration::from_secs(1))).build().unwrap();
        let mut h = Harness::of(ResumeMachine::with_engine("r1", Seen::default(), spec, engine(), Duration::ZERO));
        h.find(LIST);
        h.inspect(&inspect("running", ""));
        let id = h.req(Method::Get, "/containers/c1/logs");
        h.head(id, 200);
        h.at(Duration::from_secs(1));
        h.at(Duration::from_secs(2));
        assert_eq!(
            h.events,
            [
                EventKind::Heartbeat { elapsed: Duration::from_secs(1) },
                EventKind::Heartbeat { elapsed: Duration::from_secs(2) }
            ]
        );
    }
}

mod exit {
    use super::*;

    #[test]
    fn the_wait_gives_the_code_and_the_inspect_the_oom_flag() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited());
        h.logs(200, b"");
        h.wait(br#"{"StatusCode":137}"#);
        h.inspect(
            String::from_utf8(exited()).unwrap().replace(r#""OOMKilled":false"#, r#""OOMKilled":true"#).as_bytes(),
        );
        let end = h.end();
        assert_eq!((end.exit_code, end.signal, end.oom_killed), (Some(137), Some(9), true));
    }

    #[test]
    fn a_failed_wait_falls_back_on_the_inspect() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited());
        h.logs(200, b"");
        let id = h.req(Method::Post, "/containers/c1/wait");
        h.answer(id, 500, b"");
        h.inspect(&exited());
        assert_eq!(h.end().exit_code, Some(3));
        assert_eq!(h.errors.len(), 1, "the wait's failure is said");
    }

    #[test]
    fn an_exit_the_engine_cannot_vouch_for_is_unknown() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited());
        h.logs(200, b"");
        h.wait(br#"{"StatusCode":3}"#);
        h.inspect(&inspect("running", ""));
        assert!(matches!(&h.errors[..], [Error::ExitUnknown { .. }]), "{:?}", h.errors);
        assert_eq!(h.end().exit_code, None);
        h.remove(204);
        assert!(h.done);
    }
}

mod remove {
    use super::*;

    #[test]
    fn gone_already_counts_and_a_refusal_is_said() {
        for (status, ok) in [(404, true), (409, true), (500, false)] {
            let mut h = Harness::new(Seen::default());
            h.find(LIST);
            h.inspect(&exited());
            h.logs(200, b"");
            h.wait(br#"{"StatusCode":3}"#);
            h.inspect(&exited());
            h.remove(status);
            assert_eq!(h.names().last() == Some(&"ContainerRemove"), ok, "{status}");
            assert_eq!(h.errors.is_empty(), ok, "{status}");
            assert!(h.done);
        }
    }

    #[test]
    fn transport_failures_are_retried_until_the_cleanup_deadline() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.finish_but_remove();
        let id = h.req(Method::Delete, "/containers/c1");
        h.input(Input::Failed { id, message: "restarting".into() });
        assert!(h.errors.is_empty() && !h.done);
        h.at(Duration::from_millis(499));
        assert_eq!(h.req(Method::Delete, "/containers/c1"), id, "not yet");
        h.at(Duration::from_millis(500));
        let again = h.req(Method::Delete, "/containers/c1");
        assert_ne!(again, id);
        h.answer(again, 204, b"");
        assert_eq!(h.names().last(), Some(&"ContainerRemove"));
        // Failing every time: given up at the deadline (30 s), said once.
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.finish_but_remove();
        for _ in 0..40 {
            if h.done {
                break;
            }
            let id = h.req(Method::Delete, "/containers/c1");
            h.input(Input::Failed { id, message: "down".into() });
            let next = h.now + Duration::from_secs(5);
            h.at(next);
        }
        assert!(h.done);
        assert!(matches!(&h.errors[..], [Error::Transport { phase: Phase::Remove, .. }]), "{:?}", h.errors);
    }
}

impl Harness {
    fn finish_but_remove(&mut self) {
        self.inspect(&exited());
        self.logs(200, b"");
        self.wait(br#"{"StatusCode":3}"#);
        self.inspect(&exited());
    }
}

mod stop {
    use super::*;

    /// A cancel before the container is inspected waits for the inspect: a
    /// running container gets the stop signal; an exited one nothing.
    #[test]
    fn a_cancel_before_the_inspect_stops_a_running_container_once_known() {
        for (early, running) in [(0, true), (1, true), (0, false), (1, false)] {
            let mut h = Harness::of(ResumeMachine::new("r1", Seen::default(), spec(), Duration::ZERO));
            if early == 1 {
                let ping = h.sent[0].0;
                h.answer(ping, 200, b"OK");
            }
            h.cancel();
            assert!(h.kills().is_empty() && !h.done);
            if early == 0 {
                let ping = h.sent[0].0;
                h.answer(ping, 200, b"OK");
            }
            h.find(LIST);
            h.inspect(&inspect(if running { "running" } else { "exited" }, ""));
            let want: Vec<String> = match running {
                true => vec!["/v1.41/containers/c1/kill?signal=SIGTERM".into()],
                false => vec![],
            };
            assert_eq!(h.kills(), want);
            h.logs(200, b"");
            h.wait(br#"{"StatusCode":143}"#);
            h.inspect(&exited());
            h.remove(204);
            let reason = if running { EndReason::Cancelled } else { EndReason::Exited };
            assert_eq!(h.end().reason, reason);
            assert!(h.done);
        }
    }

    #[test]
    fn following_the_stop_signal_then_sigkill_after_the_grace_or_a_second_cancel() {
        for second_cancel in [false, true] {
            let mut h = Harness::new(Seen::default());
            h.find(LIST);
            h.inspect(&inspect("running", "").replace_driver("json-file"));
            let id = h.req(Method::Get, "/containers/c1/logs");
            h.head(id, 200);
            h.now = Duration::from_secs(1);
            h.cancel();
            assert_eq!(h.kills(), ["/v1.41/containers/c1/kill?signal=SIGTERM"]);
            let kill = h.req(Method::Post, "/containers/c1/kill");
            h.answer(kill, 204, b"");
            match second_cancel {
                true => h.cancel(),
                false => {
                    h.at(Duration::from_millis(2999));
                    assert_eq!(h.kills().len(), 1, "not before the grace");
                    h.at(Duration::from_secs(3));
                }
            }
            assert_eq!(h.kills()[1], "/v1.41/containers/c1/kill?signal=SIGKILL");
            h.cancel();
            assert_eq!(h.kills().len(), 2, "a third cancel adds nothing");
            h.input(Input::End { id });
            h.wait(br#"{"StatusCode":137}"#);
            h.inspect(&exited());
            h.remove(204);
            let end = h.end();
            assert_eq!((end.exit_code, end.reason), (Some(137), EndReason::Cancelled));
            assert!(h.errors.is_empty(), "{:?}", h.errors);
        }
    }

    #[test]
    fn the_containers_own_stop_signal_is_used() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        let body = String::from_utf8(inspect("running", ""))
            .unwrap()
            .replace(r#""Tty":false"#, r#""Tty":false,"StopSignal":"SIGINT""#);
        h.inspect(body.as_bytes());
        h.cancel();
        assert_eq!(h.kills(), ["/v1.41/containers/c1/kill?signal=SIGINT"]);
    }

    #[test]
    fn while_waiting_a_cancel_stops_too() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("running", "").replace_driver("none"));
        h.cancel();
        assert_eq!(h.kills(), ["/v1.41/containers/c1/kill?signal=SIGTERM"]);
        h.wait(br#"{"StatusCode":143}"#);
        h.inspect(&exited());
        assert_eq!(h.end().reason, EndReason::Cancelled);
    }

    #[test]
    fn after_the_end_a_cancel_is_ignored() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&exited());
        h.logs(200, b"");
        h.wait(br#"{"StatusCode":3}"#);
        h.cancel(); // Exit
        h.inspect(&exited());
        h.cancel(); // Remove
        h.remove(204);
        h.cancel(); // Done
        assert!(h.kills().is_empty());
        assert_eq!(h.end().reason, EndReason::Exited);
        assert!(h.done);
    }

    #[test]
    fn the_timeout_stops_it_as_a_cancel_does() {
        let spec = RunSpec::builder("scratch").heartbeat(None).timeout(Duration::from_secs(10)).build().unwrap();
        let mut h = Harness::of(ResumeMachine::with_engine("r1", Seen::default(), spec, engine(), Duration::ZERO));
        h.find(LIST);
        h.inspect(&inspect("running", ""));
        h.at(Duration::from_secs(10));
        assert_eq!(h.kills(), ["/v1.41/containers/c1/kill?signal=SIGTERM"]);
        h.logs(200, b"");
        h.wait(br#"{"StatusCode":143}"#);
        h.inspect(&exited());
        assert_eq!(h.end().reason, EndReason::TimedOut);
    }

    #[test]
    fn no_end_after_sigkill_is_given_up_on_and_the_container_removed() {
        let limits = Limits { request_timeout: Duration::from_secs(5), ..Limits::default() };
        let spec =
            RunSpec::builder("scratch").heartbeat(None).stop_grace(Duration::ZERO).limits(limits).build().unwrap();
        let mut h = Harness::of(ResumeMachine::with_engine("r1", Seen::default(), spec, engine(), Duration::ZERO));
        h.find(LIST);
        h.inspect(&inspect("running", ""));
        let logs = h.req(Method::Get, "/containers/c1/logs");
        h.head(logs, 200);
        h.cancel();
        assert_eq!(h.kills(), ["/v1.41/containers/c1/kill?signal=SIGKILL"], "no grace: SIGKILL at once");
        let kill = h.req(Method::Post, "/containers/c1/kill");
        h.answer(kill, 204, b"");
        h.at(Duration::from_secs(5));
        assert!(h.aborted.contains(&logs));
        assert!(matches!(&h.errors[..], [Error::Timeout { phase: Phase::Stop, .. }]), "{:?}", h.errors);
        assert_eq!(h.end().exit_code, None);
        h.remove(204);
        assert!(h.done);
    }
}

mod abandon {
    use super::*;

    #[test]
    fn only_a_container_inspected_and_not_kept_is_left_to_remove() {
        let mut h = Harness::new(Seen::default());
        assert_eq!(h.m.abandon(), None, "nothing found yet");
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        assert_eq!(h.m.abandon(), None, "found, not yet read: left as it was");
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("running", ""));
        let r = h.m.abandon().expect("the container's remove");
        assert_eq!((r.method, r.path.as_str()), (Method::Delete, "/v1.41/containers/c1?force=1&v=1"));
        assert_eq!(h.m.abandon(), None, "once");
        assert!(h.m.is_done());
    }
}

mod bad_input {
    use super::*;

    #[test]
    fn strays_second_heads_and_body_before_head_are_said_and_ignored() {
        let mut h = Harness::new(Seen::default());
        h.input(Input::End { id: RequestId(99) });
        let id = h.req(Method::Get, "/containers/json");
        h.body(id, b"[");
        h.head(id, 200);
        h.head(id, 200);
        h.body(id, &LIST[1..]);
        h.input(Input::End { id });
        h.input(Input::End { id });
        assert_eq!(h.errors.len(), 4, "{:?}", h.errors);
        assert!(h.errors.iter().all(|e| matches!(e, Error::Unexpected { .. })));
        assert!(h.has(Method::Get, "/containers/c1/json"), "the run went on");
    }

    #[test]
    fn an_unanswered_request_times_out() {
        let mut h = Harness::new(Seen::default());
        h.at(Duration::from_secs(60));
        assert!(matches!(&h.errors[..], [Error::Timeout { phase: Phase::List, .. }]));
        assert!(h.done);
    }

    #[test]
    fn a_logs_head_then_silence_has_no_deadline() {
        let mut h = Harness::new(Seen::default());
        h.find(LIST);
        h.inspect(&inspect("running", ""));
        let id = h.req(Method::Get, "/containers/c1/logs");
        h.head(id, 200);
        h.at(Duration::from_secs(3600));
        assert!(h.errors.is_empty() && !h.done);
        assert_eq!(h.m.poll_output(), Output::Pending { deadline: None });
    }

    /// Every state's request answered with each kind of nonsense, the rest
    /// answered well: never a panic, always Done, and a DELETE only for a
    /// container that was read.
    #[test]
    fn nonsense_at_every_step_never_panics_and_always_ends() {
        let garbage: [(u16, &[u8]); 6] =
            [(200, b"\xff\x00"), (200, &[9, 9, 9, 9, 9, 9, 9, 9, 9]), (500, b"{"), (404, b""), (204, b""), (101, b"x")];
        for step in 0..6 {
            for (status, body) in garbage {
                for failed in [false, true] {
                    let mut h = Harness::new(Seen { stdout: 1, stderr: 1, tty: 1 });
                    let good: [(Method, &str, Vec<u8>); 6] = [
                        (Method::Get, "/containers/json", LIST.to_vec()),
                        (Method::Get, "/containers/c1/json", inspect("running", "")),
                        (Method::Get, "/containers/c1/logs", logs()),
                        (Method::Post, "/containers/c1/wait", br#"{"StatusCode":3}"#.to_vec()),
                        (Method::Get, "/containers/c1/json", exited()),
                        (Method::Delete, "/containers/c1", Vec::new()),
                    ];
                    for (i, (method, path, ok)) in good.iter().enumerate() {
                        if h.done {
                            break;
                        }
                        let id = h.req(*method, path);
                        match (i == step, failed) {
                            (true, true) => h.input(Input::Failed { id, message: "reset".into() }),
                            (true, false) => h.answer(id, status, body),
                            _ => h.answer(id, 200, ok),
                        }
                    }
                    for _ in 0..10 {
                        if h.done {
                            break;
                        }
                        let later = h.now + Duration::from_secs(10);
                        h.at(later);
                        if let Some((id, _)) = h.sent.last().filter(|(_, r)| r.method == Method::Delete) {
                            let id = *id;
                            h.answer(id, 204, b"");
                        }
                    }
                    assert!(h.done, "step {step}, {status}, failed {failed}: {:?}", h.paths());
                    assert!(
                        step == 5 || !h.errors.is_empty() || status == 204 || status == 404,
                        "step {step} {status}"
                    );
                    let read = h.sent.iter().filter(|(_, r)| r.path.contains("/containers/c1/json")).count();
                    if h.has(Method::Delete, "/containers/c1") {
                        assert!(step > 1 || (step == 1 && read > 0 && !failed && status == 200), "{step} {status}");
                    }
                }
            }
        }
    }
}
