//! The library against an engine that answers as Docker 29 does (API 1.44
//! to 1.52, everything older refused with a 400): cstream speaks 1.52 on
//! every path, puts the terminal size in the create body, and reports a
//! pinned version the engine refuses once, clearly, without retrying.

use std::time::Duration;

use cstream_engine::core::api::ApiVersion;
use cstream_engine::core::api::version::VersionError;
use cstream_engine::{EndReason, Engine, Error, Event, EventKind, PullPolicy, Remote, RunHandle, RunSpec, Stream};
use cstream_fake_engine::{FakeDocker29, Script};
use futures_util::StreamExt;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Default)]
struct Seen {
    events: Vec<Event>,
    names: Vec<&'static str>,
    errors: Vec<Error>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    tty: Vec<u8>,
}

impl Seen {
    fn end(&self) -> &cstream_engine::ProcessEnd {
        let end = self.events.iter().find_map(|e| match &e.kind {
            EventKind::ProcessEnd(p) => Some(p),
            _ => None,
        });
        end.unwrap_or_else(|| panic!("no ProcessEnd: {:?} {:?}", self.names, self.errors))
    }
}

fn spec(image: &str) -> cstream_engine::core::spec::RunSpecBuilder {
    RunSpec::builder(image).pull(PullPolicy::Never).heartbeat(None).command(["sh", "-c", "scripted"])
}

/// Runs `spec` to its end, calling `on` with each event (and a handle to the run).
async fn run_with(engine: &Engine, spec: RunSpec, mut on: impl FnMut(&Event, RunHandle)) -> Seen {
    let mut run = engine.run(spec);
    let mut seen = Seen::default();
    let all = async {
        while let Some(item) = run.next().await {
            match item {
                Ok(e) => {
                    on(&e, run.handle());
                    seen.names.push(e.kind.name());
                    if let EventKind::Output { stream, data } = &e.kind {
                        match stream {
                            Stream::Stdout => seen.stdout.extend_from_slice(data),
                            Stream::Stderr => seen.stderr.extend_from_slice(data),
                            Stream::Tty => seen.tty.extend_from_slice(data),
                        }
                    }
                    seen.events.push(e);
                }
                Err(e) => seen.errors.push(e),
            }
        }
    };
    tokio::time::timeout(LIMIT, all).await.expect("the run ends in time");
    seen
}

async fn run(engine: &Engine, spec: RunSpec) -> Seen {
    run_with(engine, spec, |_, _| {}).await
}

/// The paths asked for, without their methods.
fn paths(fake: &FakeDocker29) -> Vec<String> {
    fake.requests().iter().map(|r| r.split_once(' ').unwrap().1.to_string()).collect()
}

/// Every request was the ping or spoke `version`.
fn all_spoke(fake: &FakeDocker29, version: &str) {
    let prefix = format!("/v{version}/");
    let requests = fake.requests();
    assert!(paths(fake).iter().all(|p| p == "/_ping" || p.starts_with(&prefix)), "{requests:#?}");
}

