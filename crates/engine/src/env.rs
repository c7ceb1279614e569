//! What discovery reads: environment variables and the docker config's files.
//! The process's own, or given, so that where an engine is found can be
//! worked out (and tested) without touching the process's environment.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The environment variables and files [`Discover`](crate::Discover) reads.
///
/// [`Env::process`] is this process's environment and file system.
/// [`Env::new`] starts empty (no variables) on the real file system;
/// [`Env::var`] sets a variable, and [`Env::file`] puts a file in a file
/// system of its own: once one file is given, only given files exist.
///
/// ```
/// use cstream_engine::Env;
///
/// let env = Env::new()
///     .var("DOCKER_CONFIG", "/cfg")
///     .file("/cfg/config.json", r#"{"currentContext": "work"}"#);
/// assert_eq!(env.get("DOCKER_CONFIG").as_deref(), Some("/cfg"));
/// assert!(env.exists("/cfg/config.json".as_ref()));
/// assert!(!env.exists("/etc/passwd".as_ref()), "only the files given exist");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// Variables the process's own are read from when not set here.
    inherit: bool,
    vars: BTreeMap<String, String>,
    /// `None`: the real file system.
    files: Option<BTreeMap<PathBuf, String>>,
}

impl Env {
    /// This process's environment variables and file system.
    pub fn process() -> Env {
        Env { inherit: true, ..Env::default() }
    }

    /// No variables, and the real file system.
    pub fn new() -> Env {
        Env::default()
    }

    /// With `name` set to `value` (over the process's, for [`Env::process`]).
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Env {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// With a file at `path` holding `text`, in a file system of given files only.
    pub fn file(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Env {
        self.files.get_or_insert_with(BTreeMap::new).insert(path.into(), text.into());
        self
    }

    /// The variable `name`; unset and empty are the same: `None`.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match self.vars.get(name) {
            Some(v) => Some(v.clone()),
            None if self.inherit => std::env::var(name).ok(),
            None => None,
        };
        value.filter(|v| !v.is_empty())
    }

    /// The text of the file at `path`.
    pub fn read(&self, path: &Path) -> io::Result<String> {
        match &self.files {
            None => std::fs::read_to_string(path),
            Some(files) => files.get(path).cloned().ok_or_else(|| io::Error::from(io::ErrorKind::NotFound)),
        }
    }

    /// Whether there is a file at `path`.
    pub fn exists(&self, path: &Path) -> bool {
        match &self.files {
            None => path.exists(),
            Some(files) => files.contains_key(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_variables_and_files() {
        let env = Env::new().var("A", "1").var("EMPTY", "").file("/x/y", "text");
        assert_eq!(env.get("A").as_deref(), Some("1"));
        assert_eq!(env.get("EMPTY"), None, "empty is unset");
        assert_eq!(env.get("PATH"), None, "nothing of the process's");
        assert_eq!(env.read(Path::new("/x/y")).unwrap(), "text");
        assert_eq!(env.read(Path::new("/x/z")).unwrap_err().kind(), io::ErrorKind::NotFound);
        let disk = Env::new();
        assert!(disk.exists(Path::new("/")), "no file given: the real file system");
        assert!(Env::process().get("PATH").is_some());
        assert_eq!(Env::process().var("PATH", "/given").get("PATH").as_deref(), Some("/given"));
    }
}
