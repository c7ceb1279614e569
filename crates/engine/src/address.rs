//! Engine addresses, `unix://`, `tcp://` and `ssh://`, made into engines;
//! and the ones refused because they ask for TLS.

use cstream_driver_hyper::core::api::ApiVersion;

use crate::ssh::SshConnector;
use crate::{Engine, Error, Remote};

/// Docker's port for the Engine API over TLS.
const TLS_PORT: &str = "2376";

/// An engine at `endpoint`: `unix:///path`, a socket path, `tcp://host:port`
/// or `ssh://[user@]host[:port]`. Nothing is sent until it is used. It speaks
/// the API version that `DOCKER_API_VERSION` pins, if set (see
/// [`api_version_from_env`]).
///
/// `remote` guards plain TCP only: a non-loopback `tcp://` address is refused
/// unless it is [`Remote::Allow`]. `ssh://` needs no such consent: ssh
/// authenticates and encrypts, with the user's own keys, as the docker CLI's
/// `ssh://` does. TLS is not supported: `https://` and Docker's TLS port
/// (`tcp://host:2376`) are an [`Error::Tls`], never a plain-text attempt.
///
/// ```
/// use cstream_engine::{Error, Remote};
///
/// assert!(cstream_engine::engine("ssh://me@build-box:2222", Remote::Refuse).is_ok());
/// let tls = cstream_engine::engine("tcp://build-box:2376", Remote::Allow).unwrap_err();
/// assert!(matches!(tls, Error::Tls { .. }), "{tls}");
/// let remote = cstream_engine::engine("tcp://192.0.2.7:2375", Remote::Refuse).unwrap_err();
/// assert!(remote.to_string().contains("unauthenticated root access"), "{remote}");
/// ```
pub fn engine(endpoint: &str, remote: Remote) -> Result<Engine, Error> {
    make(endpoint, remote, api_version_from_env()?, None)
}

/// Connects to the engine at `endpoint` (see [`engine`]) and pings it.
pub async fn connect(endpoint: &str, remote: Remote) -> Result<Engine, Error> {
    let e = engine(endpoint, remote)?;
    e.ping().await?;
    Ok(e)
}

/// The Engine API version `DOCKER_API_VERSION` pins, as the docker CLI reads
/// it: set, it is spoken as it is, with no negotiation; unset or empty, the
/// version is negotiated. A value that is not a version is an error.
pub fn api_version_from_env() -> Result<Option<ApiVersion>, Error> {
    api_version_in(std::env::var("DOCKER_API_VERSION").ok())
}

pub(crate) fn api_version_in(value: Option<String>) -> Result<Option<ApiVersion>, Error> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        // The docker CLI takes `v1.44` as well as `1.44`.
        Some(v) => Ok(Some(v.strip_prefix('v').unwrap_or(v).parse()?)),
    }
}

/// Whether `endpoint` is reached through ssh, which TLS settings do not concern.
pub(crate) fn is_ssh(endpoint: &str) -> bool {
    endpoint.starts_with("ssh://")
}

/// Whether `endpoint` is plain TCP.
pub(crate) fn is_tcp(endpoint: &str) -> bool {
    endpoint.starts_with("tcp://")
}

/// The engine at `endpoint`, which came `from` somewhere other than the
/// caller (`DOCKER_HOST`, a docker context), for the errors.
pub(crate) fn make(
    endpoint: &str,
    remote: Remote,
    pinned: Option<ApiVersion>,
    from: Option<&str>,
) -> Result<Engine, Error> {
    let tls =
        |why: &str| Error::Tls { endpoint: endpoint.to_string(), from: from.map(str::to_string), why: why.into() };
    let engine = if let Some(path) = endpoint.strip_prefix("unix://") {
        cstream_driver_unix::engine(path)
    } else if endpoint.starts_with('/') {
        cstream_driver_unix::engine(endpoint)
    } else if is_tcp(endpoint) {
        if endpoint.trim_end_matches('/').rsplit_once(':').is_some_and(|(_, port)| port == TLS_PORT) {
            return Err(tls("port 2376 is Docker's TLS port"));
        }
        cstream_driver_tcp::engine(endpoint, remote).map_err(|e| came_from(e, from))?
    } else if is_ssh(endpoint) {
        Engine::new(SshConnector::new(endpoint).map_err(|e| came_from(e, from))?)
    } else if endpoint.starts_with("https://") {
        return Err(tls("https:// is TLS"));
    } else {
        let why = "expected unix:///path/to/socket, tcp://host:port or ssh://[user@]host[:port]";
        return Err(came_from(Error::Endpoint { endpoint: endpoint.to_string(), why: why.into() }, from));
    };
    Ok(match pinned {
        Some(v) => engine.with_api_version(v),
        None => engine,
    })
}

