//! Cleanup that must work without an async runtime, and the garbage
//! collection of containers a killed process left behind.

use std::io::{Read, Write};
use std::time::Duration;

use cstream_proto_core::api::Request;

use crate::connect::Connector;

/// Sends `req` over a blocking connection and returns the answer's status.
/// Bounded by `timeout` for the connection, the write and the read.
pub(crate) fn blocking_call(connector: &dyn Connector, req: &Request, timeout: Duration) -> std::io::Result<u16> {
    let mut io = connector.connect_blocking(timeout)?;
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        req.method.as_str(),
        req.path,
        req.body.len()
    );
    io.write_all(head.as_bytes())?;
    io.write_all(&req.body)?;
    io.flush()?;
    let mut answer = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match io.read(&mut answer[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let status = std::str::from_utf8(&answer[..n])
        .ok()
        .and_then(|s| s.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status in the answer"))?;
    Ok(status)
}
