//! One request of the machine's, carried out: its answer reported back as
//! machine inputs, and for an upgraded attach, stdin written the other way.

use std::sync::Arc;

use bytes::Bytes;
use cstream_proto_core::api::{Request, RequestKind};
use cstream_proto_core::{CommandId, Input, RequestId};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, ReadHalf};
use tokio::sync::mpsc;

use crate::drive::Inbox;
use crate::pool::{Conn, Pool};

/// Stdin for an upgraded attach: bytes to write, or `None` to close; each
/// reported back as [`Input::Written`] for its command once done.
pub(crate) type StdinOp = (Option<Bytes>, CommandId);

/// Converts the core's request into an HTTP request. A path or header that
/// HTTP cannot carry (a newline, a space in the path) is an error: the
/// request is never sent as something else.
pub(crate) fn http_request(req: &Request) -> Result<http::Request<Full<Bytes>>, Unsendable> {
    let method = match req.method {
        cstream_proto_core::api::Method::Get => http::Method::GET,
        cstream_proto_core::api::Method::Post => http::Method::POST,
        cstream_proto_core::api::Method::Delete => http::Method::DELETE,
    };
    let mut builder =
        http::Request::builder().method(method).uri(req.path.as_str()).header(http::header::HOST, "localhost");
    for h in &req.headers {
        builder = builder.header(h.name.as_ref(), h.value.as_str());
    }
    builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| Unsendable { request: format!("{} {}", req.method.as_str(), req.path), why: e.to_string() })
}

/// A request that HTTP cannot carry. Names the method and path, never a
/// header's value (which may be a credential).
#[derive(Debug)]
pub(crate) struct Unsendable {
    /// The method and the path.
    pub request: String,
    /// What `http` refused.
    pub why: String,
}

impl std::fmt::Display for Unsendable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request {:?} cannot be sent: {}", self.request, self.why)
    }
}

fn head(id: RequestId, res: &http::Response<Incoming>) -> Input {
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    Input::Head { id, status: res.status().as_u16(), headers }
}

/// What a request's task hands back to its run: part of an answer, or the
/// read side of an upgraded attach, which the run then reads itself.
pub(crate) enum Arrival {
    Input(Input),
    Upgraded { id: RequestId, reader: ReadHalf<Upgraded> },
}

/// An upgraded connection, as tokio reads and writes it.
pub(crate) type Upgraded = TokioIo<hyper::upgrade::Upgraded>;

/// Sends `req` and hands everything about its answer to `arrivals`. Ends
/// when the answer ends, or when the run is over. An upgraded attach hands
/// its read side over and goes on writing `stdin`.
pub(crate) async fn exchange(
    pool: Arc<Pool>,
    id: RequestId,
    req: Request,
    arrivals: Inbox,
    stdin: Option<mpsc::UnboundedReceiver<StdinOp>>,
) {
    let send = |input: Input| arrivals.send(Arrival::Input(input));
    let failed = |message: String| Input::Failed { id, message };
    let request = match http_request(&req) {
        Ok(r) => r,
        Err(e) => {
            let _ = send(failed(e.to_string())).await;
            return;
        }
    };
    let mut conn = match pool.checkout().await {
        Ok(c) => c,
        Err(e) => {
            let _ = send(failed(format!("{}: {e}", pool.endpoint()))).await;
            return;
        }
    };
    let res = match conn.send(request).await {
        Ok(res) => res,
        Err(e) => {
            let _ = send(failed(describe(&e))).await;
            return;
        }
    };
    // The method and path only: a header's value may be a credential.
    tracing::debug!("{} {} -> {}", req.method.as_str(), req.path, res.status().as_u16());
    if send(head(id, &res)).await.is_err() {
        return;
    }
    if req.kind == RequestKind::Upgrade && res.status() == http::StatusCode::SWITCHING_PROTOCOLS {
        return upgraded(id, conn, res, &arrivals, stdin).await;
    }
    let mut body = res.into_body();
    loop {
        match conn.drive(body.frame()).await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    if !data.is_empty() && send(Input::Body { id, data }).await.is_err() {
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                let _ = send(failed(describe(&e))).await;
                return;
            }
            None => break,
        }
    }
    pool.checkin(conn);
    let _ = send(Input::End { id }).await;
}

