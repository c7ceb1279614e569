//! Volumes, SELinux relabeling, and docker's `--mount` syntax.

use alloc::format;
use alloc::string::{String, ToString};
use core::str::FromStr;

use super::{Mount, RunSpec, SpecError, Tmpfs};

/// Why a missing bind-mount source is refused.
const MISSING_SOURCE: &str = "does not exist on the engine's host";

impl SpecError {
    /// A bind mount's source that the engine's host does not have: the
    /// error the check below makes, and the one a Docker engine's refusal
    /// of the create is read as.
    pub fn missing_mount_source(source: impl Into<String>) -> SpecError {
        let value = source.into();
        SpecError::Invalid { field: "mount source".into(), value, why: MISSING_SOURCE.into() }
    }
}

impl RunSpec {
    /// Refuses the first bind mount whose source `exists` says is not there.
    ///
    /// The core has no file system, so a driver that sees the engine's host
    /// (its socket is on this machine) calls this before the run, with a
    /// look at that file system. It matters on Podman, which creates a
    /// missing source as an empty directory, as root, where Docker refuses
    /// the create (and the machine reports that refusal as this same error).
    ///
    /// ```
    /// use cstream_proto_core::spec::RunSpec;
    /// let spec = RunSpec::builder("alpine").mount("/srv/data", "/data", true).build()?;
    /// let err = spec.check_mount_sources(|path| path != "/srv/data").unwrap_err();
    /// assert_eq!(err.to_string(), r#"invalid mount source "/srv/data": does not exist on the engine's host"#);
    /// assert!(spec.check_mount_sources(|_| true).is_ok());
    /// # Ok::<(), cstream_proto_core::SpecError>(())
    /// ```
    pub fn check_mount_sources(&self, mut exists: impl FnMut(&str) -> bool) -> Result<(), SpecError> {
        match self.mounts.iter().find(|m| !exists(&m.source)) {
            Some(m) => Err(SpecError::missing_mount_source(m.source.as_str())),
            None => Ok(()),
        }
    }
}

/// SELinux relabeling of a bind mount or volume, as `-v SRC:DST:z` asks
/// docker for. Such a mount is sent as a `HostConfig.Binds` entry, the only
/// form the Engine API relabels; on a host without SELinux it changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relabel {
    /// `z`: a label that other containers may share.
    Shared,
    /// `Z`: a label private to this container.
    Private,
}

impl Relabel {
    /// `z` or `Z`, as the bind option says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Relabel::Shared => "z",
            Relabel::Private => "Z",
        }
    }
}

/// A volume in the container: named (the engine creates it when missing and
/// keeps it after the run) or anonymous (removed with the container).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    /// The volume's name; `None` for an anonymous volume.
    pub name: Option<String>,
    /// The absolute path inside the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// Do not copy the image's files at the target into a new, empty volume.
    pub no_copy: bool,
    /// SELinux relabeling (`-v NAME:DST:z`).
    pub relabel: Option<Relabel>,
}

/// One mount in docker's `--mount` syntax: comma-separated `key=value`
/// pairs, `type=bind|volume|tmpfs` (volume when left out), `source` (or
/// `src`), `target` (or `dst`, `destination`), `readonly` (or `ro`, with an
/// optional `=true|false|1|0`), `volume-nocopy`, `tmpfs-size` (bytes, or
/// with `k`, `m`, `g`) and `tmpfs-mode` (octal). `consistency` is accepted
/// and means nothing on Linux, as with docker. The other keys docker knows
/// (`bind-propagation`, `volume-opt`, `volume-driver`, ...) are refused.
///
/// ```
/// use cstream_proto_core::spec::{MountSpec, RunSpec};
/// let cache: MountSpec = "type=volume,source=cache,target=/cache".parse()?;
/// let scratch: MountSpec = "type=tmpfs,dst=/scratch,tmpfs-size=64m".parse()?;
/// let spec = RunSpec::builder("alpine").mount_spec(cache).mount_spec(scratch).build()?;
/// assert_eq!(spec.volumes()[0].name.as_deref(), Some("cache"));
/// # Ok::<(), cstream_proto_core::SpecError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountSpec {
    /// A host path.
    Bind(Mount),
    /// A named or anonymous volume.
    Volume(Volume),
    /// A tmpfs; its options are `size=`, `mode=` and `ro` as given.
    Tmpfs(Tmpfs),
}

fn bad(s: &str, why: &'static str) -> SpecError {
    SpecError::Invalid { field: "mount".into(), value: s.to_string(), why: why.into() }
}

fn flag(s: &str, v: Option<&str>) -> Result<bool, SpecError> {
    match v {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(bad(s, "a flag's value must be true, false, 1 or 0")),
    }
}

