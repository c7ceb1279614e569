//! Published ports, in docker's `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTOCOL]` syntax.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::str::FromStr;

use super::SpecError;

/// A published port's protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// TCP (the default).
    #[default]
    Tcp,
    #[allow(missing_docs)]
    Udp,
    #[allow(missing_docs)]
    Sctp,
}

impl Protocol {
    /// `tcp`, `udp` or `sctp`, as the engine names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// A container port published on the engine's host (`ExposedPorts` and
/// `HostConfig.PortBindings`).
///
/// ```
/// use cstream_proto_core::spec::{Protocol, Publish};
/// let p: Publish = "127.0.0.1:8080:80".parse()?;
/// assert_eq!((p.host_ip.as_deref(), p.host_port, p.container_port), (Some("127.0.0.1"), Some(8080), 80));
/// let dns: Publish = "[::1]::53/udp".parse()?;
/// assert_eq!((dns.host_port, dns.protocol), (None, Protocol::Udp));
/// # Ok::<(), cstream_proto_core::SpecError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish {
    /// The host address to listen on (IPv4 or IPv6); `None` for all of them.
    pub host_ip: Option<String>,
    /// The host port; `None` for one the engine picks.
    pub host_port: Option<u16>,
    /// The port inside the container.
    pub container_port: u16,
    /// TCP unless the `-p` text ends in `/udp` or `/sctp`.
    pub protocol: Protocol,
}

impl Publish {
    /// TCP `container_port`, reachable at `host_port` on every host address.
    pub fn tcp(host_port: u16, container_port: u16) -> Publish {
        Publish { host_ip: None, host_port: Some(host_port), container_port, protocol: Protocol::Tcp }
    }

    /// The engine's key for it, such as `80/tcp`.
    pub fn key(&self) -> String {
        alloc::format!("{}/{}", self.container_port, self.protocol.as_str())
    }
}

fn bad(s: &str, why: &'static str) -> SpecError {
    SpecError::Invalid { field: "published port".into(), value: s.to_string(), why: why.into() }
}

/// A port number, 1 to 65535.
fn port(s: &str, p: &str) -> Result<u16, SpecError> {
    if p.contains('-') {
        return Err(bad(s, "port ranges are not supported; publish each port"));
    }
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(s, "expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp]"));
    }
    match p.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(n as u16),
        _ => Err(bad(s, "is out of range: ports are 1 to 65535")),
    }
}

impl FromStr for Publish {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (addr, protocol) = match s.rsplit_once('/') {
            Some((a, "tcp")) => (a, Protocol::Tcp),
            Some((a, "udp")) => (a, Protocol::Udp),
            Some((a, "sctp")) => (a, Protocol::Sctp),
            Some(_) => return Err(bad(s, "the protocol must be tcp, udp or sctp")),
            None => (s, Protocol::Tcp),
        };
        // An IPv6 address is written in brackets: [::1]:8080:80.
        let (ip, rest) = match addr.strip_prefix('[') {
            Some(r) => match r.split_once("]:") {
                Some((ip, rest)) => (Some(ip), rest),
                None => return Err(bad(s, "an IPv6 address in brackets needs :HOSTPORT:CONTAINERPORT after it")),
            },
            None => (None, addr),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match (ip, &parts[..]) {
            (None, &[c]) => (None, None, c),
            (None, &[h, c]) => (None, Some(h), c),
            (None, &[ip, h, c]) => (Some(ip), Some(h), c),
            (Some(ip), &[h, c]) => (Some(ip), Some(h), c),
            _ => {
                return Err(bad(
                    s,
                    "expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp], an IPv6 address in brackets",
                ));
            }
        };
        let host_port = match host {
            Some("") if ip.is_some() => None,
            Some(h) => Some(port(s, h)?),
            None => None,
        };
        let host_ip = match ip {
            Some("") => return Err(bad(s, "the host IP is empty")),
            Some(ip) => Some(ip.to_string()),
            None => None,
        };
        Ok(Publish { host_ip, host_port, container_port: port(s, container)?, protocol })
    }
}
