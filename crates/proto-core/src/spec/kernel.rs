//! What the kernel grants the process: resource limits (`--ulimit`) and
//! host devices (`--device`), in docker's syntax.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::str::FromStr;

use super::SpecError;

/// The resource limits the engines know, by their `ulimit` names.
pub const ULIMIT_NAMES: [&str; 16] = [
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
];

/// A resource limit (`HostConfig.Ulimits`): `nofile=1024:4096`, or
/// `nofile=1024` for the same soft and hard limit; -1 is unlimited.
///
/// ```
/// use cstream_proto_core::spec::{Device, Ulimit};
/// let files: Ulimit = "nofile=1024:4096".parse()?;
/// assert_eq!((files.soft, files.hard), (1024, 4096));
/// let fuse: Device = "/dev/fuse:/dev/fuse:rw".parse()?;
/// assert_eq!(fuse.permissions, "rw");
/// # Ok::<(), cstream_proto_core::SpecError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ulimit {
    /// The limit's name, one of [`ULIMIT_NAMES`].
    pub name: String,
    /// The soft limit, which the process may raise up to the hard one.
    pub soft: i64,
    /// The hard limit, at least `soft`; -1 is unlimited.
    pub hard: i64,
}

impl FromStr for Ulimit {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let bad =
            |why: &'static str| SpecError::Invalid { field: "ulimit".into(), value: s.to_string(), why: why.into() };
        let (name, values) =
            s.split_once('=').ok_or_else(|| bad("expected NAME=SOFT[:HARD], such as nofile=1024:4096"))?;
        let number = |v: &str| v.parse::<i64>().map_err(|_| bad("limits must be whole numbers, or -1 for unlimited"));
        let (soft, hard) = match values.split_once(':') {
            Some((soft, hard)) => (number(soft)?, number(hard)?),
            None => (number(values)?, number(values)?),
        };
        Ok(Ulimit { name: name.to_string(), soft, hard })
    }
}

/// A host device in the container (`HostConfig.Devices`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// The device's path on the engine's host.
    pub host: String,
    /// Its path in the container.
    pub container: String,
    /// What the container may do with it: some of `r` (read), `w` (write),
    /// `m` (mknod); `rwm` unless given.
    pub permissions: String,
}

impl FromStr for Device {
    type Err = SpecError;

    /// `HOST[:CONTAINER[:PERMISSIONS]]`, or `HOST:PERMISSIONS`.
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let is_permissions = |p: &str| !p.is_empty() && p.bytes().all(|b| b"rwm".contains(&b));
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, permissions) = match parts[..] {
            [host] => (host, host, "rwm"),
            [host, p] if is_permissions(p) => (host, host, p),
            [host, container] => (host, container, "rwm"),
            [host, container, p] => (host, container, p),
            _ => {
                let why = "expected HOST[:CONTAINER[:PERMISSIONS]], such as /dev/fuse:/dev/fuse:rwm";
                return Err(SpecError::Invalid { field: "device".into(), value: s.to_string(), why: why.into() });
            }
        };
        Ok(Device { host: host.to_string(), container: container.to_string(), permissions: permissions.to_string() })
    }
}
