//! Every failure path: the typed error, the events around it, and cleanup.

mod support;

use std::time::Duration;

use cstream_proto_core::api::version::VersionError;
use cstream_proto_core::decode::FrameError;
use cstream_proto_core::{EndReason, Error, Phase, PullPolicy, RunSpec, Stream};
use support::*;

fn both(mut check: impl FnMut(Flavor, Split)) {
    for flavor in [Flavor::Docker, Flavor::Podman] {
        for split in [Split::Whole, Split::Bytewise, Split::Random(9)] {
            check(flavor, split);
        }
    }
}

#[test]
fn engine_not_answering_the_ping() {
    both(|f, s| {
        let (t, e) = run(&spec(), f, s, |e| e.reply(Purpose::Ping, [Reply::Transport("connection refused")]));
        assert!(
            matches!(&t.errors[..], [Error::Transport { phase: Phase::Connect, message }] if message == "connection refused")
        );
        assert_eq!(ops(&e), [Purpose::Ping]);
        assert!(t.events.is_empty() && t.done);
    });
}

#[test]
fn ping_without_a_version_or_with_an_error() {
    let (t, _) = run(&spec(), Flavor::Docker, Split::Whole, |mut e| {
        e.api_version = "garbage";
        e
    });
    assert!(matches!(&t.errors[..], [Error::Version(VersionError::Unreadable(_))]), "{:?}", t.errors);
    assert_eq!(t.errors[0].phase(), Some(Phase::Connect));
    let (t, _) =
        run(&spec(), Flavor::Docker, Split::Whole, |e| e.reply(Purpose::Ping, [Reply::Status(500, b"boom".to_vec())]));
    assert!(
        matches!(&t.errors[..], [Error::Engine { phase: Phase::Connect, status: 500, message }] if message == "boom")
    );
    assert!(t.done);
}

