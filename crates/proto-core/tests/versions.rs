//! API versions: each engine is spoken to in the version agreed with it, on
//! every path; a version the engine refuses ends in one clear error, asked
//! about once and never retried.

mod support;

use std::time::Duration;

use cstream_proto_core::api::ApiVersion;
use cstream_proto_core::api::version::VersionError;
use cstream_proto_core::{Error, EventKind, Machine, Phase, RunSpec, TtySize};
use support::*;

fn docker(api: &'static str, min: &'static str) -> impl FnOnce(Engine) -> Engine {
    move |mut e| {
        e.api_version = api;
        e.min_api_version = min;
        e
    }
}

/// Every path but the unversioned ones carries `/v{version}/`.
fn assert_all_versioned(engine: &Engine, version: &str) {
    for r in &engine.requests {
        let path = r.split_once(' ').unwrap().1;
        if path != "/_ping" && path != "/version" {
            assert!(path.starts_with(&format!("/v{version}/")), "{r} is not in version {version}");
        }
    }
}

fn exit_3() -> RunSpec {
    RunSpec::builder("cstream-test:latest").command(["sh", "-c", "exit 3"]).heartbeat(None).build().unwrap()
}

fn pinned(spec: RunSpec, version: ApiVersion, engine: &mut Engine) -> Transcript {
    let mut m = Machine::with_api_version(spec, run_info(), version, Duration::ZERO);
    drive(&mut m, engine, None)
}

#[test]
fn each_engine_is_spoken_to_in_the_lower_of_both_newest_versions() {
    for (api, min, spoken) in [("1.41", "1.12", "1.41"), ("1.45", "1.24", "1.45"), ("1.52", "1.44", "1.52")] {
        for split in SPLITS {
            let process = Process { exit_code: 3, ..Process::default() };
            let (t, engine) = run(&exit_3(), Flavor::Docker, split, |e| docker(api, min)(e).process(process));
            assert!(t.errors.is_empty(), "{api}: {:?}", t.errors);
            assert_eq!(t.process_end().unwrap().exit_code, Some(3), "{api}");
            assert_eq!(
                ops(&engine),
                [
                    Purpose::Ping,
                    Purpose::Create,
                    Purpose::Attach,
                    Purpose::Wait,
                    Purpose::Start,
                    Purpose::Inspect,
                    Purpose::Remove
                ]
            );
            assert_all_versioned(&engine, spoken);
            assert_cleaned_up(&t, &engine);
        }
    }
}

#[test]
fn an_engine_newer_than_cstream_is_spoken_to_in_cstreams_newest() {
    let (t, engine) = run(&exit_3(), Flavor::Docker, Split::Whole, docker("1.60", "1.44"));
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_all_versioned(&engine, "1.52");
}

#[test]
fn a_version_below_the_engines_minimum_is_one_clear_error_and_no_retry() {
    // DOCKER_API_VERSION=1.41 against Docker 29, which takes 1.44 and up.
    let mut engine = docker("1.52", "1.44")(Engine::new(Flavor::Docker, Split::Whole));
    let t = pinned(exit_3(), ApiVersion::new(1, 41), &mut engine);
    assert_eq!(ops(&engine), [Purpose::Ping, Purpose::Create, Purpose::Version]);
    let want = VersionError::Refused {
        used: ApiVersion::new(1, 41),
        engine_oldest: ApiVersion::new(1, 44),
        engine_newest: ApiVersion::new(1, 52),
    };
    assert_eq!(t.errors, [Error::Version(want)]);
    assert_eq!(t.errors[0].phase(), Some(Phase::Connect));
    assert_eq!(
        t.errors[0].to_string(),
        "the engine refuses API version 1.41: it speaks 1.44 to 1.52, and cstream speaks 1.30 to 1.52"
    );
    assert!(t.events.is_empty() && t.done, "{:?}", t.log);
}

#[test]
fn an_engine_whose_oldest_is_newer_than_cstreams_newest_says_upgrade_cstream() {
    for pull in [cstream_proto_core::PullPolicy::Missing, cstream_proto_core::PullPolicy::Always] {
        let spec = RunSpec::builder("cstream-test:latest").pull(pull).heartbeat(None).build().unwrap();
        let (t, engine) = run(&spec, Flavor::Docker, Split::Bytewise, docker("1.60", "1.55"));
        let first = if pull == cstream_proto_core::PullPolicy::Always { Purpose::Pull } else { Purpose::Create };
        assert_eq!(ops(&engine), [Purpose::Ping, first, Purpose::Version]);
        assert_eq!(t.errors.len(), 1, "{:?}", t.errors);
        let text = t.errors[0].to_string();
        assert!(text.contains("refuses API version 1.52: it speaks 1.55 to 1.60"), "{text}");
        assert!(text.ends_with(": upgrade cstream"), "{text}");
        assert!(t.done);
    }
}

#[test]
fn a_pinned_version_is_spoken_on_every_path_when_the_engine_takes_it() {
    let mut engine = docker("1.52", "1.44")(Engine::new(Flavor::Docker, Split::Random(3)));
    engine.process.exit_code = 3;
    let t = pinned(exit_3(), ApiVersion::new(1, 44), &mut engine);
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.process_end().unwrap().exit_code, Some(3));
    assert_all_versioned(&engine, "1.44");
}

#[test]
fn a_pinned_version_newer_than_the_engine_fails_at_the_ping() {
    let mut engine = Engine::new(Flavor::Podman, Split::Whole);
    let t = pinned(exit_3(), ApiVersion::new(1, 44), &mut engine);
    assert_eq!(ops(&engine), [Purpose::Ping]);
    let want = VersionError::PinnedTooNew { pinned: ApiVersion::new(1, 44), engine_newest: ApiVersion::new(1, 41) };
    assert_eq!(t.errors, [Error::Version(want)]);
    assert!(t.done);
}