async fn connected() -> (FakeDocker29, Engine) {
    let fake = FakeDocker29::start().await;
    let engine = cstream_engine::connect(&fake.endpoint(), Remote::Refuse).await.unwrap();
    (fake, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_speaks_1_52_and_is_byte_exact() {
    let (fake, engine) = connected().await;
    assert_eq!(engine.info().unwrap().api, ApiVersion::new(1, 52));
    fake.set_script(Script::new("hello\n", "oops\n", 3));
    let s = run(&engine, spec("fake:latest").build().unwrap()).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.stdout.as_slice(), s.stderr.as_slice()), (&b"hello\n"[..], &b"oops\n"[..]));
    assert_eq!((s.end().exit_code, s.end().reason), (Some(3), EndReason::Exited));
    assert_eq!(s.names.last(), Some(&"ContainerRemove"), "{:?}", s.names);
    all_spoke(&fake, "1.52");
    assert_eq!(fake.requests()[0], "GET /_ping");
    assert_eq!(fake.containers(), 0);
    let body = &fake.create_bodies()[0];
    assert_eq!((&body["Cmd"], &body["Tty"]), (&serde_json::json!(["sh", "-c", "scripted"]), &serde_json::json!(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_speaks_1_52() {
    let (fake, engine) = connected().await;
    fake.set_script(Script::new("pulled\n", "", 0));
    let s = run(&engine, spec("alpine:3.20").pull(PullPolicy::Always).build().unwrap()).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.names.first(), Some(&"ImagePullStart"));
    assert!(s.names.contains(&"ImagePullProgress"), "{:?}", s.names);
    let digest = s.events.iter().find_map(|e| match &e.kind {
        EventKind::ImagePullComplete { digest, .. } => Some(digest.clone()),
        _ => None,
    });
    assert!(digest.flatten().is_some_and(|d| d.starts_with("sha256:")), "{:?}", s.names);
    assert_eq!(s.stdout, b"pulled\n");
    let pull = paths(&fake).into_iter().find(|p| p.contains("/images/create")).unwrap();
    assert_eq!(pull, "/v1.52/images/create?fromImage=alpine&tag=3.20");
    all_spoke(&fake, "1.52");
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_size_goes_in_the_create_body_and_resizes_follow() {
    let (fake, engine) = connected().await;
    fake.set_script(Script { stdout: b"a\nb\n".to_vec(), until_killed: true, ..Script::default() });
    let spec = spec("fake:latest").tty(true).tty_size(100, 30).build().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let mut tx = Some(tx);
    let resized = tokio::spawn(async move {
        let handle: RunHandle = rx.await.ok()?;
        let r = handle.resize(120, 40).await;
        handle.cancel();
        Some(r)
    });
    let s = run_with(&engine, spec, move |e, handle| {
        if matches!(e.kind, EventKind::ProcessStart { .. }) {
            let _ = tx.take().map(|tx| tx.send(handle));
        }
    })
    .await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    let resized = tokio::time::timeout(LIMIT, resized).await.expect("the resize is answered in time");
    resized.unwrap().expect("the process started").expect("the resize is applied");
    assert_eq!(s.tty, b"a\r\nb\r\n", "the terminal's output, raw");
    let body = &fake.create_bodies()[0];
    assert_eq!(
        (&body["HostConfig"]["ConsoleSize"], &body["Tty"]),
        (&serde_json::json!([30, 100]), &serde_json::json!(true))
    );
    let paths = paths(&fake);
    let start = paths.iter().position(|p| p.ends_with("/start")).unwrap();
    assert!(!paths[..start].iter().any(|p| p.contains("/resize")), "no resize before start: {paths:#?}");
    let id = s.events.iter().find_map(|e| match &e.kind {
        EventKind::ContainerCreate { id, .. } => Some(id.clone()),
        _ => None,
    });
    let resize = format!("/v1.52/containers/{}/resize?h=40&w=120", id.unwrap());
    assert!(paths.contains(&resize), "{paths:#?}");
    assert_eq!(fake.resizes(), [(40, 120)]);
    assert_eq!(s.end().reason, EndReason::Cancelled);
    all_spoke(&fake, "1.52");
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_sends_the_stop_signal_in_1_52() {
    let (fake, engine) = connected().await;
    fake.set_script(Script { stdout: b"ready\n".to_vec(), until_killed: true, ..Script::default() });
    let s = run_with(&engine, spec("fake:latest").build().unwrap(), |e, handle| {
        if matches!(&e.kind, EventKind::Output { data, .. } if data.as_ref() == b"ready\n") {
            handle.cancel();
        }
    })
    .await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.end().reason, s.end().exit_code), (EndReason::Cancelled, Some(143)));
    assert!(paths(&fake).iter().any(|p| p.starts_with("/v1.52/containers/") && p.ends_with("/kill?signal=SIGTERM")));
    assert_eq!(s.names.last(), Some(&"ContainerRemove"));
    all_spoke(&fake, "1.52");
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_version_list_and_gc_speak_1_52() {
    let (fake, engine) = connected().await;
    assert_eq!(engine.host_cpus().await.unwrap(), 2);
    let v = engine.version().await.unwrap();
    assert_eq!((v.versions.oldest, v.versions.newest), (ApiVersion::new(1, 44), ApiVersion::new(1, 52)));
    assert_eq!(
        (v.info.api, v.info.engine_api, v.versions.version.as_str()),
        (ApiVersion::new(1, 52), ApiVersion::new(1, 52), "29.0.0")
    );
    let s = run(&engine, spec("fake:latest").keep(true).label("t", "gc").build().unwrap()).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(fake.containers(), 1, "kept");
    let listed = engine.containers_labelled(&["t=gc"]).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(engine.containers_labelled(&["t=other"]).await.unwrap().is_empty());
    assert_eq!(engine.gc(Duration::ZERO, false).await.unwrap().removed, [listed[0].id.clone()]);
    assert_eq!(fake.containers(), 0);
    let paths = paths(&fake);
    assert!(paths.contains(&"/v1.52/info".to_string()) && paths.contains(&"/version".to_string()), "{paths:#?}");
    assert!(paths.iter().any(|p| p.starts_with("/v1.52/containers/json?all=1&filters=")), "{paths:#?}");
    assert!(
        paths.iter().all(|p| ["/_ping", "/version"].contains(&p.as_str()) || p.starts_with("/v1.52/")),
        "{paths:#?}"
    );
}

async fn pinned(version: ApiVersion) -> (FakeDocker29, Engine) {
    let fake = FakeDocker29::start().await;
    let engine = cstream_engine::engine(&fake.endpoint(), Remote::Refuse).unwrap().with_api_version(version);
    (fake, engine)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_version_docker_29_refuses_is_reported_once() {
    let (fake, engine) = pinned(ApiVersion::new(1, 41)).await;
    let s = run(&engine, spec("fake:latest").build().unwrap()).await;
    let [Error::Run(cstream_engine::core::Error::Version(e))] = s.errors.as_slice() else {
        panic!("one version error: {:?}", s.errors)
    };
    let want = VersionError::Refused {
        used: ApiVersion::new(1, 41),
        engine_oldest: ApiVersion::new(1, 44),
        engine_newest: ApiVersion::new(1, 52),
    };
    assert_eq!(e, &want);
    assert_eq!(
        e.to_string(),
        "the engine refuses API version 1.41: it speaks 1.44 to 1.52, and cstream speaks 1.30 to 1.52"
    );
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "no retries: {requests:#?}");
    assert_eq!(requests[0], "GET /_ping");
    assert!(requests[1].starts_with("POST /v1.41/containers/create"), "{requests:#?}");
    assert_eq!(requests[2], "GET /version");
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_version_cstream_does_not_speak_is_refused_before_create() {
    let (fake, engine) = pinned(ApiVersion::new(1, 53)).await;
    let s = run(&engine, spec("fake:latest").build().unwrap()).await;
    let [Error::Run(cstream_engine::core::Error::Version(e))] = s.errors.as_slice() else {
        panic!("one version error: {:?}", s.errors)
    };
    assert_eq!(e, &VersionError::PinnedUnsupported { pinned: ApiVersion::new(1, 53) });
    assert!(!fake.requests().iter().any(|r| r.contains("/containers/")), "{:#?}", fake.requests());
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_version_docker_29_speaks_is_used_throughout() {
    let (fake, engine) = pinned(ApiVersion::new(1, 44)).await;
    fake.set_script(Script::new("at 1.44\n", "", 0));
    let s = run(&engine, spec("fake:latest").build().unwrap()).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.stdout, b"at 1.44\n");
    assert_eq!(s.end().exit_code, Some(0));
    all_spoke(&fake, "1.44");
    assert!(fake.requests().iter().any(|r| r.starts_with("POST /v1.44/containers/create")));
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_reaches_the_process() {
    let (fake, engine) = connected().await;
    fake.set_script(Script { echo_stdin: true, exit_code: 7, ..Script::default() });
    let s = run_with(&engine, spec("fake:latest").stdin(true).build().unwrap(), |e, handle| {
        if matches!(e.kind, EventKind::ProcessStart { .. }) {
            tokio::spawn(async move {
                handle.write_stdin(&b"to stdin\n"[..]).await.unwrap();
                handle.close_stdin().await.unwrap();
            });
        }
    })
    .await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!((s.stdout.as_slice(), s.end().exit_code), (&b"to stdin\n"[..], Some(7)));
    assert_eq!(fake.create_bodies()[0]["OpenStdin"], true);
    all_spoke(&fake, "1.52");
    assert_eq!(fake.containers(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ping_and_one_info_serve_every_run_on_an_engine() {
    let fake = FakeDocker29::start().await;
    let engine = cstream_engine::engine(&fake.endpoint(), Remote::Refuse).unwrap();
    for _ in 0..3 {
        let s = run(&engine, spec("fake:latest").cpu_millis(1500).build().unwrap()).await;
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        assert_eq!(s.end().exit_code, Some(0));
    }
    // The host's 2 CPUs are known by now: a limit above them is refused without asking again.
    let s = run(&engine, spec("fake:latest").cpu_millis(3000).build().unwrap()).await;
    let refused = s.errors.iter().map(ToString::to_string).collect::<Vec<_>>();
    assert!(refused.iter().any(|e| e.contains("3 CPUs, on a host with 2")), "{refused:?}");
    let count = |p: &str| paths(&fake).iter().filter(|q| q.ends_with(p)).count();
    assert_eq!((count("/_ping"), count("/info")), (1, 1), "{:#?}", fake.requests());
    assert_eq!(fake.containers(), 0);
}