#[test]
fn pull_fails_with_an_http_error() {
    both(|f, s| {
        let (t, e) = run(&spec(), f, s, |e| {
            e.reply(Purpose::Create, [Reply::EngineError(404, "No such image: cstream-test:latest")]).reply(
                Purpose::Pull,
                [Reply::EngineError(404, "pull access denied for cstream-test, repository does not exist")],
            )
        });
        assert_eq!(ops(&e), [Purpose::Ping, Purpose::Create, Purpose::Pull]);
        match &t.errors[..] {
            [Error::Pull { image, message }] => {
                assert_eq!(image, "cstream-test:latest");
                assert!(message.contains("pull access denied"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.names(), ["ImagePullStart"]);
        assert_cleaned_up(&t, &e);
    });
}

#[test]
fn pull_fails_in_band_on_http_200() {
    let body = concat!(
        "{\"status\":\"Pulling from team/app\",\"id\":\"v1\"}\n",
        "{\"errorDetail\":{\"message\":\"manifest for team/app:v1 not found\"},\"error\":\"manifest for team/app:v1 not found\"}\n"
    );
    both(|f, s| {
        let (t, e) = run(&spec(), f, s, |mut e| {
            e.pull_body = body.as_bytes().to_vec();
            e.reply(Purpose::Create, [Reply::EngineError(404, "No such image")])
        });
        assert_eq!(ops(&e), [Purpose::Ping, Purpose::Create, Purpose::Pull], "no second create after a failed pull");
        assert!(
            matches!(&t.errors[..], [Error::Pull { message, .. }] if message == "manifest for team/app:v1 not found")
        );
        assert!(!t.names().contains(&"ImagePullComplete"));
        assert_cleaned_up(&t, &e);
    });
}

#[test]
fn pull_stream_that_is_not_json_is_an_error_not_a_success() {
    let (t, _) = run(&spec(), Flavor::Docker, Split::Random(5), |mut e| {
        e.pull_body = b"{\"status\":\"ok\"}\nnot json at all\n".to_vec();
        e.reply(Purpose::Create, [Reply::EngineError(404, "No such image")])
    });
    assert!(matches!(&t.errors[..], [Error::Pull { .. }]), "{:?}", t.errors);
}

#[test]
fn pull_policy_never_names_the_image_and_does_not_pull() {
    let spec = RunSpec::builder("team/app:v1").pull(PullPolicy::Never).build().unwrap();
    let (t, e) = run(&spec, Flavor::Podman, Split::Whole, |e| {
        e.reply(Purpose::Create, [Reply::EngineError(404, "no such image")])
    });
    assert_eq!(ops(&e), [Purpose::Ping, Purpose::Create]);
    assert_eq!(t.errors, [Error::ImageMissing { image: "team/app:v1".into() }]);
    assert!(t.errors[0].to_string().contains("team/app:v1"));
}

#[test]
fn image_still_missing_after_the_pull() {
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
        e.reply(Purpose::Create, [Reply::EngineError(404, "No such image"), Reply::EngineError(404, "No such image")])
    });
    assert_eq!(ops(&e), [Purpose::Ping, Purpose::Create, Purpose::Pull, Purpose::Create]);
    assert!(matches!(&t.errors[..], [Error::Pull { .. }]));
    assert_cleaned_up(&t, &e);
}

#[test]
fn create_refused() {
    both(|f, s| {
        for (status, msg) in
            [(400, "invalid mount config for type \"tmpfs\": mount options not supported"), (500, "boom")]
        {
            let (t, e) = run(&spec(), f, s, |e| e.reply(Purpose::Create, [Reply::EngineError(status, msg)]));
            assert!(
                matches!(&t.errors[..], [Error::Engine { phase: Phase::Create, status: st, message }] if *st == status && message == msg),
                "{:?}",
                t.errors
            );
            // A first 400 has the engine asked whether it was the version; a
            // 500 may come after the container was made: it is looked for by label.
            let asked: &[Purpose] = match status {
                400 => &[Purpose::Ping, Purpose::Create, Purpose::Version],
                _ => &[Purpose::Ping, Purpose::Create, Purpose::Sweep, Purpose::Remove],
            };
            assert_eq!(ops(&e), asked);
            assert!(t.events.is_empty());
            assert_cleaned_up(&t, &e);
        }
        // Docker's refusal of a missing bind source is the spec's error.
        let missing = "invalid mount config for type \"bind\": bind source path does not exist: /nope";
        let (t, _) = run(&spec(), f, s, |e| e.reply(Purpose::Create, [Reply::EngineError(400, missing)]));
        let refusal = "invalid mount source \"/nope\": does not exist on the engine's host";
        assert!(matches!(&t.errors[..], [Error::Spec(e)] if e.to_string() == refusal), "{:?}", t.errors);
        let (t, _) = run(&spec(), f, s, |e| e.reply(Purpose::Create, [Reply::EngineError(409, "name in use")]));
        assert!(matches!(&t.errors[..], [Error::NameInUse { .. }]));
    });
}

#[test]
fn create_answers_that_cannot_be_used() {
    for body in [&b"{"[..], b"{\"Id\":\"\"}", b"{\"Id\":\"../../etc\"}", b"[]", b"\xff\xfe"] {
        let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
            e.reply(Purpose::Create, [Reply::Status(201, body.to_vec())])
        });
        assert!(matches!(&t.errors[..], [Error::Protocol { phase: Phase::Create, .. }]), "{:?}", t.errors);
        assert_cleaned_up(&t, &e);
    }
}

#[test]
fn podman_refusing_the_attach_of_a_missing_command_is_exit_127() {
    let msg = "preparing container c0ffee for attach: runc: runc create failed: unable to start container process: exec: \"/no/such\": stat /no/such: no such file or directory: OCI runtime attempted to invoke a command that was not found";
    let (t, e) =
        run(&spec(), Flavor::Podman, Split::Random(4), |e| e.reply(Purpose::Attach, [Reply::EngineError(409, msg)]));
    assert!(!ops(&e).contains(&Purpose::Start));
    let end = t.process_end().unwrap();
    assert_eq!((end.exit_code, end.reason), (Some(127), EndReason::StartFailed));
    assert_cleaned_up(&t, &e);
}

