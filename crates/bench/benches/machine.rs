//! The whole per-chunk path of a non-TTY run's output inside the core: the
//! same 4 MiB of stdout frames as `decoder.rs`, in the same 64 KiB reads, fed
//! to a running [`Machine`] as `Input::Body` and drained as `Output::Event`s,
//! beside the frame decoder alone on the same reads.
//!
//! - `decoder`: the read loop and `FrameDecoder::decode`, as in `decoder.rs`.
//! - `machine`: the same reads, each handed to `Machine::handle_input`, then
//!   `Machine::poll_output` until it is pending, as the driver does; every
//!   `Output` event counted.
//!
//! The difference per frame is what the machine adds to each chunk (the
//! event, its queue, the coalescer's check) on top of decoding.

mod common;

use std::hint::black_box;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use common::{READ, stream_of};
use criterion::{Criterion, Throughput};
use cstream_proto_core::decode::FrameDecoder;
use cstream_proto_core::{EventKind, Input, Machine, Output, RequestId, RunInfo, RunSpec};

/// `input` in reads of at most `READ` bytes, each copied into the read
/// loop's buffer as `exchange.rs` does, and handed to `each`.
fn reads(input: &[u8], mut each: impl FnMut(Bytes)) {
    let mut buf = BytesMut::with_capacity(READ);
    let mut pos = 0;
    while pos < input.len() {
        if buf.capacity() < READ / 4 {
            buf.reserve(READ);
        }
        let n = (buf.capacity() - buf.len()).min(READ).min(input.len() - pos);
        buf.put_slice(&input[pos..pos + n]);
        pos += n;
        each(buf.split().freeze());
    }
}

fn decoder(input: &[u8], d: &mut FrameDecoder) -> u64 {
    let mut seen = 0u64;
    reads(input, |mut data| {
        while let Ok(Some(chunk)) = d.decode(&mut data) {
            seen += black_box(chunk.data).len() as u64;
        }
    });
    seen
}

/// A machine whose container runs, and the id of its attach request.
fn running() -> (Machine, RequestId) {
    let spec = RunSpec::builder("cstream-test:latest").command(["cat"]).heartbeat(None).build().expect("spec");
    let info = RunInfo { run_id: "bench".into(), created_unix: 1_700_000_000, owner: None };
    let mut m = Machine::new(spec, info, Duration::ZERO);
    let now = Duration::from_millis(1);
    let mut attach = None;
    let head = |id, status: u16, upgrade: bool| {
        let mut headers = vec![("Api-Version".to_string(), "1.41".to_string())];
        if upgrade {
            headers.push(("Connection".into(), "Upgrade".into()));
            headers.push(("Upgrade".into(), "tcp".into()));
        }
        Input::Head { id, status, headers }
    };
    let mut queue = std::collections::VecDeque::new();
    loop {
        match m.poll_output() {
            Output::Send { id, request } => {
                let path = request.path.split('?').next().unwrap_or_default().to_string();
                let answer = |queue: &mut std::collections::VecDeque<Input>, status, body: &'static [u8]| {
                    queue.push_back(head(id, status, false));
                    queue.push_back(Input::Body { id, data: Bytes::from_static(body) });
                    queue.push_back(Input::End { id });
                };
                match path.rsplit('/').next().unwrap_or_default() {
                    "_ping" => answer(&mut queue, 200, b"OK"),
                    "version" => answer(&mut queue, 200, br#"{"Version":"29.0.0","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#),
                    "info" => answer(&mut queue, 200, br#"{"NCPU":2,"MemTotal":1}"#),
                    "create" => answer(&mut queue, 201, br#"{"Id":"c0ffee","Warnings":[]}"#),
                    "attach" => {
                        attach = Some(id);
                        queue.push_back(head(id, 101, true));
                    }
                    // The wait answers only when the process ends: never, here.
                    "wait" => queue.push_back(head(id, 200, false)),
                    "start" => {
                        queue.push_back(head(id, 204, false));
                        queue.push_back(Input::End { id });
                    }
                    other => panic!("the bench's engine does not answer {other} ({})", request.path),
                }
            }
            Output::Pending { .. } => match queue.pop_front() {
                Some(input) => m.handle_input(now, input),
                None => break,
            },
            Output::Event(_) => {}
            other => panic!("unexpected while starting: {other:?}"),
        }
    }
    let attach = attach.expect("the machine attached");
    // The first output marks the process started; feed one frame to get past that.
    m.handle_input(now, Input::Body { id: attach, data: Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 1, b'x']) });
    while let Output::Event(_) = m.poll_output() {}
    (m, attach)
}

fn machine(input: &[u8], m: &mut Machine, attach: RequestId) -> u64 {
    let now = Duration::from_millis(2);
    let mut seen = 0u64;
    reads(input, |data| {
        m.handle_input(now, Input::Body { id: attach, data });
        loop {
            match m.poll_output() {
                Output::Event(e) => match e.kind {
                    EventKind::Output { data, .. } => seen += black_box(data).len() as u64,
                    other => panic!("unexpected event {other:?}"),
                },
                Output::Pending { .. } => break,
                other => panic!("unexpected output {other:?}"),
            }
        }
    });
    seen
}

fn per_chunk(c: &mut Criterion) {
    for (payload, name) in [(16, "16B"), (1024, "1KiB"), (32 * 1024, "32KiB")] {
        let input = stream_of(payload);
        let payload_total = (input.len() / (8 + payload) * payload) as u64;
        let mut d = FrameDecoder::default();
        let (mut m, attach) = running();
        assert_eq!(decoder(&input, &mut d), payload_total, "the decoder passes every payload byte on");
        assert_eq!(machine(&input, &mut m, attach), payload_total, "the machine passes every payload byte on");
        let mut group = c.benchmark_group(format!("machine-{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("decoder", |b| b.iter(|| decoder(black_box(&input), &mut d)));
        group.bench_function("machine", |b| b.iter(|| machine(black_box(&input), &mut m, attach)));
        group.finish();
    }
}

fn main() {
    // What `criterion_group!` and `criterion_main!` expand to, without their undocumented `pub fn`.
    let mut c = Criterion::default().configure_from_args();
    per_chunk(&mut c);
    c.final_summary();
}
