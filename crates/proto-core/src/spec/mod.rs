//! What a container run asks for, checked before any request is made.
//!
//! Build a [`RunSpec`] with [`RunSpec::builder`]; [`RunSpecBuilder::build`]
//! checks every field and returns a [`SpecError`] naming the first problem.
//!
//! ```
//! use cstream_proto_core::spec::RunSpec;
//! let spec = RunSpec::builder("alpine:3.20")
//!     .command(["sh", "-c", "echo hi"])
//!     .env("CI", "true")
//!     .memory(512 * 1024 * 1024)
//!     .build()?;
//! assert_eq!(spec.image().to_string(), "alpine:3.20");
//! # Ok::<(), cstream_proto_core::spec::SpecError>(())
//! ```

mod builder;
pub(crate) mod extra;
mod image;
mod kernel;
mod mounts;
mod ports;
mod signal;
pub(crate) mod support;
mod validate;

use alloc::borrow::Cow;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

pub use builder::RunSpecBuilder;
pub use image::ImageRef;
pub use kernel::{Device, ULIMIT_NAMES, Ulimit};
pub use mounts::{MountSpec, Relabel, Volume};
pub use ports::{Protocol, Publish};
pub use signal::{Signal, SignalError};

use crate::event::TtySize;

/// The smallest memory limit engines accept: 6 MiB.
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// A checked description of one container run. Made by [`RunSpec::builder`].
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub(crate) image: ImageRef,
    pub(crate) command: Option<Vec<String>>,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) env: Env,
    pub(crate) working_dir: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) mounts: Vec<Mount>,
    pub(crate) tmpfs: Vec<Tmpfs>,
    pub(crate) memory: Option<u64>,
    pub(crate) memory_swap: Option<i64>,
    pub(crate) cpu_millis: Option<u64>,
    pub(crate) pids_limit: Option<i64>,
    pub(crate) read_only_rootfs: bool,
    pub(crate) network: Option<String>,
    pub(crate) cap_add: Vec<String>,
    pub(crate) cap_drop: Vec<String>,
    pub(crate) no_new_privileges: bool,
    pub(crate) privileged: bool,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) name: Option<String>,
    pub(crate) tty: bool,
    pub(crate) tty_size: Option<TtySize>,
    pub(crate) stdin: bool,
    pub(crate) pull: PullPolicy,
    pub(crate) registry_auth: Option<Secret>,
    pub(crate) log_driver: Option<String>,
    pub(crate) keep: bool,
    /// A [`Signal`], as the engine takes it (`SIGTERM`).
    pub(crate) stop_signal: String,
    pub(crate) stop_grace: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) coalesce: Coalesce,
    pub(crate) limits: Limits,
    pub(crate) volumes: Vec<Volume>,
    pub(crate) init: bool,
    pub(crate) platform: Option<String>,
    pub(crate) shm_size: Option<u64>,
    pub(crate) ulimits: Vec<Ulimit>,
    /// `(host name, IP)` pairs for the container's `/etc/hosts`.
    pub(crate) extra_hosts: Vec<(String, String)>,
    pub(crate) hostname: Option<String>,
    pub(crate) ports: Vec<Publish>,
    pub(crate) devices: Vec<Device>,
    pub(crate) runtime: Option<String>,
    /// JSON objects merged into the create body, in order.
    pub(crate) create_extra: Vec<serde_json::Value>,
}

impl RunSpec {
    /// Starts a spec for `image`; the image is checked by [`RunSpecBuilder::build`].
    pub fn builder(image: impl Into<String>) -> RunSpecBuilder {
        RunSpecBuilder::new(image.into())
    }

    /// The image reference.
    pub fn image(&self) -> &ImageRef {
        &self.image
    }

    /// The command line, when one overrides the image's default.
    pub fn command(&self) -> Option<&[String]> {
        self.command.as_deref()
    }

    /// The CPU limit in millicores, if any.
    pub fn cpu_millis(&self) -> Option<u64> {
        self.cpu_millis
    }

    /// The bind mounts.
    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    /// The named and anonymous volumes.
    pub fn volumes(&self) -> &[Volume] {
        &self.volumes
    }

    /// The platform the image must be for (`linux/amd64`), if one was asked for.
    pub fn platform(&self) -> Option<&str> {
        self.platform.as_deref()
    }

    /// The OCI runtime the engine runs the container with, if one was asked for.
    pub fn runtime(&self) -> Option<&str> {
        self.runtime.as_deref()
    }

    /// Whether the container gets a pseudo-terminal.
    pub fn tty(&self) -> bool {
        self.tty
    }

