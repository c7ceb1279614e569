//! API version negotiation and telling Docker from Podman.
//!
//! cstream speaks every Engine API version from [`ApiVersion::OLDEST`] to
//! [`ApiVersion::NEWEST`]. With an engine it speaks the lower of its newest
//! and the engine's `Api-Version` (the newest the engine speaks), as the
//! docker CLI does; a caller may pin a version instead (the docker CLI's
//! `DOCKER_API_VERSION`), which is then used as it is, provided both sides
//! speak it. The ping does not say how old a version the engine still takes:
//! Docker 29 refuses everything below 1.44 with a 400. So the machine asks
//! `GET /version` for `MinAPIVersion` when the first versioned request it
//! sends is refused with 400, and reports [`VersionError::Refused`] if its
//! version is outside the engine's range. Nothing is ever retried with
//! another version.
//!
//! # Why 1.52
//!
//! 1.52 is Docker 29's version (November 2025): the newest that the Engine
//! API's history, read for everything cstream sends and reads, was checked
//! against, and the one bollard 0.20 defaults to. Docker 29.0 to 29.2 refuse
//! every version below 1.44; from 29.3 the floor is 1.40 again. Docker 20.10
//! and Podman (4.3 to 5.7 report 1.41) are spoken to in 1.41.
//!
//! # What changed between the versions cstream speaks
//!
//! The Engine API's version history from 1.41 to 1.52, for every endpoint and
//! field the lifecycle uses (ping, version, info, container create, attach,
//! wait, start, kill, resize, inspect, delete, list, image pull):
//!
//! | from | change | what cstream does |
//! |---|---|---|
//! | 1.30 | `wait?condition=next-exit` | the oldest version spoken: the race-free wait needs it |
//! | 1.41 | create takes the `platform` query parameter (the pull has since 1.32) | a spec's platform goes with the create and the pull; below 1.41 the run is refused before anything is created, and on Podman, whose Docker-compatible API ignores it, always |
//! | 1.42 | `HostConfig.ConsoleSize` is honoured at create; below 1.42 Docker zeroes it | Docker from 1.42 gets the terminal size in the create body, and no resize before start; Docker below 1.42 gets a resize right after start; Podman (which reports 1.41 but honours the field) also gets a resize of the created container |
//! | 1.42 | attach's `Content-Type` tells multiplexed from raw streams; below 1.42 (and on Podman 4.3) it always says raw | framing is decided from the spec's `tty`, never from the header, at every version |
//! | 1.42 | `stop` takes `signal` | not used: cstream stops with `kill` and its own grace period |
//! | 1.42 | create refuses options of another mount type (`VolumeOptions` on a bind mount) | cstream sends bind mounts with no options, and `VolumeOptions` (`NoCopy`) only on volume mounts |
//! | 1.44 | read-only bind mounts are recursively read-only where the kernel allows | left to the engine: a `read_only` mount is what `docker run -v src:dst:ro` gives on that engine |
//! | 1.44 | Docker 29.0 to 29.2 refuse older versions with 400 | see above: `MinAPIVersion` is asked for and [`VersionError::Refused`] names both ranges |
//! | 1.48 | `error` and `progress` of pull progress lines deprecated (Docker 29 no longer sends `progress`) | `errorDetail.message` is read first, then `error`; progress comes from `progressDetail` only |
//! | 1.52 | create refuses a container-wide `MacAddress` | never sent |
//! | 1.52 | container inspect drops top-level network fields; `State` unchanged | only `State.OOMKilled`, `ExitCode` and `Status` are read |
//!
//! Unchanged across the range and read the same at every version: the
//! attach upgrade (`Upgrade: tcp` and `Connection: Upgrade`, 101), the 8-byte
//! frame headers, the wait body (its `Error` is `null` on Docker 20.10 and
//! Podman, absent on Docker 26 and 29), the create answer (`Warnings` may be
//! `null` or an array), the `filters` of the container list, `/info`'s
//! `NCPU`, and the pull's query. Other changes in the range touch fields
//! cstream neither sends nor reads (image inspect, build, networks, swarm,
//! events).

use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// An Engine API version such as 1.41.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct ApiVersion {
    /// Major version (1).
    pub major: u16,
    /// Minor version.
    pub minor: u16,
}

impl ApiVersion {
    /// The newest version cstream speaks: Docker 29's.
    pub const NEWEST: ApiVersion = ApiVersion::new(1, 52);
    /// The oldest version the lifecycle works with (`wait?condition=next-exit` came in 1.30).
    pub const OLDEST: ApiVersion = ApiVersion::new(1, 30);
    /// From this version Docker sets the terminal size at create (`HostConfig.ConsoleSize`).
    pub const CONSOLE_SIZE: ApiVersion = ApiVersion::new(1, 42);
    /// From this version the create takes a `platform` query parameter.
    pub const CREATE_PLATFORM: ApiVersion = ApiVersion::new(1, 41);

    /// The version `major.minor`.
    pub const fn new(major: u16, minor: u16) -> ApiVersion {
        ApiVersion { major, minor }
    }

    /// Whether cstream speaks this version.
    pub fn is_supported(self) -> bool {
        (Self::OLDEST..=Self::NEWEST).contains(&self)
    }