#[test]
fn attach_refused_or_cut_removes_the_container_without_starting() {
    both(|f, s| {
        let (t, e) = run(&spec(), f, s, |e| e.reply(Purpose::Attach, [Reply::EngineError(500, "attach failed")]));
        assert!(matches!(&t.errors[..], [Error::Engine { phase: Phase::Attach, status: 500, .. }]));
        assert!(!ops(&e).contains(&Purpose::Start));
        assert_eq!(ops(&e).last(), Some(&Purpose::Remove));
        // The process could not be started: said so, as for a failed start.
        assert_eq!(t.names(), ["ContainerCreate", "ProcessEnd", "ContainerRemove"]);
        assert_eq!(t.process_end().unwrap().reason, EndReason::StartFailed);
        let (t, e) = run(&spec(), f, s, |e| e.reply(Purpose::Attach, [Reply::Transport("upgrade did not happen")]));
        assert!(matches!(&t.errors[..], [Error::Transport { phase: Phase::Attach, .. }]));
        assert_cleaned_up(&t, &e);
    });
}

#[test]
fn start_failures_end_the_process_as_docker_run_would() {
    let cases = [
        (400, "OCI runtime create failed: exec: \"nope\": executable file not found in $PATH: unknown", Some(127)),
        (
            500,
            "crun: executable file `/nonexistent` not found: No such file or directory: OCI runtime attempted to invoke a command that was not found",
            Some(127),
        ),
        (400, "OCI runtime create failed: exec: \"/etc\": permission denied: unknown", Some(126)),
        (500, "cgroup setup failed", None),
    ];
    both(|f, s| {
        for (status, msg, code) in cases {
            let (t, e) = run(&spec(), f, s, |e| e.reply(Purpose::Start, [Reply::EngineError(status, msg)]));
            assert!(matches!(&t.errors[..], [Error::Engine { phase: Phase::Start, .. }]), "{:?}", t.errors);
            assert_eq!(t.names(), ["ContainerCreate", "ProcessEnd", "ContainerRemove"]);
            let end = t.process_end().unwrap();
            assert_eq!((end.exit_code, end.reason), (code, EndReason::StartFailed), "{msg}");
            // The wait registered before start is given up before the remove.
            let abort = t.log.iter().position(|l| l.starts_with("abort")).unwrap();
            let remove = t.log.iter().position(|l| l.starts_with("send DELETE")).unwrap();
            assert!(abort < remove);
            assert_cleaned_up(&t, &e);
        }
    });
}

#[test]
fn engine_error_on_the_output_stream() {
    both(|f, s| {
        let p =
            Process { frames: vec![(1, b"partial\n".to_vec()), (3, b"container gone".to_vec())], ..Process::default() };
        let (t, e) = run(&spec(), f, s, |e| e.process(p));
        assert_eq!(t.errors, [Error::Output(FrameError::Engine("container gone".into()))]);
        assert_eq!(t.output(Stream::Stdout), b"partial\n");
        assert!(t.process_end().is_some());
        assert_cleaned_up(&t, &e);
    });
}

#[test]
fn stream_cut_inside_a_frame_is_an_error_and_never_output() {
    let mut cut = frame(1, b"this frame never finishes");
    cut.truncate(15);
    both(|f, s| {
        let p = Process { trailer: cut.clone(), ..Process::default() };
        let (t, e) = run(&spec(), f, s, |e| e.process(p));
        assert_eq!(t.errors, [Error::Output(FrameError::Truncated { declared: 25, missing: 18 })]);
        assert_eq!(t.output(Stream::Stdout), b"out\n", "the cut frame's bytes are not output");
        // The rest of the output is lost: the run ends with the error and the container is removed.
        assert_eq!(t.names(), ["ContainerCreate", "ProcessStart", "Output", "ContainerRemove"]);
        assert_cleaned_up(&t, &e);
    });
}