/// `64m`, `1g`, `65536`: bytes, with binary units.
fn size(s: &str, v: &str) -> Result<u64, SpecError> {
    let lower = v.to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match t.as_bytes().last() {
        Some(b'k') => (&t[..t.len() - 1], 10),
        Some(b'm') => (&t[..t.len() - 1], 20),
        Some(b'g') => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    let n: u64 = match !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        true => digits.parse().map_err(|_| bad(s, "tmpfs-size is too large"))?,
        false => return Err(bad(s, "tmpfs-size must be a whole number of bytes, or with k, m or g")),
    };
    match n.checked_mul(1 << shift) {
        Some(0) => Err(bad(s, "tmpfs-size must be positive")),
        Some(bytes) if bytes <= i64::MAX as u64 => Ok(bytes),
        _ => Err(bad(s, "tmpfs-size is too large")),
    }
}

fn mode(s: &str, v: &str) -> Result<u32, SpecError> {
    match !v.is_empty() && v.len() <= 4 && v.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        true => u32::from_str_radix(v, 8).map_err(|_| bad(s, "tmpfs-mode must be octal, such as 1777")),
        false => Err(bad(s, "tmpfs-mode must be octal, such as 1777")),
    }
}

#[derive(Default)]
struct Fields<'a> {
    kind: Option<&'a str>,
    source: Option<&'a str>,
    target: Option<&'a str>,
    read_only: bool,
    no_copy: Option<bool>,
    tmpfs_size: Option<u64>,
    tmpfs_mode: Option<u32>,
}

fn fields(s: &str) -> Result<Fields<'_>, SpecError> {
    let mut f = Fields::default();
    for part in s.split(',') {
        let (key, value) = match part.split_once('=') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (part.trim(), None),
        };
        let given = || value.filter(|v| !v.is_empty()).ok_or_else(|| bad(s, "an option needs a value, as key=value"));
        match key {
            "type" => f.kind = Some(given()?),
            "source" | "src" => f.source = Some(given()?),
            "target" | "destination" | "dst" => f.target = Some(given()?),
            "readonly" | "ro" => f.read_only = flag(s, value)?,
            "volume-nocopy" => f.no_copy = Some(flag(s, value)?),
            "tmpfs-size" => f.tmpfs_size = Some(size(s, given()?)?),
            "tmpfs-mode" => f.tmpfs_mode = Some(mode(s, given()?)?),
            // Docker ignores it on Linux; so does cstream.
            "consistency" => {}
            "" => return Err(bad(s, "has an empty option")),
            _ => {
                let why = "is not supported: cstream takes type, source, target, readonly, volume-nocopy, tmpfs-size and tmpfs-mode";
                return Err(SpecError::Invalid {
                    field: "mount option".into(),
                    value: key.to_string(),
                    why: why.into(),
                });
            }
        }
    }
    Ok(f)
}

impl FromStr for MountSpec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        let f = fields(s)?;
        let target = f.target.ok_or_else(|| bad(s, "needs a target (target=/path)"))?.to_string();
        let tmpfs_only = f.tmpfs_size.is_some() || f.tmpfs_mode.is_some();
        match f.kind.unwrap_or("volume") {
            "bind" => {
                if tmpfs_only || f.no_copy.is_some() {
                    return Err(bad(s, "tmpfs- and volume- options do not apply to type=bind"));
                }
                let source = f.source.ok_or_else(|| bad(s, "type=bind needs a source (source=/host/path)"))?;
                Ok(MountSpec::Bind(Mount { source: source.to_string(), target, read_only: f.read_only, relabel: None }))
            }
            "volume" => {
                if tmpfs_only {
                    return Err(bad(s, "tmpfs- options do not apply to type=volume"));
                }
                let name = f.source.map(ToString::to_string);
                let no_copy = f.no_copy.unwrap_or(false);
                Ok(MountSpec::Volume(Volume { name, target, read_only: f.read_only, no_copy, relabel: None }))
            }
            "tmpfs" => {
                if f.source.is_some() || f.no_copy.is_some() {
                    return Err(bad(s, "type=tmpfs takes no source and no volume- options"));
                }
                let mut options = String::new();
                let mut add = |o: String| {
                    if !options.is_empty() {
                        options.push(',');
                    }
                    options.push_str(&o);
                };
                if let Some(size) = f.tmpfs_size {
                    add(format!("size={size}"));
                }
                if let Some(mode) = f.tmpfs_mode {
                    add(format!("mode={mode:o}"));
                }
                if f.read_only {
                    add("ro".to_string());
                }
                Ok(MountSpec::Tmpfs(Tmpfs { target, options }))
            }
            _ => Err(bad(s, "type must be bind, volume or tmpfs")),
        }
    }
}

/// Whether `name` is a volume name the engines take: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub(super) fn is_volume_name(name: &str) -> bool {
    name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}
