//! The local-process driver. The first tests run the same assertions on a
//! local process and in containers on Docker and Podman (one constructor
//! apart); the rest are about local processes: environment, signals to the
//! group, grandchildren, prompt output, a pseudo-terminal, stdin, zombies.

#[path = "../../engine/tests/common/behaviour.rs"]
mod behaviour;
#[path = "../../engine/tests/common/events.rs"]
mod events;

use std::time::Duration;

use behaviour::{Case, Clock};
use cstream_driver_hyper::{EndReason, Error, Event, EventKind, ProcessEnd, Run, RunSpec, Stream};
use cstream_local::{EnvMode, LocalProcess};
use events::exit_code;
use futures_util::StreamExt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Local,
    Docker,
    DockerCurrent,
    Podman,
}

const DRIVERS: [Driver; 4] = [Driver::Local, Driver::Docker, Driver::DockerCurrent, Driver::Podman];

/// The same command, as a local process or in the test image.
async fn start(driver: Driver, argv: &[&str], env: &[(&str, &str)], dir: Option<&str>) -> Run {
    let endpoint = match driver {
        Driver::Local => {
            let mut p = LocalProcess::new(argv[0], argv[1..].iter().copied()).heartbeat(None);
            for (k, v) in env {
                p = p.env(*k, *v);
            }
            if let Some(d) = dir {
                p = p.working_dir(d);
            }
            return p.run();
        }
        Driver::Docker => "unix:///var/run/docker.sock",
        Driver::DockerCurrent => "unix:///run/cstream-docker-current.sock",
        Driver::Podman => "unix:///run/podman/podman.sock",
    };
    let engine = cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse)
        .await
        .unwrap_or_else(|e| panic!("{driver:?} unreachable ({e}); run scripts/engines.sh"));
    let mut s = RunSpec::builder("cstream-test:latest")
        .pull(cstream_engine::PullPolicy::Never)
        .heartbeat(None)
        .command(argv.iter().copied());
    for (k, v) in env {
        s = s.env(*k, *v);
    }
    if let Some(d) = dir {
        s = s.working_dir(d);
    }
    engine.run(s.build().unwrap())
}

#[derive(Debug, Default)]
struct Outcome {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    tty: Vec<u8>,
    names: Vec<&'static str>,
    errors: Vec<String>,
    end: Option<ProcessEnd>,
}