#[test]
fn unknown_stream_byte_is_an_error() {
    let p = Process { raw: Some(vec![7, 0, 0, 0, 0, 0, 0, 1, b'x']), ..Process::default() };
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| e.process(p));
    assert_eq!(t.errors, [Error::Output(FrameError::UnknownStream(7))]);
    assert_cleaned_up(&t, &e);
}

#[test]
fn wait_errors() {
    both(|f, s| {
        let (t, e) =
            run(&spec(), f, s, |e| e.reply(Purpose::Wait, [Reply::EngineError(404, "No such container: c0ffee")]));
        assert!(matches!(&t.errors[..], [Error::Engine { phase: Phase::Wait, status: 404, .. }]));
        assert!(!ops(&e).contains(&Purpose::Start));
        assert_cleaned_up(&t, &e);
    });
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
        e.reply(Purpose::Wait, [Reply::Status(200, b"{\"StatusCode\":\"x\"}".to_vec())])
    });
    assert!(matches!(&t.errors[..], [Error::Protocol { phase: Phase::Wait, .. }]), "{:?}", t.errors);
    assert_cleaned_up(&t, &e);
}

#[test]
fn inspect_404_is_tolerated() {
    let p = Process { exit_code: 3, ..Process::default() };
    let (t, e) = run(&spec(), Flavor::Podman, Split::Whole, |e| {
        e.process(p).reply(Purpose::Inspect, [Reply::EngineError(404, "no such container")])
    });
    assert!(t.errors.is_empty());
    assert_eq!(t.process_end().unwrap().exit_code, Some(3));
    assert_cleaned_up(&t, &e);
}

#[test]
fn inspect_transport_failure_still_ends_the_process() {
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| e.reply(Purpose::Inspect, [Reply::Transport("reset")]));
    assert!(matches!(&t.errors[..], [Error::Transport { phase: Phase::Inspect, .. }]));
    assert_eq!(t.process_end().unwrap().exit_code, Some(0));
    assert_cleaned_up(&t, &e);
}

#[test]
fn remove_404_and_409_are_tolerated() {
    both(|f, s| {
        for status in [404, 409] {
            let (t, _) =
                run(&spec(), f, s, |e| e.reply(Purpose::Remove, [Reply::EngineError(status, "gone or going")]));
            assert!(t.errors.is_empty());
            assert_eq!(t.names().last(), Some(&"ContainerRemove"));
        }
    });
}

#[test]
fn remove_failures() {
    let (t, _) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
        e.reply(Purpose::Remove, [Reply::EngineError(500, "driver failed")])
    });
    assert!(matches!(&t.errors[..], [Error::Engine { phase: Phase::Remove, status: 500, .. }]));
    assert!(t.done && !t.names().contains(&"ContainerRemove"));
    // A connection failure is retried, and the remove goes through once the engine is back.
    let (t, e) =
        run(&spec(), Flavor::Docker, Split::Whole, |e| e.reply(Purpose::Remove, vec![Reply::Transport("refused"); 4]));
    assert!(t.errors.is_empty());
    assert_eq!(ops(&e).iter().filter(|o| **o == Purpose::Remove).count(), 5);
    assert_eq!(t.names().last(), Some(&"ContainerRemove"));
    // Backing off 0.5, 1, 2, 4 s.
    assert_eq!(t.now, Duration::from_millis(1 + 500 + 1000 + 2000 + 4000));
    // An engine that never comes back: tried until the cleanup deadline (30 s), then reported.
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
        e.reply(Purpose::Remove, vec![Reply::Transport("refused"); 100])
    });
    let tries = ops(&e).iter().filter(|o| **o == Purpose::Remove).count();
    assert_eq!(tries, 9, "0, 0.5, 1.5, 3.5, 7.5, 12.5, 17.5, 22.5, 27.5 s");
    assert!(matches!(&t.errors[..], [Error::Transport { phase: Phase::Remove, .. }]));
    assert!(t.done && t.now < Duration::from_secs(31));
}

