//! Replays of real runs, recorded from Docker 20.10, Docker 26 and Podman 4.3
//! by the drivers (`cargo run -p cstream-engine --example capture -- crates/proto-core/tests/transcripts`).
//!
//! Each transcript is replayed exactly as recorded, and every output of the
//! machine must match the recording; then again with every body re-split
//! whole, one byte at a time and at random, where the requests, the events
//! other than output, and the output bytes per stream must match.

use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::transcript::{self, Command, Head, Record};
use cstream_proto_core::{EventKind, Input, Machine, Output, RunInfo, Stream};
use serde_json::Value;

fn transcripts() -> Vec<(String, Head, Vec<Record>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcripts");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let (head, records) = transcript::parse(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (name, head, records)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(v.len() >= 20, "the recorded transcripts are missing");
    v
}

/// The machine's next output, as the transcript records it. Acks are not
/// recorded: they go to the command's caller, not the engine or the user.
fn next(m: &mut Machine) -> Value {
    loop {
        let out = m.poll_output();
        if matches!(out, Output::Ack { .. }) {
            continue;
        }
        return transcript::output(&out).unwrap_or_else(|| panic!("{out:?} where the transcript has an output"));
    }
}

/// Applies an input or command record; `false` for an output record.
fn apply(m: &mut Machine, record: &Record, split: &mut dyn FnMut(Bytes) -> Vec<Bytes>) -> bool {
    match record {
        Record::Input { at, input: Input::Body { id, data } } => {
            for piece in split(data.clone()) {
                m.handle_input(*at, Input::Body { id: *id, data: piece });
            }
        }
        Record::Input { at, input } => m.handle_input(*at, input.clone()),
        Record::Timeout { at } => m.handle_timeout(*at),
        Record::Command { at, command: Command::Cancel } => m.cancel(*at),
        Record::Command { command: Command::Stdin(data), .. } => {
            m.write_stdin(data.clone()).unwrap();
        }
        Record::Command { command: Command::CloseStdin, .. } => {
            m.close_stdin().unwrap();
        }
        Record::Output(_) => return false,
    }
    true
}

fn machine(head: &Head) -> Machine {
    let run = RunInfo { run_id: "replay".into(), created_unix: 0, owner: None };
    Machine::new(head.spec().unwrap(), run, Duration::ZERO)
}

