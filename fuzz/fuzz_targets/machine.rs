//! The machine driven by an arbitrary sequence of answers, timeouts and user
//! commands. Checked: no panic; nothing output after Done; every container the
//! machine learned of gets a remove request before Done (unless kept); and
//! from any state, an engine that then fails everything brings the run to
//! Done within a bounded number of steps.
#![no_main]

use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::Method;
use cstream_proto_core::{Input, Machine, Output, RequestId, RunInfo, RunSpec, TtySize};
use libfuzzer_sys::fuzz_target;

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

struct Harness {
    m: Machine,
    now: Duration,
    open: Vec<RequestId>,
    deadline: Option<Duration>,
    delete_sent: bool,
    done: bool,
    keep: bool,
}

impl Harness {
    fn drain(&mut self) {
        for _ in 0..10_000 {
            match self.m.poll_output() {
                Output::Send { id, request } => {
                    assert!(!self.done);
                    if request.method == Method::Delete {
                        self.delete_sent = true;
                    }
                    self.open.push(id);
                }
                Output::Abort { id } => self.open.retain(|r| *r != id),
                Output::Pending { deadline } => {
                    assert!(!self.done, "pending after done");
                    self.deadline = deadline;
                    return;
                }
                Output::Done => {
                    if self.m.container_id().is_some() && !self.keep {
                        assert!(self.delete_sent, "done without removing the container");
                    }
                    self.done = true;
                    return;
                }
                Output::Write { .. } | Output::CloseWrite { .. } | Output::Event(_) | Output::Error(_) => {
                    assert!(!self.done, "output after done");
                }
            }
        }
        panic!("the machine never stopped producing output");
    }

    fn pick(&self, req: u8) -> RequestId {
        match self.open.len() {
            0 => RequestId(u64::from(req)),
            n => self.open[usize::from(req) % n],
        }
    }

    fn input(&mut self, input: Input) {
        if let Input::End { id } | Input::Failed { id, .. } = &input {
            let id = *id;
            self.open.retain(|r| *r != id);
        }
        self.m.handle_input(self.now, input);
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
    let run = RunInfo { run_id: "fuzz".into(), created_unix: 0 };
    let mut h = Harness {
        m: Machine::new(spec, run, Duration::ZERO),
        now: Duration::ZERO,
        open: Vec::new(),
        deadline: None,
        delete_sent: false,
        done: false,
        keep: case.keep,
    };
    h.drain();
    for action in case.actions.into_iter().take(200) {
        if h.done {
            break;
        }
        match action {
            Action::Head { req, status, old_api } => {
                let v = if old_api { "1.20" } else { "1.41" };
                let id = h.pick(req);
                h.input(Input::Head { id, status, headers: vec![("Api-Version".into(), v.into())] });
            }
            Action::Body { req, data } => {
                let id = h.pick(req);
                h.input(Input::Body { id, data: Bytes::from(data) });
            }
            Action::Created { req } => {
                let id = h.pick(req);
                h.input(Input::Body { id, data: Bytes::from_static(br#"{"Id":"c0ffee"}"#) });
            }
            Action::Frame { req, stream, data } => {
                let id = h.pick(req);
                h.input(Input::Body { id, data: frame(stream, &data) });
            }
            Action::Exit { req, code } => {
                let id = h.pick(req);
                h.input(Input::Body { id, data: Bytes::from(format!(r#"{{"StatusCode":{code}}}"#)) });
            }
            Action::End { req } => {
                let id = h.pick(req);
                h.input(Input::End { id });
            }
            Action::Failed { req } => {
                let id = h.pick(req);
                h.input(Input::Failed { id, message: "cut".into() });
            }
            Action::Advance { ms } => {
                h.now += Duration::from_millis(u64::from(ms));
                h.m.handle_timeout(h.now);
            }
            Action::Cancel => h.m.cancel(h.now),
            Action::Stdin { data } => {
                let _ = h.m.write_stdin(Bytes::from(data));
            }
            Action::CloseStdin => {
                let _ = h.m.close_stdin();
            }
            Action::Resize { cols, rows } => {
                let _ = h.m.resize(h.now, TtySize { cols, rows });
            }
        }
        h.drain();
    }
    // From here the engine fails every request: the run must still end.
    h.m.cancel(h.now);
    h.drain();
    for _ in 0..1_000 {
        if h.done {
            return;
        }
        if let Some(&id) = h.open.first() {
            h.input(Input::Failed { id, message: "engine gone".into() });
        } else if let Some(d) = h.deadline {
            h.now = h.now.max(d);
            h.m.handle_timeout(h.now);
        } else {
            panic!("stuck: no open request and no deadline");
        }
        h.drain();
    }
    panic!("the run did not end against a failing engine");
});
