//! API version negotiation and telling Docker from Podman.

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// An Engine API version such as 1.41.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion {
    /// Major version (1).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl ApiVersion {
    /// The version this crate speaks: Docker 20.10's, which Podman 4's compat API also reports.
    pub const OURS: ApiVersion = ApiVersion { major: 1, minor: 41 };
    /// The oldest version the lifecycle works with (`wait?condition=next-exit` came in 1.30).
    pub const OLDEST: ApiVersion = ApiVersion { major: 1, minor: 30 };

    /// The version to use with an engine that reports `engine`: the lower of
    /// the two, or an error when the engine is too old.
    pub fn negotiate(engine: ApiVersion) -> Result<ApiVersion, ApiVersion> {
        match engine < Self::OLDEST {
            true => Err(engine),
            false => Ok(engine.min(Self::OURS)),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ApiVersion {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (major, minor) = s.trim().split_once('.').ok_or(())?;
        Ok(ApiVersion { major: major.parse().map_err(drop)?, minor: minor.parse().map_err(drop)? })
    }
}

/// Which engine answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// Docker Engine (moby).
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
}

/// What a ping told about the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineInfo {
    /// Docker or Podman.
    pub kind: EngineKind,
    /// The version the engine reported in `Api-Version`.
    pub engine_api: ApiVersion,
    /// The version to speak: `min(ours, engine's)`.
    pub api: ApiVersion,
}

/// Why a ping answer could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PingError {
    /// No `Api-Version` header, or an unreadable one.
    NoVersion(Option<String>),
    /// The engine is older than [`ApiVersion::OLDEST`].
    TooOld(ApiVersion),
}

impl EngineInfo {
    /// Reads a `/_ping` answer's headers (names in any case).
    pub fn from_ping_headers<'a, I>(headers: I) -> Result<EngineInfo, PingError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut version = None;
        let mut podman = false;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case("api-version") {
                version = Some(value);
            }
            let libpod_header = name.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("libpod-"));
            let libpod_server = name.eq_ignore_ascii_case("server") && value.contains("Libpod");
            podman |= libpod_header || libpod_server;
        }
        let raw = version.ok_or(PingError::NoVersion(None))?;
        let engine_api: ApiVersion = raw.parse().map_err(|()| PingError::NoVersion(Some(raw.into())))?;
        let api = ApiVersion::negotiate(engine_api).map_err(PingError::TooOld)?;
        let kind = if podman { EngineKind::Podman } else { EngineKind::Docker };
        Ok(EngineInfo { kind, engine_api, api })
    }
}