#[test]
fn silent_engine_times_out_at_every_step() {
    for op in [
        Purpose::Ping,
        Purpose::Create,
        Purpose::Attach,
        Purpose::Wait,
        Purpose::Start,
        Purpose::Inspect,
        Purpose::Remove,
    ] {
        let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| e.reply(op, vec![Reply::Silent; 3]));
        assert!(t.done, "{op:?}: {:?}", t.log);
        let timeouts: Vec<_> = t.errors.iter().filter(|e| matches!(e, Error::Timeout { .. })).collect();
        assert!(!timeouts.is_empty(), "{op:?}: {:?}", t.errors);
        assert!(matches!(timeouts[0], Error::Timeout { after, .. } if *after == Duration::from_secs(60)));
        assert!(t.now >= Duration::from_secs(60) && t.now < Duration::from_secs(200), "{op:?} {:?}", t.now);
        if op != Purpose::Remove {
            assert_cleaned_up(&t, &e);
        }
    }
}

#[test]
fn output_that_never_ends_after_exit_is_given_up_after_the_drain_time() {
    let spec = RunSpec::builder("x").heartbeat(None).build().unwrap();
    let mut engine =
        Engine::new(Flavor::Docker, Split::Whole).process(Process { wait_first: true, ..Process::default() });
    let mut m = cstream_proto_core::Machine::new(spec, run_info(), Duration::ZERO);
    // Drop the attach stream's end: the engine never closes it.
    let mut dropped = Vec::new();
    let t = drive_dropping_attach_end(&mut m, &mut engine, &mut dropped);
    assert_eq!(dropped, ["attach end"]);
    assert!(t.errors.iter().any(|e| matches!(e, Error::Timeout { phase: Phase::Output, .. })), "{:?}", t.errors);
    assert_eq!(t.output(Stream::Stdout), b"out\n");
    assert!(t.process_end().is_some());
    assert_cleaned_up(&t, &engine);
}

/// Like `drive`, but swallows the End of the attach stream.
fn drive_dropping_attach_end(
    m: &mut cstream_proto_core::Machine,
    engine: &mut Engine,
    dropped: &mut Vec<String>,
) -> Transcript {
    use cstream_proto_core::{Input, Output};
    let mut t = Transcript::default();
    let mut now = Duration::from_millis(1);
    let mut attach = None;
    for _ in 0..100_000 {
        match m.poll_output() {
            Output::Send { id, request } => {
                if request.path.contains("/attach") {
                    attach = Some(id);
                }
                engine.receive(id, request.method, &request.path);
            }
            Output::Event(e) => t.events.push(e),
            Output::Error(e) => t.errors.push(e),
            Output::Done => {
                t.done = true;
                return t;
            }
            Output::Pending { deadline } => match engine.next_input() {
                Some(Input::End { id }) if Some(id) == attach => dropped.push("attach end".into()),
                Some(i) => m.handle_input(now, i),
                None => {
                    now = deadline.expect("a deadline while waiting for output to end");
                    m.handle_timeout(now);
                }
            },
            _ => {}
        }
    }
    panic!("no end");
}

