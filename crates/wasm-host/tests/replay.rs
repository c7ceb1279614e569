//! The recorded Docker and Podman runs (proto-core's transcripts) replayed
//! through the WebAssembly module: every output must be the one recorded,
//! and the same, in full, as proto-core's natively (requests with their
//! headers and bodies, events, errors, deadlines).
//!
//! Needs the module: `scripts/wasm.sh` builds it.

use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{CommandError, Input, Machine, RequestId};
use cstream_wasm::session::{command_status, status};
use cstream_wasm::wire::{WireInput, WireOutput, WirePull, WireSpec};
use cstream_wasm_host::{WasmMachine, WasmModule};
use serde_json::{Value, json};

fn module() -> WasmModule {
    WasmModule::load().unwrap_or_else(|e| panic!("{e}"))
}

fn transcripts() -> Vec<(String, Vec<Value>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-core/tests/transcripts");
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
    assert!(v.len() >= 12, "the recorded transcripts are missing");
    v
}

/// The transcript's spec, as proto-core's replay test builds it.
fn spec(head: &Value) -> WireSpec {
    let s = &head["spec"];
    let pull = match s["pull"].as_str() {
        Some("never") => WirePull::Never,
        Some("always") => WirePull::Always,
        _ => WirePull::Missing,
    };
    let command = s["command"].as_array().map(|c| c.iter().map(|a| a.as_str().unwrap().to_string()).collect());
    WireSpec {
        run_id: "replay".into(),
        tty: s["tty"].as_bool().unwrap(),
        tty_size: s["tty_size"].as_array().map(|a| (a[0].as_u64().unwrap() as u16, a[1].as_u64().unwrap() as u16)),
        stdin: s["stdin"].as_bool().unwrap(),
        pull,
        heartbeat: Some(0),
        command,
        ..WireSpec::new(s["image"].as_str().unwrap())
    }
}

fn data(v: &Value) -> Bytes {
    if let Some(t) = v["text"].as_str() {
        return Bytes::copy_from_slice(t.as_bytes());
    }
    let hex = v["hex"].as_str().unwrap();
    Bytes::from((0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect::<Vec<_>>())
}

/// The input or command a transcript line holds; `None` for an output line.
fn input(line: &Value) -> Option<WireInput> {
    let key = line.as_object().unwrap().keys().find(|k| *k != "at").unwrap().as_str();
    let v = &line[key];
    let now = line["at"].as_u64().unwrap_or(0);
    let id = v["id"].as_u64().unwrap_or(0);
    Some(match key {
        "head" => {
            let headers = v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| (h[0].as_str().unwrap().to_string(), h[1].as_str().unwrap().to_string()))
                .collect();
            WireInput::Head { now, id, status: v["status"].as_u64().unwrap() as u16, headers }
        }
        "body" => WireInput::Body { now, id, data: data(v) },
        "end" => WireInput::End { now, id },
        "failed" => WireInput::Failed { now, id, message: v["message"].as_str().unwrap().into() },
        "timeout" => WireInput::Timeout { now },
        "cancel" => WireInput::Cancel { now },
        "stdin" => WireInput::Stdin { now, data: data(v) },
        "close_stdin" => WireInput::CloseStdin { now },
        _ => return None,
    })
}

/// Proto-core's machine natively, fed the same wire inputs.
struct Native(Machine);

impl Native {
    fn new(spec: &WireSpec) -> Self {
        let (spec, run, now) = spec.clone().build().unwrap();
        Native(Machine::new(spec, run, now))
    }

    fn push(&mut self, input: &WireInput) -> i32 {
        let (d, id, m) = (Duration::from_nanos, RequestId, &mut self.0);
        let code = |r: Result<(), CommandError>| r.map_or_else(command_status, |()| status::OK);
        match input.clone() {
            WireInput::Head { now, id: i, status, headers } => {
                m.handle_input(d(now), Input::Head { id: id(i), status, headers })
            }
            WireInput::Body { now, id: i, data } => m.handle_input(d(now), Input::Body { id: id(i), data }),
            WireInput::End { now, id: i } => m.handle_input(d(now), Input::End { id: id(i) }),
            WireInput::Failed { now, id: i, message } => m.handle_input(d(now), Input::Failed { id: id(i), message }),
            WireInput::Timeout { now } => m.handle_timeout(d(now)),
            WireInput::Cancel { now } => m.cancel(d(now)),
            WireInput::Stdin { data, .. } => return code(m.write_stdin(data)),
            WireInput::CloseStdin { .. } => return code(m.close_stdin()),
            WireInput::Resize { .. } => unreachable!("no transcript resizes"),
        }
        status::OK
    }

