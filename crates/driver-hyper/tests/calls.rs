//! Calls made outside a run (ping, version, host info, list, remove) fail
//! with the core's errors, as the machine reports the same answers in a run,
//! wrapped with the engine's address.

use std::time::Duration;

use cstream_driver_hyper::core::{Error as CoreError, Input, Machine, Output, RunInfo, RunSpec};
use cstream_driver_hyper::driver::{BoxFuture, BoxIo, Connector};
use cstream_driver_hyper::{Engine, Error, Phase};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An engine on an in-memory pipe that gives every request the same answer;
/// with `pings`, a ping is answered as Docker 20.10 answers it.
struct Canned {
    status: u16,
    headers: &'static str,
    body: &'static str,
    pings: bool,
}

const PONG: &str = "HTTP/1.1 200 OK\r\napi-version: 1.41\r\ncontent-length: 2\r\n\r\nOK";

impl Connector for Canned {
    fn connect(&self) -> BoxFuture<'_, std::io::Result<BoxIo>> {
        let answer = format!(
            "HTTP/1.1 {} X\r\n{}content-length: {}\r\n\r\n{}",
            self.status,
            self.headers,
            self.body.len(),
            self.body
        );
        let pings = self.pings;
        Box::pin(async move {
            let (client, mut server) = tokio::io::duplex(64 * 1024);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = vec![0; 4096];
                let mut answered = 0;
                while let Ok(n @ 1..) = server.read(&mut buf).await {
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).into_owned();
                    let heads: Vec<&str> = text.split("\r\n\r\n").collect();
                    let requests = heads.len() - 1;
                    for head in &heads[answered..requests] {
                        let reply = if pings && head.starts_with("GET /_ping ") { PONG } else { answer.as_str() };
                        let _ = server.write_all(reply.as_bytes()).await;
                    }
                    answered = requests;
                }
            });
            Ok(Box::new(client) as BoxIo)
        })
    }

    fn endpoint(&self) -> &str {
        "test://canned"
    }
}

fn engine(status: u16, headers: &'static str, body: &'static str) -> Engine {
    Engine::new(Canned { status, headers, body, pings: false })
}

/// An engine that answers its ping, and every other request so.
fn pinged(status: u16, body: &'static str) -> Engine {
    Engine::new(Canned { status, headers: "", body, pings: true })
}

/// The core's error of a call, checking it came with the engine's address.
fn core_error(e: Error) -> CoreError {
    match e {
        Error::Call { endpoint, error } => {
            assert_eq!(endpoint, "test://canned");
            error
        }
        other => panic!("{other:?}"),
    }
}

/// The first error the machine reports when its ping is answered so.
fn machine_ping_error(status: u16, headers: &[(&str, &str)], body: &'static str) -> CoreError {
    let spec = RunSpec::builder("alpine:3.20").command(["true"]).build().unwrap();
    let run = RunInfo { run_id: "r".into(), created_unix: 0, owner: None };
    let mut m = Machine::new(spec, run, Duration::ZERO);
    let Output::Send { id, request } = m.poll_output() else { panic!("the machine pings first") };
    assert_eq!(request.path, "/_ping");
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    m.handle_input(Duration::ZERO, Input::Head { id, status, headers });
    if !body.is_empty() {
        m.handle_input(Duration::ZERO, Input::Body { id, data: body.as_bytes().to_vec().into() });
    }
    m.handle_input(Duration::ZERO, Input::End { id });
    loop {
        match m.poll_output() {
            Output::Error(e) => return e,
            Output::Done | Output::Pending { .. } => panic!("the machine reported no error"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_refused_ping_is_the_error_the_machine_reports_for_it() {
    for (body, message) in [(r#"{"message":"boom"}"#, "boom"), ("", "HTTP 500 with an empty body")] {
        let e = engine(500, "", body).ping().await.unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("connecting to the engine: the engine answered 500: {message} (engine at test://canned)")
        );
        let e = core_error(e);
        assert_eq!(e, CoreError::Engine { phase: Phase::Connect, status: 500, message: message.into() });
        assert_eq!(e, machine_ping_error(500, &[], body), "the run's ping fails the same way");
    }
}

#[tokio::test]
async fn a_ping_that_names_no_api_version_is_the_error_the_machine_reports_for_it() {
    let e = core_error(engine(200, "server: nginx\r\n", "OK").ping().await.unwrap_err());
    assert!(matches!(e, CoreError::Version(_)), "{e:?}");
    assert_eq!(e, machine_ping_error(200, &[("server", "nginx")], "OK"));
}

#[tokio::test]
async fn malformed_answers_name_their_phase() {
    let e = core_error(pinged(200, "not json").version().await.unwrap_err());
    assert!(
        matches!(&e, CoreError::Protocol { phase: Phase::Connect, detail } if detail.starts_with("version answer: ")),
        "{e:?}"
    );
    let e = core_error(pinged(200, "{}").host_cpus().await.unwrap_err());
    assert_eq!(e, CoreError::Protocol { phase: Phase::HostInfo, detail: "info: no NCPU".into() });
    assert_eq!(e.to_string(), "asking the engine about its host: malformed answer from the engine: info: no NCPU");
    let e = core_error(pinged(200, "{}").containers_labelled(&["a=b"]).await.unwrap_err());
    assert!(matches!(&e, CoreError::Protocol { phase: Phase::List, .. }), "{e:?}");
}

#[tokio::test]
async fn refused_calls_name_their_phase() {
    let refused = r#"{"message":"no"}"#;
    let e = core_error(pinged(500, refused).containers_labelled(&["a=b"]).await.unwrap_err());
    assert_eq!(e, CoreError::Engine { phase: Phase::List, status: 500, message: "no".into() });
    let e = core_error(pinged(500, refused).remove_container("c1").await.unwrap_err());
    assert_eq!(e, CoreError::Engine { phase: Phase::Remove, status: 500, message: "no".into() });
    let e = core_error(pinged(503, refused).host_cpus().await.unwrap_err());
    assert_eq!(e.to_string(), "asking the engine about its host: the engine answered 503: no");
    // A container already gone is no error.
    pinged(404, refused).remove_container("c1").await.unwrap();
}