#[test]
fn a_start_answer_lost_after_output_showed_the_process_running_is_not_a_failed_start() {
    // Output overtakes the start's answer; then the engine goes away.
    let mut engine = Engine::new(Flavor::Docker, Split::Whole)
        .process(Process { exits: false, ..Process::default() })
        .reply(Purpose::Start, [Reply::Silent]);
    let mut m = cstream_proto_core::Machine::new(spec(), run_info(), Duration::ZERO);
    let mut started = false;
    let mut hook = |m: &mut cstream_proto_core::Machine, now: Duration, t: &Transcript| {
        if !started && t.log.iter().any(|l| l.ends_with("/start")) {
            // The engine starts the process although its answer never comes.
            started = true;
            let attach = cstream_proto_core::RequestId(2);
            let data = bytes::Bytes::from(frame(1, b"running\n"));
            m.handle_input(now, cstream_proto_core::Input::Body { id: attach, data });
            m.handle_input(
                now,
                cstream_proto_core::Input::Failed { id: cstream_proto_core::RequestId(4), message: "closed".into() },
            );
            return true;
        }
        false
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    assert_eq!(t.output(Stream::Stdout), b"running\n");
    assert!(matches!(&t.errors[..], [Error::Transport { phase: Phase::Start, .. }]), "{:?}", t.errors);
    assert!(!t.names().contains(&"ProcessEnd"), "no exit code is made up: {:?}", t.names());
    assert_eq!(t.names(), ["ContainerCreate", "ProcessStart", "Output", "ContainerRemove"]);
    assert_cleaned_up(&t, &engine);
}

/// A create whose answer is lost may still have made a container: the machine
/// finds it by its run label and removes it, and leaves other runs' alone.
#[test]
fn a_create_of_unknown_outcome_is_swept_by_label() {
    let lost = [
        Reply::Transport("connection reset after the request was sent"),
        Reply::Silent,
        Reply::Status(201, b"{\"Id\":".to_vec()),
        Reply::EngineError(500, "failed to register layer"),
    ];
    for reply in lost {
        for split in SPLITS {
            let (t, e) = run(&spec(), Flavor::Docker, split, |mut e| {
                e.containers.push("f00".into()); // another run's
                e.reply(Purpose::Create, [reply.clone()])
            });
            assert_eq!(ops(&e), [Purpose::Ping, Purpose::Create, Purpose::Sweep, Purpose::Remove], "{reply:?}");
            assert_eq!(e.containers, ["f00"], "{reply:?}: only this run's container goes");
            assert_eq!(t.errors.len(), 1, "{reply:?}: {:?}", t.errors);
            assert_eq!(t.errors[0].phase(), Some(Phase::Create));
            assert!(t.events.is_empty(), "no container id to report: {:?}", t.names());
            assert_cleaned_up(&t, &e);
        }
    }
}

#[test]
fn a_sweep_waits_for_the_engine_to_come_back() {
    let (t, e) = run(&spec(), Flavor::Podman, Split::Whole, |e| {
        e.reply(Purpose::Create, [Reply::Transport("reset")])
            .reply(Purpose::Sweep, vec![Reply::Transport("refused"); 3])
    });
    assert_eq!(
        ops(&e),
        [
            Purpose::Ping,
            Purpose::Create,
            Purpose::Sweep,
            Purpose::Sweep,
            Purpose::Sweep,
            Purpose::Sweep,
            Purpose::Remove
        ]
    );
    assert_cleaned_up(&t, &e);
    assert_eq!(t.errors.len(), 1, "the create's error only: {:?}", t.errors);
    // An engine that never comes back: tried until the cleanup deadline, then reported.
    let (t, e) = run(&spec(), Flavor::Docker, Split::Whole, |e| {
        e.reply(Purpose::Create, [Reply::Transport("reset")])
            .reply(Purpose::Sweep, vec![Reply::Transport("refused"); 100])
    });
    assert_eq!(ops(&e).iter().filter(|o| **o == Purpose::Sweep).count(), 9);
    assert!(matches!(&t.errors[..], [_, Error::Transport { phase: Phase::Remove, .. }]), "{:?}", t.errors);
    assert!(t.done && t.now < Duration::from_secs(31));
}

#[test]
fn a_refused_create_made_nothing_and_is_not_swept() {
    for status in [400, 404, 409] {
        let spec = RunSpec::builder("x").pull(PullPolicy::Never).heartbeat(None).build().unwrap();
        let (_, e) =
            run(&spec, Flavor::Docker, Split::Whole, |e| e.reply(Purpose::Create, [Reply::EngineError(status, "no")]));
        assert!(!ops(&e).contains(&Purpose::Sweep), "{status}: {:?}", e.requests);
    }
}
