//! The floor: a client that does nothing but the socket work of a run, on
//! Tokio's multi-threaded runtime, measured beside cstream and bollard
//! (item 8) to show what any client spends on the same requests and bytes.
//!
//! It makes bollard's requests (create, attach, start, wait, remove) as bytes
//! written by hand on a Unix socket: no HTTP library, no JSON (the id and the
//! status code are found in the answer's text), no events, no timers, one
//! kept-alive connection per run in flight for the short requests and a
//! fresh one for the attach (its stream takes the connection over). Its output loop reads into one reused 64 KiB buffer and
//! only counts the payload behind each 8-byte frame header, the consumer
//! being `main`'s own future as for the libraries. What it spends is the
//! socket calls, the copies and the threads' wake-ups that the kernel and
//! the runtime charge for them. Where a target asks a client for less than
//! the floor spends, it asks for something no better code can give: fewer
//! wake-ups than the engine's writes, or a faster engine.

use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::clients::{Client, Consumer, Job, LABEL, Res};
use crate::runs;
use crate::stats::{self, Row, Unit};
use crate::targets::{Targets, order, ratio};
use crate::{GIB, MIB, retrying, rotated, run_stream_child};

/// The clients of item 8, in their columns.
const CLIENTS: [Client; 3] = [Client::Ours, Client::Bollard, Client::Floor];

/// What item 8 measures, and how often.
pub struct Plan {
    /// Runs of `true` one after the other, per child.
    pub runs: usize,
    /// Rounds of those, of the batches at once and of the streams.
    pub rounds: usize,
    /// Bytes streamed, log driver none.
    pub bytes: u64,
}

/// Item 8: cstream and bollard beside the floor, each in a child of its own,
/// their order rotated every round. Prints the table and adds to `targets`
/// what the floor says of the targets on ratios to bollard.
pub fn item(engines: &[(&str, String)], image: &str, plan: &Plan, targets: &mut Targets) -> Res<()> {
    let mut rows = Vec::new();
    for (name, endpoint) in engines {
        let mut row = runs::sequential_cpu(CLIENTS, endpoint, image, plan.runs, plan.rounds)?;
        row.what = format!("{name}: {}", row.what);
        let [_, b, f] = row.medians();
        targets.bound(order::CPU_PER_RUN, &format!("{name}: client CPU per run ≤ 0.5× bollard's"), ratio(f, b), 0.5);
        rows.push(row);
    }
    let docker = &engines[0].1;
    let [wall, cpu] = runs::at_once(CLIENTS, docker, image, 32, plan.rounds)?;
    let [_, b, f] = wall.medians();
    targets.bound(order::AT_ONCE, "32 at once, wall time ≤ 0.9× bollard's", ratio(f, b), 0.9);
    rows.extend([wall, cpu]);
    let mut gib = Row::new(format!("client CPU per GiB, {} MiB, log driver none", plan.bytes / MIB), Unit::S);
    let mut rss = Row::new("client peak RSS, the same", Unit::Mib);
    for round in 0..plan.rounds {
        for (i, client) in rotated(CLIENTS, round) {
            let r =
                retrying(client.name(), || run_stream_child(client, docker, image, plan.bytes, "none", 0, "multi"))?;
            gib.cells[i].push(r.cpu * GIB as f64 / r.bytes);
            rss.cells[i].push(r.maxrss_mib);
        }
    }
    let [_, b, f] = gib.medians();
    targets.bound(order::CPU_PER_GIB_NONE, "client CPU per GiB ≤ 0.5× bollard's", ratio(f, b), 0.5);
    let [_, b, f] = rss.medians();
    targets.bound(order::PEAK_RSS, "client peak RSS ≤ bollard's", ratio(f, b), 1.0);
    rows.extend([gib, rss]);
    let title = format!("8. The floor beside cstream and bollard, {} round(s)", plan.rounds);
    stats::print_floor_table(&title, &rows);
    Ok(())
}

/// The API version every request names (Docker 20.10 and Podman 4.3 speak it).
pub(crate) const VERSION: &str = "v1.41";

/// The floor client: the engine's socket and its idle connections.
pub struct Floor {
    path: String,
    idle: Mutex<Vec<Conn>>,
}

impl Floor {
    /// A client for `unix:///path`; nothing is sent until a run.
    pub fn new(endpoint: &str) -> Res<Floor> {
        let path = endpoint.strip_prefix("unix://").ok_or(format!("the floor speaks unix:// only, not {endpoint}"))?;
        Ok(Floor { path: path.to_string(), idle: Mutex::new(Vec::new()) })
    }

