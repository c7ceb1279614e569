//! Parsers of the engines' answers, and serialization of events.

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::answers::{
    Created, Exited, Inspected, Listed, PullLine, Versions, error_message, start_failure_exit_code,
};
use cstream_proto_core::api::version::{BadVersion, VersionError};
use cstream_proto_core::api::{ApiVersion, EngineInfo, EngineKind, requests};
use cstream_proto_core::event::PullProgress;
use cstream_proto_core::{EndReason, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};

#[test]
fn error_bodies_of_both_engines() {
    assert_eq!(error_message(br#"{"message":"No such image: nope:latest"}"#), "No such image: nope:latest");
    assert_eq!(
        error_message(br#"{"cause":"image not known","message":"nope: image not known","response":404}"#),
        "nope: image not known"
    );
    assert_eq!(error_message(br#"{"cause":"only a cause","response":500}"#), "only a cause");
    assert_eq!(error_message(b"plain text\n"), "plain text");
    assert_eq!(error_message(b"\xff\xfe"), "\u{fffd}\u{fffd}");
    let long = vec![b'x'; 10_000];
    assert!(error_message(&long).chars().count() <= 4097);
}

#[test]
fn ping_headers_tell_docker_from_podman() {
    let docker =
        EngineInfo::from_ping_headers([("Api-Version", "1.41"), ("Server", "Docker/20.10.24+dfsg1 (linux)")], None)
            .unwrap();
    assert_eq!((docker.kind, docker.api), (EngineKind::Docker, ApiVersion::new(1, 41)));
    let podman =
        EngineInfo::from_ping_headers([("api-version", "1.41"), ("Libpod-Api-Version", "4.3.1")], None).unwrap();
    assert_eq!(podman.kind, EngineKind::Podman);
    assert!(EngineInfo::from_ping_headers([("\u{c4}", "x"), ("Api-Version", "1.41")], None).is_ok());
}

#[test]
fn the_version_spoken_is_the_lower_of_both_newest() {
    let speak = |engine: &str| EngineInfo::from_ping_headers([("API-VERSION", engine)], None).map(|i| i.api);
    assert_eq!(speak("1.41"), Ok(ApiVersion::new(1, 41)));
    assert_eq!(speak("1.45"), Ok(ApiVersion::new(1, 45)));
    assert_eq!(speak("1.52"), Ok(ApiVersion::NEWEST));
    assert_eq!(speak("1.60"), Ok(ApiVersion::NEWEST));
    assert_eq!(speak("2.0"), Ok(ApiVersion::NEWEST));
    assert_eq!(speak("1.30"), Ok(ApiVersion::OLDEST));
    let too_old = speak("1.29").unwrap_err();
    assert_eq!(too_old, VersionError::EngineTooOld { engine_newest: ApiVersion::new(1, 29) });
    assert_eq!(
        too_old.to_string(),
        "the engine speaks API versions up to 1.29, and cstream speaks 1.30 to 1.52: upgrade the engine"
    );
}

#[test]
fn a_missing_or_malformed_api_version_is_a_clear_error() {
    let e = EngineInfo::from_ping_headers([("Server", "nginx")], None).unwrap_err();
    assert_eq!(e, VersionError::Missing);
    assert!(e.to_string().contains("no Api-Version header"), "{e}");
    for bad in ["", "1.x", "99999.1", "1", "one.two", "1.41.0", "+1.41", "1.-1", " 1.41", "1.41 "] {
        let e = EngineInfo::from_ping_headers([("Api-Version", bad)], None).unwrap_err();
        assert_eq!(e, VersionError::Unreadable(BadVersion(bad.into())), "{bad:?}");
        assert!(e.to_string().contains("is not an API version such as 1.45"), "{e}");
    }
}

#[test]
fn a_pinned_version_is_spoken_as_it_is_when_both_sides_speak_it() {
    let pin = |engine: &str, pinned: ApiVersion| {
        EngineInfo::from_ping_headers([("Api-Version", engine)], Some(pinned)).map(|i| i.api)
    };
    let v = ApiVersion::new;
    assert_eq!(pin("1.52", v(1, 44)), Ok(v(1, 44)));
    assert_eq!(pin("1.41", v(1, 41)), Ok(v(1, 41)));
    assert_eq!(pin("1.41", v(1, 30)), Ok(v(1, 30)));
    let e = pin("1.41", v(1, 45)).unwrap_err();
    assert_eq!(e, VersionError::PinnedTooNew { pinned: v(1, 45), engine_newest: v(1, 41) });
    assert_eq!(
        e.to_string(),
        "API version 1.45 was asked for (DOCKER_API_VERSION), but the engine speaks versions up to 1.41"
    );
    for unsupported in [v(1, 29), v(1, 53)] {
        let e = pin("1.60", unsupported).unwrap_err();
        assert_eq!(e, VersionError::PinnedUnsupported { pinned: unsupported });
        assert!(e.to_string().ends_with("but cstream speaks 1.30 to 1.52"), "{e}");
    }
}

#[test]
fn an_engines_range_is_read_from_get_version() {
    let docker29 = br#"{"Version":"29.0.0","ApiVersion":"1.52","MinAPIVersion":"1.44","Os":"linux","Arch":"amd64"}"#;
    let v = Versions::parse(docker29).unwrap();
    assert_eq!((v.version.as_str(), v.oldest, v.newest), ("29.0.0", ApiVersion::new(1, 44), ApiVersion::new(1, 52)));
    assert_eq!(v.platform, "linux/amd64");
    assert!(v.speaks(ApiVersion::new(1, 44)) && v.speaks(ApiVersion::NEWEST));
    assert!(!v.speaks(ApiVersion::new(1, 41)) && !v.speaks(ApiVersion::new(1, 53)));
    assert!(Versions::parse(br#"{"Version":"29.0.0","ApiVersion":"1.52"}"#).is_err());
    assert!(Versions::parse(br#"{"ApiVersion":"1.x","MinAPIVersion":"1.44"}"#).is_err());
    assert!(Versions::parse(b"not json").is_err());
    let refused = VersionError::Refused {
        used: ApiVersion::new(1, 52),
        engine_oldest: ApiVersion::new(1, 55),
        engine_newest: ApiVersion::new(1, 60),
    };
    assert_eq!(
        refused.to_string(),
        "the engine refuses API version 1.52: it speaks 1.55 to 1.60, and cstream speaks 1.30 to 1.52: upgrade cstream"
    );
}

#[test]
fn answers() {
    assert_eq!(Created::parse(br#"{"Id":"abc","Warnings":null}"#).unwrap().id, "abc");
    assert_eq!(Created::parse(br#"{"Id":"abc","Warnings":["w"]}"#).unwrap().warnings, ["w"]);
    assert!(Created::parse(br#"{"Id":"a/b"}"#).is_err());
    assert_eq!(Exited::parse(br#"{"StatusCode":42,"Error":null}"#).unwrap(), Exited { status_code: 42, error: None });
    assert_eq!(
        Exited::parse(br#"{"StatusCode":0,"Error":{"Message":"boom"}}"#).unwrap().error.as_deref(),
        Some("boom")
    );
    assert_eq!(Exited::parse(br#"{"StatusCode":0,"Error":{"Message":""}}"#).unwrap().error, None);
    assert!(Exited::parse(b"{}").is_err());
    let i = Inspected::parse(br#"{"Id":"x","State":{"Status":"exited","OOMKilled":true,"ExitCode":137}}"#).unwrap();
    assert_eq!((i.oom_killed, i.exit_code, i.status.as_deref()), (true, Some(137), Some("exited")));
    let l =
        Listed::parse_list(br#"[{"Id":"a","Labels":{"io.cstream.run":"r"},"Created":5,"State":"exited"}]"#).unwrap();
    assert_eq!(l[0].labels.as_ref().unwrap()["io.cstream.run"], "r");
}

#[test]
fn pull_lines() {
    assert_eq!(
        PullLine::parse(br#"{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"l1"}"#).unwrap(),
        PullLine::Status { id: "l1".into(), status: "Downloading".into(), current: Some(5), total: Some(10) }
    );
    assert_eq!(PullLine::parse(br#"{"status":"Digest: sha256:ab"}"#).unwrap(), PullLine::Digest("sha256:ab".into()));
    assert_eq!(
        PullLine::parse(br#"{"error":"x","errorDetail":{"message":"denied"}}"#).unwrap(),
        PullLine::Error("denied".into())
    );
    assert_eq!(PullLine::parse(br#"{"error":"only error"}"#).unwrap(), PullLine::Error("only error".into()));
    assert!(PullLine::parse(b"nope").is_err());
}

#[test]
fn start_failure_codes() {
    assert_eq!(start_failure_exit_code("exec: \"x\": executable file not found in $PATH"), Some(127));
    assert_eq!(start_failure_exit_code("stat /x: no such file or directory"), Some(127));
    assert_eq!(start_failure_exit_code("exec /etc: permission denied"), Some(126));
    assert_eq!(start_failure_exit_code("cgroup busy"), None);
}

#[test]
fn request_paths() {
    let v = ApiVersion::new(1, 41);
    assert_eq!(requests::ping().path, "/_ping");
    assert_eq!(requests::kill(v, "c1", "SIGTERM").path, "/v1.41/containers/c1/kill?signal=SIGTERM");
    assert_eq!(requests::stop(v, "c1", 10).path, "/v1.41/containers/c1/stop?t=10");
    assert_eq!(requests::resize(v, "c1", TtySize { cols: 80, rows: 24 }).path, "/v1.41/containers/c1/resize?h=24&w=80");
    assert_eq!(requests::version().path, "/version");
    assert_eq!(requests::info(v).path, "/v1.41/info");
    assert_eq!(
        requests::list_labelled(v, &["io.cstream.run"]).path,
        "/v1.41/containers/json?all=1&filters=%7B%22label%22%3A%5B%22io.cstream.run%22%5D%7D"
    );
    let a = requests::attach(v, "c1", false);
    assert_eq!((a.header("connection"), a.header("upgrade")), (Some("Upgrade"), Some("tcp")));
    assert_eq!(requests::encode_query("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
}

fn all_events() -> Vec<Event> {
    let at = Duration::from_millis(1500);
    [
        EventKind::ImagePullStart { image: "alpine:latest".into() },
        EventKind::ImagePullProgress(PullProgress {
            image: "alpine:latest".into(),
            layer: "l1".into(),
            status: "Downloading".into(),
            current: Some(1),
            total: Some(2),
            aggregate_current: 1,
            aggregate_total: 2,
        }),
        EventKind::ImagePullComplete { image: "alpine:latest".into(), digest: Some("sha256:ab".into()), duration: at },
        EventKind::ContainerCreate { id: "c".into(), image: "alpine:latest".into() },
        EventKind::ProcessStart {
            command: "sh".into(),
            args: vec!["-c".into()],
            process: ProcessId::Container("c".into()),
        },
        EventKind::ProcessStart { command: "ls".into(), args: vec![], process: ProcessId::Pid(42) },
        EventKind::Output { stream: Stream::Stdout, data: Bytes::from_static(b"\xffbinary\0") },
        EventKind::Output { stream: Stream::Tty, data: Bytes::from_static(b"hi\r\n") },
        EventKind::Heartbeat { elapsed: at },
        EventKind::TerminalResize { size: TtySize { cols: 80, rows: 24 } },
        EventKind::ProcessEnd(ProcessEnd::from_exit_code(137, true, at, EndReason::Cancelled)),
        EventKind::ContainerRemove { id: "c".into() },
    ]
    .into_iter()
    .map(|kind| Event { at, kind })
    .collect()
}

#[test]
fn events_round_trip_through_postcard_and_json() {
    for e in all_events() {
        let p = postcard::to_allocvec(&e).unwrap();
        assert_eq!(postcard::from_bytes::<Event>(&p).unwrap(), e);
        let j = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Event>(&j).unwrap(), e, "{j}");
    }
}