    /// Whether the caller writes to the process's stdin.
    pub fn stdin(&self) -> bool {
        self.stdin
    }

    /// Whether the container is kept after the run.
    pub fn keep(&self) -> bool {
        self.keep
    }

    /// The pull policy.
    pub fn pull_policy(&self) -> PullPolicy {
        self.pull
    }

    /// The user's labels (cstream adds its own `io.cstream.*` labels).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }
}

/// When to pull the image, as `docker run --pull`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// Pull before every run.
    Always,
    /// Pull when the engine does not have the image (the default).
    #[default]
    Missing,
    /// Never pull; a missing image is an error.
    Never,
}

/// A bind mount of a host path into the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The host path; it must exist on the engine's host.
    pub source: String,
    /// The absolute path inside the container.
    pub target: String,
    /// Mount read-only.
    pub read_only: bool,
    /// SELinux relabeling (`-v SRC:DST:z`); `None` leaves labels alone.
    pub relabel: Option<Relabel>,
}

/// A tmpfs mount inside the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tmpfs {
    /// The absolute path inside the container.
    pub target: String,
    /// Mount options, such as `size=64m,mode=1777`; empty for the engine's defaults.
    pub options: String,
}

/// How output is gathered into [`Output`](crate::event::EventKind::Output) events.
///
/// With a zero `flush_interval` (the default) each piece of output is passed on
/// as soon as it is decoded, without copying. With a positive interval, output
/// of one stream is gathered until the interval passes, `max_buffer` bytes
/// are held, or the other stream writes (so the order between streams is kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Coalesce {
    /// How long output may be held; zero passes every piece on at once.
    pub flush_interval: Duration,
    /// How many bytes may be held before they are passed on.
    pub max_buffer: usize,
}

impl Default for Coalesce {
    fn default() -> Self {
        Coalesce { flush_interval: Duration::ZERO, max_buffer: 64 * 1024 }
    }
}

/// Bounds on how long the engine may take and how much it may send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Time for a request that should answer at once (ping, create, start,
    /// inspect, kill, remove) to be answered in full, and for a streaming
    /// request (attach, wait, pull) to begin its answer. An open stream has no
    /// idle limit: a quiet process is not a fault.
    pub request_timeout: Duration,
    /// After the process exited, how long to wait for the rest of its output.
    pub drain_timeout: Duration,
    /// How long a remove that fails in transport (the engine restarting, say)
    /// is tried again, backing off from 0.5 s to 5 s between tries.
    pub cleanup_timeout: Duration,
    /// Largest JSON answer or error body accepted.
    pub max_body: usize,
    /// Largest frame held back whole until complete; longer frames are passed
    /// on in pieces as they arrive.
    pub max_frame_hold: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
            cleanup_timeout: Duration::from_secs(30),
            max_body: 4 * 1024 * 1024,
            max_frame_hold: 256 * 1024,
        }
    }
}

/// Environment variables, in the order given. Debug output shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Env(pub(crate) Vec<(String, String)>);

impl Env {
    /// The variables as `NAME=value` strings, as the engine wants them.
    pub fn to_list(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| alloc::format!("{k}={v}")).collect()
    }

    /// Whether no variable is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.iter().map(|(k, _)| Redacted(k))).finish()
    }
}

struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=<redacted>", self.0)
    }
}

/// A value that must never be printed, such as registry credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for sending it where it belongs.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a spec was refused. Each names the field and the problem.
///
/// The texts are [`Cow`]s: cstream's own are `&'static str`s, and one read
/// back with serde (from a WebAssembly module, say) owns its text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum SpecError {
    /// The image reference is malformed.
    #[error("invalid image reference {reference:?}: {why}")]
    Image {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        why: Cow<'static, str>,
    },
    /// A field has a value the engine would refuse or misread.
    #[error("invalid {field} {value:?}: {why}")]
    Invalid {
        /// The field, as a user names it ("mount target", "memory limit", ...).
        field: Cow<'static, str>,
        /// The offending value (never a secret or an env value).
        value: String,
        /// What is wrong with it.
        why: Cow<'static, str>,
    },
    /// Two options that cannot be used together.
    #[error("{0}")]
    Conflict(Cow<'static, str>),
    /// The engine would ignore an option: refused before anything is created.
    #[error("the {field} cannot be used with {engine}: {why}")]
    Unsupported {
        /// The option, as a user names it ("platform", "OCI runtime").
        field: Cow<'static, str>,
        /// The engine, or the API version spoken with it.
        engine: String,
        /// Why.
        why: Cow<'static, str>,
    },
}