    /// One run of `job`: every output byte through `consumer`; an error when
    /// the process did not exit 0.
    pub async fn run(&self, job: &Job, consumer: &mut Consumer) -> Res<String> {
        let taken = self.idle.lock().map_err(|_| "poisoned")?.pop();
        let mut conn = match taken {
            Some(c) => c,
            None => Conn::open(&self.path).await?,
        };
        let create = conn.request("POST", "/containers/create", &create_body(job)).await?;
        let id = create.expect(201, "create")?.find_str("\"Id\":\"")?;
        let ran = async {
            let mut attach = Conn::open(&self.path).await?;
            let path = format!("/containers/{id}/attach?stream=1&stdout=1&stderr=1");
            let upgrade = Some("Upgrade: tcp\r\nConnection: Upgrade\r\n");
            let head = attach.send(&request_text("POST", &path, b"", upgrade)).await?;
            if head.status != 101 && head.status != 200 {
                return Err(format!("floor attach: {}", head.status));
            }
            conn.request("POST", &format!("/containers/{id}/start"), b"").await?.expect(204, "start")?;
            attach.count_frames(consumer).await?;
            let wait = conn.request("POST", &format!("/containers/{id}/wait"), b"").await?.expect(200, "wait")?;
            wait.find_str("\"StatusCode\":")
        }
        .await;
        let remove = format!("/containers/{id}?force=1&v=1");
        let code = match ran {
            Ok(code) => code,
            Err(e) => {
                // Not part of what is measured: a failed run's container is
                // removed on a connection of its own.
                let mut c = Conn::open(&self.path).await?;
                return Err(match c.request("DELETE", &remove, b"").await {
                    Ok(_) => e,
                    Err(also) => format!("{e}; and removing {id}: {also}"),
                });
            }
        };
        conn.request("DELETE", &remove, b"").await?.expect(204, "remove")?;
        self.idle.lock().map_err(|_| "poisoned")?.push(conn);
        match code.as_str() {
            "0" => Ok(id),
            c => Err(format!("floor: the process exited with {c}")),
        }
    }
}

fn create_body(job: &Job) -> Vec<u8> {
    let cmd: Vec<String> = job.argv.iter().map(|a| format!("\"{a}\"")).collect();
    let log = job
        .log_driver
        .as_ref()
        .map_or(String::new(), |d| format!(",\"HostConfig\":{{\"LogConfig\":{{\"Type\":\"{d}\"}}}}"));
    format!(
        "{{\"Image\":\"{}\",\"Cmd\":[{}],\"Labels\":{{\"{}\":\"{}\"}},\"AttachStdout\":true,\"AttachStderr\":true{log}}}",
        job.image,
        cmd.join(","),
        LABEL.0,
        LABEL.1
    )
    .into_bytes()
}

