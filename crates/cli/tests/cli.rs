//! The built `cstream` binary against Docker and Podman: exit codes, output
//! byte-exact and apart, the --json schema, record/replay, asciicast export,
//! Ctrl-C, and bad input. Needs scripts/engines.sh's engines and image.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use common::*;

fn cstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn run(engine: &str, extra: &[&str], cmd: &[&str]) -> (Output, String) {
    let l = label("cli");
    let mut args = vec!["run", "--engine", engine, "--pull", "never", "--label", &l];
    args.extend_from_slice(extra);
    args.push(IMAGE);
    args.extend_from_slice(cmd);
    let out = cstream(&args);
    assert_eq!(left_behind(engine, &l), 0, "a container was left behind");
    (out, l)
}

#[test]
fn output_is_byte_exact_and_apart_and_the_exit_code_is_the_process_s() {
    for engine in ENGINES {
        let (out, _) = run(engine, &[], &["sh", "-c", "printf 'a\\000b\\377'; printf 'to stderr' >&2; exit 42"]);
        assert_eq!(out.stdout, b"a\0b\xff", "{engine}");
        assert_eq!(out.stderr, b"to stderr", "{engine}: nothing but the process's stderr");
        assert_eq!(out.status.code(), Some(42));
        for code in [0, 1, 255] {
            let (out, _) = run(engine, &[], &["sh", "-c", &format!("exit {code}")]);
            assert_eq!(out.status.code(), Some(code), "{engine}");
        }
    }
}

#[test]
fn exit_codes_when_the_process_cannot_run() {
    for engine in ENGINES {
        let (out, _) = run(engine, &[], &["/no/such/command"]);
        assert_eq!(out.status.code(), Some(127), "{engine}");
        let (out, _) = run(engine, &[], &["/etc"]);
        assert_eq!(out.status.code(), Some(126), "{engine}");
        let out = cstream(&["run", "--engine", engine, "--pull", "never", "cstream-no-such-image:v0"]);
        assert_eq!(out.status.code(), Some(125));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err,
            "cstream: image cstream-no-such-image:v0 is not present on the engine and the pull policy is never\n"
        );
    }
}

#[test]
fn bad_input_is_one_clear_line_and_125() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["run", "--memory", "1k", IMAGE],
            "cstream: invalid memory limit \"1024\": is below the engine's minimum of 6 MiB",
        ),
        (
            &["run", "-v", "/no/such/dir:/x", IMAGE],
            "cstream: invalid mount source \"/no/such/dir\": does not exist on the engine's host",
        ),
        (&["run", "--timeout", "soon", IMAGE], "cstream: invalid duration \"soon\""),
        (
            &["run", "--local", "--memory", "1g", "--", "true"],
            "cstream: --memory applies to containers only, not to --local",
        ),
        (
            &["run", "--engine", "unix:///tmp/cstream-nothing.sock", IMAGE],
            "cstream: cannot reach the container engine at unix:///tmp/cstream-nothing.sock",
        ),
        (&["run", "NOT/valid", "true"], "cstream: invalid image reference \"NOT/valid\""),
    ];
    for (args, want) in cases {
        let out = cstream(args);
        assert_eq!(out.status.code(), Some(125), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with(want), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line, never a backtrace: {err}");
    }
}

/// An engine named by `DOCKER_HOST` (or `CONTAINER_HOST`) is the only one
/// tried: unreachable is an error, never a quiet run on the default socket.
#[test]
fn an_engine_named_in_the_environment_is_the_only_one_tried() {
    for var in ["DOCKER_HOST", "CONTAINER_HOST"] {
        let out = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "--pull", "never", IMAGE, "echo", "hi"])
            .env_remove("DOCKER_HOST")
            .env(var, "unix:///nonexistent.sock")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(125), "{var}");
        assert!(out.stdout.is_empty(), "{var}: it ran somewhere else: {:?}", String::from_utf8_lossy(&out.stdout));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("cstream: ") && err.contains("unix:///nonexistent.sock"), "{var}: {err}");
    }
}

