//! Replays of real runs, recorded from Docker 20.10, Docker 26 and Podman 4.3
//! by the drivers (`cargo run -p cstream-engine --example capture -- crates/proto-core/tests/transcripts`).
//!
//! Each transcript is replayed exactly as recorded, and every output of the
//! machine must match the recording; then again with every body re-split
//! whole, one byte at a time and at random, where the requests, the events
//! other than output, and the output bytes per stream must match.

use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{EventKind, Input, Machine, Output, PullPolicy, RequestId, RunInfo, RunSpec, Stream};
use serde_json::Value;

fn transcripts() -> Vec<(String, Vec<Value>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcripts");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let lines = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            (p.file_name().unwrap().to_string_lossy().into_owned(), lines)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 20, "the recorded transcripts are missing");
    v
}

fn spec(head: &Value) -> RunSpec {
    let s = &head["spec"];
    let pull = match s["pull"].as_str() {
        Some("never") => PullPolicy::Never,
        Some("always") => PullPolicy::Always,
        _ => PullPolicy::Missing,
    };
    let mut b = RunSpec::builder(s["image"].as_str().unwrap())
        .tty(s["tty"].as_bool().unwrap())
        .stdin(s["stdin"].as_bool().unwrap())
        .pull(pull)
        .heartbeat(None);
    if let Some(cmd) = s["command"].as_array() {
        b = b.command(cmd.iter().map(|c| c.as_str().unwrap().to_string()));
    }
    if let Some([cols, rows]) = s["tty_size"].as_array().map(|a| [a[0].as_u64().unwrap(), a[1].as_u64().unwrap()]) {
        b = b.tty_size(cols as u16, rows as u16);
    }
    b.build().unwrap()
}

