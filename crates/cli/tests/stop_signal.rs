//! `--stop-signal`: one parser for container and local runs. A name that is
//! not a signal is one line and 125 on both paths before anything runs; a
//! good one reaches the process on a timeout, locally and on each engine.

mod common;

use std::process::{Command, Output, Stdio};

use common::*;

fn cstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn a_name_that_is_no_signal_is_one_line_and_125_on_both_paths() {
    let want = "cstream: invalid --stop-signal: unknown signal \"SIGNOPE\": expected a name such as SIGTERM or TERM, \
                or a number from 1 to 64\n";
    let nothing = "unix:///tmp/cstream-nothing.sock";
    let cases: [&[&str]; 3] = [
        &["run", "--stop-signal", "SIGNOPE", "--local", "--", "echo", "ran"],
        &["run", "--stop-signal", "SIGNOPE", "--engine", nothing, IMAGE, "echo", "ran"],
        &["run", "--stop-signal", "SIGNOPE", "--engine", ENGINES[0], "--pull", "never", IMAGE, "echo", "ran"],
    ];
    for args in cases {
        let out = cstream(args);
        assert_eq!(String::from_utf8_lossy(&out.stderr), want, "{args:?}");
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        assert_eq!(out.stdout, b"", "{args:?}: nothing ran");
    }
}

#[test]
fn the_stop_signal_reaches_the_process_locally_and_in_containers() {
    let script = "trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.1; done";
    let base = ["run", "--stop-signal", "usr1", "--timeout", "2s"];
    let local = [&base[..], &["--local", "--", "sh", "-c", script]].concat();
    let out = cstream(&local);
    assert_eq!((out.stdout.as_slice(), out.status.code()), (&b"ready\ngot USR1\n"[..], Some(3)), "local");
    for engine in ENGINES {
        let l = label("stop-signal");
        let args =
            [&base[..], &["--engine", engine, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", script]].concat();
        let out = cstream(&args);
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ready\ngot USR1\n", "{engine}");
        assert_eq!(out.status.code(), Some(3), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
    }
}