fn request_text(method: &str, path: &str, body: &[u8], extra: Option<&str>) -> Vec<u8> {
    let mut out = format!(
        "{method} /{VERSION}{path} HTTP/1.1\r\nHost: docker\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        extra.unwrap_or(""),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// An answer: its status and body.
pub(crate) struct Answer {
    status: u16,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn expect(self, status: u16, what: &str) -> Res<Answer> {
        match self.status == status {
            true => Ok(self),
            false => Err(format!("floor {what}: {} {}", self.status, String::from_utf8_lossy(&self.body))),
        }
    }

    /// What follows `key` up to the next `"`, `,` or `}`.
    fn find_str(&self, key: &str) -> Res<String> {
        let text = String::from_utf8_lossy(&self.body);
        let at = text.find(key).ok_or(format!("floor: no {key} in {text}"))? + key.len();
        let end = text[at..].find(['"', ',', '}']).ok_or(format!("floor: {key} unterminated"))?;
        Ok(text[at..at + end].to_string())
    }
}

/// A connection and the bytes read beyond the last answer.
pub(crate) struct Conn {
    sock: UnixStream,
    buf: Vec<u8>,
}

impl Conn {
    pub(crate) async fn open(path: &str) -> Res<Conn> {
        let sock = UnixStream::connect(path).await.map_err(|e| format!("floor connect {path}: {e}"))?;
        Ok(Conn { sock, buf: Vec::with_capacity(4096) })
    }

    pub(crate) async fn request(&mut self, method: &str, path: &str, body: &[u8]) -> Res<Answer> {
        let head = self.send(&request_text(method, path, body, None)).await?;
        let body = match head.status {
            101 | 204 | 304 => Vec::new(),
            _ if head.chunked => self.chunked().await?,
            _ => {
                let n = head.length.ok_or("floor: an answer with no length")?;
                self.fill(n).await?;
                self.buf.drain(..n).collect()
            }
        };
        Ok(Answer { status: head.status, body })
    }

    /// Writes a request and reads the answer's head.
    async fn send(&mut self, request: &[u8]) -> Res<Head> {
        self.sock.write_all(request).await.map_err(|e| format!("floor write: {e}"))?;
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = Head::parse(&self.buf[..end])?;
                self.buf.drain(..end + 4);
                return Ok(head);
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Res<()> {
        match self.sock.read_buf(&mut self.buf).await {
            Ok(0) => Err("floor: the engine closed the connection".into()),
            Ok(_) => Ok(()),
            Err(e) => Err(format!("floor read: {e}")),
        }
    }

    async fn fill(&mut self, n: usize) -> Res<()> {
        while self.buf.len() < n {
            self.buf.reserve(n - self.buf.len());
            self.read_more().await?;
        }
        Ok(())
    }

    async fn chunked(&mut self) -> Res<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line = loop {
                if let Some(at) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break at;
                }
                self.read_more().await?;
            };
            let size =
                std::str::from_utf8(&self.buf[..line]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
            let size = size.ok_or("floor: a bad chunk size")?;
            self.fill(line + 2 + size + 2).await?;
            body.extend_from_slice(&self.buf[line + 2..line + 2 + size]);
            self.buf.drain(..line + 2 + size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    /// Reads the attach stream to its end, counting each frame's payload.
    async fn count_frames(mut self, consumer: &mut Consumer) -> Res<()> {
        let mut frames = Frames::default();
        let early = std::mem::take(&mut self.buf);
        consumer.feed(frames.payload(&early)).await;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match self.sock.read(&mut buf).await {
                Ok(0) => return if frames.whole() { Ok(()) } else { Err("floor: the stream ended in a frame".into()) },
                Ok(n) => consumer.feed(frames.payload(&buf[..n])).await,
                Err(e) => return Err(format!("floor read: {e}")),
            }
        }
    }
}

/// Where the stream is among its 8-byte headers and their payloads.
#[derive(Default)]
struct Frames {
    header: [u8; 8],
    have: usize,
    left: usize,
}

impl Frames {
    /// How many payload bytes `bytes` holds.
    fn payload(&mut self, mut bytes: &[u8]) -> usize {
        let mut n = 0;
        while !bytes.is_empty() {
            if self.left > 0 {
                let take = self.left.min(bytes.len());
                (n, self.left, bytes) = (n + take, self.left - take, &bytes[take..]);
                continue;
            }
            let take = (8 - self.have).min(bytes.len());
            self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
            (self.have, bytes) = (self.have + take, &bytes[take..]);
            if self.have == 8 {
                self.left =
                    u32::from_be_bytes([self.header[4], self.header[5], self.header[6], self.header[7]]) as usize;
                self.have = 0;
            }
        }
        n
    }

    fn whole(&self) -> bool {
        self.have == 0 && self.left == 0
    }
}

/// An answer's status line and the headers that frame its body.
struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
}

impl Head {
    fn parse(bytes: &[u8]) -> Res<Head> {
        let text = std::str::from_utf8(bytes).map_err(|_| "floor: a head that is not text")?;
        let mut lines = text.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok());
        let mut head = Head {
            status: status.ok_or(format!("floor: a bad status line in {text:?}"))?,
            length: None,
            chunked: false,
        };
        for line in lines {
            let Some((name, value)) = line.split_once(':') else { continue };
            if name.eq_ignore_ascii_case("content-length") {
                head.length = value.trim().parse().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                head.chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        Ok(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Payload bytes are counted whatever the reads cut: a header split
    /// byte by byte, frames across reads, an empty frame.
    #[test]
    fn frames_count_payload_across_any_cut() {
        let mut stream = Vec::new();
        for (kind, len) in [(1u8, 5usize), (2, 0), (1, 70_000), (2, 3)] {
            stream.extend_from_slice(&[kind, 0, 0, 0]);
            stream.extend_from_slice(&(len as u32).to_be_bytes());
            stream.extend(std::iter::repeat_n(b'x', len));
        }
        for cut in [1, 3, 8, 9, 4096, stream.len()] {
            let mut f = Frames::default();
            let n: usize = stream.chunks(cut).map(|c| f.payload(c)).sum();
            assert_eq!((n, f.whole()), (70_008, true), "reads of {cut}");
        }
        let mut f = Frames::default();
        f.payload(&stream[..stream.len() - 1]);
        assert!(!f.whole());
    }

    /// A run of `true` and a run with 1 MiB of output on Docker 20.10
    /// (`scripts/engines.sh up`), leaving no container behind.
    #[test]
    fn runs_on_docker() {
        let floor = Floor::new("unix:///var/run/docker.sock").unwrap();
        let rt = crate::runtime_of("multi").unwrap();
        for (argv, bytes) in [(vec!["true"], 0), (vec!["head", "-c", "1048576", "/dev/zero"], 1 << 20)] {
            let job = Job {
                image: "cstream-test:latest".into(),
                argv: argv.into_iter().map(String::from).collect(),
                log_driver: None,
            };
            let mut consumer = Consumer::new(std::time::Instant::now(), 0, std::time::Duration::ZERO);
            let id =
                rt.block_on(floor.run(&job, &mut consumer)).unwrap_or_else(|e| panic!("{e} (scripts/engines.sh up)"));
            assert_eq!(consumer.bytes(), bytes);
            let inspected = rt.block_on(async {
                let mut conn = Conn::open("/var/run/docker.sock").await?;
                conn.request("GET", &format!("/containers/{id}/json"), b"").await
            });
            assert_eq!(inspected.map(|a| a.status), Ok(404), "the engine still holds {id}");
        }
    }
}
