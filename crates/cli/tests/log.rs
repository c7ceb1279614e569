//! `CSTREAM_LOG`: the library's log on stderr when set, and nothing of
//! cstream's own on stderr when not. Needs scripts/engines.sh's engines.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

fn run(engine: &str, log: Option<&str>) -> Output {
    let l = label("log");
    let mut c = Command::new(env!("CARGO_BIN_EXE_cstream"));
    c.args(["run", "--engine", engine, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", "echo out; echo err >&2"]);
    match log {
        Some(filter) => c.env("CSTREAM_LOG", filter),
        None => c.env_remove("CSTREAM_LOG"),
    };
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
    out
}

#[test]
fn cstream_log_shows_the_library_s_log_on_stderr() {
    for engine in ENGINES {
        let out = run(engine, Some("debug"));
        assert_eq!(out.status.code(), Some(0), "{engine}");
        assert_eq!(out.stdout, b"out\n", "{engine}: stdout is the process's own");
        let err = String::from_utf8(out.stderr).unwrap();
        let (log, own): (Vec<&str>, Vec<&str>) = err.lines().partition(|l| l.contains(" DEBUG cstream_driver_hyper"));
        assert_eq!(own, ["err"], "{engine}: every other line is the process's: {err}");
        assert!(log.iter().any(|l| l.ends_with("/containers/create -> 201")), "{engine}: {err}");
        assert!(log.iter().any(|l| l.contains("/start -> 204")), "{engine}: {err}");

        // A filter narrower than the library's lines shows none of them.
        let out = run(engine, Some("cstream_driver_hyper=info"));
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]), "{engine}");
    }
}

#[test]
fn without_cstream_log_stderr_is_the_process_s_own() {
    for engine in ENGINES {
        for log in [None, Some("")] {
            let out = run(engine, log);
            assert_eq!(out.status.code(), Some(0), "{engine}");
            assert_eq!(
                (out.stdout.as_slice(), out.stderr.as_slice()),
                (&b"out\n"[..], &b"err\n"[..]),
                "{engine} {log:?}"
            );
        }
    }
}

#[test]
fn a_bad_cstream_log_is_one_line_and_125() {
    let out = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(["run", "--local", "--", "echo", "ran"])
        .env("CSTREAM_LOG", "cstream=loud")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(out.stdout, b"", "nothing ran");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("cstream: invalid CSTREAM_LOG \"cstream=loud\": "), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