fn json_lines(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8(stdout.to_vec()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Checks one object against the schema in the README.
fn check_schema(v: &Value) {
    let at = v["at"].as_f64().expect("at is seconds");
    assert!(at >= 0.0);
    let has = |k: &str| assert!(v.get(k).is_some(), "{k} missing in {v}");
    match v["type"].as_str().expect("type") {
        "container_create" => ["id", "image"].iter().for_each(|k| has(k)),
        "process_start" => {
            has("command");
            assert!(v["args"].is_array());
            assert!(v["container_id"].is_string() || v["pid"].is_u64());
        }
        "output" => {
            assert!(["stdout", "stderr", "tty"].contains(&v["stream"].as_str().unwrap()));
            assert!(["utf8", "base64"].contains(&v["encoding"].as_str().unwrap()));
            assert!(v["data"].is_string());
        }
        "process_end" => {
            for k in ["exit_code", "signal", "oom_killed", "duration", "reason"] {
                has(k);
            }
            assert!(["exited", "cancelled", "timed_out", "start_failed"].contains(&v["reason"].as_str().unwrap()));
        }
        "container_remove" => has("id"),
        "image_pull_start" | "image_pull_progress" | "image_pull_complete" | "heartbeat" | "terminal_resize" => {}
        "error" => has("message"),
        other => panic!("unknown type {other}"),
    }
}

fn decode(v: &Value) -> Vec<u8> {
    let data = v["data"].as_str().unwrap();
    match v["encoding"].as_str().unwrap() {
        "utf8" => data.as_bytes().to_vec(),
        _ => base64::engine::general_purpose::STANDARD.decode(data).unwrap(),
    }
}

#[test]
fn json_lines_follow_the_schema() {
    for engine in ENGINES {
        let (out, _) = run(engine, &["--json"], &["sh", "-c", "echo text; printf '\\377\\376' >&2; exit 3"]);
        assert_eq!(out.status.code(), Some(3));
        let lines = json_lines(&out.stdout);
        lines.iter().for_each(check_schema);
        let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).filter(|t| *t != "output").collect();
        assert_eq!(types, ["container_create", "process_start", "process_end", "container_remove"]);
        let stdout: Vec<u8> = lines.iter().filter(|v| v["stream"] == "stdout").flat_map(decode).collect();
        let stderr: Vec<u8> = lines.iter().filter(|v| v["stream"] == "stderr").flat_map(decode).collect();
        assert_eq!((stdout.as_slice(), stderr.as_slice()), (&b"text\n"[..], &b"\xff\xfe"[..]));
        let end = lines.iter().find(|v| v["type"] == "process_end").unwrap();
        assert_eq!((end["exit_code"].as_i64(), end["reason"].as_str()), (Some(3), Some("exited")));
        assert!(out.stderr.is_empty());
    }
}

/// Runs `echo one`, `two` to stderr, `echo three`, `exit 5` with `--json
/// --record rec`, in that order across the two streams: the engine keeps no
/// order between stdout and stderr, so the process waits for a line on its
/// stdin before each next write, and the test sends it once the previous
/// write has come out of cstream (one JSON object per event, flushed).
/// Returns cstream's stdout and exit code.
fn in_order(engine: &str, rec: &str) -> (String, Option<i32>) {
    use std::io::Write;
    let l = label("rec");
    let script = "echo one; read _; printf 'two\\n' >&2; read _; echo three; exit 5";
    // The time limit ends the run, and this reading, should a step never come.
    let args = ["run", "-i", "--timeout", "60s", "--engine", engine, "--pull", "never", "--label", &l, "--json"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(args)
        .args(["--record", rec, IMAGE, "sh", "-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut steps = [("stdout", "one\n"), ("stderr", "two\n")].into_iter().peekable();
    let mut seen = String::new();
    let mut live = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        if let Some((stream, text)) = steps.peek() {
            if v["type"] == "output" && v["stream"] == *stream {
                seen.push_str(&String::from_utf8(decode(&v)).unwrap());
                if seen == *text {
                    seen.clear();
                    steps.next();
                    stdin.write_all(b"\n").unwrap();
                }
            }
        }
        live.push_str(&line);
        live.push('\n');
    }
    drop(stdin);
    let code = child.wait().unwrap().code();
    assert!(steps.peek().is_none(), "{engine}: every step came: {live}");
    assert_eq!(left_behind(engine, &l), 0, "a container was left behind");
    (live, code)
}

#[test]
fn record_replay_and_asciicast() {
    let dir = std::env::temp_dir().join(label("rec").replace('=', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, engine) in ENGINES.iter().enumerate() {
        let rec = dir.join(format!("run{i}.rec"));
        let rec_s = rec.to_str().unwrap();
        let (live, code) = in_order(engine, rec_s);
        assert_eq!(code, Some(5));
        let replayed = cstream(&["replay", "--json", rec_s]);
        assert_eq!(replayed.status.code(), Some(5), "replay exits as the run did");
        assert_eq!(String::from_utf8_lossy(&replayed.stdout), live, "the same events");
        let text = cstream(&["replay", rec_s]);
        assert_eq!((text.stdout.as_slice(), text.stderr.as_slice()), (&b"one\nthree\n"[..], &b"two\n"[..]));

        let cast = dir.join(format!("run{i}.cast"));
        let out = cstream(&["export", "--asciicast", cast.to_str().unwrap(), rec_s]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let cast = std::fs::read_to_string(&cast).unwrap();
        let mut lines = cast.lines();
        let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(header["version"], 3);
        assert!(header["term"]["cols"].as_u64().unwrap() > 0 && header["term"]["rows"].as_u64().unwrap() > 0);
        assert!(header["timestamp"].as_u64().unwrap() > 1_600_000_000);
        let mut output = String::new();
        let mut codes = Vec::new();
        for line in lines {
            let ev: Vec<Value> = serde_json::from_str(line).unwrap();
            assert_eq!(ev.len(), 3, "[interval, code, data]");
            assert!(ev[0].as_f64().unwrap() >= 0.0, "intervals are never negative");
            let code = ev[1].as_str().unwrap();
            assert!(["o", "i", "m", "r", "x"].contains(&code));
            codes.push(code.to_string());
            if code == "o" {
                output.push_str(ev[2].as_str().unwrap());
            }
            if code == "x" {
                assert_eq!(ev[2], "5");
            }
        }
        assert_eq!(output, "one\r\ntwo\r\nthree\r\n");
        assert_eq!(codes.last().map(String::as_str), Some("x"));
    }
    // A recording cut short is reported, not guessed at.
    let rec = dir.join("run0.rec");
    let bytes = std::fs::read(&rec).unwrap();
    let cut = dir.join("cut.rec");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).unwrap();
    let out = cstream(&["replay", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut short"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts cstream, waits for the process's first line, and returns the child
/// and the rest of its stdout.
fn start_until_ready(
    engine: &str,
    l: &str,
    extra: &[&str],
    script: &str,
) -> (std::process::Child, BufReader<std::process::ChildStdout>) {
    let mut args = vec!["run", "--engine", engine, "--pull", "never", "--label", l];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream")).args(&args).stdout(Stdio::piped()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, out)
}

fn interrupt(child: &std::process::Child) {
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
}

fn wait_with_limit(mut child: std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("cstream did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_stops_the_process_and_removes_the_container() {
    for engine in ENGINES {
        let l = label("sigint");
        let (child, _out) =
            start_until_ready(engine, &l, &[], "trap 'exit 130' TERM; echo ready; while true; do sleep 0.1; done");
        interrupt(&child);
        let status = wait_with_limit(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(130), "{engine}: the process's own exit code");
        assert_eq!(left_behind(engine, &l), 0);
    }
}

#[test]
fn a_second_ctrl_c_kills_at_once() {
    for engine in ENGINES {
        let l = label("sigint2");
        // The process says it got the SIGTERM of the first Ctrl-C and goes on;
        // with a 600 s grace period only the second Ctrl-C, sent once the
        // first has reached the process, can end it within the test's limit.
        let script = "trap 'echo got TERM' TERM; echo ready; while true; do sleep 0.1; done";
        let (child, mut out) = start_until_ready(engine, &l, &["--stop-timeout", "600"], script);
        interrupt(&child);
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line, "got TERM\n", "{engine}");
        interrupt(&child);
        let status = wait_with_limit(child, Duration::from_secs(60));
        assert_eq!(status.code(), Some(137), "{engine}: killed");
        assert_eq!(left_behind(engine, &l), 0);
    }
}

#[test]
fn stdin_is_passed_with_dash_i() {
    for engine in ENGINES {
        let l = label("stdin");
        let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "-i", "--engine", engine, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", "wc -c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, &vec![b'x'; 100_000]).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "100000", "{engine}");
        assert_eq!(left_behind(engine, &l), 0);
    }
}

#[test]
fn engines_and_help() {
    let out = cstream(&["engines"]);
    let text = String::from_utf8(out.stdout).unwrap();
    // Each engine: its version, the API versions it speaks, the one cstream speaks with it.
    let line =
        |start: &str| text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("{text}")).to_string();
    let docker = line("unix:///var/run/docker.sock\tdocker 20.10.");
    assert!(docker.contains("\tAPI 1.12-1.41\tspeaks 1.41\tlinux/"), "{docker}");
    let podman = line("unix:///run/podman/podman.sock\tpodman 4.3.");
    assert!(podman.contains("\tAPI 1.24-1.41\tspeaks 1.41\tlinux/"), "{podman}");
    let current = cstream(&["engines", "--engine", "unix:///run/cstream-docker-current.sock"]);
    let text = String::from_utf8(current.stdout).unwrap();
    assert!(text.starts_with("unix:///run/cstream-docker-current.sock\tdocker 26."), "{text}");
    assert!(text.contains("\tAPI 1.24-1.45\tspeaks 1.45\t"), "{text}");
    let out = cstream(&["engines", "--engine", "unix:///tmp/cstream-nothing.sock"]);
    assert_eq!(out.status.code(), Some(1));
    let help = String::from_utf8(cstream(&["--help"]).stdout).unwrap();
    assert!(help.contains("Examples:") && help.contains("cstream run alpine:3.20 echo hello"));
    let run_help = String::from_utf8(cstream(&["run", "--help"]).stdout).unwrap();
    for flag in [
        "--env-file",
        "--volume",
        "--memory",
        "--cpus",
        "--pids-limit",
        "--read-only",
        "--tmpfs",
        "--cap-drop",
        "--security-opt",
        "--record",
        "--keep",
        "--engine-kind",
    ] {
        assert!(run_help.contains(flag), "{flag}");
    }
}

#[test]
fn registry_credentials_come_from_docker_config_json() {
    use base64::engine::general_purpose::STANDARD;
    let image = "127.0.0.1:5001/cstream-test:v1";
    let dir = std::env::temp_dir().join(label("dockerconfig").replace('=', "-"));
    std::fs::create_dir_all(&dir).unwrap();
    for engine in ENGINES {
        for (password, code) in [("wrong", 125), ("cstream-secret", 0)] {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let e = cstream_engine::connect(engine, cstream_engine::Remote::Refuse).await.unwrap();
                let mut r = cstream_engine::core::api::requests::ping();
                r.method = cstream_engine::core::api::Method::Delete;
                r.path = "/v1.41/images/127.0.0.1%3A5001%2Fcstream-test%3Av1?force=1".into();
                e.call(r).await.unwrap();
            });
            let auth = STANDARD.encode(format!("cstream:{password}"));
            std::fs::write(dir.join("config.json"), format!(r#"{{"auths":{{"127.0.0.1:5001":{{"auth":"{auth}"}}}}}}"#))
                .unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_cstream"))
                .args(["run", "--engine", engine, image, "echo", "pulled"])
                .env("DOCKER_CONFIG", &dir)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(code), "{engine} {password}: {}", String::from_utf8_lossy(&out.stderr));
            if code == 0 {
                assert_eq!(out.stdout, b"pulled\n");
            } else {
                let err = String::from_utf8_lossy(&out.stderr).to_ascii_lowercase();
                assert!(err.contains("authentication required") || err.contains("unauthorized"), "{err}");
                assert!(!err.contains(password), "the password is never printed");
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn local_runs_report_like_container_runs() {
    let out = cstream(&["run", "--local", "--", "sh", "-c", "printf 'a\\000b'; printf e >&2; exit 42"]);
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice(), out.status.code()), (&b"a\0b"[..], &b"e"[..], Some(42)));
    assert_eq!(cstream(&["run", "--local", "--", "/no/such/command"]).status.code(), Some(127));
    assert_eq!(cstream(&["run", "--local", "--", "/etc/passwd"]).status.code(), Some(126));
    let out = cstream(&["run", "--local", "--json", "-e", "X=1", "-w", "/tmp", "--", "sh", "-c", "echo $X $(pwd)"]);
    let lines = json_lines(&out.stdout);
    lines.iter().for_each(check_schema);
    let types: Vec<&str> = lines.iter().map(|v| v["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["process_start", "output", "process_end"]);
    assert!(lines[0]["pid"].as_u64().unwrap() > 1);
    assert_eq!(lines[1]["data"], "1 /tmp\n");
}