fn data(v: &Value) -> Bytes {
    if let Some(t) = v["text"].as_str() {
        return Bytes::copy_from_slice(t.as_bytes());
    }
    let hex = v["hex"].as_str().unwrap();
    Bytes::from((0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect::<Vec<_>>())
}

fn at(v: &Value) -> Duration {
    Duration::from_nanos(v["at"].as_u64().unwrap())
}

fn id(v: &Value) -> RequestId {
    RequestId(v["id"].as_u64().unwrap())
}

/// The machine's next output, in the transcript's terms.
fn next(m: &mut Machine) -> Value {
    use serde_json::json;
    match m.poll_output() {
        Output::Send { id, request } => {
            json!({"send": {"id": id.0, "method": request.method.as_str(), "path": request.path}})
        }
        Output::Write { id, data } => json!({"write": {"id": id.0, "text": String::from_utf8(data.to_vec()).unwrap()}}),
        Output::CloseWrite { id } => json!({"close_write": {"id": id.0}}),
        Output::Abort { id } => json!({"abort": {"id": id.0}}),
        Output::Event(e) => json!({ "event": e }),
        Output::Error(e) => json!({ "error": e.to_string() }),
        Output::Done => json!({"done": {}}),
        Output::Pending { .. } => json!({"pending": {}}),
    }
}

/// Applies an input or command line; `false` for an output line.
fn apply(m: &mut Machine, line: &Value, split: &mut dyn FnMut(Bytes) -> Vec<Bytes>) -> bool {
    let key = line.as_object().unwrap().keys().find(|k| *k != "at").unwrap().as_str();
    let v = &line[key];
    match key {
        "head" => {
            let headers = v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                .collect();
            m.handle_input(at(line), Input::Head { id: id(v), status: v["status"].as_u64().unwrap() as u16, headers });
        }
        "body" => {
            for piece in split(data(v)) {
                m.handle_input(at(line), Input::Body { id: id(v), data: piece });
            }
        }
        "end" => m.handle_input(at(line), Input::End { id: id(v) }),
        "failed" => {
            m.handle_input(at(line), Input::Failed { id: id(v), message: v["message"].as_str().unwrap().into() })
        }
        "timeout" => m.handle_timeout(at(line)),
        "cancel" => m.cancel(at(line)),
        "stdin" => m.write_stdin(data(v)).unwrap(),
        "close_stdin" => m.close_stdin().unwrap(),
        _ => return false,
    }
    true
}

fn machine(head: &Value) -> Machine {
    Machine::new(spec(head), RunInfo { run_id: "replay".into(), created_unix: 0, owner: None }, Duration::ZERO)
}

#[test]
fn recorded_runs_replay_exactly() {
    for (name, lines) in transcripts() {
        let mut m = machine(&lines[0]);
        let mut whole = |b: Bytes| vec![b];
        for (n, line) in lines.iter().enumerate().skip(1) {
            if apply(&mut m, line, &mut whole) {
                continue;
            }
            let got = next(&mut m);
            assert_eq!(&got, line, "{name} line {}: the machine did otherwise", n + 1);
        }
        assert_eq!(next(&mut m), serde_json::json!({"done": {}}), "{name}");
    }
}

#[derive(Debug, Default, PartialEq)]
struct Summary {
    sends: Vec<Value>,
    events: Vec<String>,
    errors: Vec<String>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    tty: Vec<u8>,
}

fn summarize(name: &str, lines: &[Value], split: &mut dyn FnMut(Bytes) -> Vec<Bytes>) -> Summary {
    let mut m = machine(&lines[0]);
    let mut s = Summary::default();
    let drain = |m: &mut Machine, s: &mut Summary| loop {
        match m.poll_output() {
            Output::Send { request, .. } => s.sends.push(serde_json::json!([request.method.as_str(), request.path])),
            Output::Event(e) => match e.kind {
                EventKind::Output { stream: Stream::Stdout, data } => s.stdout.extend_from_slice(&data),
                EventKind::Output { stream: Stream::Stderr, data } => s.stderr.extend_from_slice(&data),
                EventKind::Output { stream: Stream::Tty, data } => s.tty.extend_from_slice(&data),
                other => s.events.push(format!("{other:?}")),
            },
            Output::Error(e) => s.errors.push(e.to_string()),
            Output::Pending { .. } | Output::Done => return,
            _ => {}
        }
    };
    for line in &lines[1..] {
        apply(&mut m, line, split);
        drain(&mut m, &mut s);
    }
    assert!(m.is_done(), "{name}: not done");
    s
}

#[test]
fn recorded_runs_replay_the_same_however_bodies_are_split() {
    for (name, lines) in transcripts() {
        let want = summarize(&name, &lines, &mut |b| vec![b]);
        assert!(!want.sends.is_empty());
        let mut bytewise = |b: Bytes| (0..b.len()).map(|i| b.slice(i..i + 1)).collect();
        assert_eq!(summarize(&name, &lines, &mut bytewise), want, "{name}, bytewise");
        for seed in [1u64, 2, 3] {
            let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut random = |b: Bytes| {
                let mut out = Vec::new();
                let mut rest = b;
                while !rest.is_empty() {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let n = 1 + (rng as usize % rest.len().min(13));
                    out.push(rest.split_to(n));
                }
                out
            };
            assert_eq!(summarize(&name, &lines, &mut random), want, "{name}, random split {seed}");
        }
    }
}

#[test]
fn what_the_recorded_runs_show() {
    let all = transcripts();
    let get = |n: &str| &all.iter().find(|(name, _)| name == n).unwrap().1;
    let end = |lines: &Vec<Value>| {
        summarize("", lines, &mut |b| vec![b]).events.into_iter().find(|e| e.starts_with("ProcessEnd")).unwrap()
    };
    for engine in ["docker", "docker-current", "podman"] {
        let s = summarize(engine, get(&format!("{engine}-exit-42.jsonl")), &mut |b| vec![b]);
        assert_eq!((s.stdout.as_slice(), s.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
        assert!(end(get(&format!("{engine}-exit-42.jsonl"))).contains("exit_code: Some(42)"));
        let s = summarize(engine, get(&format!("{engine}-tty.jsonl")), &mut |b| vec![b]);
        assert_eq!(s.tty, b"hi\r\nthere\r\n");
        let not_found = end(get(&format!("{engine}-not-found.jsonl")));
        assert!(
            not_found.contains("exit_code: Some(127)") && not_found.contains("StartFailed"),
            "{engine}: {not_found}"
        );
        let s = summarize(engine, get(&format!("{engine}-missing-image.jsonl")), &mut |b| vec![b]);
        assert_eq!(
            s.errors,
            ["image cstream-no-such-image:v0 is not present on the engine and the pull policy is never"]
        );
        let cancel = end(get(&format!("{engine}-cancel.jsonl")));
        assert!(cancel.contains("exit_code: Some(7)") && cancel.contains("Cancelled"), "{engine}: {cancel}");
        let s = summarize(engine, get(&format!("{engine}-stdin.jsonl")), &mut |b| vec![b]);
        assert_eq!(s.stdout, b"13\n");
    }
    // Docker 26 speaks 1.45, takes the terminal size in the create body, and
    // pulls a missing image with progress.
    let current = get("docker-current-exit-42.jsonl");
    assert!(current.iter().any(|l| l["send"]["path"] == "/v1.45/containers/create"));
    let s = summarize("tty-size", get("docker-current-tty-size.jsonl"), &mut |b| vec![b]);
    assert_eq!(s.tty, b"40 100\r\n");
    assert!(!s.sends.iter().any(|r| r[1].as_str().unwrap().contains("/resize")), "{:?}", s.sends);
    let s = summarize("pull", get("docker-current-pull.jsonl"), &mut |b| vec![b]);
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(s.stdout, b"pulled\n");
    let paths: Vec<&str> = s.sends.iter().map(|r| r[1].as_str().unwrap().split('?').next().unwrap()).collect();
    assert_eq!(paths[..4], ["/_ping", "/v1.45/containers/create", "/v1.45/images/create", "/v1.45/containers/create"]);
    assert!(s.events.iter().any(|e| e.starts_with("ImagePullProgress")), "{:?}", s.events);
    assert!(s.events.iter().any(|e| e.starts_with("ImagePullComplete")), "{:?}", s.events);
}
