//! Which kind of engine to look for, by name.

use std::fmt;

/// Which kind of engine to look for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runtime {
    /// Docker Engine.
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Docker => "docker",
            Runtime::Podman => "podman",
        })
    }
}

/// A name that is not `docker` or `podman`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownRuntime(pub String);

impl fmt::Display for UnknownRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown engine kind {:?}: expected docker or podman", self.0)
    }
}

impl std::error::Error for UnknownRuntime {}

impl std::str::FromStr for Runtime {
    type Err = UnknownRuntime;
    fn from_str(s: &str) -> Result<Self, UnknownRuntime> {
        match s {
            "docker" => Ok(Runtime::Docker),
            "podman" => Ok(Runtime::Podman),
            _ => Err(UnknownRuntime(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtimes_parse_with_an_error_of_their_own() {
        assert_eq!("docker".parse::<Runtime>(), Ok(Runtime::Docker));
        assert_eq!("podman".parse::<Runtime>(), Ok(Runtime::Podman));
        let e = "lxc".parse::<Runtime>().unwrap_err();
        assert_eq!(e.to_string(), "unknown engine kind \"lxc\": expected docker or podman");
        assert_eq!(Runtime::Podman.to_string(), "podman");
    }
}
