//! Newline-delimited records, such as a pull's JSON progress stream.
//!
//! Lines end in `\n`; a `\r` before it is dropped, also when the two arrive in
//! different chunks. Empty lines are skipped. A line within one chunk is
//! sliced out without copying; a line split across chunks is gathered.

use bytes::{Buf, Bytes, BytesMut};

/// A line grew past the limit without ending.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a line of the engine's answer is longer than {limit} bytes")]
pub struct LineError {
    /// The limit in bytes.
    pub limit: usize,
}

/// Splits a byte stream into lines.
#[derive(Debug)]
pub struct LineDecoder {
    held: BytesMut,
    max_line: usize,
}

impl LineDecoder {
    /// A decoder refusing lines longer than `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        LineDecoder { held: BytesMut::new(), max_line }
    }

    /// Takes bytes from the front of `input`; returns the next non-empty
    /// line without its line ending, or `Ok(None)` once `input` is used up.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Bytes>, LineError> {
        while !input.is_empty() {
            let Some(i) = input.iter().position(|&b| b == b'\n') else {
                self.hold(input.len(), input)?;
                return Ok(None);
            };
            let line = match self.held.is_empty() {
                true => {
                    let line = input.split_to(i);
                    input.advance(1);
                    line
                }
                false => {
                    self.hold(i, input)?;
                    input.advance(1);
                    self.held.split().freeze()
                }
            };
            let line = trim_cr(line);
            if line.len() > self.max_line {
                return Err(LineError { limit: self.max_line });
            }
            if !line.is_empty() {
                return Ok(Some(line));
            }
        }
        Ok(None)
    }

    fn hold(&mut self, n: usize, input: &mut Bytes) -> Result<(), LineError> {
        if self.held.len() + n > self.max_line + 1 {
            self.held.clear();
            input.advance(n);
            return Err(LineError { limit: self.max_line });
        }
        self.held.extend_from_slice(&input.split_to(n));
        Ok(())
    }

    /// At end of stream: the last line, if it did not end in a newline.
    pub fn finish(&mut self) -> Option<Bytes> {
        let line = trim_cr(self.held.split().freeze());
        (!line.is_empty()).then_some(line)
    }
}

fn trim_cr(mut line: Bytes) -> Bytes {
    if line.last() == Some(&b'\r') {
        line.truncate(line.len() - 1);
    }
    line
}
