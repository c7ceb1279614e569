//! The messages that cross the WebAssembly boundary, postcard-encoded.
//!
//! The host sends a [`WireSpec`] once, then [`WireInput`]s; the module
//! answers with proto-core's own [`Output`](cstream_proto_core::Output)s, as
//! they are: requests, ids, events, deadlines, and errors as the typed
//! [`Error`](cstream_proto_core::Error). Inputs are proto-core's [`Input`],
//! with the user's commands beside them.
//! Times are [`Duration`]s on the host's monotonic clock, since an epoch of
//! its choosing; [`WireSpec`]'s are nanoseconds (its `now` is usually 0).
//!
//! These types are plain data and compile anywhere, so a native host encodes
//! and decodes with the same code the module runs.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use cstream_proto_core::spec::{Coalesce, Limits, Secret};
use cstream_proto_core::{Input, PullPolicy, RunInfo, RunSpec, SpecError, TtySize};
use serde::{Deserialize, Serialize};

/// Nanoseconds as a [`Duration`].
pub fn from_nanos(ns: u64) -> Duration {
    Duration::from_nanos(ns)
}

/// A [`Duration`] as nanoseconds, saturating at `u64::MAX` (584 years).
pub fn to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// When to pull the image; see [`PullPolicy`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum WirePull {
    /// Pull before every run.
    Always,
    /// Pull when the engine does not have the image.
    #[default]
    Missing,
    /// Never pull.
    Never,
}

/// Bounds on the engine's answers; see [`Limits`]. Durations in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct WireLimits {
    pub request_timeout: u64,
    pub drain_timeout: u64,
    pub cleanup_timeout: u64,
    pub max_body: u64,
    pub max_frame_hold: u64,
}

/// One run: what [`RunSpec::builder`] takes, and the [`RunInfo`] and start
/// time that [`Machine::new`](cstream_proto_core::Machine::new) takes.
///
/// Optional fields left `None` keep the builder's defaults. Durations are
/// nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)] // Each field is the builder method of the same name.
pub struct WireSpec {
    /// The run's unique id (the `io.cstream.run` label).
    pub run_id: String,
    /// Wall-clock start of the run, seconds since the Unix epoch.
    pub created_unix: u64,
    /// The host's clock when the machine is made, in nanoseconds.
    pub now: u64,
    /// The image reference.
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `(name, value)` pairs, in order.
    pub env: Vec<(String, String)>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// `(source, target, read_only)`.
    pub mounts: Vec<(String, String, bool)>,
    /// `(target, options)`.
    pub tmpfs: Vec<(String, String)>,
    pub memory: Option<u64>,
    pub memory_swap: Option<i64>,
    pub cpu_millis: Option<u64>,
    pub pids_limit: Option<i64>,
    pub read_only_rootfs: bool,
    pub network: Option<String>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub no_new_privileges: bool,
    pub privileged: bool,
    pub labels: Vec<(String, String)>,
    pub name: Option<String>,
    pub tty: bool,
    /// `(cols, rows)`.
    pub tty_size: Option<(u16, u16)>,
    pub stdin: bool,
    pub pull: WirePull,
    /// The `X-Registry-Auth` value.
    pub registry_auth: Option<String>,
    pub log_driver: Option<String>,
    pub keep: bool,
    pub stop_signal: Option<String>,
    pub stop_grace: Option<u64>,
    pub timeout: Option<u64>,
    /// `None` keeps the default (5 s); `Some(0)` sends no heartbeats.
    pub heartbeat: Option<u64>,
    /// `(flush_interval, max_buffer)`.
    pub coalesce: Option<(u64, u64)>,
    pub limits: Option<WireLimits>,
}

impl WireSpec {
    /// A spec for `image` with every other field at its default.
    pub fn new(image: impl Into<String>) -> Self {
        WireSpec { image: image.into(), ..WireSpec::default() }
    }

