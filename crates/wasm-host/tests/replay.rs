//! The recorded Docker and Podman runs (proto-core's transcripts) replayed
//! through the WebAssembly module: every output must be the one recorded,
//! and the same, in full, as proto-core's natively (requests with their
//! headers and bodies, events, errors, deadlines).
//!
//! Needs the module: `scripts/wasm.sh` builds it.

use cstream_proto_core::transcript::{self, Command, Head, Record};
use cstream_proto_core::{CommandError, Error, Input, Machine, Output, SpecError};
use cstream_wasm::session::{command_status, status};
use cstream_wasm::wire::{WireInput, WirePull, WireSpec};
use cstream_wasm_host::{WasmMachine, WasmModule};
use serde_json::Value;

fn module() -> WasmModule {
    WasmModule::load().unwrap_or_else(|e| panic!("{e}"))
}

fn transcripts() -> Vec<(String, Head, Vec<Record>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-core/tests/transcripts");
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

/// The transcript's spec, as [`Head::spec`] builds it for proto-core.
fn spec(head: &Head) -> WireSpec {
    let pull = match head.pull {
        cstream_proto_core::PullPolicy::Never => WirePull::Never,
        cstream_proto_core::PullPolicy::Always => WirePull::Always,
        cstream_proto_core::PullPolicy::Missing => WirePull::Missing,
    };
    WireSpec {
        run_id: "replay".into(),
        tty: head.tty,
        tty_size: head.tty_size,
        stdin: head.stdin,
        pull,
        heartbeat: Some(0),
        command: head.command.clone(),
        ..WireSpec::new(head.image.as_str())
    }
}

/// The input or command a record holds; `None` for an output.
fn input(record: &Record) -> Option<WireInput> {
    Some(match record {
        Record::Input { at, input } => WireInput::Input { now: *at, input: input.clone() },
        Record::Timeout { at } => WireInput::Timeout { now: *at },
        Record::Command { at, command: Command::Cancel } => WireInput::Cancel { now: *at },
        Record::Command { command: Command::Stdin(data), .. } => WireInput::Stdin(data.clone()),
        Record::Command { command: Command::CloseStdin, .. } => WireInput::CloseStdin,
        Record::Output(_) => return None,
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
        let m = &mut self.0;
        let code = |r: Result<(), CommandError>| r.map_or_else(command_status, |()| status::OK);
        match input.clone() {
            WireInput::Input { now, input } => m.handle_input(now, input),
            WireInput::Timeout { now } => m.handle_timeout(now),
            WireInput::Cancel { now } => m.cancel(now),
            WireInput::Stdin(data) => return code(m.write_stdin(data).map(drop)),
            WireInput::CloseStdin => return code(m.close_stdin().map(drop)),
            WireInput::Resize { .. } => unreachable!("no transcript resizes"),
        }
        status::OK
    }

    fn next(&mut self) -> Output {
        self.0.poll_output()
    }
}

/// An output as the transcript records it.
fn recorded(o: &Output) -> Value {
    transcript::output(o).unwrap_or_else(|| panic!("{o:?} where the transcript has an output"))
}

#[test]
fn recorded_runs_replay_exactly_in_wasm_as_natively() {
    let module = module();
    for (name, head, records) in transcripts() {
        let spec = spec(&head);
        let mut wasm = WasmMachine::new(&module, &spec).unwrap();
        let mut native = Native::new(&spec);
        for (n, record) in records.iter().enumerate() {
            let at = format!("{name} line {}", n + 2);
            if let Some(input) = input(record) {
                assert_eq!(wasm.push(&input), native.push(&input), "{at}: status");
                continue;
            }
            // Acks are not recorded (they go to the command's caller): both
            // give the same, then the recorded output.
            let (w, nat) = loop {
                let (w, nat) = (wasm.next_output(), native.next());
                assert_eq!(w, nat, "{at}: the module and proto-core differ");
                if !matches!(w, Output::Ack { .. }) {
                    break (w, nat);
                }
            };
            assert_eq!(w, nat);
            assert_eq!(&Record::Output(recorded(&w)), record, "{at}: the module did otherwise than recorded");
        }
        assert_eq!(wasm.next_output(), Output::Done, "{name}");
        assert_eq!(native.next(), Output::Done, "{name}");
    }
}

/// Every body fed one byte at a time, and the outputs drained after each
/// input: the module's whole output sequence equals proto-core's.
#[test]
fn recorded_runs_fed_bytewise_give_the_same_outputs_in_wasm() {
    let module = module();
    for (name, head, records) in transcripts() {
        let spec = spec(&head);
        let mut wasm = WasmMachine::new(&module, &spec).unwrap();
        let mut native = Native::new(&spec);
        let (mut from_wasm, mut from_native) = (Vec::new(), Vec::new());
        let drain = |out: &mut Vec<Output>, next: &mut dyn FnMut() -> Output| loop {
            let o = next();
            let last = matches!(o, Output::Pending { .. } | Output::Done);
            out.push(o);
            if last {
                return;
            }
        };
        for record in &records {
            let inputs = match input(record) {
                Some(WireInput::Input { now, input: Input::Body { id, data } }) => (0..data.len())
                    .map(|i| WireInput::Input { now, input: Input::Body { id, data: data.slice(i..i + 1) } })
                    .collect(),
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
        assert_eq!(from_wasm.last(), Some(&Output::Done), "{name}");
    }
}

/// A spec the builder refuses: the typed error, field for field, then
/// done, as the ABI says.
#[test]
fn a_refused_spec_is_its_typed_error_then_done() {
    let module = module();
    let too_little = WireSpec { memory: Some(1024), ..WireSpec::new("alpine:3.20") };
    let bad_image = WireSpec::new("NOT a valid:image:ref");
    let cases = [
        (
            too_little,
            SpecError::Invalid {
                field: "memory limit".into(),
                value: "1024".into(),
                why: "is below the engine's minimum of 6 MiB (6291456 bytes)".into(),
            },
        ),
        (
            bad_image,
            SpecError::Image {
                reference: "NOT a valid:image:ref".into(),
                why: "repository names must be lowercase".into(),
            },
        ),
    ];
    for (spec, want) in cases {
        let mut wasm = WasmMachine::new(&module, &spec).unwrap();
        assert_eq!(wasm.next_output(), Output::Error(Error::Spec(want)));
        assert_eq!(wasm.next_output(), Output::Done);
        assert_eq!(wasm.push(&WireInput::CloseStdin), status::ENDED);
    }
}

/// A CPU limit above what the engine's host has is refused by the machine
/// in the module once `/info` answers: the typed error crosses the ABI as
/// the machine made it, not as text.
#[test]
fn a_cpu_limit_above_the_host_comes_back_as_the_typed_error() {
    let module = module();
    let spec = WireSpec { cpu_millis: Some(4000), command: Some(vec!["true".into()]), ..WireSpec::new("alpine:3.20") };
    let mut wasm = WasmMachine::new(&module, &spec).unwrap();
    let now = std::time::Duration::from_millis(1);
    let mut errors = Vec::new();
    let mut asked = Vec::new();
    loop {
        match wasm.next_output() {
            Output::Send { id, request } => {
                asked.push(request.path.clone());
                let (headers, body): (Vec<(String, String)>, &str) = match request.path.as_str() {
                    "/_ping" => (vec![("Api-Version".into(), "1.41".into())], "OK"),
                    p if p.ends_with("/info") => (vec![], r#"{"NCPU":2}"#),
                    other => panic!("nothing is sent after the info: {other}"),
                };
                for input in
                    [Input::Head { id, status: 200, headers }, Input::Body { id, data: body.into() }, Input::End { id }]
                {
                    assert_eq!(wasm.push(&WireInput::Input { now, input }), status::OK);
                }
            }
            Output::Error(e) => errors.push(e),
            Output::Done => break,
            Output::Pending { .. } => panic!("waiting, after {asked:?}"),
            _ => {}
        }
    }
    assert_eq!(asked, ["/_ping", "/v1.41/info"]);
    let want = SpecError::Invalid {
        field: "CPU limit".into(),
        value: "4 CPUs, on a host with 2".into(),
        why: "is more than the engine's host has".into(),
    };
    assert_eq!(errors, [Error::Spec(want)]);
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
