//! Nothing leaked, nothing lost: a closed terminal (SIGHUP) stops the run like
//! Ctrl-C; `-i` never keeps a finished run waiting on stdin; lost output or a
//! doubtful outcome never exits 0. Needs scripts/engines.sh's engines and image.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cstream_fake_engine::{FakeDocker29, Script};
use serde_json::Value;

use common::*;

/// Reads the rest of a pipe on a thread of its own.
fn collect(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = from.read_to_string(&mut s);
        s
    })
}

/// Waits for `child` at most `limit`; kills it (and fails) after that.
fn wait_with_limit(child: &mut Child, limit: Duration) -> ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("cstream did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn send(child: &Child, signal: &str) {
    assert!(Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn sighup_stops_the_process_and_removes_the_container() {
    for engine in ENGINES {
        let l = label("sighup");
        let script = "trap \"echo bye; exit 7\" TERM; echo ready; while true; do sleep 0.05; done";
        let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "--engine", engine, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "{engine}");
        let (rest, stderr) = (collect(stdout), collect(child.stderr.take().unwrap()));
        let sent = Instant::now();
        send(&child, "HUP");
        let status = wait_with_limit(&mut child, Duration::from_secs(10));
        let took = sent.elapsed();
        let left = left_behind(engine, &l);
        let (rest, stderr) = (rest.join().unwrap(), stderr.join().unwrap());
        eprintln!(
            "{engine}: SIGHUP to exit in {took:?}: {status}, after ready {rest:?}, stderr {stderr:?}, left {left}"
        );
        assert_eq!(status.code(), Some(7), "{engine}: the process's own exit code, by its trap ({status})");
        assert_eq!(rest, "bye\n", "{engine}: the process got the stop signal, and its output is delivered");
        assert_eq!(left, 0, "{engine}: a container was left behind");
    }
}

#[test]
fn dash_i_ends_at_once_though_stdin_stays_open() {
    for engine in ENGINES {
        let l = label("stdin-open");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "-i", "--engine", engine, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", "echo done"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Kept open, never written to, until cstream has ended.
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let printed = Instant::now();
        let status = wait_with_limit(&mut child, Duration::from_secs(30));
        let (after_output, total) = (printed.elapsed(), started.elapsed());
        drop(stdin);
        let left = left_behind(engine, &l);
        eprintln!("{engine}: ended {after_output:?} after its output, {total:?} in all");
        assert_eq!((line.as_str(), status.code()), ("done\n", Some(0)), "{engine}");
        assert!(after_output < Duration::from_secs(3), "{engine}: waited {after_output:?} for stdin after the run");
        assert_eq!(left, 0, "{engine}: a container was left behind");
    }
}

/// Runs cstream against `fake` with its script, for at most 30 s.
fn run_fake(fake: &FakeDocker29, extra: &[&str]) -> std::process::Output {
    let endpoint = fake.endpoint();
    let mut args = vec!["run", "--engine", &endpoint, "--pull", "never"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["fake:latest", "sh", "-c", "scripted"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(&args)
        .env_remove("DOCKER_API_VERSION")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (stdout, stderr) = (collect(child.stdout.take().unwrap()), collect(child.stderr.take().unwrap()));
    let status = wait_with_limit(&mut child, Duration::from_secs(30));
    let (stdout, stderr) = (stdout.join().unwrap().into_bytes(), stderr.join().unwrap().into_bytes());
    std::process::Output { status, stdout, stderr }
}

#[test]
fn lost_output_never_exits_0() {
    // A frame on stream 9, which no engine sends: the process goes on and
    // exits 0. A frame cut short by the end of the stream: the run ends there,
    // with the outcome unknown (and no process_end, as the core has it now).
    let bad: [(&[u8], &str, bool); 2] = [
        (b"\x09\0\0\0\0\0\0\x03xyz", "unknown stream 9", true),
        (b"\x01\0\0\0\0\0\0\x10cut", "output stream cut", false),
    ];
    for (raw, why, ends) in bad {
        let fake = FakeDocker29::spawn_in_thread();
        fake.set_script(Script { stdout: b"before\n".to_vec(), raw: raw.to_vec(), ..Script::default() });
        let out = run_fake(&fake, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        eprintln!("{why}: {} {stderr:?}", out.status);
        assert_eq!(out.stdout, b"before\n", "{why}");
        assert_eq!(stderr.lines().count(), 1, "{why}: one line: {stderr}");
        assert!(stderr.starts_with("cstream: reading the container's output: ") && stderr.contains(why), "{stderr}");
        assert_eq!(out.status.code(), Some(125), "{why}: the process exited 0, but output was lost");
        assert_eq!(fake.containers(), 0, "{why}");

        let out = run_fake(&fake, &["--json"]);
        assert_eq!(out.status.code(), Some(125), "{why}: --json");
        let lines: Vec<Value> =
            String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let errors: Vec<&Value> = lines.iter().filter(|v| v["type"] == "error").collect();
        assert_eq!(errors.len(), 1, "{why}: {lines:?}");
        assert!(errors[0]["message"].as_str().unwrap().contains(why), "{why}: {lines:?}");
        let end = lines.iter().find(|v| v["type"] == "process_end");
        assert!(end.is_some() || !ends, "{why}: no process_end: {lines:?}");
        if let Some(end) = end {
            assert_eq!(end["exit_code"].as_i64(), Some(0), "{why}: the process's own exit code, in its event");
        }
        assert_eq!(fake.containers(), 0, "{why}");
    }
}

#[test]
fn run_help_tells_the_exit_status_and_the_stopping_signals() {
    let out = Command::new(env!("CARGO_BIN_EXE_cstream")).args(["run", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Exit status:") && help.contains("125  cstream or the engine failed"), "{help}");
    assert!(help.contains("Ctrl-C, SIGTERM or SIGHUP"), "{help}");
}