    /// The checked spec, the run's identity and its start time, for
    /// [`Machine::new`](cstream_proto_core::Machine::new).
    pub fn build(self) -> Result<(RunSpec, RunInfo, Duration), SpecError> {
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        let mut b = RunSpec::builder(self.image)
            .envs(self.env)
            .read_only_rootfs(self.read_only_rootfs)
            .no_new_privileges(self.no_new_privileges)
            .privileged(self.privileged)
            .tty(self.tty)
            .stdin(self.stdin)
            .keep(self.keep)
            .pull(match self.pull {
                WirePull::Always => PullPolicy::Always,
                WirePull::Missing => PullPolicy::Missing,
                WirePull::Never => PullPolicy::Never,
            });
        if let Some(c) = self.command {
            b = b.command(c);
        }
        if let Some(e) = self.entrypoint {
            b = b.entrypoint(e);
        }
        if let Some(d) = self.working_dir {
            b = b.working_dir(d);
        }
        if let Some(u) = self.user {
            b = b.user(u);
        }
        for (source, target, ro) in self.mounts {
            b = b.mount(source, target, ro);
        }
        for (target, options) in self.tmpfs {
            b = b.tmpfs(target, options);
        }
        if let Some(m) = self.memory {
            b = b.memory(m);
        }
        if let Some(m) = self.memory_swap {
            b = b.memory_swap(m);
        }
        if let Some(c) = self.cpu_millis {
            b = b.cpu_millis(c);
        }
        if let Some(p) = self.pids_limit {
            b = b.pids_limit(p);
        }
        if let Some(n) = self.network {
            b = b.network(n);
        }
        for c in self.cap_add {
            b = b.cap_add(c);
        }
        for c in self.cap_drop {
            b = b.cap_drop(c);
        }
        for (k, v) in self.labels {
            b = b.label(k, v);
        }
        if let Some(n) = self.name {
            b = b.name(n);
        }
        if let Some((cols, rows)) = self.tty_size {
            b = b.tty_size(cols, rows);
        }
        if let Some(a) = self.registry_auth {
            b = b.registry_auth(Secret::new(a));
        }
        if let Some(l) = self.log_driver {
            b = b.log_driver(l);
        }
        if let Some(s) = self.stop_signal {
            b = b.stop_signal(s);
        }
        if let Some(g) = self.stop_grace {
            b = b.stop_grace(from_nanos(g));
        }
        if let Some(t) = self.timeout {
            b = b.timeout(from_nanos(t));
        }
        if let Some(h) = self.heartbeat {
            b = b.heartbeat((h > 0).then(|| from_nanos(h)));
        }
        if let Some((flush, max)) = self.coalesce {
            b = b.coalesce(Coalesce { flush_interval: from_nanos(flush), max_buffer: size(max) });
        }
        if let Some(l) = self.limits {
            b = b.limits(Limits {
                request_timeout: from_nanos(l.request_timeout),
                drain_timeout: from_nanos(l.drain_timeout),
                cleanup_timeout: from_nanos(l.cleanup_timeout),
                max_body: size(l.max_body),
                max_frame_hold: size(l.max_frame_hold),
            });
        }
        let run = RunInfo { run_id: self.run_id, created_unix: self.created_unix, owner: None };
        Ok((b.build()?, run, from_nanos(self.now)))
    }
}

/// Something for the machine: an answer from the engine, the clock, or a
/// command from the user. `now` is the host's clock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireInput {
    /// An answer from the engine: [`Machine::handle_input`](cstream_proto_core::Machine::handle_input).
    Input {
        #[allow(missing_docs)]
        now: Duration,
        #[allow(missing_docs)]
        input: Input,
    },
    /// The deadline passed: [`Machine::handle_timeout`](cstream_proto_core::Machine::handle_timeout).
    Timeout {
        #[allow(missing_docs)]
        now: Duration,
    },
    /// [`Machine::cancel`](cstream_proto_core::Machine::cancel).
    Cancel {
        #[allow(missing_docs)]
        now: Duration,
    },
    /// [`Machine::write_stdin`](cstream_proto_core::Machine::write_stdin).
    Stdin(Bytes),
    /// [`Machine::close_stdin`](cstream_proto_core::Machine::close_stdin).
    CloseStdin,
    /// [`Machine::resize`](cstream_proto_core::Machine::resize).
    Resize {
        #[allow(missing_docs)]
        now: Duration,
        #[allow(missing_docs)]
        size: TtySize,
    },
}
