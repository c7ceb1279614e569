//! Parsers for the engine's JSON answers and error bodies.
//!
//! Parsers are lenient about fields they do not need and strict about the
//! ones they do: a missing container id is an error, an unknown field is not.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;

use super::version::VersionError;
use super::{ApiVersion, EngineInfo};
use crate::error::{Error, Phase};

/// The message of an error answer, from Docker's `{"message": ..}` or
/// Podman's `{"cause": .., "message": .., "response": ..}`; the body as text
/// when it is not JSON. Never fails.
pub fn error_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        cause: Option<String>,
    }
    let text = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { message: Some(m), .. }) if !m.is_empty() => m,
        Ok(ErrorBody { cause: Some(c), .. }) if !c.is_empty() => c,
        _ => String::from_utf8_lossy(body).trim().to_string(),
    };
    truncate(text, 4096)
}

/// The host path of a bind mount that a Docker create refused because it
/// is not there (`invalid mount config for type "bind": bind source path
/// does not exist: /srv/data`). Podman creates such a source instead.
pub(crate) fn missing_bind_source(body: &[u8]) -> Option<String> {
    const SAYS: &str = "bind source path does not exist: ";
    let message = error_message(body);
    let at = message.find(SAYS)? + SAYS.len();
    Some(message[at..].trim_end().to_string())
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A malformed answer: which answer, and the parser's complaint, such as
/// `container create answer: missing field `Id``.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadAnswer(pub String);

impl BadAnswer {
    /// The run's error for it: a malformed answer in `phase`.
    pub fn in_phase(self, phase: Phase) -> Error {
        Error::Protocol { phase, detail: self.0 }
    }
}

/// Reads a whole `/_ping` answer: on 200, Docker or Podman and the API
/// version to speak (`pinned` if the caller chose one, see
/// [`EngineInfo::from_ping_headers`]); on any other status, the engine's error.
/// Drivers that ping outside a run read it here, as the machine does.
pub fn ping<'a, I>(status: u16, headers: I, body: &[u8], pinned: Option<ApiVersion>) -> Result<EngineInfo, Error>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    match status {
        200 => EngineInfo::from_ping_headers(headers, pinned).map_err(Error::Version),
        _ => Err(Error::answered(Phase::Connect, status, body)),
    }
}

fn parse<'a, T: Deserialize<'a>>(what: &str, body: &'a [u8]) -> Result<T, BadAnswer> {
    serde_json::from_slice(body).map_err(|e| BadAnswer(alloc::format!("{what}: {e}")))
}

/// The answer to `GET /info`, as far as a run needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostInfo {
    /// How many CPUs the engine's host has (`NCPU`, on Docker and Podman).
    pub cpus: u64,
}

impl HostInfo {
    /// Parses an `info` answer; it must hold `NCPU`.
    pub fn parse(body: &[u8]) -> Result<HostInfo, BadAnswer> {
        #[derive(Deserialize)]
        struct Info {
            #[serde(rename = "NCPU")]
            cpus: Option<u64>,
        }
        let info: Info = parse("info", body)?;
        let cpus = info.cpus.ok_or_else(|| BadAnswer("info: no NCPU".into()))?;
        Ok(HostInfo { cpus })
    }
}

/// The answer to `create`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Created {
    /// The new container's id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Warnings the engine attached (Podman sends `null` for none).
    #[serde(rename = "Warnings", default, deserialize_with = "null_as_empty")]
    pub warnings: Vec<String>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

impl Created {
    /// Parses a `create` answer; the id must be a non-empty path-safe string.
    pub fn parse(body: &[u8]) -> Result<Created, BadAnswer> {
        let c: Created = parse("container create answer", body)?;
        let ok = !c.id.is_empty()
            && c.id.len() <= 128
            && c.id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        match ok {
            true => Ok(c),
            false => Err(BadAnswer(alloc::format!("container create answer: unusable container id {:?}", c.id))),
        }
    }
}

