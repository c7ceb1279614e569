//! One request of the machine's, carried out: its answer reported back as
//! machine inputs, and for an upgraded attach, stdin written the other way.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::{Input, RequestId};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use crate::pool::Pool;

/// Read size for the upgraded output stream.
const READ_SIZE: usize = 64 * 1024;

/// Stdin for an upgraded attach: bytes to write, or `None` to close; each
/// with an acknowledgement once done.
pub(crate) type StdinOp = (Option<Bytes>, Option<oneshot::Sender<std::io::Result<()>>>);

/// Converts the core's request into an HTTP request.
pub(crate) fn http_request(req: &Request) -> http::Request<Full<Bytes>> {
    let method = match req.method {
        cstream_proto_core::api::Method::Get => http::Method::GET,
        cstream_proto_core::api::Method::Post => http::Method::POST,
        cstream_proto_core::api::Method::Delete => http::Method::DELETE,
    };
    let mut builder =
        http::Request::builder().method(method).uri(req.path.as_str()).header(http::header::HOST, "localhost");
    for h in &req.headers {
        builder = builder.header(h.name, h.value.as_str());
    }
    builder.body(Full::new(req.body.clone())).unwrap_or_else(|_| {
        // The core builds only valid paths and header values; keep going with an empty request if not.
        http::Request::new(Full::new(Bytes::new()))
    })
}

fn head(id: RequestId, res: &http::Response<Incoming>) -> Input {
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    Input::Head { id, status: res.status().as_u16(), headers }
}

/// Sends `req` and reports everything about its answer on `inputs`. Ends when
/// the answer ends, or when `inputs` closes (the run is over).
pub(crate) async fn exchange(
    pool: Arc<Pool>,
    id: RequestId,
    req: Request,
    inputs: mpsc::Sender<Input>,
    stdin: Option<mpsc::UnboundedReceiver<StdinOp>>,
) {
    let failed = |message: String| Input::Failed { id, message };
    let mut sender = match pool.checkout().await {
        Ok(s) => s,
        Err(e) => {
            let _ = inputs.send(failed(format!("{}: {e}", pool.endpoint()))).await;
            return;
        }
    };
    let res = match sender.send_request(http_request(&req)).await {
        Ok(res) => res,
        Err(e) => {
            let _ = inputs.send(failed(describe(&e))).await;
            return;
        }
    };
    if inputs.send(head(id, &res)).await.is_err() {
        return;
    }
    if req.kind == RequestKind::Upgrade && res.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return upgraded(id, res, inputs, stdin).await;
    }
    let mut body = res.into_body();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() && inputs.send(Input::Body { id, data }).await.is_err() {
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = inputs.send(failed(describe(&e))).await;
                return;
            }
            None => break,
        }
    }
    pool.checkin(sender);
    let _ = inputs.send(Input::End { id }).await;
}

async fn upgraded(
    id: RequestId,
    res: http::Response<Incoming>,
    inputs: mpsc::Sender<Input>,
    stdin: Option<mpsc::UnboundedReceiver<StdinOp>>,
) {
    let io = match hyper::upgrade::on(res).await {
        Ok(up) => TokioIo::new(up),
        Err(e) => {
            let message = format!("the engine answered 101 but the connection was not upgraded: {e}");
            let _ = inputs.send(Input::Failed { id, message }).await;
            return;
        }
    };
    let (mut reader, mut writer) = tokio::io::split(io);
    let write_half = async move {
        let Some(mut stdin) = stdin else { return std::future::pending().await };
        while let Some((op, ack)) = stdin.recv().await {
            let result = match op {
                Some(data) => writer.write_all(&data).await,
                None => writer.shutdown().await,
            };
            let failed = result.is_err();
            if let Some(ack) = ack {
                let _ = ack.send(result);
            }
            if failed {
                break;
            }
        }
        std::future::pending::<()>().await
    };
    let read_half = async move {
        let mut buf = BytesMut::with_capacity(READ_SIZE);
        loop {
            if buf.capacity() < READ_SIZE / 4 {
                buf.reserve(READ_SIZE);
            }
            match reader.read_buf(&mut buf).await {
                Ok(0) => {
                    let _ = inputs.send(Input::End { id }).await;
                    return;
                }
                Ok(_) => {
                    let data = buf.split().freeze();
                    if inputs.send(Input::Body { id, data }).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = inputs.send(Input::Failed { id, message: format!("output stream: {e}") }).await;
                    return;
                }
            }
        }
    };
    tokio::select! {
        () = read_half => {}
        () = write_half => {}
    }
}

/// A hyper error with its causes, in one line.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}
