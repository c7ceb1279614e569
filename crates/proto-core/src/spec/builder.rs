//! The builder for [`RunSpec`]: every setter takes plain values; `build`
//! checks them all.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use super::{Coalesce, Env, ImageRef, Limits, Mount, PullPolicy, RunSpec, Secret, Signal, SpecError, Tmpfs, validate};
use crate::event::TtySize;

mod container;

/// Builds a [`RunSpec`]. Made by [`RunSpec::builder`].
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RunSpecBuilder {
    image: String,
    spec: RunSpec,
    deferred: Option<SpecError>,
}

impl RunSpecBuilder {
    pub(super) fn new(image: String) -> Self {
        let spec = RunSpec {
            image: ImageRef::placeholder(),
            command: None,
            entrypoint: None,
            env: Env::default(),
            working_dir: None,
            user: None,
            mounts: Vec::new(),
            tmpfs: Vec::new(),
            memory: None,
            memory_swap: None,
            cpu_millis: None,
            pids_limit: None,
            read_only_rootfs: false,
            network: None,
            cap_add: Vec::new(),
            cap_drop: Vec::new(),
            no_new_privileges: false,
            privileged: false,
            labels: Default::default(),
            name: None,
            tty: false,
            tty_size: None,
            stdin: false,
            pull: PullPolicy::Missing,
            registry_auth: None,
            log_driver: None,
            keep: false,
            stop_signal: Signal::TERM.to_string(),
            stop_grace: Duration::from_secs(10),
            timeout: None,
            heartbeat: Some(Duration::from_secs(5)),
            coalesce: Coalesce::default(),
            limits: Limits::default(),
            volumes: Vec::new(),
            init: false,
            platform: None,
            shm_size: None,
            ulimits: Vec::new(),
            extra_hosts: Vec::new(),
            hostname: None,
            ports: Vec::new(),
            devices: Vec::new(),
            runtime: None,
            create_extra: Vec::new(),
        };
        RunSpecBuilder { image, spec, deferred: None }
    }

