//! A fake engine that misbehaves on purpose, for the faults a real engine
//! cannot produce on demand. Served over a Unix socket and over loopback TCP.
//! For each fault: a typed error within a bounded time, no panic, bounded
//! memory, and the cleanup request still sent.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cstream_engine::core::Error as CoreError;
use cstream_engine::core::decode::FrameError;
use cstream_engine::{Error, EventKind, Limits, Phase, Remote, RunSpec};
use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    CutMidFrame,
    AbsurdLength,
    UnknownStream,
    InvalidJson,
    ErrorBodyOn200,
    EndlessBody,
    NoAnswer,
    RefusedUpgrade,
    UpgradeThenClose,
    Drip,
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<String>>,
    /// The containers the fake holds: (id, run label). A create makes one
    /// whatever it then answers, as an engine that lost its answer would.
    containers: Mutex<Vec<(String, String)>>,
    started: Notify,
    exited: Notify,
}

fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

async fn respond(io: &mut (impl AsyncWrite + Unpin), status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let _ = io.write_all(head.as_bytes()).await;
    let _ = io.write_all(body.as_bytes()).await;
}

/// Serves one connection: requests one after another (keep-alive).
async fn serve(mut io: impl AsyncRead + AsyncWrite + Unpin, fault: Fault, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    loop {
        // Read a request head and its body.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 4096];
            match io.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
        let line = head.lines().next().unwrap_or("").to_string();
        let mut parts = line.split(' ');
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        shared.requests.lock().unwrap().push(format!("{method} {path}"));
        let route = path.split('?').next().unwrap_or("");
        match (method.as_str(), route.rsplit('/').next().unwrap_or("")) {
            (_, "_ping") => respond(&mut io, "200 OK", "OK").await,
            ("POST", "create") => {
                let label = serde_json::from_slice::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|b| b["Labels"]["io.cstream.run"].as_str().map(str::to_string));
                shared.containers.lock().unwrap().push(("fake1".into(), label.unwrap_or_default()));
                match fault {
                    Fault::InvalidJson => respond(&mut io, "201 Created", "{not json").await,
                    Fault::NoAnswer => std::future::pending().await,
                    _ => respond(&mut io, "201 Created", r#"{"Id":"fake1","Warnings":[]}"#).await,
                }
            }
            ("GET", "json") if route.ends_with("/containers/json") => {
                let list: Vec<_> = (shared.containers.lock().unwrap().iter())
                    .map(|(id, run)| serde_json::json!({"Id": id, "Labels": {"io.cstream.run": run}, "State": "created"}))
                    .collect();
                respond(&mut io, "200 OK", &serde_json::to_string(&list).unwrap()).await
            }
            ("POST", "attach") => return attach(io, fault, shared).await,
            ("POST", "wait") => {
                let _ =
                    io.write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nTransfer-Encoding: chunked\r\n\r\n").await;
                shared.exited.notified().await;
                let body = match fault {
                    Fault::ErrorBodyOn200 => r#"{"message":"boom"}"#.to_string(),
                    _ => r#"{"StatusCode":0,"Error":null}"#.to_string(),
                };
                let _ = io.write_all(format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len()).as_bytes()).await;
            }
            ("POST", "start") => {
                respond(&mut io, "204 No Content", "").await;
                shared.started.notify_waiters();
                shared.started.notify_one();
            }
            ("POST", "kill") => {
                respond(&mut io, "204 No Content", "").await;
                shared.exited.notify_one();
            }
            ("GET", "json") if fault == Fault::EndlessBody => {
                let _ =
                    io.write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nTransfer-Encoding: chunked\r\n\r\n").await;
                loop {
                    if io.write_all(b"1\r\n \r\n").await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            ("GET", "json") => respond(&mut io, "200 OK", r#"{"State":{"OOMKilled":false,"ExitCode":0}}"#).await,
            ("DELETE", _) => {
                let id = route.rsplit('/').next().unwrap_or("").to_string();
                shared.containers.lock().unwrap().retain(|(c, _)| *c != id);
                respond(&mut io, "204 No Content", "").await
            }
            _ => respond(&mut io, "404 Not Found", r#"{"message":"no such route"}"#).await,
        }
    }
}

async fn attach(mut io: impl AsyncRead + AsyncWrite + Unpin, fault: Fault, shared: Arc<Shared>) {
    if fault == Fault::RefusedUpgrade {
        respond(&mut io, "400 Bad Request", r#"{"message":"no upgrade for you"}"#).await;
        return;
    }
    let _ = io.write_all(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n").await;
    if fault == Fault::UpgradeThenClose {
        shared.exited.notify_one();
        return;
    }
    shared.started.notified().await;
    let mut out = frame(1, b"hello\n");
    match fault {
        Fault::CutMidFrame => {
            out.extend_from_slice(&frame(1, &[b'x'; 100])[..20]);
            let _ = io.write_all(&out).await;
            return; // the connection is cut; the process "runs" on, unheard
        }
        Fault::AbsurdLength => {
            out.extend_from_slice(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0]);
            out.extend_from_slice(&[b'y'; 1000]);
            let _ = io.write_all(&out).await;
            return;
        }
        Fault::UnknownStream => out.extend_from_slice(&frame(9, b"what")),
        _ => {}
    }
    if fault == Fault::Drip {
        for b in out {
            let _ = io.write_all(&[b]).await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    } else {
        let _ = io.write_all(&out).await;
    }
    let _ = io.shutdown().await;
    shared.exited.notify_one();
}

/// Serves `fault` on a Unix socket or loopback TCP; returns the endpoint.
async fn start_fake(fault: Fault, tcp: bool, shared: Arc<Shared>) -> (String, Option<std::path::PathBuf>) {
    if tcp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("tcp://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, fault, shared.clone()));
            }
        });
        (endpoint, None)
    } else {
        let path = std::env::temp_dir().join(format!("cstream-fake-{}-{fault:?}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, fault, shared.clone()));
            }
        });
        (format!("unix://{}", path.display()), Some(path))
    }
}

struct Seen {
    /// What the fake engine still holds after the run.
    left: Vec<(String, String)>,
    errors: Vec<Error>,
    names: Vec<&'static str>,
    stdout: Vec<u8>,
    requests: Vec<String>,
    took: Duration,
}

async fn against(fault: Fault, tcp: bool) -> Seen {
    let shared = Arc::new(Shared::default());
    let (endpoint, path) = start_fake(fault, tcp, shared.clone()).await;
    let engine = cstream_engine::connect(&endpoint, Remote::Refuse).await.unwrap();
    let limits =
        Limits { request_timeout: Duration::from_secs(2), drain_timeout: Duration::from_secs(2), ..Limits::default() };
    let spec = RunSpec::builder("fake:latest")
        .command(["true"])
        .heartbeat(None)
        .limits(limits)
        .stop_grace(Duration::from_millis(200));
    let began = Instant::now();
    let mut run = engine.run(spec.build().unwrap());
    let mut seen = Seen {
        left: Vec::new(),
        errors: Vec::new(),
        names: Vec::new(),
        stdout: Vec::new(),
        requests: Vec::new(),
        took: Duration::ZERO,
    };
    let all = async {
        while let Some(item) = run.next().await {
            match item {
                Ok(e) => {
                    seen.names.push(e.kind.name());
                    if let EventKind::Output { data, .. } = e.kind {
                        seen.stdout.extend_from_slice(&data);
                    }
                }
                Err(e) => seen.errors.push(e),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), all)
        .await
        .unwrap_or_else(|_| panic!("{fault:?}: no end within 20 s"));
    seen.took = began.elapsed();
    seen.requests = shared.requests.lock().unwrap().clone();
    seen.left = shared.containers.lock().unwrap().clone();
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
    seen
}

async fn every_fault(tcp: bool) {
    let rss_before = rss_kib();
    for fault in [
        Fault::None,
        Fault::CutMidFrame,
        Fault::AbsurdLength,
        Fault::UnknownStream,
        Fault::InvalidJson,
        Fault::ErrorBodyOn200,
        Fault::EndlessBody,
        Fault::NoAnswer,
        Fault::RefusedUpgrade,
        Fault::UpgradeThenClose,
        Fault::Drip,
    ] {
        let s = against(fault, tcp).await;
        let first = s.errors.first();
        let ok = match fault {
            Fault::None | Fault::Drip => s.errors.is_empty() && s.stdout == b"hello\n",
            Fault::UpgradeThenClose => s.errors.is_empty() && s.stdout.is_empty(),
            Fault::CutMidFrame => {
                matches!(first, Some(Error::Run(CoreError::Output(FrameError::Truncated { .. }))))
                    && s.stdout == b"hello\n"
            }
            // A frame declared longer than the hold limit (256 KiB) is passed on as
            // it arrives, allocating nothing up front; its cut is still an error.
            Fault::AbsurdLength => {
                matches!(first, Some(Error::Run(CoreError::Output(FrameError::Truncated { declared: 4294967280, .. }))))
                    && s.stdout.len() == 1006
            }
            Fault::UnknownStream => matches!(first, Some(Error::Run(CoreError::Output(FrameError::UnknownStream(9))))),
            Fault::InvalidJson => matches!(first, Some(Error::Run(CoreError::Protocol { phase: Phase::Create, .. }))),
            Fault::ErrorBodyOn200 => matches!(first, Some(Error::Run(CoreError::Protocol { phase: Phase::Wait, .. }))),
            Fault::EndlessBody => matches!(first, Some(Error::Run(CoreError::Timeout { phase: Phase::Inspect, .. }))),
            Fault::NoAnswer => matches!(first, Some(Error::Run(CoreError::Timeout { phase: Phase::Create, .. }))),
            Fault::RefusedUpgrade => {
                matches!(first, Some(Error::Run(CoreError::Engine { phase: Phase::Attach, status: 400, .. })))
            }
        };
        assert!(
            ok,
            "{fault:?} over {}: {:?} {:?} {:?}",
            if tcp { "tcp" } else { "unix" },
            s.errors,
            s.names,
            String::from_utf8_lossy(&s.stdout)
        );
        // Whatever went wrong, the engine holds nothing afterwards, by its own
        // list: a create whose answer was unreadable or never came is found by label.
        assert!(s.left.is_empty(), "{fault:?}: left {:?} after {:?}", s.left, s.requests);
        assert!(s.took < Duration::from_secs(8), "{fault:?} took {:?}", s.took);
    }
    let grew = rss_kib().saturating_sub(rss_before);
    assert!(grew < 64 * 1024, "memory grew by {grew} KiB (an absurd frame length must not allocate)");
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_over_a_unix_socket() {
    every_fault(false).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_over_loopback_tcp() {
    every_fault(true).await
}