    /// The version to speak to an engine whose newest is `engine`: the lower
    /// of the two, or `pinned` when the caller chose one. An error when there
    /// is no version both sides speak.
    pub fn negotiate(engine: ApiVersion, pinned: Option<ApiVersion>) -> Result<ApiVersion, VersionError> {
        match pinned {
            Some(p) if !p.is_supported() => Err(VersionError::PinnedUnsupported { pinned: p }),
            Some(p) if p > engine => Err(VersionError::PinnedTooNew { pinned: p, engine_newest: engine }),
            Some(p) => Ok(p),
            None if engine < Self::OLDEST => Err(VersionError::EngineTooOld { engine_newest: engine }),
            None => Ok(engine.min(Self::NEWEST)),
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A text that is not an API version such as `1.45`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("{0:?} is not an API version such as 1.45")]
pub struct BadVersion(pub String);

impl FromStr for ApiVersion {
    type Err = BadVersion;
    /// Reads `major.minor`: one to four digits each, nothing else.
    fn from_str(s: &str) -> Result<Self, BadVersion> {
        let bad = || BadVersion(s.into());
        let number = |part: &str| match !part.is_empty() && part.len() <= 4 && part.bytes().all(|b| b.is_ascii_digit())
        {
            true => part.parse::<u16>().map_err(|_| bad()),
            false => Err(bad()),
        };
        let (major, minor) = s.split_once('.').ok_or_else(bad)?;
        Ok(ApiVersion { major: number(major)?, minor: number(minor)? })
    }
}

/// Why no API version could be agreed with the engine.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum VersionError {
    /// The ping answer has no `Api-Version` header.
    #[error("the engine's ping answer has no Api-Version header: is this a container engine?")]
    Missing,
    /// The ping answer's `Api-Version` header is not a version.
    #[error("the engine's Api-Version header: {0}")]
    Unreadable(BadVersion),
    /// The engine's newest version is older than cstream's oldest.
    #[error(
        "the engine speaks API versions up to {engine_newest}, and cstream speaks {oldest} to {newest}: upgrade the engine",
        oldest = ApiVersion::OLDEST,
        newest = ApiVersion::NEWEST
    )]
    EngineTooOld {
        /// The newest version the engine speaks.
        engine_newest: ApiVersion,
    },
    /// The version pinned by the caller is one cstream does not speak.
    #[error(
        "API version {pinned} was asked for (DOCKER_API_VERSION), but cstream speaks {oldest} to {newest}",
        oldest = ApiVersion::OLDEST,
        newest = ApiVersion::NEWEST
    )]
    PinnedUnsupported {
        /// The version asked for.
        pinned: ApiVersion,
    },
    /// The version pinned by the caller is newer than the engine speaks.
    #[error(
        "API version {pinned} was asked for (DOCKER_API_VERSION), but the engine speaks versions up to {engine_newest}"
    )]
    PinnedTooNew {
        /// The version asked for.
        pinned: ApiVersion,
        /// The newest version the engine speaks.
        engine_newest: ApiVersion,
    },
    /// The engine refused the version spoken (HTTP 400) and `GET /version`
    /// says it is outside the engine's range.
    #[error(
        "the engine refuses API version {used}: it speaks {engine_oldest} to {engine_newest}, and cstream speaks {oldest} to {newest}{hint}",
        oldest = ApiVersion::OLDEST,
        newest = ApiVersion::NEWEST,
        hint = match *engine_oldest > ApiVersion::NEWEST { true => ": upgrade cstream", false => "" }
    )]
    Refused {
        /// The version cstream spoke.
        used: ApiVersion,
        /// The oldest version the engine speaks (`MinAPIVersion`).
        engine_oldest: ApiVersion,
        /// The newest version the engine speaks (`ApiVersion`).
        engine_newest: ApiVersion,
    },
}

/// Which engine answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EngineKind {
    /// Docker Engine (moby).
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
}

/// What a run knows about the engine: what a ping told, and what `GET /info`
/// told once a run needed it. A machine started
/// [`with_engine`](crate::Machine::with_engine) asks for neither again, so
/// a driver that keeps the [`engine`](crate::Machine::engine) a run learned
/// spares the next runs the requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineInfo {
    /// Docker or Podman.
    pub kind: EngineKind,
    /// The version the engine reported in `Api-Version`: the newest it speaks.
    pub engine_api: ApiVersion,
    /// The version to speak (see [`ApiVersion::negotiate`]).
    pub api: ApiVersion,
    /// How many CPUs the engine's host has, once an `info` answer said
    /// (asked only for a run with a CPU limit).
    pub host_cpus: Option<u64>,
}

impl EngineInfo {
    /// Reads a `/_ping` answer's headers (names in any case) and agrees on a
    /// version, `pinned` if the caller chose one.
    pub fn from_ping_headers<'a, I>(headers: I, pinned: Option<ApiVersion>) -> Result<EngineInfo, VersionError>
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
        let engine_api: ApiVersion = version.ok_or(VersionError::Missing)?.parse().map_err(VersionError::Unreadable)?;
        let api = ApiVersion::negotiate(engine_api, pinned)?;
        let kind = if podman { EngineKind::Podman } else { EngineKind::Docker };
        Ok(EngineInfo { kind, engine_api, api, host_cpus: None })
    }

    /// Whether the engine takes the terminal size in the create body
    /// (`HostConfig.ConsoleSize`), so no resize is needed before start.
    pub fn console_size_at_create(&self) -> bool {
        self.kind == EngineKind::Docker && self.api >= ApiVersion::CONSOLE_SIZE
    }
}