#[test]
fn recorded_runs_replay_exactly() {
    for (name, head, records) in transcripts() {
        let mut m = machine(&head);
        let mut whole = |b: Bytes| vec![b];
        for (n, record) in records.iter().enumerate() {
            if apply(&mut m, record, &mut whole) {
                continue;
            }
            let got = Record::Output(next(&mut m));
            assert_eq!(&got, record, "{name} line {}: the machine did otherwise", n + 2);
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

fn summarize(name: &str, (head, records): (&Head, &[Record]), split: &mut dyn FnMut(Bytes) -> Vec<Bytes>) -> Summary {
    let mut m = machine(head);
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
    for record in records {
        apply(&mut m, record, split);
        drain(&mut m, &mut s);
    }
    assert!(m.is_done(), "{name}: not done");
    s
}

#[test]
fn recorded_runs_replay_the_same_however_bodies_are_split() {
    for (name, head, records) in transcripts() {
        let run = (&head, records.as_slice());
        let want = summarize(&name, run, &mut |b| vec![b]);
        assert!(!want.sends.is_empty());
        let mut bytewise = |b: Bytes| (0..b.len()).map(|i| b.slice(i..i + 1)).collect();
        assert_eq!(summarize(&name, run, &mut bytewise), want, "{name}, bytewise");
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
            assert_eq!(summarize(&name, run, &mut random), want, "{name}, random split {seed}");
        }
    }
}

#[test]
fn what_the_recorded_runs_show() {
    let all = transcripts();
    let get = |n: &str| all.iter().find(|(name, ..)| name == n).map(|(_, h, r)| (h, r.as_slice())).unwrap();
    let end =
        |run| summarize("", run, &mut |b| vec![b]).events.into_iter().find(|e| e.starts_with("ProcessEnd")).unwrap();
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
    let current = get("docker-current-exit-42.jsonl").1;
    assert!(current.iter().any(|r| matches!(r, Record::Output(l) if l["send"]["path"] == "/v1.45/containers/create")));
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

/// The transcript module writes every record as it read it, byte for byte,
/// so a transcript recorded by a driver is what the replay reads.
#[test]
fn transcripts_are_written_as_they_are_read() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/transcripts");
    for (name, head, records) in transcripts() {
        let text = std::fs::read_to_string(format!("{dir}/{name}")).unwrap();
        let mut lines = text.lines();
        let first: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
        assert_eq!(Head::from_json(&head.to_json()).unwrap(), head, "{name}");
        // Older recordings have no tty_size; newer ones write it, null or not.
        let mut written = head.to_json();
        if first["spec"].get("tty_size").is_none() {
            written["spec"].as_object_mut().unwrap().remove("tty_size");
        }
        assert_eq!(written.to_string(), serde_json::to_string(&first).unwrap(), "{name}: the head");
        for (n, (line, record)) in lines.zip(&records).enumerate() {
            assert_eq!(record.to_json().to_string(), line, "{name} line {}", n + 2);
        }
        assert_eq!(text.lines().count(), records.len() + 1, "{name}");
    }
}

/// Every input and output of the recorded runs crosses a boundary as it is:
/// postcard (as the WebAssembly ABI sends them) gives back the same value,
/// requests with every header (credentials too) and body, errors as they are.
#[test]
fn inputs_and_outputs_cross_a_boundary_unchanged() {
    fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(v: T) -> usize {
        let bytes = postcard::to_allocvec(&v).unwrap();
        assert_eq!(postcard::from_bytes::<T>(&bytes).unwrap(), v);
        bytes.len()
    }
    let mut outputs = 0;
    for (_, head, records) in transcripts() {
        let mut m = machine(&head);
        for record in &records {
            if let Record::Input { input, .. } = record {
                round_trip(input.clone());
            }
            apply(&mut m, record, &mut |b| vec![b]);
            loop {
                let out = m.poll_output();
                let last = matches!(out, Output::Pending { .. } | Output::Done);
                round_trip(out);
                outputs += 1;
                if last {
                    break;
                }
            }
        }
    }
    assert!(outputs > 500, "{outputs}");
    let auth = cstream_proto_core::spec::Secret::new("c2VjcmV0");
    let pull =
        cstream_proto_core::api::requests::pull(cstream_proto_core::api::ApiVersion::new(1, 41), "a", "b", Some(&auth));
    assert!(pull.headers.iter().any(|h| h.sensitive));
    round_trip(Output::Send { id: cstream_proto_core::RequestId(9), request: pull });
    let command = cstream_proto_core::CommandId(4);
    round_trip(Input::Written { command, result: Err("broken pipe".into()) });
    for result in [
        Ok(()),
        Err(cstream_proto_core::CommandFailed::Refused(cstream_proto_core::CommandError::Ended)),
        Err(cstream_proto_core::CommandFailed::Failed(cstream_proto_core::Error::answered(
            cstream_proto_core::Phase::Resize,
            500,
            b"{\"message\":\"no such container\"}",
        ))),
    ] {
        round_trip(Output::Ack { command, result });
    }
}

/// Bytes that are not UTF-8 (raw output, cut characters) are written as hex
/// and read back the same; a malformed line is a typed error naming it.
#[test]
fn bytes_that_are_not_utf8_go_as_hex_and_bad_lines_are_errors() {
    let id = cstream_proto_core::RequestId(3);
    let body = Record::Input {
        at: Duration::from_nanos(7),
        input: Input::Body { id, data: Bytes::from_static(b"\x01\0\xff\xc3") },
    };
    let line = body.to_json();
    assert_eq!(line.to_string(), r#"{"at":7,"body":{"hex":"0100ffc3","id":3}}"#);
    assert_eq!(Record::from_json(&line).unwrap(), body);
    let head = r#"{"engine":"e","scenario":"s","spec":{"image":"alpine","stdin":false,"tty":false}}"#;
    for (bad, why) in [(r#"{"body":{"id":3,"hex":"0"}}"#, "odd hex"), (r#"{"wat":{}}"#, "unknown record")] {
        let e = transcript::parse(&format!("{head}\n{bad}\n")).unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        assert!(e.to_string().contains(why), "{e}");
    }
}

/// A stdin write reported done (or failed) is recorded with its command and
/// read back the same; the machine's acknowledgement of it is not recorded.
#[test]
fn written_stdin_is_recorded_and_its_ack_is_not() {
    let command = cstream_proto_core::CommandId(2);
    for (result, text) in [
        (Ok(()), r#"{"at":9,"written":{"command":2}}"#),
        (Err("broken pipe".to_string()), r#"{"at":9,"written":{"command":2,"message":"broken pipe"}}"#),
    ] {
        let record = Record::Input { at: Duration::from_nanos(9), input: Input::Written { command, result } };
        let line = record.to_json();
        assert_eq!(line.to_string(), text);
        assert_eq!(Record::from_json(&line).unwrap(), record);
    }
    let ack: Output = Output::Ack { command, result: Ok(()) };
    assert_eq!(transcript::output(&ack), None);
}
