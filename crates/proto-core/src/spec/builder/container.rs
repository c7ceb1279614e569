//! Setters for what `docker run` offers beyond the basics: an init process,
//! the platform, `/dev/shm`, resource limits, `/etc/hosts`, the host name,
//! volumes and `--mount`, published ports, devices, the OCI runtime, and raw
//! JSON for everything else.

use alloc::string::String;

use super::RunSpecBuilder;
use crate::spec::{Device, MountSpec, Publish, Ulimit, Volume};

impl RunSpecBuilder {
    /// Run an init process as PID 1 (`HostConfig.Init`: docker-init on
    /// Docker, catatonit on Podman): it forwards signals to the command and
    /// reaps orphaned processes.
    pub fn init(mut self, on: bool) -> Self {
        self.spec.init = on;
        self
    }

    /// The platform the image must be for, `os[/arch[/variant]]` such as
    /// `linux/amd64` or `linux/arm/v7`: sent with the create (API 1.41 on)
    /// and the pull. Podman's Docker-compatible API ignores it, so a run on
    /// Podman is refused rather than run on whatever image is there.
    pub fn platform(mut self, platform: impl Into<String>) -> Self {
        self.spec.platform = Some(platform.into());
        self
    }

    /// The size of `/dev/shm` in bytes (the engines' default is 64 MiB).
    pub fn shm_size(mut self, bytes: u64) -> Self {
        self.spec.shm_size = Some(bytes);
        self
    }

    /// A resource limit, such as `"nofile=1024:4096".parse()?`.
    pub fn ulimit(mut self, limit: Ulimit) -> Self {
        self.spec.ulimits.push(limit);
        self
    }

    /// Adds `name` at `ip` to the container's `/etc/hosts` (`--add-host`);
    /// `ip` may be `host-gateway`, the engine's address for its host.
    pub fn add_host(mut self, name: impl Into<String>, ip: impl Into<String>) -> Self {
        self.spec.extra_hosts.push((name.into(), ip.into()));
        self
    }

    /// The container's host name.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.spec.hostname = Some(name.into());
        self
    }

    /// Mounts the named volume `name` at `target`; the engine creates it
    /// when missing, and it outlives the run (remove it through the
    /// engine's API).
    pub fn volume(mut self, name: impl Into<String>, target: impl Into<String>, read_only: bool) -> Self {
        let (name, target) = (Some(name.into()), target.into());
        self.spec.volumes.push(Volume { name, target, read_only, no_copy: false, relabel: None });
        self
    }

    /// Adds a bind mount, volume or tmpfs, such as one parsed from docker's
    /// `--mount` syntax (see [`MountSpec`]).
    pub fn mount_spec(mut self, mount: MountSpec) -> Self {
        match mount {
            MountSpec::Bind(m) => self.spec.mounts.push(m),
            MountSpec::Volume(v) => self.spec.volumes.push(v),
            MountSpec::Tmpfs(t) => self.spec.tmpfs.push(t),
        }
        self
    }

    /// Publishes a container port on the engine's host, such as
    /// `"127.0.0.1:8080:80".parse()?`.
    pub fn publish(mut self, port: Publish) -> Self {
        self.spec.ports.push(port);
        self
    }

    /// Gives the container a host device, such as `"/dev/fuse".parse()?`.
    pub fn device(mut self, device: Device) -> Self {
        self.spec.devices.push(device);
        self
    }

    /// The OCI runtime the engine runs the container with (`runc`, or one
    /// configured in the engine), as `docker run --runtime`. Podman's
    /// Docker-compatible API ignores it, so a run on Podman is refused.
    pub fn runtime(mut self, name: impl Into<String>) -> Self {
        self.spec.runtime = Some(name.into());
        self
    }

    /// JSON merged into the container create body after everything else, so
    /// that any field of the Engine API's create (`POST /containers/create`)
    /// is within reach: objects are merged key by key at every depth, and
    /// any other value replaces what is there. Called again, each object is
    /// merged in turn. [`build`](Self::build) refuses anything but an
    /// object, and the fields the run depends on (`Image`, `Tty`,
    /// `OpenStdin`, `StdinOnce`, `Attach*`, `HostConfig.AutoRemove` and
    /// `io.cstream.` labels).
    ///
    /// ```
    /// use cstream_proto_core::{RunInfo, RunSpec};
    /// use serde_json::{Value, json};
    ///
    /// let spec = RunSpec::builder("alpine")
    ///     .memory(64 << 20)
    ///     .create_extra(json!({
    ///         "StopTimeout": 7,
    ///         "HostConfig": { "Sysctls": { "net.ipv4.ip_unprivileged_port_start": "80" } },
    ///     }))
    ///     .build()?;
    /// let run = RunInfo { run_id: "r1".into(), created_unix: 0, owner: None };
    /// let body: Value = serde_json::from_slice(&cstream_proto_core::api::create::body(&spec, &run)).unwrap();
    /// assert_eq!(body["StopTimeout"], 7);
    /// assert_eq!(body["HostConfig"]["Sysctls"]["net.ipv4.ip_unprivileged_port_start"], "80");
    /// assert_eq!(body["HostConfig"]["Memory"], 64 << 20, "merged, not replaced");
    ///
    /// assert!(RunSpec::builder("alpine").create_extra(json!({"Tty": true})).build().is_err());
    /// # Ok::<(), cstream_proto_core::SpecError>(())
    /// ```
    pub fn create_extra(mut self, extra: serde_json::Value) -> Self {
        self.spec.create_extra.push(extra);
        self
    }
}