#[test]
fn a_400_that_is_not_about_the_version_is_reported_as_the_engine_said_it() {
    let bad_create = |e: Engine| e.reply(Purpose::Create, [Reply::EngineError(400, "invalid mount config")]);
    let (t, engine) = run(&exit_3(), Flavor::Docker, Split::Whole, bad_create);
    assert_eq!(ops(&engine), [Purpose::Ping, Purpose::Create, Purpose::Version]);
    assert!(
        matches!(&t.errors[..], [Error::Engine { phase: Phase::Create, status: 400, message }] if message == "invalid mount config"),
        "{:?}",
        t.errors
    );
    // Nor when the engine cannot say its versions: the 400 stands, once.
    for version_answer in
        [Reply::Transport("reset"), Reply::Status(500, b"{}".to_vec()), Reply::Status(200, b"[".to_vec())]
    {
        let (t, engine) =
            run(&exit_3(), Flavor::Docker, Split::Whole, |e| bad_create(e).reply(Purpose::Version, [version_answer]));
        assert_eq!(ops(&engine), [Purpose::Ping, Purpose::Create, Purpose::Version]);
        assert!(matches!(&t.errors[..], [Error::Engine { status: 400, .. }]), "{:?}", t.errors);
        assert!(t.done);
    }
    // A version that never answers: the request's time limit, then the 400.
    let (t, engine) =
        run(&exit_3(), Flavor::Docker, Split::Whole, |e| bad_create(e).reply(Purpose::Version, [Reply::Silent]));
    assert!(matches!(&t.errors[..], [Error::Engine { status: 400, .. }]), "{:?} {:?}", t.errors, engine.requests);
}

#[test]
fn once_the_engine_took_the_version_a_400_is_not_asked_about() {
    let bad_start = |e: Engine| e.reply(Purpose::Start, [Reply::EngineError(400, "bad start")]);
    let (t, engine) = run(&exit_3(), Flavor::Docker, Split::Whole, bad_start);
    assert!(!ops(&engine).contains(&Purpose::Version), "{:?}", engine.requests);
    assert!(matches!(&t.errors[..], [Error::Engine { phase: Phase::Start, status: 400, .. }]), "{:?}", t.errors);
    assert_cleaned_up(&t, &engine);
}

#[test]
fn the_terminal_size_goes_in_the_create_body_from_api_1_42_and_after_start_before() {
    let tty = || {
        RunSpec::builder("cstream-test:latest")
            .command(["stty", "size"])
            .tty(true)
            .tty_size(123, 45)
            .heartbeat(None)
            .build()
            .unwrap()
    };
    let raw = Process { raw: Some(b"45 123\r\n".to_vec()), ..Process::default() };
    // Docker 26: the size is the container's from its start; no resize call.
    let (t, engine) = run(&tty(), Flavor::Docker, Split::Whole, |e| docker("1.45", "1.24")(e).process(raw.clone()));
    assert!(!ops(&engine).contains(&Purpose::Resize), "{:?}", engine.requests);
    assert_eq!(
        t.names(),
        ["ContainerCreate", "TerminalResize", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"]
    );
    // Docker 20.10 ignores ConsoleSize and refuses a resize before start: right after start.
    let (t, engine) = run(&tty(), Flavor::Docker, Split::Whole, |e| e.process(raw.clone()));
    let o = ops(&engine);
    let start = o.iter().position(|op| *op == Purpose::Start).unwrap();
    assert_eq!(o.iter().position(|op| *op == Purpose::Resize), Some(start + 1), "{o:?}");
    assert!(t.names().starts_with(&["ContainerCreate", "ProcessStart", "TerminalResize"]), "{:?}", t.names());
    // Podman (1.41 in its compat API) takes a resize of the created container.
    let (t, engine) = run(&tty(), Flavor::Podman, Split::Whole, |e| e.process(raw.clone()));
    let o = ops(&engine);
    let start = o.iter().position(|op| *op == Purpose::Start).unwrap();
    assert_eq!(o.iter().position(|op| *op == Purpose::Resize), Some(start - 1), "{o:?}");
    assert_eq!(o.iter().filter(|op| **op == Purpose::Resize).count(), 1, "{o:?}");
    assert!(t.names().starts_with(&["ContainerCreate", "TerminalResize", "ProcessStart"]), "{:?}", t.names());
}

#[test]
fn a_resize_asked_for_between_create_and_start_is_applied_at_start() {
    let spec = RunSpec::builder("cstream-test:latest")
        .command(["stty", "size"])
        .tty(true)
        .tty_size(80, 24)
        .heartbeat(None)
        .build()
        .unwrap();
    let mut engine = docker("1.45", "1.24")(Engine::new(Flavor::Docker, Split::Whole));
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let mut hook = |m: &mut Machine, now: Duration, t: &Transcript| {
        let created = t.events.iter().any(|e| matches!(e.kind, EventKind::ContainerCreate { .. }));
        if created {
            assert_eq!(m.resize(now, TtySize { cols: 100, rows: 30 }), Ok(cstream_proto_core::CommandId(0)));
        }
        created
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    assert!(engine.requests.iter().any(|r| r.ends_with("/resize?h=30&w=100")), "{:?}", engine.requests);
    let sizes: Vec<_> = t
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::TerminalResize { size } => Some(size),
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [TtySize { cols: 80, rows: 24 }, TtySize { cols: 100, rows: 30 }]);
}
