//! Throughput of cstream's core natively and inside WebAssembly (wasmi,
//! an interpreter), on the same code:
//!
//! 1. the frame decoder alone: `cstream_wasm::session::decode_frames` over
//!    a multiplexed stream of stdout frames read 64 KiB at a time, with
//!    32 KiB frames (a process writing big blocks: mostly copying) and with
//!    128-byte frames (a process writing lines: mostly per-frame work);
//! 2. the whole machine: the same stream fed as attach body inputs to a
//!    running machine (scripted engine answers), every output event drained;
//!    in WebAssembly each input and output crosses the boundary postcard-encoded.
//!
//! Build the module first (`scripts/wasm.sh`), then:
//!
//!     cargo run --release -p cstream-wasm-host --example decode_bench [MiB]
//!
//! MiB is how much stream each measure decodes (64 by default).

use std::time::{Duration, Instant};

use bytes::Bytes;
use cstream_driver_blocking::Core;
use cstream_proto_core::{EventKind, Input, Machine, Output, RequestId};
use cstream_wasm::wire::{WirePull, WireSpec};
use cstream_wasm_host::{WasmMachine, WasmModule};

const READ: usize = 64 * 1024;
/// The payload decoded per round.
const ROUND: usize = 4 * 1024 * 1024;

/// One round: `ROUND` bytes of payload in frames of `frame` bytes.
fn frames(frame: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(ROUND + ROUND / frame * 8);
    for i in 0..ROUND / frame {
        v.extend_from_slice(&[1, 0, 0, 0]);
        v.extend_from_slice(&(frame as u32).to_be_bytes());
        v.extend((0..frame).map(|j| b'a' + ((i + j) % 26) as u8));
    }
    v
}

fn rate(bytes: u64, took: Duration) -> String {
    format!(
        "{:8.1} MB/s ({:.3} s for {} MiB of payload)",
        bytes as f64 / took.as_secs_f64() / 1e6,
        took.as_secs_f64(),
        bytes >> 20
    )
}

/// Best of three: each time, `rounds` rounds of `f`, which returns payload bytes.
fn best(rounds: usize, mut f: impl FnMut() -> u64) -> (u64, Duration) {
    (0..3)
        .map(|_| {
            let start = Instant::now();
            let bytes: u64 = (0..rounds).map(|_| f()).sum();
            (bytes, start.elapsed())
        })
        .min_by_key(|(_, took)| *took)
        .unwrap()
}

/// Brings `m` to a running container by answering its requests as an engine
/// would; returns the attach request's id.
fn start<M: Core>(m: &mut M) -> RequestId {
    let now = Duration::from_millis(1);
    let mut attach = None;
    let mut started = false;
    while !started || attach.is_none() {
        match m.poll() {
            Output::Send { id, request } => {
                let path = request.path.split('?').next().unwrap().to_string();
                let (status, body): (u16, &[u8]) = match path.rsplit('/').next().unwrap() {
                    "_ping" => (200, b"OK"),
                    "create" => (201, br#"{"Id":"c1","Warnings":[]}"#),
                    "attach" => (101, b""),
                    "wait" => (200, b""),
                    "start" => (204, b""),
                    other => panic!("unexpected request {other}"),
                };
                let headers = vec![("Api-Version".to_string(), "1.41".to_string())];
                m.input(now, Input::Head { id, status, headers });
                match path.rsplit('/').next().unwrap() {
                    "attach" => attach = Some(id),
                    "wait" => {}
                    _ => {
                        m.input(now, Input::Body { id, data: Bytes::from_static(body) });
                        m.input(now, Input::End { id });
                    }
                }
                started |= path.ends_with("/start");
            }
            Output::Error(e) => panic!("{e}"),
            Output::Done => panic!("the run ended"),
            _ => {}
        }
    }
    attach.unwrap()
}

/// Feeds one round of the stream to a running machine, 64 KiB per input,
/// draining after each; returns the output bytes.
fn feed<M: Core>(m: &mut M, id: RequestId, stream: &Bytes) -> u64 {
    let now = Duration::from_millis(2);
    let mut bytes = 0;
    for i in (0..stream.len()).step_by(READ) {
        m.input(now, Input::Body { id, data: stream.slice(i..(i + READ).min(stream.len())) });
        loop {
            match m.poll() {
                Output::Event(e) => {
                    if let EventKind::Output { data, .. } = e.kind {
                        bytes += data.len() as u64;
                    }
                }
                Output::Pending { .. } => break,
                Output::Error(e) => panic!("{e}"),
                Output::Done => panic!("the run ended"),
                _ => {}
            }
        }
    }
    bytes
}

fn main() {
    let mib: usize = std::env::args().nth(1).map_or(64, |a| a.parse().expect("MiB"));
    let rounds = (mib * 1024 * 1024).div_ceil(ROUND);
    let t = Instant::now();
    let module = WasmModule::load().unwrap_or_else(|e| panic!("{e}"));
    let size = std::fs::metadata(cstream_wasm_host::wasm_path()).unwrap().len();
    println!("module: {size} bytes, compiled by wasmi in {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let mut instance = module.instantiate().unwrap();
    for frame in [32 * 1024, 128] {
        let stream = frames(frame);
        println!(
            "\n{} MiB of payload in {frame}-byte stdout frames, read {} KiB at a time:",
            rounds * (ROUND >> 20),
            READ >> 10
        );
        let (n, took) = best(rounds, || cstream_wasm::session::decode_frames(&stream, READ).unwrap());
        let native = n as f64 / took.as_secs_f64();
        println!("  frame decoder, native:        {}", rate(n, took));
        let at = instance.write(&stream).unwrap();
        let (n, took) = best(rounds, || instance.decode_frames(at, READ as u32).unwrap().unwrap());
        let wasm = n as f64 / took.as_secs_f64();
        println!("  frame decoder, wasm (wasmi):  {}, native / {:.0}", rate(n, took), native / wasm);

        let spec =
            WireSpec { command: Some(vec!["true".into()]), pull: WirePull::Never, ..WireSpec::new("bench:latest") };
        let stream = Bytes::from(stream);
        let (s, run, now) = spec.clone().build().unwrap();
        let mut m = Machine::new(s, run, now);
        let id = start(&mut m);
        let (n, took) = best(rounds, || feed(&mut m, id, &stream));
        let native = n as f64 / took.as_secs_f64();
        println!("  whole machine, native:        {}", rate(n, took));
        let mut m = WasmMachine::new(&module, &spec).unwrap();
        let id = start(&mut m);
        let (n, took) = best(rounds, || feed(&mut m, id, &stream));
        let wasm = n as f64 / took.as_secs_f64();
        println!("  whole machine, wasm (wasmi):  {}, native / {:.0}", rate(n, took), native / wasm);
    }
    println!("\nwasm linear memory of the decoder's instance: {} MiB", instance.memory_size() >> 20);
}
