//! What one short request costs the client, three ways, on one kept-alive
//! connection: hyper with its connection polled by the task that waits for
//! the answer (as cstream's driver does), hyper with its connection on a
//! task of its own (as bollard does), and the floor's own connection
//! ([`crate::floor`]: the bytes written and the answer read by hand).
//!
//! `cstream-bench requests --engine unix:///PATH [--requests N] [--rounds R]`
//! prints one JSON line per round and way: its client CPU (user + sys, this
//! process) per request, in µs. The request is a container list filtered to
//! nothing, so the engine answers at once and the same few bytes each time.

use std::future::{Future, poll_fn};
use std::pin::pin;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

use crate::clients::Res;
use crate::floor::{self, VERSION};
use crate::sys::Usage;
use crate::{Args, runtime};

/// A request the engine answers at once: no container has this label.
const LIST: &str = "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22cstream.none%3D1%22%5D%7D";

/// The three ways of making the requests.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// hyper, its connection polled by the task that waits (cstream's driver).
    PolledHere,
    /// hyper, its connection on a task of its own (bollard).
    OnATask,
    /// The floor's connection: the bytes by hand.
    ByHand,
}

impl Way {
    const ALL: [Way; 3] = [Way::PolledHere, Way::OnATask, Way::ByHand];

    fn name(self) -> &'static str {
        match self {
            Way::PolledHere => "hyper, connection polled by the waiting task",
            Way::OnATask => "hyper, connection on its own task",
            Way::ByHand => "by hand",
        }
    }

    /// `n` requests on a connection to the socket at `path`: the client CPU
    /// seconds they took (the connection's opening not counted).
    async fn spend(self, path: &str, n: usize) -> Res<f64> {
        let connect = || async { UnixStream::connect(path).await.map_err(|e| format!("connect {path}: {e}")) };
        match self {
            Way::PolledHere => hyper_polled_here(connect().await?, n).await,
            Way::OnATask => hyper_on_a_task(connect().await?, n).await,
            Way::ByHand => by_hand(floor::Conn::open(path).await?, n).await,
        }
    }
}

/// `cstream-bench requests ...`.
pub fn main(args: &[String]) -> Res<()> {
    let a = Args(args);
    let endpoint = a.value("--engine").unwrap_or("unix:///var/run/docker.sock");
    let path = endpoint.strip_prefix("unix://").ok_or(format!("requests speaks unix:// only, not {endpoint}"))?;
    let n = a.num("--requests", 400)?.max(1) as usize;
    let rounds = a.num("--rounds", 3)?.max(1);
    runtime()?.block_on(async {
        for round in 0..rounds {
            for way in Way::ALL {
                let secs = way.spend(path, n).await?;
                let per_request = secs / n as f64 * 1e6;
                let line = serde_json::json!({"round": round, "way": way.name(), "requests": n, "cpu_us_per_request": per_request});
                println!("{line}");
            }
        }
        Ok(())
    })
}

fn cpu() -> f64 {
    Usage::this_process().cpu()
}

fn request() -> Res<http::Request<Empty<Bytes>>> {
    http::Request::get(format!("/{VERSION}{LIST}"))
        .header(http::header::HOST, "docker")
        .body(Empty::new())
        .map_err(|e| e.to_string())
}

/// hyper, its connection polled by the task that waits for each answer.
async fn hyper_polled_here(sock: UnixStream, n: usize) -> Res<f64> {
    let (mut sender, conn) = http1::handshake(TokioIo::new(sock)).await.map_err(|e| e.to_string())?;
    let mut conn = pin!(conn);
    let start = cpu();
    for _ in 0..n {
        let req = request()?;
        let mut answer = pin!(async {
            let res = sender.send_request(req).await?;
            res.into_body().collect().await.map(|b| b.to_bytes())
        });
        let body = poll_fn(|cx| {
            // The connection ends only with an error here; the answer then says so.
            let _ = conn.as_mut().poll(cx);
            answer.as_mut().poll(cx)
        })
        .await
        .map_err(|e| e.to_string())?;
        check(&body)?;
    }
    Ok(cpu() - start)
}

/// hyper, its connection on a task of its own.
async fn hyper_on_a_task(sock: UnixStream, n: usize) -> Res<f64> {
    let (mut sender, conn) = http1::handshake(TokioIo::new(sock)).await.map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let start = cpu();
    for _ in 0..n {
        sender.ready().await.map_err(|e| e.to_string())?;
        let res = sender.send_request(request()?).await.map_err(|e| e.to_string())?;
        check(&res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes())?;
    }
    let spent = cpu() - start;
    conn.abort();
    Ok(spent)
}

/// The floor's connection: its request written and its answer read by hand.
async fn by_hand(mut conn: floor::Conn, n: usize) -> Res<f64> {
    let start = cpu();
    for _ in 0..n {
        check(&conn.request("GET", LIST, b"").await?.expect(200, "list")?.body)?;
    }
    Ok(cpu() - start)
}

/// The answer is the empty list.
fn check(body: &[u8]) -> Res<()> {
    match body.trim_ascii() {
        b"[]" => Ok(()),
        other => Err(format!("expected no containers, got {}", String::from_utf8_lossy(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_empty_list_will_do() {
        assert!(check(b"[]\n").is_ok());
        assert!(check(b"[{\"Id\":\"x\"}]").is_err());
    }

    /// Each way makes its requests on the real Docker and gets the empty list.
    #[test]
    fn each_way_gets_its_answers_from_docker() {
        let rt = runtime().unwrap();
        rt.block_on(async {
            for way in Way::ALL {
                way.spend("/var/run/docker.sock", 3).await.unwrap_or_else(|e| panic!("{}: {e}", way.name()));
            }
        });
    }
}