async fn upgraded(
    id: RequestId,
    mut conn: Conn,
    res: http::Response<Incoming>,
    arrivals: &Inbox,
    stdin: Option<mpsc::UnboundedReceiver<StdinOp>>,
) {
    let io = match conn.drive(hyper::upgrade::on(res)).await {
        Ok(up) => TokioIo::new(up),
        Err(e) => {
            let message = format!("the engine answered 101 but the connection was not upgraded: {e}");
            let _ = arrivals.send(Arrival::Input(Input::Failed { id, message })).await;
            return;
        }
    };
    let (reader, mut writer) = tokio::io::split(io);
    if arrivals.send(Arrival::Upgraded { id, reader }).await.is_err() {
        return;
    }
    let Some(mut stdin) = stdin else { return };
    while let Some((op, command)) = stdin.recv().await {
        let result = match op {
            Some(data) => writer.write_all(&data).await,
            None => writer.shutdown().await,
        };
        let result = result.map_err(|e| e.to_string());
        let failed = result.is_err();
        if arrivals.send(Arrival::Input(Input::Written { command, result })).await.is_err() || failed {
            return;
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use cstream_proto_core::api::{Header, Method};
    use tokio::io::AsyncReadExt;

    use super::*;
    use crate::connect::{BoxFuture, BoxIo, Connector};

    /// An engine on an in-memory pipe: answers each request `200 OK`, and
    /// keeps every byte it was sent.
    #[derive(Clone, Default)]
    struct Recorder {
        connects: Arc<AtomicUsize>,
        seen: Arc<Mutex<Vec<u8>>>,
    }

    impl Connector for Recorder {
        fn connect(&self) -> BoxFuture<'_, std::io::Result<BoxIo>> {
            self.connects.fetch_add(1, Ordering::SeqCst);
            let seen = self.seen.clone();
            Box::pin(async move {
                let (client, mut server) = tokio::io::duplex(64 * 1024);
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let mut answered = 0;
                    while let Ok(n @ 1..) = server.read(&mut buf).await {
                        let requests = {
                            let mut seen = seen.lock().unwrap();
                            seen.extend_from_slice(&buf[..n]);
                            seen.windows(4).filter(|w| w == b"\r\n\r\n").count()
                        };
                        for _ in answered..requests {
                            let _ = server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
                        }
                        answered = requests;
                    }
                });
                Ok(Box::new(client) as BoxIo)
            })
        }

        fn endpoint(&self) -> &str {
            "test://recorder"
        }
    }

    fn request(path: &str, header: Option<&str>) -> Request {
        let headers = header
            .map(|value| Header { name: "X-Registry-Auth".into(), value: value.to_string(), sensitive: true })
            .into_iter()
            .collect();
        Request { method: Method::Post, path: path.to_string(), headers, body: Bytes::new(), kind: RequestKind::Unary }
    }

    /// Requests HTTP cannot carry: a header value with a newline, a path with
    /// a space or a newline.
    fn unsendable() -> Vec<Request> {
        vec![
            request("/v1.41/images/create?fromImage=x", Some("secret\r\nX-Injected: 1")),
            request("/v1.41/containers/a b/start", None),
            request("/v1.41/containers/x\n/start", None),
        ]
    }

    /// What the machine is told of `req`, and what the engine was sent.
    async fn exchanged(req: Request) -> (Vec<Input>, String) {
        let engine = Recorder::default();
        let pool = Arc::new(Pool::new(Arc::new(engine.clone())));
        let (tx, mut rx) = mpsc::channel(16);
        exchange(pool, RequestId(7), req, Inbox::Channel(tx), None).await;
        let mut inputs = Vec::new();
        while let Some(a) = rx.recv().await {
            if let Arrival::Input(i) = a {
                inputs.push(i);
            }
        }
        let sent = String::from_utf8_lossy(&engine.seen.lock().unwrap()).into_owned();
        (inputs, sent)
    }

    #[test]
    fn a_request_http_cannot_carry_is_an_error_that_names_no_header_value() {
        for req in unsendable() {
            let e = http_request(&req).expect_err(&format!("{req:?}"));
            let message = e.to_string();
            let named = format!("{:?}", format!("{} {}", req.method.as_str(), req.path));
            assert!(message.contains(&named), "the method and path are named: {message}");
            assert!(!message.contains("secret"), "a header value is never shown: {message}");
        }
        let ok = http_request(&request("/v1.41/containers/json?all=1", Some("e30="))).unwrap();
        assert_eq!((ok.method(), ok.uri().to_string()), (&http::Method::POST, "/v1.41/containers/json?all=1".into()));
        assert_eq!(ok.headers()["x-registry-auth"], "e30=");
    }

    #[tokio::test]
    async fn a_request_http_cannot_carry_is_a_failure_and_nothing_is_sent() {
        for req in unsendable() {
            let what = format!("{req:?}");
            let (inputs, sent) = exchanged(req).await;
            assert_eq!(sent, "", "{what}: nothing may reach the engine");
            assert!(
                matches!(&inputs[..], [Input::Failed { id: RequestId(7), message }] if message.contains("cannot be sent")),
                "{what}: {inputs:?}"
            );
        }
        // A sendable one is sent as it is, and its answer reported.
        let (inputs, sent) = exchanged(request("/v1.41/images/create?fromImage=x", Some("e30="))).await;
        assert!(sent.starts_with("POST /v1.41/images/create?fromImage=x HTTP/1.1\r\n"), "{sent}");
        assert!(sent.to_ascii_lowercase().contains("x-registry-auth: e30=\r\n"), "{sent}");
        assert!(matches!(&inputs[..], [Input::Head { status: 200, .. }, Input::Body { .. }, Input::End { .. }]));
    }

    #[tokio::test]
    async fn a_call_http_cannot_carry_is_an_error_and_nothing_is_sent() {
        let recorder = Recorder::default();
        let engine = crate::Engine::new(recorder.clone());
        for req in unsendable() {
            let what = format!("{req:?}");
            match engine.call(req).await {
                Err(crate::Error::Run(cstream_proto_core::Error::Spec(e))) => {
                    assert!(e.to_string().contains("cannot be sent"), "{what}: {e}")
                }
                other => panic!("{what}: {other:?}"),
            }
        }
        assert_eq!(recorder.connects.load(Ordering::SeqCst), 0, "no connection opened");
        assert_eq!(String::from_utf8_lossy(&recorder.seen.lock().unwrap()), "");
    }
}
