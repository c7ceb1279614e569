//! The whole lifecycle against scripted Docker and Podman engines, with
//! bytes delivered whole, one at a time and in random splits.

mod support;

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::version::VersionError;
use cstream_proto_core::{EndReason, EventKind, ProcessEnd, ProcessId, PullPolicy, RunSpec, Stream};
use support::*;

const FLAVORS: [Flavor; 2] = [Flavor::Docker, Flavor::Podman];

fn happy_requests() -> Vec<String> {
    [
        "GET /_ping",
        "POST /v1.41/containers/create",
        "POST /v1.41/containers/c0ffee/attach?stream=1&stdin=0&stdout=1&stderr=1",
        "POST /v1.41/containers/c0ffee/wait?condition=next-exit",
        "POST /v1.41/containers/c0ffee/start",
        "GET /v1.41/containers/c0ffee/json",
        "DELETE /v1.41/containers/c0ffee?force=1&v=1",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn happy_path_exact_requests_and_events() {
    for flavor in FLAVORS {
        for split in SPLITS {
            let (t, engine) = run(&spec(), flavor, split, |e| e);
            assert_eq!(engine.requests, happy_requests(), "{flavor:?} {split:?}");
            assert!(t.errors.is_empty(), "{:?}", t.errors);
            assert_eq!(t.output(Stream::Stdout), b"out\n");
            assert_eq!(t.output(Stream::Stderr), b"err\n");
            assert_eq!(
                t.names(),
                ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"],
                "{flavor:?} {split:?}"
            );
            let kinds = t.kinds();
            assert_eq!(
                kinds[0],
                EventKind::ContainerCreate { id: "c0ffee".into(), image: "cstream-test:latest".into() }
            );
            assert_eq!(
                kinds[1],
                EventKind::ProcessStart {
                    command: "sh".into(),
                    args: vec!["-c".into(), "echo out; echo err >&2".into()],
                    process: ProcessId::Container("c0ffee".into()),
                }
            );
            let end = t.process_end().unwrap();
            assert_eq!(
                (end.exit_code, end.signal, end.oom_killed, end.reason),
                (Some(0), None, false, EndReason::Exited)
            );
            assert_eq!(kinds.last().unwrap(), &EventKind::ContainerRemove { id: "c0ffee".into() });
            assert_cleaned_up(&t, &engine);
        }
    }
}

#[test]
fn whole_frames_are_passed_on_without_copying_into_one_event_each() {
    let (t, _) = run(&spec(), Flavor::Docker, Split::Whole, |e| e);
    let outputs: Vec<_> = t.kinds().into_iter().filter(|k| matches!(k, EventKind::Output { .. })).collect();
    assert_eq!(
        outputs,
        [
            EventKind::Output { stream: Stream::Stdout, data: Bytes::from_static(b"out\n") },
            EventKind::Output { stream: Stream::Stderr, data: Bytes::from_static(b"err\n") },
        ]
    );
}

#[test]
fn exit_codes_are_exact_and_signals_read_from_128_plus_n() {
    for (code, signal) in [(0, None), (1, None), (42, None), (255, None), (137, Some(9)), (143, Some(15))] {
        for flavor in FLAVORS {
            let p = Process { exit_code: code, ..Process::default() };
            let (t, engine) = run(&spec(), flavor, Split::Random(3), |e| e.process(p));
            let end = t.process_end().unwrap();
            assert_eq!(end.exit_code, Some(code as i32));
            assert_eq!(end.signal, signal);
            assert_cleaned_up(&t, &engine);
        }
    }
}

#[test]
fn oom_flag_comes_from_inspect() {
    let p = Process { exit_code: 137, oom: true, ..Process::default() };
    let (t, _) = run(&spec(), Flavor::Docker, Split::Whole, |e| e.process(p));
    let end = t.process_end().unwrap();
    assert!(end.oom_killed);
    assert_eq!((end.exit_code, end.signal), (Some(137), Some(9)));
}

#[test]
fn exit_reported_before_output_ends_still_delivers_all_output() {
    let p = Process {
        wait_first: true,
        frames: (0..100).map(|i| (1 + (i % 2) as u8, format!("line {i}\n").into_bytes())).collect(),
        ..Process::default()
    };
    for split in SPLITS {
        let (t, _) = run(&spec(), Flavor::Podman, split, |e| e.process(p.clone()));
        let want: Vec<u8> = (0..100).step_by(2).flat_map(|i| format!("line {i}\n").into_bytes()).collect();
        assert_eq!(t.output(Stream::Stdout), want);
        assert_eq!(t.names(), ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"]);
    }
}

#[test]
fn tty_output_is_raw_bytes() {
    let spec = RunSpec::builder("cstream-test").tty(true).heartbeat(None).build().unwrap();
    // Bytes that would be a malformed frame header are plain output with a TTY.
    let raw = b"\x05\x01hello\r\n".to_vec();
    for split in SPLITS {
        let (t, _) =
            run(&spec, Flavor::Docker, split, |e| e.process(Process { raw: Some(raw.clone()), ..Process::default() }));
        assert!(t.errors.is_empty());
        assert_eq!(t.output(Stream::Tty), raw);
    }
}

#[test]
fn stdin_is_written_after_the_upgrade_and_closed() {
    let spec = RunSpec::builder("cstream-test").command(["cat"]).stdin(true).heartbeat(None).build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole);
    let mut m = cstream_proto_core::Machine::new(spec, run_info(), Duration::ZERO);
    // Written before anything was sent: queued until the attach is upgraded.
    m.write_stdin(Bytes::from_static(b"hello ")).unwrap();
    m.write_stdin(Bytes::from_static(b"world")).unwrap();
    m.close_stdin().unwrap();
    assert_eq!(m.write_stdin(Bytes::from_static(b"late")), Err(cstream_proto_core::CommandError::StdinClosed));
    let t = drive(&mut m, &mut engine, None);
    assert_eq!(engine.stdin, b"hello world");
    assert!(engine.stdin_closed);
    let attach = engine.requests.iter().find(|r| r.contains("/attach")).unwrap();
    assert!(attach.contains("stdin=1"), "{attach}");
    let first_write = t.log.iter().position(|l| l.starts_with("write")).unwrap();
    let attach_sent = t.log.iter().position(|l| l.contains("/attach")).unwrap();
    let close = t.log.iter().position(|l| l == "close-write").unwrap();
    assert!(attach_sent < first_write && first_write < close, "{:?}", t.log);
    assert_eq!(t.log.iter().filter(|l| *l == "close-write").count(), 1);
    let acked: Vec<_> = t.acks.iter().map(|(c, r)| (c.0, r.is_ok())).collect();
    assert_eq!(acked, [(0, true), (1, true), (2, true)], "each write and the close acknowledged once, once written");
}

#[test]
fn stdin_not_enabled_is_refused() {
    let mut m = cstream_proto_core::Machine::new(spec(), run_info(), Duration::ZERO);
    assert_eq!(m.write_stdin(Bytes::from_static(b"x")), Err(cstream_proto_core::CommandError::StdinNotEnabled));
    assert_eq!(
        m.resize(Duration::ZERO, cstream_proto_core::TtySize { cols: 80, rows: 24 }),
        Err(cstream_proto_core::CommandError::NoTty)
    );
}

#[test]
fn tty_size_is_set_right_after_start_and_recorded() {
    let spec = RunSpec::builder("cstream-test").tty(true).tty_size(100, 40).heartbeat(None).build().unwrap();
    let (t, engine) = run(&spec, Flavor::Docker, Split::Whole, |e| e);
    let resize = engine.requests.iter().position(|r| r.contains("/resize?h=40&w=100")).expect("resize sent");
    let start = engine.requests.iter().position(|r| r.ends_with("/start")).unwrap();
    assert_eq!(resize, start + 1);
    assert!(
        t.kinds().contains(&EventKind::TerminalResize { size: cstream_proto_core::TtySize { cols: 100, rows: 40 } })
    );
}

#[test]
fn keep_on_exit_sends_no_remove() {
    let spec = RunSpec::builder("cstream-test").keep(true).heartbeat(None).build().unwrap();
    let (t, engine) = run(&spec, Flavor::Docker, Split::Whole, |e| e);
    assert!(t.done);
    assert!(!engine.requests.iter().any(|r| r.starts_with("DELETE")));
    assert_eq!(t.names(), ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd"]);
}

#[test]
fn missing_image_is_pulled_then_created_again() {
    let pull = concat!(
        "{\"status\":\"Pulling from library/app\",\"id\":\"latest\"}\r\n",
        "{\"status\":\"Pulling fs layer\",\"progressDetail\":{},\"id\":\"aaa\"}\r\n",
        "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":50,\"total\":100},\"id\":\"aaa\"}\r\n",
        "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"aaa\"}\r\n",
        "{\"status\":\"Digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}\r\n",
        "{\"status\":\"Status: Downloaded newer image for app:latest\"}\r\n",
    );
    for flavor in FLAVORS {
        for split in SPLITS {
            let spec = RunSpec::builder("app").heartbeat(None).build().unwrap();
            let (t, engine) = run(&spec, flavor, split, |mut e| {
                e.pull_body = pull.as_bytes().to_vec();
                e.reply(Purpose::Create, [Reply::EngineError(404, "No such image: app:latest")])
            });
            assert_eq!(engine.requests[1], "POST /v1.41/containers/create");
            assert_eq!(engine.requests[2], "POST /v1.41/images/create?fromImage=app&tag=latest");
            assert_eq!(engine.requests[3], "POST /v1.41/containers/create");
            assert!(t.errors.is_empty(), "{:?}", t.errors);
            let names = t.names();
            assert_eq!(names[0], "ImagePullStart");
            assert!(names.contains(&"ImagePullProgress"));
            let complete = t.kinds().into_iter().find_map(|k| match k {
                EventKind::ImagePullComplete { digest, .. } => Some(digest),
                _ => None,
            });
            assert_eq!(
                complete,
                Some(Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into()))
            );
            let last_progress = t.kinds().into_iter().rev().find_map(|k| match k {
                EventKind::ImagePullProgress(p) if p.layer == "aaa" => Some(p),
                _ => None,
            });
            let p = last_progress.unwrap();
            assert_eq!((p.status.as_str(), p.aggregate_current, p.aggregate_total), ("Pull complete", 100, 100));
            assert_cleaned_up(&t, &engine);
        }
    }
}

#[test]
fn pull_always_pulls_first_and_digests_are_sent_as_the_tag() {
    let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let spec = RunSpec::builder(format!("127.0.0.1:5000/team/app@{digest}"))
        .pull(PullPolicy::Always)
        .heartbeat(None)
        .build()
        .unwrap();
    let (t, engine) = run(&spec, Flavor::Docker, Split::Whole, |e| e);
    assert_eq!(
        engine.requests[1],
        "POST /v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fteam%2Fapp&tag=sha256%3A0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
    );
    assert_eq!(engine.requests[2], "POST /v1.41/containers/create");
    assert!(t.errors.is_empty());
}

#[test]
fn a_pinged_engine_is_not_pinged_again() {
    let info = cstream_proto_core::api::EngineInfo::from_ping_headers([("Api-Version", "1.40")], None).unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole);
    let mut m = cstream_proto_core::Machine::with_engine(spec(), run_info(), info, Duration::ZERO);
    let t = drive(&mut m, &mut engine, None);
    assert!(t.done);
    assert_eq!(engine.requests[0], "POST /v1.40/containers/create");
}

#[test]
fn older_engines_are_spoken_to_in_their_version_and_too_old_ones_refused() {
    let (_, engine) = run(&spec(), Flavor::Docker, Split::Whole, |mut e| {
        e.api_version = "1.35";
        e
    });
    assert_eq!(engine.requests[1], "POST /v1.35/containers/create");
    let (t, engine) = run(&spec(), Flavor::Docker, Split::Whole, |mut e| {
        e.api_version = "1.24";
        e
    });
    assert_eq!(engine.requests.len(), 1);
    assert!(matches!(t.errors[..], [cstream_proto_core::Error::Version(VersionError::EngineTooOld { .. })]));
    assert!(t.done);
}

#[test]
fn events_carry_the_callers_clock() {
    let (t, _) = run(&spec(), Flavor::Docker, Split::Whole, |e| e);
    assert!(t.events.iter().all(|e| e.at == Duration::from_millis(1)));
}

#[test]
fn process_end_from_exit_code() {
    let e = ProcessEnd::from_exit_code(130, false, Duration::ZERO, EndReason::Exited);
    assert_eq!(e.signal, Some(2));
    assert_eq!(ProcessEnd::from_exit_code(128, false, Duration::ZERO, EndReason::Exited).signal, None);
    assert_eq!(ProcessEnd::from_exit_code(193, false, Duration::ZERO, EndReason::Exited).signal, None);
}

#[test]
fn podman_gets_the_terminal_size_before_start() {
    let spec = RunSpec::builder("cstream-test").tty(true).tty_size(100, 40).heartbeat(None).build().unwrap();
    for split in SPLITS {
        let (t, engine) = run(&spec, Flavor::Podman, split, |e| e);
        let resize = engine.requests.iter().position(|r| r.contains("/resize?h=40&w=100")).expect("resize sent");
        let start = engine.requests.iter().position(|r| r.ends_with("/start")).unwrap();
        assert!(resize < start, "before start on Podman: {:?}", engine.requests);
        assert_eq!(engine.requests.iter().filter(|r| r.contains("/resize")).count(), 1, "and only then");
        assert_eq!(t.names()[..3], ["ContainerCreate", "TerminalResize", "ProcessStart"]);
    }
    // A refused resize before start is tried again after it.
    let (t, engine) =
        run(&spec, Flavor::Podman, Split::Whole, |e| e.reply(Purpose::Resize, [Reply::EngineError(500, "no")]));
    assert_eq!(engine.requests.iter().filter(|r| r.contains("/resize")).count(), 2);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
}
