//! The Docker Engine API as data: requests to send, and parsers for answers.
//!
//! Nothing here does I/O. [`requests`] builds each call the lifecycle needs,
//! [`answers`] reads the engine's JSON (Docker's and Podman's error bodies
//! both), [`version`] negotiates the API version and tells the engines apart.
//! Decisions are made on status codes, never on message text.

pub mod answers;
pub mod create;
mod purpose;
pub mod requests;
pub mod version;

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

pub use purpose::Purpose;
pub use version::{ApiVersion, EngineInfo, EngineKind};

/// An HTTP method the Engine API uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// How the driver should treat a request's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestKind {
    /// A short answer that arrives at once; the core bounds its time.
    Unary,
    /// A body that stays open for as long as the operation lasts (wait, pull).
    Streaming,
    /// Upgrade the connection (`Connection: Upgrade`, `Upgrade: tcp`); after
    /// 101 the connection carries the container's output one way and its
    /// stdin the other.
    Upgrade,
}

/// One request header. Sensitive values never appear in Debug output; they
/// do appear when the header is serialized, since whoever sends the request
/// needs them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// The name, as the core spells it (`Content-Type`, `X-Registry-Auth`);
    /// borrowed when the core makes the header, owned once deserialized.
    pub name: Cow<'static, str>,
    #[allow(missing_docs)]
    pub value: String,
    /// Set on `X-Registry-Auth`: Debug shows `<redacted>` in place of the value.
    pub sensitive: bool,
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.sensitive {
            true => write!(f, "{}: <redacted>", self.name),
            false => write!(f, "{}: {:?}", self.name, self.value),
        }
    }
}

/// A request to send to the engine, as data.
///
/// It serializes with serde (every field, credentials included), so it
/// crosses a boundary as it is: the WebAssembly module's C ABI sends it to
/// its host postcard-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    #[allow(missing_docs)]
    pub method: Method,
    /// Path and query, such as `/v1.41/containers/create?name=x`.
    pub path: String,
    /// Headers beyond `Host` and `Content-Length`, which the driver adds.
    pub headers: Vec<Header>,
    /// The body; empty for none. JSON bodies come with a `Content-Type` header.
    pub body: Bytes,
    /// How the answer is timed: a `Unary` one must be complete within the
    /// spec's request timeout, a `Streaming` or `Upgrade` one only begun;
    /// neither of those has an idle limit.
    pub kind: RequestKind,
}

impl Request {
    /// The value of header `name` (ASCII case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_str())
    }
}
