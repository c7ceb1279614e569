//! cstream's sans-IO core for WebAssembly: [`cstream_proto_core::Machine`]
//! behind a small C ABI, with postcard-encoded messages both ways.
//!
//! Build the module with `scripts/wasm.sh` (it prints the path and size of
//! `cstream_wasm.wasm`). The host does all the I/O and keeps the clock; the
//! module holds the run's state. The `cstream-wasm-host` crate runs the
//! module in an interpreter against recorded and real engines.
//!
//! # The ABI
//!
//! All integers are wasm32 `i32` (pointers and lengths are `usize`), except
//! `cs_decode_frames`'s result (`i64`).
//!
//! | export | what it does |
//! | --- | --- |
//! | `cs_alloc(len) -> ptr` | memory for the host to write a message into |
//! | `cs_free(ptr, len)` | frees it |
//! | `cs_new(ptr, len) -> session` | a run of a postcard [`WireSpec`](wire::WireSpec); null when undecodable |
//! | `cs_input(session, ptr, len) -> status` | feeds a postcard [`WireInput`](wire::WireInput); see [`session::status`] |
//! | `cs_poll(session) -> len` | takes the next output, a postcard [`Output`](cstream_proto_core::Output) |
//! | `cs_output(session) -> ptr` | where that output is, until the next call |
//! | `cs_drop(session)` | frees the session |
//! | `cs_decode_frames(ptr, len, chunk) -> u64` | a measure of the frame decoder ([`session::decode_frames`]) |
//!
//! # The messages
//!
//! Every message is [postcard](https://docs.rs/postcard)'s encoding of a
//! serde type, and the types are proto-core's own wherever it has one:
//!
//! - in: [`WireSpec`](wire::WireSpec) (the builder's options, durations in
//!   nanoseconds), then [`WireInput`](wire::WireInput): an engine answer as a
//!   [`cstream_proto_core::Input`] with the host's clock (among them
//!   `Written`, once the host has written the stdin of a `Write` or
//!   `CloseWrite` output), a timeout, a cancel, stdin, or a resize;
//! - out: [`cstream_proto_core::Output`], as the machine made it: requests
//!   as [`cstream_proto_core::api::Request`] (method, path and query,
//!   headers with credentials in the clear, body, kind), events, deadlines
//!   as [`Duration`](core::time::Duration)s, and errors as the typed
//!   [`cstream_proto_core::Error`] (a refused spec as its `Error::Spec`,
//!   field and reason included), read back equal to the one the machine
//!   made; `Ack` answers a stdin write or close, or a resize: the commands
//!   `cs_input` takes (status `OK`) are numbered from 0 in the order taken,
//!   and each gets one `Ack` with its number.
//!
//! The run-loop contract is proto-core's: after [`cs_new`](abi::cs_new) and
//! after every `cs_input`, call `cs_poll` until the output is `Pending` (wait
//! for I/O or its deadline, then feed a `Timeout`) or `Done`.
//!
//! ```
//! use cstream_wasm::session::Session;
//! use cstream_proto_core::Output;
//! use cstream_wasm::wire::WireSpec;
//!
//! // What the module does with the bytes a host passes in, here natively.
//! let spec = WireSpec { command: Some(vec!["true".into()]), ..WireSpec::new("alpine:3.20") };
//! let mut session = Session::new(&postcard::to_allocvec(&spec).unwrap()).unwrap();
//! let first: Output = postcard::from_bytes(session.poll()).unwrap();
//! assert!(matches!(first, Output::Send { request, .. } if request.path == "/_ping"));
//! ```
//!
//! # Unsafe code
//!
//! The workspace forbids `unsafe`; this crate allows it only in [`abi`],
//! where raw pointers from the host become slices and sessions, each block
//! with its reasoning. Everything else, [`session`] and [`wire`], is safe.
//!
//! # Memory
//!
//! The module has no `std`: it links `core` and `alloc`, with `dlmalloc` as
//! its allocator (the one `std` uses on `wasm32-unknown-unknown`) and a
//! panic handler that traps. Native builds (the rlib a host uses for the wire
//! types) use `std`'s allocator and panic handler instead.

#![no_std]
#![warn(clippy::std_instead_of_core, clippy::alloc_instead_of_core, clippy::std_instead_of_alloc)]

extern crate alloc;
// Natively, the cdylib needs a panic handler and an allocator: std's.
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

pub mod abi;
pub mod session;
pub mod wire;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

/// A panic traps: the host sees the call fail. Nothing in the module is
/// expected to panic; engine bytes never make proto-core panic.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