async fn collect(run: &mut Run) -> Outcome {
    let mut o = Outcome::default();
    let all = async {
        while let Some(item) = run.next().await {
            match item {
                Ok(e) => {
                    let n = e.kind.name();
                    if !(n == "Output" && o.names.last() == Some(&"Output")) {
                        o.names.push(n);
                    }
                    match e.kind {
                        EventKind::Output { stream: Stream::Stdout, data } => o.stdout.extend_from_slice(&data),
                        EventKind::Output { stream: Stream::Stderr, data } => o.stderr.extend_from_slice(&data),
                        EventKind::Output { stream: Stream::Tty, data } => o.tty.extend_from_slice(&data),
                        EventKind::ProcessEnd(p) => o.end = Some(p),
                        _ => {}
                    }
                }
                Err(e) => o.errors.push(e.to_string()),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("the run ended");
    o
}

async fn run_to_end(driver: Driver, argv: &[&str]) -> Outcome {
    collect(&mut start(driver, argv, &[], None).await).await
}

fn code(o: &Outcome) -> Option<i32> {
    o.end.as_ref().and_then(|e| e.exit_code)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_assertions_on_every_driver() {
    for d in DRIVERS {
        let o = run_to_end(d, &["sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done"]).await;
        assert_eq!(
            (o.stdout.as_slice(), o.stderr.as_slice()),
            (&b"out1\nout2\nout3\n"[..], &b"err1\nerr2\nerr3\n"[..]),
            "{d:?}"
        );
        assert!(o.errors.is_empty(), "{d:?}: {:?}", o.errors);
        let core: Vec<_> = o.names.iter().filter(|n| !n.starts_with("Container")).copied().collect();
        assert_eq!(core, ["ProcessStart", "Output", "ProcessEnd"], "{d:?}");
        for c in [0, 1, 42, 255] {
            assert_eq!(code(&run_to_end(d, &["sh", "-c", &format!("exit {c}")]).await), Some(c), "{d:?}");
        }
        let killed = run_to_end(d, &["sh", "-c", "echo before; sh -c 'kill -9 $$'; exit $?"]).await;
        assert_eq!((code(&killed), killed.stdout.as_slice()), (Some(137), &b"before\n"[..]), "{d:?}");
        let mut r =
            start(d, &["sh", "-c", "echo \"$GREETING|$(pwd)\""], &[("GREETING", "hello world")], Some("/tmp")).await;
        assert_eq!(collect(&mut r).await.stdout, b"hello world|/tmp\n", "{d:?}");
        let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let big = run_to_end(d, &["sh", "-c", &format!("yes {line} | head -c 16777216")]).await;
        let want: Vec<u8> = format!("{line}\n").into_bytes().into_iter().cycle().take(16 << 20).collect();
        assert!(big.stdout == want, "{d:?}: 16 MiB byte-exact");
        let quick = run_to_end(d, &["printf", "gone at once"]).await;
        assert_eq!(quick.stdout, b"gone at once", "{d:?}");
        let missing = run_to_end(d, &["/no/such/command"]).await;
        let end = missing.end.unwrap();
        assert_eq!((end.reason, end.exit_code), (EndReason::StartFailed, Some(127)), "{d:?}");
        assert_eq!(missing.errors.len(), 1, "{d:?}");
        // Cancel: the stop signal reaches the process, which exits its own way.
        let mut r =
            start(d, &["sh", "-c", "trap 'exit 143' TERM; echo ready; while true; do sleep 0.1; done"], &[], None)
                .await;
        let handle = r.handle();
        let mut end = None;
        // Once: the shell may print "Terminated" for its killed `sleep`, and a
        // second cancel would be SIGKILL.
        let mut cancelled = false;
        while let Some(e) = r.next().await {
            match e.unwrap().kind {
                EventKind::Output { .. } if !cancelled => {
                    cancelled = true;
                    handle.cancel();
                }
                EventKind::ProcessEnd(p) => end = Some(p),
                _ => {}
            }
        }
        let end = end.unwrap();
        assert_eq!((end.reason, end.exit_code), (EndReason::Cancelled, Some(143)), "{d:?}");
    }
}

#[tokio::test]
async fn a_process_killed_by_a_signal_says_which() {
    let o = run_to_end(Driver::Local, &["sh", "-c", "kill -9 $$"]).await;
    let end = o.end.unwrap();
    assert_eq!((end.exit_code, end.signal), (Some(137), Some(9)));
    // A process that exits 137 by itself was not signalled, and locally that is known.
    let o = run_to_end(Driver::Local, &["sh", "-c", "exit 137"]).await;
    assert_eq!((o.end.as_ref().unwrap().exit_code, o.end.unwrap().signal), (Some(137), None));
}

#[tokio::test]
async fn not_executable_is_126() {
    let o = run_to_end(Driver::Local, &["/etc/passwd"]).await;
    let end = o.end.unwrap();
    assert_eq!((end.reason, end.exit_code), (EndReason::StartFailed, Some(126)));
    assert!(o.errors[0].starts_with("cannot start /etc/passwd:"), "{:?}", o.errors);
}

#[tokio::test]
async fn environment_replaced_or_extended() {
    let mut r = LocalProcess::new("/usr/bin/env", Vec::<String>::new())
        .env_mode(EnvMode::Replace)
        .env("ONLY", "this")
        .heartbeat(None)
        .run();
    assert_eq!(collect(&mut r).await.stdout, b"ONLY=this\n");
    let mut r = LocalProcess::new("/usr/bin/env", Vec::<String>::new()).env("ADDED", "1").heartbeat(None).run();
    let out = String::from_utf8(collect(&mut r).await.stdout).unwrap();
    assert!(out.contains("ADDED=1\n") && out.contains("PATH="), "extended: {out}");
}

#[tokio::test]
async fn output_without_a_newline_comes_at_once() {
    // The process goes on until the first heartbeat has come (it reads its
    // stdin, which is closed then), so the heartbeat comes while it runs.
    let mut r = LocalProcess::new("sh", ["-c", "printf 'progress 50%%\\r'; cat >/dev/null; echo done"])
        .stdin(true)
        .heartbeat(Some(Duration::from_millis(500)))
        .run();
    let h = r.handle();
    let mut order = Vec::new();
    let all = async {
        while let Some(e) = r.next().await {
            let name = e.unwrap().kind.name();
            if name == "Heartbeat" && !order.contains(&"Heartbeat") {
                h.close_stdin().await.unwrap();
            }
            order.push(name);
        }
    };
    tokio::time::timeout(Duration::from_secs(30), all).await.expect("a heartbeat came and the run ended");
    let output = order.iter().position(|n| *n == "Output").unwrap();
    let beat = order.iter().position(|n| *n == "Heartbeat").unwrap();
    assert!(output < beat, "the \\r line came before the first heartbeat: {order:?}");
}

#[tokio::test]
async fn grandchildren_holding_the_pipes_do_not_hang_the_run() {
    let mut r = LocalProcess::new("sh", ["-c", "sleep 300 & echo $!"]).heartbeat(None).run();
    let o = collect(&mut r).await;
    assert_eq!(code(&o), Some(0));
    // This grandchild by its pid: another `sleep 300` on the host (another
    // run of this test, say) is none of this test's business. Gone, a zombie
    // (its cmdline empty) or the pid taken by another process: it went with
    // the group. A kill is not instant, so it has a few seconds.
    let pid: u32 = String::from_utf8(o.stdout).unwrap().trim().parse().expect("the grandchild's pid");
    let cmdline = format!("/proc/{pid}/cmdline");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(&cmdline).is_ok_and(|c| c.split('\0').eq(["sleep", "300", ""])) {
        assert!(std::time::Instant::now() < deadline, "the grandchild {pid} still runs: it did not go with the group");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn sigterm_ignored_means_sigkill_after_the_grace_period() {
    let mut r = LocalProcess::new("sh", ["-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"])
        .stop_grace(Duration::from_secs(1))
        .heartbeat(None)
        .run();
    let h = r.handle();
    let mut end = None;
    while let Some(e) = r.next().await {
        match e.unwrap().kind {
            EventKind::Output { .. } => h.cancel(),
            EventKind::ProcessEnd(p) => end = Some(p),
            _ => {}
        }
    }
    let end = end.unwrap();
    assert_eq!((end.reason, end.exit_code, end.signal), (EndReason::Cancelled, Some(137), Some(9)));
}

#[tokio::test]
async fn a_second_cancel_kills_at_once_and_timeouts_say_so() {
    let mut r = LocalProcess::new("sh", ["-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done"])
        .stop_grace(Duration::from_secs(600))
        .heartbeat(None)
        .run();
    let h = r.handle();
    let mut end = None;
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), r.next()).await.expect("killed at once") {
        match e.unwrap().kind {
            EventKind::Output { .. } => {
                h.cancel();
                h.cancel();
            }
            EventKind::ProcessEnd(p) => end = Some(p),
            _ => {}
        }
    }
    assert_eq!(end.unwrap().exit_code, Some(137));
    let mut r = LocalProcess::new("sleep", ["30"]).timeout(Duration::from_millis(300)).heartbeat(None).run();
    let o = collect(&mut r).await;
    let end = o.end.unwrap();
    assert_eq!((end.reason, end.exit_code, end.signal), (EndReason::TimedOut, Some(143), Some(15)));
}

#[tokio::test]
async fn a_pseudo_terminal() {
    let mut r = LocalProcess::new("sh", ["-c", "[ -t 0 ] && [ -t 1 ] && echo tty; stty size; read x; stty size"])
        .pty(100, 40)
        .stdin(true)
        .heartbeat(None)
        .run();
    let h = r.handle();
    let mut tty = Vec::new();
    let mut resizes = Vec::new();
    let mut resized = false;
    while let Some(e) = tokio::time::timeout(Duration::from_secs(30), r.next()).await.unwrap() {
        match e.unwrap().kind {
            EventKind::Output { stream, data } => {
                assert_eq!(stream, Stream::Tty);
                tty.extend_from_slice(&data);
                if !resized && String::from_utf8_lossy(&tty).contains("40 100\r\n") {
                    resized = true;
                    h.resize(120, 50).await.unwrap();
                    h.write_stdin(&b"go\n"[..]).await.unwrap();
                }
            }
            EventKind::TerminalResize { size } => resizes.push((size.cols, size.rows)),
            _ => {}
        }
    }
    let text = String::from_utf8_lossy(&tty);
    assert!(text.starts_with("tty\r\n40 100\r\n"), "isatty, CRLF, the size: {text:?}");
    assert!(text.ends_with("50 120\r\n"), "{text:?}");
    assert_eq!(resizes, [(100, 40), (120, 50)]);
}

#[tokio::test]
async fn stdin_both_ways_and_refusals() {
    const N: usize = 8 << 20;
    let mut r = LocalProcess::new("cat", Vec::<String>::new()).stdin(true).heartbeat(None).run();
    let h = r.handle();
    let input: Vec<u8> = (0..N).map(|i| (i % 251) as u8).collect();
    let sent = input.clone();
    let writer = tokio::spawn(async move {
        for chunk in sent.chunks(64 * 1024) {
            h.write_stdin(chunk.to_vec()).await.unwrap();
        }
        h.close_stdin().await.unwrap();
        assert!(matches!(
            h.write_stdin(&b"late"[..]).await,
            Err(Error::Command(cstream_driver_hyper::CommandError::StdinClosed))
        ));
    });
    let o = collect(&mut r).await;
    writer.await.unwrap();
    assert!(o.stdout == input, "8 MiB through cat, byte-exact");
    assert!(matches!(r.write_stdin(&b"x"[..]).await, Err(Error::Command(_))), "after the end");
    let mut r = LocalProcess::new("true", Vec::<String>::new()).heartbeat(None).run();
    assert!(matches!(
        r.write_stdin(&b"x"[..]).await,
        Err(Error::Command(cstream_driver_hyper::CommandError::StdinNotEnabled))
    ));
    collect(&mut r).await;
}

#[tokio::test]
async fn no_zombie_is_left() {
    for _ in 0..5 {
        run_to_end(Driver::Local, &["sh", "-c", "true & exit 3"]).await;
    }
    let me = std::process::id().to_string();
    let zombies: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| std::fs::read_to_string(p.path().join("stat")).ok())
        .filter(|stat| {
            let after = stat.rsplit(") ").next().unwrap_or("");
            let fields: Vec<&str> = after.split(' ').collect();
            fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str())
        })
        .collect();
    assert!(zombies.is_empty(), "{zombies:?}");
}

/// A child that writes all its output before it reads its stdin: stdin is
/// written while output is read, so neither waits for the other (a write
/// that cannot go on must not stop the output from being read).
#[tokio::test]
async fn stdin_a_child_does_not_read_yet_does_not_stop_its_output() {
    const N: usize = 8 << 20;
    let mut r = LocalProcess::new("sh", ["-c", "head -c 8388608 /dev/zero; cat >/dev/null; echo done"])
        .stdin(true)
        .heartbeat(None)
        .run();
    let h = r.handle();
    let writer = tokio::spawn(async move {
        let input = vec![b'x'; N];
        for chunk in input.chunks(1 << 20) {
            h.write_stdin(chunk.to_vec()).await?;
        }
        h.close_stdin().await
    });
    let both = async {
        let o = collect(&mut r).await;
        (o, writer.await.unwrap())
    };
    let (o, written) = tokio::time::timeout(Duration::from_secs(30), both)
        .await
        .expect("deadlock: the run did not end within 30 s (stdin written, output not read)");
    written.expect("8 MiB of stdin written");
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.stdout.len(), N + 5);
    assert!(o.stdout[..N].iter().all(|b| *b == 0) && &o.stdout[N..] == b"done\n", "8 MiB of zeros, then done");
    assert_eq!(code(&o), Some(0));
}

/// Every event of `case` run as a local process, in order; no error, exit code 0.
async fn every_event(case: Case) -> Vec<Event> {
    let mut p = LocalProcess::new(case.argv[0], case.argv[1..].iter().copied()).heartbeat(case.heartbeat);
    if let Some(c) = case.coalesce {
        p = p.coalesce(c);
    }
    let mut r = p.run();
    let mut events = Vec::new();
    let all = async {
        while let Some(item) = r.next().await {
            events.push(item.expect("no error"));
        }
    };
    tokio::time::timeout(Duration::from_secs(60), all).await.expect("the run ended");
    assert_eq!(exit_code(&events), Some(0), "{events:?}");
    events
}

// Heartbeats and coalescing, held to the checks the container runs are
// (`behaviour.rs`).

/// A local run's heartbeats are on the process's clock.
#[tokio::test]
async fn heartbeats_while_the_process_runs() {
    let events = every_event(behaviour::BEATING).await;
    behaviour::heartbeats_while_the_process_runs(&events, Clock::Process, "local");
}

#[tokio::test]
async fn coalescing_gathers_many_writes_into_one_event() {
    behaviour::each_write_comes_by_itself(&every_event(behaviour::PACED).await, "local");
    behaviour::held_writes_come_as_one_event(&every_event(behaviour::PACED_HELD).await, "local");
}

#[tokio::test]
async fn a_full_buffer_is_passed_on() {
    behaviour::a_full_buffer_is_passed_on(&every_event(behaviour::PACED_IN_SMALL_BUFFERS).await, "local");
}

#[tokio::test]
async fn both_streams_keep_their_bytes_and_order() {
    behaviour::both_streams_keep_their_bytes_and_order(&every_event(behaviour::BOTH_STREAMS).await, "local");
}

#[tokio::test]
async fn held_output_comes_after_the_interval_not_at_the_end() {
    behaviour::held_output_comes_after_the_interval_not_at_the_end(&every_event(behaviour::PAUSED).await, "local");
}