/// Says where an address that cannot be used came from.
fn came_from(e: Error, from: Option<&str>) -> Error {
    match (e, from) {
        (Error::Endpoint { endpoint, why }, Some(from)) => {
            Error::Endpoint { endpoint, why: format!("{why} (the address is from {from})") }
        }
        (e, _) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn made(endpoint: &str, remote: Remote) -> Result<String, Error> {
        make(endpoint, remote, None, None).map(|e| e.endpoint().to_string())
    }

    #[test]
    fn endpoints() {
        assert_eq!(made("unix:///var/run/docker.sock", Remote::Refuse).unwrap(), "unix:///var/run/docker.sock");
        assert_eq!(made("/run/podman/podman.sock", Remote::Refuse).unwrap(), "unix:///run/podman/podman.sock");
        assert_eq!(made("tcp://127.0.0.1:2375", Remote::Refuse).unwrap(), "tcp://127.0.0.1:2375");
        assert_eq!(made("ssh://root@127.0.0.1:2222", Remote::Refuse).unwrap(), "ssh://root@127.0.0.1:2222");
        for bad in ["http://x:2375", "npipe:////./pipe/docker_engine", "docker.sock", "", "tcp://h", "ssh://"] {
            assert!(matches!(made(bad, Remote::Allow), Err(Error::Endpoint { .. })), "{bad}");
        }
    }

    #[test]
    fn tls_is_refused_never_tried_in_plain_text() {
        for (endpoint, why) in [
            ("tcp://127.0.0.1:2376", "port 2376 is Docker's TLS port"),
            ("tcp://build-box:2376/", "port 2376 is Docker's TLS port"),
            ("https://build-box:2375", "https:// is TLS"),
        ] {
            let e = made(endpoint, Remote::Allow).unwrap_err();
            assert!(matches!(&e, Error::Tls { why: w, .. } if w == why), "{endpoint}: {e:?}");
        }
        let e = make("tcp://10.0.0.9:2376", Remote::Allow, None, Some("DOCKER_HOST")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot use engine address \"tcp://10.0.0.9:2376\" from DOCKER_HOST: TLS is not supported \
             (port 2376 is Docker's TLS port); use a Unix socket or ssh:// instead"
        );
    }

    #[test]
    fn a_remote_tcp_address_is_refused_saying_where_it_came_from() {
        let e = make("tcp://203.0.113.1:2375", Remote::Refuse, None, Some("DOCKER_HOST")).unwrap_err();
        assert!(matches!(e, Error::Endpoint { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("unauthenticated root access"), "{text}");
        assert!(text.ends_with("(the address is from DOCKER_HOST)"), "{text}");
        assert!(make("tcp://203.0.113.1:2375", Remote::Allow, None, Some("DOCKER_HOST")).is_ok());
        // ssh is the user's own authenticated, encrypted login: no consent asked.
        assert!(made("ssh://me@203.0.113.1", Remote::Refuse).is_ok());
    }

    #[test]
    fn docker_api_version_pins_or_is_refused() {
        assert_eq!(api_version_in(None).unwrap(), None);
        assert_eq!(api_version_in(Some(String::new())).unwrap(), None);
        assert_eq!(api_version_in(Some("1.44".into())).unwrap(), Some(ApiVersion::new(1, 44)));
        assert_eq!(api_version_in(Some("v1.41".into())).unwrap(), Some(ApiVersion::new(1, 41)));
        for bad in ["1.x", "99999.1", "1", "vv1.44", "1.44.0", " . ", "V1.44"] {
            let e = api_version_in(Some(bad.into())).unwrap_err();
            assert!(matches!(e, Error::BadApiVersion(_)), "{bad}: {e}");
            assert!(e.to_string().starts_with("DOCKER_API_VERSION: "), "{e}");
        }
        let pinned = make("unix:///x.sock", Remote::Refuse, Some(ApiVersion::new(1, 44)), None).unwrap();
        assert_eq!(pinned.pinned_api_version(), Some(ApiVersion::new(1, 44)));
    }
}