    fn next(&mut self) -> WireOutput {
        self.0.poll_output().into()
    }
}

/// An output in the transcript's terms (proto-core's tests/replay.rs).
fn recorded(o: &WireOutput) -> Value {
    match o {
        WireOutput::Send { id, request } => {
            json!({"send": {"id": id, "method": request.method.as_str(), "path": request.path}})
        }
        WireOutput::Write { id, data } => {
            json!({"write": {"id": id, "text": String::from_utf8(data.to_vec()).unwrap()}})
        }
        WireOutput::CloseWrite { id } => json!({"close_write": {"id": id}}),
        WireOutput::Abort { id } => json!({"abort": {"id": id}}),
        WireOutput::Event(e) => json!({ "event": e }),
        WireOutput::Error(e) => json!({ "error": e.message }),
        WireOutput::Done => json!({"done": {}}),
        WireOutput::Pending { .. } => json!({"pending": {}}),
    }
}

#[test]
fn recorded_runs_replay_exactly_in_wasm_as_natively() {
    let module = module();
    for (name, lines) in transcripts() {
        let spec = spec(&lines[0]);
        let mut wasm = WasmMachine::new(&module, &spec).unwrap();
        let mut native = Native::new(&spec);
        for (n, line) in lines.iter().enumerate().skip(1) {
            let at = format!("{name} line {}", n + 1);
            if let Some(input) = input(line) {
                assert_eq!(wasm.push(&input), native.push(&input), "{at}: status");
                continue;
            }
            let (w, nat) = (wasm.next_output(), native.next());
            assert_eq!(w, nat, "{at}: the module and proto-core differ");
            assert_eq!(&recorded(&w), line, "{at}: the module did otherwise than recorded");
        }
        assert_eq!(wasm.next_output(), WireOutput::Done, "{name}");
        assert_eq!(native.next(), WireOutput::Done, "{name}");
    }
}

/// Every body fed one byte at a time, and the outputs drained after each
/// input: the module's whole output sequence equals proto-core's.
#[test]
fn recorded_runs_fed_bytewise_give_the_same_outputs_in_wasm() {
    let module = module();
    for (name, lines) in transcripts() {
        let spec = spec(&lines[0]);
        let mut wasm = WasmMachine::new(&module, &spec).unwrap();
        let mut native = Native::new(&spec);
        let (mut from_wasm, mut from_native) = (Vec::new(), Vec::new());
        let drain = |out: &mut Vec<WireOutput>, next: &mut dyn FnMut() -> WireOutput| loop {
            let o = next();
            let last = matches!(o, WireOutput::Pending { .. } | WireOutput::Done);
            out.push(o);
            if last {
                return;
            }
        };
        for line in &lines[1..] {
            let inputs = match input(line) {
                Some(WireInput::Body { now, id, data }) => {
                    (0..data.len()).map(|i| WireInput::Body { now, id, data: data.slice(i..i + 1) }).collect()
                }
                Some(other) => vec![other],
                None => continue,
            };
            for i in inputs {
                assert_eq!(wasm.push(&i), native.push(&i), "{name}: status");
                drain(&mut from_wasm, &mut || wasm.next_output());
                drain(&mut from_native, &mut || native.next());
            }
        }
        assert!(from_wasm.len() > 20, "{name}: only {} outputs", from_wasm.len());
        assert_eq!(from_wasm, from_native, "{name}");
        assert_eq!(from_wasm.last(), Some(&WireOutput::Done), "{name}");
    }
}

/// A spec the builder refuses: the error, then done, as the ABI says.
#[test]
fn a_refused_spec_is_an_error_then_done() {
    let module = module();
    let mut wasm = WasmMachine::new(&module, &WireSpec::new("NOT a valid:image:ref")).unwrap();
    match wasm.next_output() {
        WireOutput::Error(e) => assert!(e.message.contains("invalid image reference"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(wasm.next_output(), WireOutput::Done);
    assert_eq!(wasm.push(&WireInput::CloseStdin { now: 0 }), status::ENDED);
}

/// The core does no I/O: the module needs nothing from its host, and
/// exports its memory and the C ABI.
#[test]
fn the_module_imports_nothing() {
    let module = module();
    assert_eq!(module.imports(), Vec::<String>::new());
    let mut exports = module.exports();
    exports.sort();
    let want =
        ["cs_alloc", "cs_decode_frames", "cs_drop", "cs_free", "cs_input", "cs_new", "cs_output", "cs_poll", "memory"];
    assert!(want.iter().all(|w| exports.iter().any(|e| e == w)), "{exports:?}");
}