    /// Checks every field and returns the spec, or the first problem found.
    pub fn build(self) -> Result<RunSpec, SpecError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let mut spec = self.spec;
        spec.image = ImageRef::parse(&self.image)?;
        validate::check(&spec)?;
        Ok(spec)
    }

    /// The command line: the command and its arguments. Without it the
    /// image's default command runs.
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.command = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Overrides the image's entrypoint; an empty list clears it.
    pub fn entrypoint<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.entrypoint = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Sets one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.env.0.push((name.into(), value.into()));
        self
    }

    /// Sets environment variables from `(name, value)` pairs, such as a map.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.spec.env.0.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Sets environment variables from `NAME=value` strings.
    pub fn env_list<I, S>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for var in vars {
            match var.as_ref().split_once('=') {
                Some((k, v)) => self.spec.env.0.push((k.to_string(), v.to_string())),
                None if self.deferred.is_none() => {
                    self.deferred = Some(SpecError::Invalid {
                        field: "environment variable".into(),
                        value: var.as_ref().to_string(),
                        why: "expected NAME=value".into(),
                    });
                }
                None => {}
            }
        }
        self
    }

    /// The working directory inside the container (absolute).
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.spec.working_dir = Some(dir.into());
        self
    }

    /// The user (name, uid, or `uid:gid`) the process runs as.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.spec.user = Some(user.into());
        self
    }

    /// Bind-mounts host path `source` at `target` (absolute).
    pub fn mount(mut self, source: impl Into<String>, target: impl Into<String>, read_only: bool) -> Self {
        self.spec.mounts.push(Mount { source: source.into(), target: target.into(), read_only, relabel: None });
        self
    }

    /// Mounts a tmpfs at `target` with `options` such as `size=64m` (empty for defaults).
    pub fn tmpfs(mut self, target: impl Into<String>, options: impl Into<String>) -> Self {
        self.spec.tmpfs.push(Tmpfs { target: target.into(), options: options.into() });
        self
    }

    /// Memory limit in bytes (at least 6 MiB). Swap is off unless
    /// [`memory_swap`](Self::memory_swap) allows it.
    pub fn memory(mut self, bytes: u64) -> Self {
        self.spec.memory = Some(bytes);
        self
    }

    /// Memory plus swap in bytes, at least the memory limit; -1 for unlimited swap.
    pub fn memory_swap(mut self, bytes: i64) -> Self {
        self.spec.memory_swap = Some(bytes);
        self
    }

    /// CPU limit in millicores: 500 is half a CPU.
    pub fn cpu_millis(mut self, millicores: u64) -> Self {
        self.spec.cpu_millis = Some(millicores);
        self
    }

    /// Most processes (and threads) the container may have.
    pub fn pids_limit(mut self, n: i64) -> Self {
        self.spec.pids_limit = Some(n);
        self
    }

    /// Mount the root filesystem read-only.
    pub fn read_only_rootfs(mut self, on: bool) -> Self {
        self.spec.read_only_rootfs = on;
        self
    }

    /// Network mode: `none`, `bridge`, `host`, or a network's name.
    pub fn network(mut self, mode: impl Into<String>) -> Self {
        self.spec.network = Some(mode.into());
        self
    }

    /// Adds a capability (`NET_ADMIN`, `CAP_NET_ADMIN` or `ALL`).
    pub fn cap_add(mut self, cap: impl Into<String>) -> Self {
        self.spec.cap_add.push(cap.into());
        self
    }

    /// Drops a capability (`NET_RAW`, or `ALL`).
    pub fn cap_drop(mut self, cap: impl Into<String>) -> Self {
        self.spec.cap_drop.push(cap.into());
        self
    }

    /// Forbid gaining privileges through setuid binaries (`no-new-privileges`).
    pub fn no_new_privileges(mut self, on: bool) -> Self {
        self.spec.no_new_privileges = on;
        self
    }

    /// Run privileged. Never the default; only when asked for here.
    pub fn privileged(mut self, on: bool) -> Self {
        self.spec.privileged = on;
        self
    }

    /// Adds a label. Labels starting with `io.cstream.` are cstream's own.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.spec.labels.insert(key.into(), value.into());
        self
    }

    /// The container's name (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`); without one the
    /// engine makes one up. A name in use fails the create with
    /// [`Error::NameInUse`](crate::Error::NameInUse): the other container is
    /// left alone.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.spec.name = Some(name.into());
        self
    }

    /// Give the container a pseudo-terminal; output arrives as one `Tty` stream.
    pub fn tty(mut self, on: bool) -> Self {
        self.spec.tty = on;
        self
    }

    /// The terminal's initial size (with [`tty`](Self::tty)).
    pub fn tty_size(mut self, cols: u16, rows: u16) -> Self {
        self.spec.tty_size = Some(TtySize { cols, rows });
        self
    }

    /// Keep stdin open so the caller can write to the process.
    pub fn stdin(mut self, on: bool) -> Self {
        self.spec.stdin = on;
        self
    }

    /// When to pull the image; by default ([`PullPolicy::Missing`]) only
    /// after a create answered 404, and then the create is tried again.
    pub fn pull(mut self, policy: PullPolicy) -> Self {
        self.spec.pull = policy;
        self
    }

    /// Registry credentials, as the engine's `X-Registry-Auth` value
    /// (base64url of the JSON auth object). Never printed.
    pub fn registry_auth(mut self, auth: Secret) -> Self {
        self.spec.registry_auth = Some(auth);
        self
    }

    /// The engine's log driver for this container, such as `none` or `json-file`.
    pub fn log_driver(mut self, driver: impl Into<String>) -> Self {
        self.spec.log_driver = Some(driver.into());
        self
    }

    /// Keep the container after the run instead of removing it. This also
    /// skips the sweep that removes what a create of unknown outcome made.
    pub fn keep(mut self, on: bool) -> Self {
        self.spec.keep = on;
        self
    }

    /// The signal sent first on cancel or timeout (default `SIGTERM`): a
    /// [`Signal`], the type `LocalProcess::stop_signal` takes too, or its
    /// name or number as a string (`"SIGINT"`, `"INT"`, `"2"`). A string
    /// that is not a signal makes [`build`](Self::build) fail, naming it.
    ///
    /// ```
    /// use cstream_proto_core::{RunSpec, Signal};
    /// let spec = RunSpec::builder("alpine").stop_signal(Signal::INT).build()?;
    /// let same = RunSpec::builder("alpine").stop_signal("SIGINT").build()?;
    /// assert!(RunSpec::builder("alpine").stop_signal("SIGNOPE").build().is_err());
    /// # Ok::<(), cstream_proto_core::SpecError>(())
    /// ```
    pub fn stop_signal<S>(mut self, signal: S) -> Self
    where
        S: TryInto<Signal>,
        S::Error: Into<SpecError>,
    {
        match signal.try_into() {
            Ok(signal) => self.spec.stop_signal = signal.to_string(),
            Err(e) if self.deferred.is_none() => self.deferred = Some(e.into()),
            Err(_) => {}
        }
        self
    }

    /// How long the process may take to exit after the stop signal before
    /// it is killed (default 10 s); zero sends SIGKILL at once.
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.spec.stop_grace = grace;
        self
    }

    /// The run's time limit, counted from the start of the run (pull included).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.spec.timeout = Some(limit);
        self
    }

    /// How often a `Heartbeat` is sent while the process runs (default 5 s);
    /// `None` sends none.
    pub fn heartbeat(mut self, interval: Option<Duration>) -> Self {
        self.spec.heartbeat = interval;
        self
    }

    /// How output is gathered into events; by default each piece is passed
    /// on as soon as it is decoded.
    pub fn coalesce(mut self, coalesce: Coalesce) -> Self {
        self.spec.coalesce = coalesce;
        self
    }

    /// How long the engine may take and how much it may send, and how long a
    /// failed remove is retried; see [`Limits`] for the defaults.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.spec.limits = limits;
        self
    }
}