/// The body of `wait`: `{"StatusCode": n, "Error": {"Message": ..} | null}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exited {
    /// The exit code.
    pub status_code: i64,
    /// An error the engine met while waiting, if any.
    pub error: Option<String>,
}

impl Exited {
    /// Parses a `wait` answer body.
    pub fn parse(body: &[u8]) -> Result<Exited, BadAnswer> {
        #[derive(Deserialize)]
        struct WaitError {
            #[serde(rename = "Message", default)]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Wait {
            #[serde(rename = "StatusCode")]
            status_code: i64,
            #[serde(rename = "Error", default)]
            error: Option<WaitError>,
        }
        let w: Wait = parse("container wait answer", body)?;
        let error = w.error.and_then(|e| e.message).filter(|m| !m.is_empty());
        Ok(Exited { status_code: w.status_code, error })
    }
}

/// What the lifecycle reads from `GET /containers/{id}/json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inspected {
    /// `State.OOMKilled`.
    pub oom_killed: bool,
    /// `State.ExitCode`.
    pub exit_code: Option<i64>,
    /// `State.Status`, such as `exited`.
    pub status: Option<String>,
}

impl Inspected {
    /// Parses an inspect answer.
    pub fn parse(body: &[u8]) -> Result<Inspected, BadAnswer> {
        #[derive(Deserialize)]
        struct State {
            #[serde(rename = "OOMKilled", default)]
            oom_killed: bool,
            #[serde(rename = "ExitCode", default)]
            exit_code: Option<i64>,
            #[serde(rename = "Status", default)]
            status: Option<String>,
        }
        #[derive(Deserialize)]
        struct Container {
            #[serde(rename = "State")]
            state: State,
        }
        let c: Container = parse("container inspect answer", body)?;
        Ok(Inspected { oom_killed: c.state.oom_killed, exit_code: c.state.exit_code, status: c.state.status })
    }
}

/// One line of a pull's progress stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullLine {
    /// A status line, for one layer (`id`) or the whole image.
    Status {
        /// The layer id; empty for image-wide lines.
        id: String,
        /// The status text.
        status: String,
        /// Bytes done, when given.
        current: Option<u64>,
        /// Bytes in all, when given.
        total: Option<u64>,
    },
    /// The engine's `Digest: sha256:..` line.
    Digest(String),
    /// An in-band error (`error` / `errorDetail`), sent with HTTP 200.
    Error(String),
}

impl PullLine {
    /// Parses one line of pull progress.
    pub fn parse(line: &[u8]) -> Result<PullLine, BadAnswer> {
        #[derive(Deserialize, Default)]
        struct Detail {
            #[serde(default)]
            current: Option<u64>,
            #[serde(default)]
            total: Option<u64>,
        }
        #[derive(Deserialize)]
        struct ErrorDetail {
            #[serde(default)]
            message: Option<String>,
        }
        #[derive(Deserialize)]
        struct Line {
            #[serde(default)]
            id: Option<String>,
            #[serde(default)]
            status: Option<String>,
            #[serde(rename = "progressDetail", default)]
            detail: Option<Detail>,
            #[serde(default)]
            error: Option<String>,
            #[serde(rename = "errorDetail", default)]
            error_detail: Option<ErrorDetail>,
        }
        let l: Line = parse("pull progress line", line)?;
        if let Some(msg) = l.error_detail.and_then(|d| d.message).or(l.error) {
            return Ok(PullLine::Error(truncate(msg, 4096)));
        }
        let status = l.status.unwrap_or_default();
        if let Some(d) = status.strip_prefix("Digest: ") {
            return Ok(PullLine::Digest(d.trim().to_string()));
        }
        let detail = l.detail.unwrap_or_default();
        Ok(PullLine::Status { id: l.id.unwrap_or_default(), status, current: detail.current, total: detail.total })
    }
}

/// What `GET /version` says of the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versions {
    /// The engine's own version, such as `26.1.5` or `4.3.1`.
    pub version: String,
    /// The newest API version it speaks (`ApiVersion`).
    pub newest: ApiVersion,
    /// The oldest API version it speaks (`MinAPIVersion`).
    pub oldest: ApiVersion,
    /// Its operating system and architecture, such as `linux/amd64`.
    pub platform: String,
}

