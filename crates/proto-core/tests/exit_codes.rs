//! The exit code is the engine's, checked: a wait answer that cannot be right
//! (a negative code, an answer while the container still runs, an error in
//! its body) is checked against inspect, and an exit the engine cannot tell
//! is reported as unknown, never made up.

mod support;

use cstream_proto_core::{Error, Phase, RunSpec};
use support::*;

fn exit_21() -> RunSpec {
    RunSpec::builder("cstream-test:latest").command(["sh", "-c", "exit 21"]).heartbeat(None).build().unwrap()
}

fn process() -> Process {
    Process { exit_code: 21, ..Process::default() }
}

fn inspect_body(status: &str, code: i64) -> Vec<u8> {
    format!(r#"{{"State":{{"Status":"{status}","Running":false,"OOMKilled":false,"ExitCode":{code}}}}}"#).into_bytes()
}

#[test]
fn a_negative_wait_code_gives_way_to_inspect() {
    // Podman 4.3's compat wait answered -1 for `exit 21` once in 500 soak runs.
    for flavor in [Flavor::Docker, Flavor::Podman] {
        for split in SPLITS {
            let (t, e) = run(&exit_21(), flavor, split, |e| {
                e.process(process()).reply(Purpose::Wait, [Reply::Status(200, br#"{"StatusCode":-1}"#.to_vec())])
            });
            assert!(t.errors.is_empty(), "{:?}", t.errors);
            assert_eq!(t.process_end().unwrap().exit_code, Some(21));
            assert_cleaned_up(&t, &e);
        }
    }
}

#[test]
fn a_wait_that_answered_before_the_exit_gives_way_to_inspect() {
    let (t, e) = run(&exit_21(), Flavor::Podman, Split::Whole, |e| {
        e.process(process()).reply(Purpose::Wait, [Reply::Status(200, br#"{"StatusCode":0,"Error":null}"#.to_vec())])
    });
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.process_end().unwrap().exit_code, Some(21));
    assert_cleaned_up(&t, &e);
}

#[test]
fn a_container_still_running_after_the_wait_is_waited_for_again() {
    let (t, e) = run(&exit_21(), Flavor::Podman, Split::Bytewise, |e| {
        e.process(process()).reply(Purpose::Inspect, [Reply::Status(200, inspect_body("running", 0))])
    });
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.process_end().unwrap().exit_code, Some(21));
    assert!(e.requests.iter().any(|r| r.contains("/wait?condition=not-running")), "{:?}", e.requests);
    assert_eq!(ops(&e).iter().filter(|o| **o == Purpose::Inspect).count(), 2);
    assert_cleaned_up(&t, &e);
}

#[test]
fn an_exit_the_engine_cannot_tell_is_unknown_never_made_up() {
    let cases: [(&str, Vec<Reply>, Vec<Reply>); 3] = [
        (
            "negative wait, no inspect",
            vec![Reply::Status(200, br#"{"StatusCode":-1}"#.to_vec())],
            vec![Reply::EngineError(500, "boom")],
        ),
        (
            "negative wait, inspect with no code",
            vec![Reply::Status(200, br#"{"StatusCode":-1}"#.to_vec())],
            vec![Reply::Status(200, br#"{"State":{"Status":"exited"}}"#.to_vec())],
        ),
        ("still running, again and again", vec![], vec![Reply::Status(200, inspect_body("running", 0)); 3]),
    ];
    for (what, wait, inspect) in cases {
        let (t, e) = run(&exit_21(), Flavor::Docker, Split::Whole, |e| {
            e.process(process()).reply(Purpose::Wait, wait).reply(Purpose::Inspect, inspect)
        });
        let end = t.process_end().unwrap_or_else(|| panic!("{what}: no ProcessEnd"));
        assert_eq!(end.exit_code, None, "{what}: {end:?}");
        assert!(
            t.errors.iter().any(|e| matches!(e, Error::ExitUnknown { .. }) && e.phase() == Some(Phase::Wait)),
            "{what}: {:?}",
            t.errors
        );
        assert_cleaned_up(&t, &e);
    }
}

#[test]
fn an_error_in_the_wait_answer_makes_its_code_doubtful() {
    let body = br#"{"StatusCode":0,"Error":{"Message":"unexpected end of JSON input"}}"#;
    let wait = || Reply::Status(200, body.to_vec());
    // Inspect knows: its code, and nothing doubtful left to report.
    let (t, e) = run(&exit_21(), Flavor::Podman, Split::Whole, |e| e.process(process()).reply(Purpose::Wait, [wait()]));
    assert!(t.errors.is_empty(), "{:?}", t.errors);
    assert_eq!(t.process_end().unwrap().exit_code, Some(21), "inspect's code, not the doubtful 0");
    assert_cleaned_up(&t, &e);
    // Inspect cannot say: unknown, with the engine's message.
    let (t, e) = run(&exit_21(), Flavor::Podman, Split::Whole, |e| {
        e.process(process()).reply(Purpose::Wait, [wait()]).reply(Purpose::Inspect, [Reply::EngineError(500, "boom")])
    });
    assert_eq!(t.process_end().unwrap().exit_code, None);
    assert!(
        matches!(&t.errors[..], [Error::ExitUnknown { detail }] if detail.contains("unexpected end of JSON input")),
        "{:?}",
        t.errors
    );
    assert_cleaned_up(&t, &e);
}
