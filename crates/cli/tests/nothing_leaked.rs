//! Issue 16, "Nothing leaked": a closed terminal (SIGHUP) stops the run like
//! Ctrl-C; `-i` never keeps a finished run waiting on stdin. Needs scripts/engines.sh's engines and image.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "cstream-test:latest";
const ENGINES: [&str; 3] =
    ["unix:///var/run/docker.sock", "unix:///run/cstream-docker-current.sock", "unix:///run/podman/podman.sock"];

fn label(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("cstream.test={what}-{}-{nanos}", std::process::id())
}

/// How many containers carry `label` on `engine`; removes them, so that a
/// failing test leaves nothing behind either.
fn left_behind(engine: &str, label: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let e = cstream_engine::connect(engine, cstream_engine::Remote::Refuse)
            .await
            .unwrap_or_else(|e| panic!("{engine} unreachable ({e}); run scripts/engines.sh"));
        let left = e.containers_labelled(&[label]).await.unwrap();
        for c in &left {
            let _ = e.remove_container(&c.id).await;
        }
        left.len()
    })
}

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
