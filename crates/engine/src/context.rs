//! Docker contexts, read from the docker config as the docker CLI writes it:
//! `config.json` names the current context (`currentContext`), and a
//! context's endpoint is in `contexts/meta/<sha256 of its name>/meta.json`
//! (`Endpoints.docker.Host`), its TLS files under
//! `contexts/tls/<sha256 of its name>/docker/`.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::Error;
use crate::env::Env;

/// The context that stands for "no context": the environment and the
/// default sockets.
pub(crate) const DEFAULT: &str = "default";

/// The docker config directory: `$DOCKER_CONFIG`, else `$HOME/.docker`.
pub(crate) fn config_dir(env: &Env) -> Option<PathBuf> {
    match env.get("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => env.get("HOME").map(|home| Path::new(&home).join(".docker")),
    }
}

/// The docker config file in `dir`.
pub(crate) fn config_file(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

/// The current context `config.json` in `dir` names, if it names one. No
/// file is no context; a file that cannot be read is an error, never a
/// quiet run on another engine.
pub(crate) fn current(env: &Env, dir: &Path) -> Result<Option<String>, Error> {
    let path = config_file(dir);
    let bad = |why: String| Error::Config { path: path.display().to_string(), why };
    let text = match env.read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(bad(e.to_string())),
    };
    let config: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    match config.get("currentContext") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if name.is_empty() => Ok(None),
        Some(Value::String(name)) => Ok(Some(name.clone())),
        Some(other) => Err(bad(format!("currentContext is not a string: {other}"))),
    }
}

/// A context's docker endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// `Endpoints.docker.Host`.
    pub host: String,
    /// Why the context asks for TLS, if it does.
    pub tls: Option<String>,
}

/// The directory name of a context's files: the sha256 of its name, in hex.
pub(crate) fn id(name: &str) -> String {
    Sha256::digest(name.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The file that holds the context `name`'s endpoints.
pub(crate) fn meta_file(dir: &Path, name: &str) -> PathBuf {
    dir.join("contexts/meta").join(id(name)).join("meta.json")
}

/// The docker endpoint of the context `name` in the config directory `dir`;
/// `by` says what named it, for the errors.
pub(crate) fn endpoint(env: &Env, dir: &Path, name: &str, by: Option<&str>) -> Result<Endpoint, Error> {
    let meta = meta_file(dir, name);
    let bad = |why: String| Error::Context { name: name.to_string(), by: by.map(str::to_string), why };
    let text = match env.read(&meta) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(bad(format!("no such context ({} does not exist)", meta.display())));
        }
        Err(e) => return Err(bad(format!("cannot read {}: {e}", meta.display()))),
    };
    let meta_json: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("{} is not JSON: {e}", meta.display())))?;
    let docker = meta_json.get("Endpoints").and_then(|e| e.get("docker"));
    let host = docker.and_then(|d| d.get("Host")).and_then(Value::as_str).filter(|h| !h.is_empty());
    let Some(host) = host else {
        return Err(bad(format!("it has no docker endpoint (Endpoints.docker.Host in {})", meta.display())));
    };
    let skip_verify = docker.and_then(|d| d.get("SkipTLSVerify")).and_then(Value::as_bool) == Some(true);
    let tls_dir = dir.join("contexts/tls").join(id(name)).join("docker");
    let material = ["ca.pem", "cert.pem", "key.pem"].into_iter().map(|f| tls_dir.join(f)).find(|f| env.exists(f));
    let tls = match (material, skip_verify) {
        (Some(file), _) => Some(format!("the context has TLS files: {}", file.display())),
        (None, true) => Some("the context sets SkipTLSVerify".to_string()),
        (None, false) => None,
    };
    Ok(Endpoint { host: host.to_string(), tls })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(host: &str) -> String {
        format!(r#"{{"Name":"x","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#)
    }

    #[test]
    fn ids_are_the_sha256_of_the_name_as_the_docker_cli_makes_them() {
        // `docker context create work` makes contexts/meta/<this>/meta.json.
        assert_eq!(id("work"), "00e13ed7af55b27622f1d6eab5bec0147e68efe28dc2b12461117afa1a5ed40e");
        assert_eq!(id("default"), "37a8eec1ce19687d132fe29051dca629d164e2c4958ba141d5f4133a33f0688f");
        assert_eq!(id("").len(), 64);
    }

    #[test]
    fn config_dir_and_current_context() {
        let env = Env::new().var("HOME", "/home/u");
        assert_eq!(config_dir(&env), Some(PathBuf::from("/home/u/.docker")));
        let env = env.var("DOCKER_CONFIG", "/cfg");
        assert_eq!(config_dir(&env), Some(PathBuf::from("/cfg")));
        assert_eq!(config_dir(&Env::new()), None);
        let dir = Path::new("/cfg");
        let with = |text: &str| current(&Env::new().file("/cfg/config.json", text), dir);
        assert_eq!(current(&Env::new().file("/other", ""), dir).unwrap(), None, "no config file");
        assert_eq!(with(r#"{"currentContext":"work"}"#).unwrap().as_deref(), Some("work"));
        assert_eq!(with(r#"{"auths":{}}"#).unwrap(), None);
        assert_eq!(with(r#"{"currentContext":""}"#).unwrap(), None);
        let e = with("{not json").unwrap_err();
        assert!(e.to_string().starts_with("cannot read the docker config /cfg/config.json: not JSON"), "{e}");
        assert!(matches!(with(r#"{"currentContext":3}"#), Err(Error::Config { .. })));
    }

    #[test]
    fn a_contexts_endpoint_and_its_tls() {
        let dir = Path::new("/cfg");
        let file = meta_file(dir, "work");
        assert_eq!(file, Path::new("/cfg/contexts/meta").join(id("work")).join("meta.json"));
        let env = Env::new().file(&file, meta("unix:///run/podman/podman.sock"));
        let ep = endpoint(&env, dir, "work", None).unwrap();
        assert_eq!(ep, Endpoint { host: "unix:///run/podman/podman.sock".into(), tls: None });

        let e = endpoint(&env, dir, "nope", Some("DOCKER_CONTEXT")).unwrap_err();
        assert!(matches!(&e, Error::Context { name, .. } if name == "nope"), "{e:?}");
        assert!(
            e.to_string().starts_with("cannot use docker context \"nope\" (named by DOCKER_CONTEXT): no such context")
        );

        let no_docker = Env::new().file(&file, r#"{"Name":"work","Endpoints":{"kubernetes":{}}}"#);
        let e = endpoint(&no_docker, dir, "work", None).unwrap_err();
        assert!(e.to_string().contains("it has no docker endpoint"), "{e}");
        let e = endpoint(&Env::new().file(&file, "]"), dir, "work", None).unwrap_err();
        assert!(e.to_string().contains("is not JSON"), "{e}");

        let skip = Env::new().file(&file, meta("tcp://10.0.0.1:2375").replace("false", "true"));
        assert_eq!(endpoint(&skip, dir, "work", None).unwrap().tls.as_deref(), Some("the context sets SkipTLSVerify"));
        let ca = dir.join("contexts/tls").join(id("work")).join("docker/ca.pem");
        let material = env.clone().file(&ca, "-----BEGIN CERTIFICATE-----");
        let tls = endpoint(&material, dir, "work", None).unwrap().tls.unwrap();
        assert!(tls.contains("TLS files") && tls.contains("ca.pem"), "{tls}");
    }
}
