//! One run behind the boundary: a machine fed and drained with encoded
//! messages. Safe code; the C ABI in [`crate::abi`] only moves bytes in and out.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use bytes::Bytes;
use cstream_proto_core::decode::FrameDecoder;
use cstream_proto_core::{CommandError, Error, Machine, Output};

use crate::wire::{WireInput, WireSpec};

/// What [`Session::input`] (and `cs_input`) returns.
pub mod status {
    /// The input was taken.
    pub const OK: i32 = 0;
    /// The command was refused: stdin was not enabled for this run.
    pub const STDIN_NOT_ENABLED: i32 = 1;
    /// The command was refused: stdin is closed.
    pub const STDIN_CLOSED: i32 = 2;
    /// The command was refused: the run has no terminal.
    pub const NO_TTY: i32 = 3;
    /// The command was refused: the process has ended.
    pub const ENDED: i32 = 4;
    /// The command was refused: a terminal size with a zero dimension.
    pub const BAD_SIZE: i32 = 5;
    /// The command was refused for a reason newer than this list.
    pub const REFUSED: i32 = 6;
    /// The bytes are not a postcard-encoded [`WireInput`](crate::wire::WireInput).
    pub const UNDECODABLE: i32 = -1;
    /// The session handle is null.
    pub const NO_SESSION: i32 = -2;
}

/// The status code of a refused command.
pub fn command_status(e: CommandError) -> i32 {
    match e {
        CommandError::StdinNotEnabled => status::STDIN_NOT_ENABLED,
        CommandError::StdinClosed => status::STDIN_CLOSED,
        CommandError::NoTty => status::NO_TTY,
        CommandError::Ended => status::ENDED,
        CommandError::BadSize => status::BAD_SIZE,
        _ => status::REFUSED,
    }
}

/// The refused command a status code stands for; `None` for the others.
pub fn command_error(code: i32) -> Option<CommandError> {
    Some(match code {
        status::STDIN_NOT_ENABLED => CommandError::StdinNotEnabled,
        status::STDIN_CLOSED => CommandError::StdinClosed,
        status::NO_TTY => CommandError::NoTty,
        status::BAD_SIZE => CommandError::BadSize,
        status::ENDED | status::REFUSED => CommandError::Ended,
        _ => return None,
    })
}

/// One run: the machine, or the reason its spec was refused.
#[derive(Debug)]
pub struct Session {
    machine: Option<Machine>,
    /// Outputs of a run whose spec was refused: the error, then done.
    refused: VecDeque<Output>,
    /// The last output, encoded.
    out: Vec<u8>,
}

impl Session {
    /// A run of the postcard-encoded [`WireSpec`] in `spec`. A spec that
    /// decodes but is refused by the builder gives a session whose only
    /// outputs are the error and [`Output::Done`]; `None` when the bytes
    /// do not decode.
    pub fn new(spec: &[u8]) -> Option<Session> {
        let spec: WireSpec = postcard::from_bytes(spec).ok()?;
        let mut session = Session { machine: None, refused: VecDeque::new(), out: Vec::new() };
        match spec.build() {
            Ok((spec, run, now)) => session.machine = Some(Machine::new(spec, run, now)),
            Err(e) => session.refused.push_back(Output::Error(Error::Spec(e))),
        }
        Some(session)
    }

    /// Feeds the postcard-encoded [`WireInput`] in `input`; returns a
    /// [`status`] code.
    pub fn input(&mut self, input: &[u8]) -> i32 {
        match postcard::from_bytes(input) {
            Ok(input) => self.apply(input),
            Err(_) => status::UNDECODABLE,
        }
    }

    /// Feeds one input; returns a [`status`] code.
    pub fn apply(&mut self, input: WireInput) -> i32 {
        let Some(m) = &mut self.machine else {
            return match input {
                WireInput::Stdin(_) | WireInput::CloseStdin | WireInput::Resize { .. } => status::ENDED,
                _ => status::OK,
            };
        };
        let result = match input {
            WireInput::Input { now, input } => {
                m.handle_input(now, input);
                Ok(())
            }
            WireInput::Timeout { now } => {
                m.handle_timeout(now);
                Ok(())
            }
            WireInput::Cancel { now } => {
                m.cancel(now);
                Ok(())
            }
            // A command taken gets the next command id, counting from 0:
            // its `Ack` output carries it.
            WireInput::Stdin(data) => m.write_stdin(data).map(drop),
            WireInput::CloseStdin => m.close_stdin().map(drop),
            WireInput::Resize { now, size } => m.resize(now, size).map(drop),
        };
        result.map_or_else(command_status, |()| status::OK)
    }

    /// The machine's next output.
    pub fn next_output(&mut self) -> Output {
        match &mut self.machine {
            Some(m) => m.poll_output(),
            None => self.refused.pop_front().unwrap_or(Output::Done),
        }
    }

    /// The machine's next output, postcard-encoded; valid until the next call.
    pub fn poll(&mut self) -> &[u8] {
        let output = self.next_output();
        self.out.clear();
        // Writing into a Vec fails only when memory runs out, which aborts first.
        let _ = postcard::serialize_with_flavor(&output, Reuse(&mut self.out));
        &self.out
    }

    /// The output [`Session::poll`] encoded last.
    pub fn last_output(&self) -> &[u8] {
        &self.out
    }
}

/// A postcard flavor that writes into a Vec kept from call to call, copying
/// slices whole (postcard's `to_extend` goes byte by byte, which costs in an
/// interpreter).
struct Reuse<'a>(&'a mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Reuse<'_> {
    type Output = ();

    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        self.0.push(data);
        Ok(())
    }

    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// Decodes `frames`, a multiplexed attach stream, fed `chunk` bytes at a time
/// to one [`FrameDecoder`] as a driver's reads would be; returns the payload
/// bytes decoded, or `None` when the stream is malformed or cut. The copy of
/// `frames` into a buffer the decoder can slice counts in the work done.
/// For measuring the decoder in and out of WebAssembly with the same code.
pub fn decode_frames(frames: &[u8], chunk: usize) -> Option<u64> {
    let mut rest = Bytes::copy_from_slice(frames);
    let mut decoder = FrameDecoder::default();
    let mut total = 0u64;
    while !rest.is_empty() {
        let mut piece = rest.split_to(chunk.clamp(1, rest.len()));
        while let Some(c) = decoder.decode(&mut piece).ok()? {
            total += c.data.len() as u64;
        }
    }
    decoder.finish().ok()?;
    Some(total)
}
