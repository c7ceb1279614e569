//! HTTP/1.1 by hand, one request per connection: the request written, the
//! answer read by a thread of its own and reported as machine inputs on a
//! channel (the run's, or [`request`]'s own).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};

use bytes::Bytes;
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::{Input, RequestId};

/// Read size, and the most a status line and headers may take.
const READ_SIZE: usize = 64 * 1024;

/// Sends one request outside any run and returns the status and whole body:
/// for a ping, or listing containers (`cstream_proto_core::api::requests`).
pub fn request(socket: impl AsRef<Path>, request: &Request) -> io::Result<(u16, Vec<u8>)> {
    let stream = send(socket.as_ref(), request)?;
    let (tx, rx) = sync_channel(4);
    std::thread::spawn(move || read_answer(RequestId(0), stream, false, tx));
    let (mut status, mut body) = (0, Vec::new());
    for input in rx {
        match input {
            Input::Head { status: s, .. } => status = s,
            Input::Body { data, .. } => body.extend_from_slice(&data),
            Input::End { .. } => return Ok((status, body)),
            Input::Failed { message, .. } => return Err(io::Error::other(message)),
            // Nothing is written on this connection.
            Input::Written { .. } => {}
        }
    }
    Err(io::Error::other("the answer's reader stopped"))
}

/// Connects to the engine and writes `request` on a new connection.
pub(crate) fn send(socket: &Path, request: &Request) -> io::Result<UnixStream> {
    let mut stream = UnixStream::connect(socket)?;
    let mut head = format!("{} {} HTTP/1.1\r\nHost: localhost\r\n", request.method.as_str(), request.path);
    for h in &request.headers {
        head.push_str(&format!("{}: {}\r\n", h.name, h.value));
    }
    if request.kind != RequestKind::Upgrade {
        head.push_str("Connection: close\r\n");
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    Ok(stream)
}

/// Reads the answer to request `id` from `stream` and reports it on `tx`:
/// the head, the body as it arrives, then its end or the failure.
pub(crate) fn read_answer<M: From<Input>>(id: RequestId, stream: UnixStream, upgrade: bool, tx: SyncSender<M>) {
    let mut answer = Answer { id, r: BufReader::with_capacity(READ_SIZE, stream), tx };
    if let Err(e) = answer.read(upgrade) {
        // When the run is gone, so is the need to tell it.
        let _ = answer.tx.send(Input::Failed { id, message: e.to_string() }.into());
    }
}

struct Answer<M> {
    id: RequestId,
    r: BufReader<UnixStream>,
    tx: SyncSender<M>,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed HTTP answer: {what}"))
}

impl<M: From<Input>> Answer<M> {
    fn emit(&self, input: Input) -> io::Result<()> {
        self.tx.send(input.into()).map_err(|_| io::Error::other("the run is gone"))
    }

    fn read(&mut self, upgrade: bool) -> io::Result<()> {
        let status_line = self.line()?;
        let mut words = status_line.split(' ');
        let status = match (words.next(), words.next().and_then(|s| s.parse::<u16>().ok())) {
            (Some(v), Some(s)) if v.starts_with("HTTP/1.") => s,
            _ => return Err(bad("no status line")),
        };
        let mut headers = Vec::new();
        loop {
            let line = self.line()?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').ok_or_else(|| bad("a header without a colon"))?;
            headers.push((name.trim().to_string(), value.trim().to_string()));
        }
        let header = |n: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)).map(|(_, v)| v.clone());
        let chunked = header("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length =
            header("content-length").map(|v| v.parse::<u64>().map_err(|_| bad("Content-Length"))).transpose()?;
        self.emit(Input::Head { id: self.id, status, headers })?;
        match status {
            // After the upgrade the socket is the container's output, to its end.
            101 if upgrade => self.body(None)?,
            100..=199 | 204 | 304 => {}
            _ if chunked => self.chunked()?,
            _ => self.body(length)?,
        }
        self.emit(Input::End { id: self.id })
    }

    /// One line without its CRLF, at most [`READ_SIZE`] bytes.
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = Read::by_ref(&mut self.r).take(READ_SIZE as u64).read_until(b'\n', &mut line)?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed inside the answer's head"));
        }
        let line = String::from_utf8(line).map_err(|_| bad("a line that is not UTF-8"))?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Passes on `length` bytes of body as they arrive, or all until the
    /// connection closes when `None`.
    fn body(&mut self, mut length: Option<u64>) -> io::Result<()> {
        while length != Some(0) {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                return match length {
                    None => Ok(()),
                    Some(_) => {
                        Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the connection closed inside the body"))
                    }
                };
            }
            let n = length.map_or(buf.len(), |l| buf.len().min(usize::try_from(l).unwrap_or(usize::MAX)));
            let data = Bytes::copy_from_slice(&buf[..n]);
            self.r.consume(n);
            if let Some(l) = &mut length {
                *l -= n as u64;
            }
            self.emit(Input::Body { id: self.id, data })?;
        }
        Ok(())
    }

    /// A chunked body: each chunk passed on as it arrives, trailers skipped.
    fn chunked(&mut self) -> io::Result<()> {
        loop {
            let line = self.line()?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| bad("a chunk size"))?;
            if size == 0 {
                while !self.line()?.is_empty() {}
                return Ok(());
            }
            self.body(Some(size))?;
            if !self.line()?.is_empty() {
                return Err(bad("a chunk without its CRLF"));
            }
        }
    }
}