impl Versions {
    /// Parses a `GET /version` answer; both API versions must be readable.
    pub fn parse(body: &[u8]) -> Result<Versions, BadAnswer> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body {
            #[serde(default)]
            version: String,
            #[serde(default)]
            api_version: String,
            #[serde(rename = "MinAPIVersion", default)]
            min_api_version: String,
            #[serde(default)]
            os: String,
            #[serde(default)]
            arch: String,
        }
        let b: Body = parse("version answer", body)?;
        let api = |field: &str, v: &str| -> Result<ApiVersion, BadAnswer> {
            v.parse().map_err(|e| BadAnswer(alloc::format!("version answer: {field}: {e}")))
        };
        Ok(Versions {
            newest: api("ApiVersion", &b.api_version)?,
            oldest: api("MinAPIVersion", &b.min_api_version)?,
            version: b.version,
            platform: alloc::format!("{}/{}", b.os, b.arch),
        })
    }

    /// Whether the engine speaks `v`.
    pub fn speaks(&self, v: ApiVersion) -> bool {
        (self.oldest..=self.newest).contains(&v)
    }

    /// `used`, when the engine speaks it; else why not, naming both ranges.
    pub fn agree(&self, used: ApiVersion) -> Result<ApiVersion, VersionError> {
        match self.speaks(used) {
            true => Ok(used),
            false => Err(VersionError::Refused { used, engine_oldest: self.oldest, engine_newest: self.newest }),
        }
    }
}

/// One entry of `GET /containers/json`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Listed {
    /// The container id.
    #[serde(rename = "Id")]
    pub id: String,
    /// Its labels.
    #[serde(rename = "Labels", default)]
    pub labels: Option<alloc::collections::BTreeMap<String, String>>,
    /// Creation time, seconds since the Unix epoch.
    #[serde(rename = "Created", default)]
    pub created: i64,
    /// `running`, `exited`, ...
    #[serde(rename = "State", default)]
    pub state: String,
}

impl Listed {
    /// Parses a container list answer.
    pub fn parse_list(body: &[u8]) -> Result<Vec<Listed>, BadAnswer> {
        parse("container list answer", body)
    }
}

/// One service of a swarm manager's list, as far as `gc` needs it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ListedService {
    /// The service id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its spec's labels (cstream's run, creation time and owner among them).
    #[serde(rename = "Spec", default, deserialize_with = "spec_labels")]
    pub labels: alloc::collections::BTreeMap<String, String>,
}

fn spec_labels<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<alloc::collections::BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    struct Spec {
        #[serde(rename = "Labels", default)]
        labels: Option<alloc::collections::BTreeMap<String, String>>,
    }
    Ok(Spec::deserialize(d)?.labels.unwrap_or_default())
}

impl ListedService {
    /// Parses a service list answer.
    pub fn parse_list(body: &[u8]) -> Result<Vec<ListedService>, BadAnswer> {
        parse("service list answer", body)
    }
}

/// The exit code a failed `start` stands for, as `docker run` reports it:
/// 127 when the command was not found, 126 when it could not be executed.
///
/// The engines give no status code or field for this, only the OCI runtime's
/// message, so this is the one place that reads message text; anything it
/// does not recognise gives `None`.
pub fn start_failure_exit_code(message: &str) -> Option<i32> {
    // Podman ends every runtime failure with its error class, "OCI
    // permission denied" for an EPERM too (a limit it may not raise): that
    // is no EACCES, and says nothing about the command.
    let m = message.to_ascii_lowercase().replace("oci permission denied", "");
    if m.contains("permission denied") || m.contains("is a directory") {
        Some(126)
    } else if m.contains("executable file not found")
        || m.contains("no such file or directory")
        || m.contains("not found in $path")
    {
        Some(127)
    } else {
        None
    }
}
