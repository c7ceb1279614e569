//! The Engine API calls a swarm job makes, as data.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bytes::Bytes;

use crate::api::requests::encode_query;
use crate::api::{ApiVersion, Header, Method, Request, RequestKind};
use crate::spec::Secret;

fn request(method: Method, path: String, kind: RequestKind) -> Request {
    Request { method, path, headers: Vec::new(), body: Bytes::new(), kind }
}

/// `POST /services/create` with a service spec (see [`super::service`]);
/// `X-Registry-Auth` when the spec has credentials: the manager hands them
/// to the node that pulls.
pub(super) fn create(v: ApiVersion, body: Bytes, auth: Option<&Secret>) -> Request {
    let mut r = request(Method::Post, alloc::format!("/v{v}/services/create"), RequestKind::Unary);
    r.headers.push(Header { name: "Content-Type".into(), value: "application/json".into(), sensitive: false });
    if let Some(a) = auth {
        r.headers.push(Header { name: "X-Registry-Auth".into(), value: a.expose().to_string(), sensitive: true });
    }
    r.body = body;
    r
}

/// `GET /tasks?filters={"service":["<id>"]}`: the service's tasks.
pub(super) fn tasks(v: ApiVersion, service: &str) -> Request {
    let filters = serde_json::json!({ "service": [service] }).to_string();
    request(Method::Get, alloc::format!("/v{v}/tasks?filters={}", encode_query(&filters)), RequestKind::Unary)
}

/// `GET /nodes/{id}`: the node's state and hostname.
pub(super) fn node(v: ApiVersion, id: &str) -> Request {
    request(Method::Get, alloc::format!("/v{v}/nodes/{}", encode_query(id)), RequestKind::Unary)
}

/// `GET /services/{id}/logs`, every message with its timestamp. With
/// `follow` it stays open for as long as the service exists, and after.
pub(super) fn logs(v: ApiVersion, service: &str, follow: bool) -> Request {
    let path = alloc::format!(
        "/v{v}/services/{}/logs?follow={}&stdout=1&stderr=1&timestamps=1",
        encode_query(service),
        u8::from(follow)
    );
    request(Method::Get, path, RequestKind::Streaming)
}

/// `DELETE /services/{id}`: the cluster stops its task (stop signal, grace,
/// kill) and removes its container.
pub(super) fn remove(v: ApiVersion, id: &str) -> Request {
    request(Method::Delete, alloc::format!("/v{v}/services/{}", encode_query(id)), RequestKind::Unary)
}

/// `GET /services?filters={"label":["io.cstream.run=<run id>"]}`.
pub(super) fn list_labelled(v: ApiVersion, label: &str) -> Request {
    let filters = serde_json::json!({ "label": [label] }).to_string();
    request(Method::Get, alloc::format!("/v{v}/services?filters={}", encode_query(&filters)), RequestKind::Unary)
}
