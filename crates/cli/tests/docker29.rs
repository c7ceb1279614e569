//! The built `cstream` binary against an engine that answers as Docker 29
//! does (API 1.44 to 1.52): runs, pulls, TTY, JSON, `engines`, and a pinned
//! `DOCKER_API_VERSION` the engine refuses, reported in one line.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cstream_fake_engine::{FakeDocker29, Script};
use serde_json::Value;

/// Runs cstream with `args` and `env` (and no DOCKER_API_VERSION of ours), for at most 30 s.
fn cstream(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cstream"));
    c.args(args).env_remove("DOCKER_API_VERSION").envs(env.iter().copied());
    let child = c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            panic!("cstream {args:?} did not end within 30 s");
        }
    }
}

fn run(fake: &FakeDocker29, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let endpoint = fake.endpoint();
    let mut args = vec!["run", "--engine", &endpoint];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["sh", "-c", "scripted"]);
    cstream(env, &args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Every request was the ping, `GET /version`, or spoke 1.52.
fn all_spoke_1_52(fake: &FakeDocker29) {
    let requests = fake.requests();
    let fine = |r: &String| ["GET /_ping", "GET /version"].contains(&r.as_str()) || r.contains(" /v1.52/");
    assert!(requests.iter().all(fine), "{requests:#?}");
}

#[test]
fn a_run_prints_the_process_s_bytes_and_exits_with_its_code() {
    let fake = FakeDocker29::spawn_in_thread();
    fake.set_script(Script::new(b"a\0b\xff".to_vec(), "to stderr", 42));
    let out = run(&fake, &[], &["--pull", "never", "fake:latest"]);
    assert_eq!(
        (out.stdout.as_slice(), out.stderr.as_slice()),
        (&b"a\0b\xff"[..], &b"to stderr"[..]),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(42));
    all_spoke_1_52(&fake);
    assert_eq!(fake.containers(), 0);
}

#[test]
fn pull_always_pulls_then_runs() {
    let fake = FakeDocker29::spawn_in_thread();
    fake.set_script(Script::new("pulled and ran\n", "", 0));
    let out = run(&fake, &[], &["--pull", "always", "alpine:3.20"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"pulled and ran\n");
    assert!(fake.requests().contains(&"POST /v1.52/images/create?fromImage=alpine&tag=3.20".to_string()));
    all_spoke_1_52(&fake);
    assert_eq!(fake.containers(), 0);
}

#[test]
fn a_tty_run_passes_the_terminal_s_bytes_through() {
    let fake = FakeDocker29::spawn_in_thread();
    fake.set_script(Script::new("one\ntwo\n", "", 5));
    let out = run(&fake, &[], &["-t", "--pull", "never", "fake:latest"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"one\r\ntwo\r\n");
    assert_eq!(fake.create_bodies()[0]["Tty"], true);
    all_spoke_1_52(&fake);
    assert_eq!(fake.containers(), 0);
}

#[test]
fn json_events_parse() {
    let fake = FakeDocker29::spawn_in_thread();
    fake.set_script(Script::new("text\n", "err\n", 3));
    let out = run(&fake, &[], &["--json", "--pull", "never", "fake:latest"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).filter(|t| *t != "output").collect();
    assert_eq!(types, ["container_create", "process_start", "process_end", "container_remove"]);
    let output: Vec<(&str, &str)> = lines
        .iter()
        .filter(|v| v["type"] == "output")
        .map(|v| (v["stream"].as_str().unwrap(), v["data"].as_str().unwrap()))
        .collect();
    assert_eq!(output, [("stdout", "text\n"), ("stderr", "err\n")]);
    let end = lines.iter().find(|v| v["type"] == "process_end").unwrap();
    assert_eq!((end["exit_code"].as_i64(), end["reason"].as_str()), (Some(3), Some("exited")));
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
}

#[test]
fn engines_shows_docker_29_and_its_api_range() {
    let fake = FakeDocker29::spawn_in_thread();
    let out = cstream(&[], &["engines", "--engine", &fake.endpoint()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with(&format!("{}\tdocker 29.0.0\t", fake.endpoint())), "{line}");
    assert!(line.contains("\tAPI 1.44-1.52\t") && line.contains("\tspeaks 1.52\t"), "{line}");
    assert_eq!(line.trim_end().rsplit('\t').next(), Some("linux/amd64"));
}

#[test]
fn engines_says_when_a_pinned_version_is_refused() {
    let fake = FakeDocker29::spawn_in_thread();
    let out = cstream(&[("DOCKER_API_VERSION", "1.41")], &["engines", "--engine", &fake.endpoint()]);
    assert_eq!(out.status.code(), Some(1), "no usable engine");
    let line = text(&out.stdout);
    assert!(line.contains("\tAPI 1.44-1.52\trefuses 1.41\t"), "{line}");
    let err = text(&out.stderr);
    assert!(err.contains("the engine refuses API version 1.41: it speaks 1.44 to 1.52"), "{err}");
}

#[test]
fn a_pinned_version_docker_29_refuses_is_one_line_and_125() {
    let fake = FakeDocker29::spawn_in_thread();
    let out = run(&fake, &[("DOCKER_API_VERSION", "1.41")], &["--pull", "never", "fake:latest"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("cstream: ") && err.contains("1.41") && err.contains("1.44"), "{err}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "ping, create, version; no retries: {requests:#?}");
    assert_eq!(fake.containers(), 0);
}

#[test]
fn a_docker_api_version_that_is_not_a_version_is_one_line_and_125() {
    let fake = FakeDocker29::spawn_in_thread();
    let out = run(&fake, &[("DOCKER_API_VERSION", "1.x")], &["--pull", "never", "fake:latest"]);
    assert_eq!(out.status.code(), Some(125));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("cstream: DOCKER_API_VERSION"), "{err}");
    assert!(fake.requests().is_empty(), "nothing is sent: {:#?}", fake.requests());
}
