//! One credentials file, Docker's `config.json` or Podman's `auth.json`: its
//! `auths` entries, `credsStore` and `credHelpers`, and which of its keys
//! name a registry.

use base64::Engine as _;
use cstream_proto_core::spec::ImageRef;
use serde_json::{Map, Value};

use super::RegistryAuth;

/// Docker Hub, whatever name it is given under.
const HUB: &str = "docker.io";
/// The address Docker files Docker Hub's logins under, and asks helpers for.
pub(crate) const HUB_SERVER: &str = "https://index.docker.io/v1/";

/// What a login is wanted for: a registry and, for an image, its repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    host: String,
    repository: String,
}

impl Target {
    /// The registry of `image` (Docker Hub when it names none).
    pub(crate) fn image(image: &ImageRef) -> Target {
        let host = image.registry().map_or_else(|| HUB.to_string(), canonical_host);
        let mut repository = image.repository().to_string();
        if host == HUB && !repository.contains('/') {
            repository = format!("library/{repository}");
        }
        Target { host, repository }
    }

    /// A registry, given as `host[:port]`, `docker.io` or a URL such as
    /// `https://index.docker.io/v1/`.
    pub(crate) fn registry(registry: &str) -> Target {
        Target { host: split_key(registry).0, repository: String::new() }
    }

    /// The address helpers are asked for and the engine is given:
    /// `https://index.docker.io/v1/` for Docker Hub, else `host[:port]`.
    pub(crate) fn server(&self) -> String {
        match self.host == HUB {
            true => HUB_SERVER.to_string(),
            false => self.host.clone(),
        }
    }
}

/// Docker Hub's aliases as one name; hosts compared without case.
fn canonical_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => HUB.to_string(),
        _ => host,
    }
}

/// A key's host and, for a key without `https://` that goes on past the host
/// (`quay.io/team`), the repository path it is scoped to.
fn split_key(key: &str) -> (String, Option<&str>) {
    let (rest, url) = match key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")) {
        Some(rest) => (rest, true),
        None => (key, false),
    };
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let path = path.trim_matches('/');
    (canonical_host(host), (!url && !path.is_empty()).then_some(path))
}

/// Whether `key` names `target`, and how closely: the longer the repository
/// scope the closer, and a key spelled as the server address beats its
/// aliases. `scoped` keys may name a repository scope (Podman); otherwise a
/// path after the host is ignored, as Docker does.
fn rank(key: &str, target: &Target, scoped: bool) -> Option<(usize, bool)> {
    let (host, scope) = split_key(key);
    if host != target.host {
        return None;
    }
    let len = match scope.filter(|_| scoped) {
        None => 0,
        Some(s) if target.repository == s || target.repository.starts_with(&format!("{s}/")) => s.len(),
        Some(_) => return None,
    };
    Some((len, key == target.server()))
}

/// Which helper a file names for a registry, and under which key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HelperRef {
    /// `NAME` of `docker-credential-NAME`.
    pub(crate) name: String,
    /// `credHelpers` or `credsStore`.
    pub(crate) key: &'static str,
}

/// A parsed credentials file.
#[derive(Debug)]
pub(crate) struct Config {
    auths: Map<String, Value>,
    creds_store: Option<String>,
    cred_helpers: Vec<(String, String)>,
    scoped: bool,
}

impl Config {
    /// Parses a file's text; `scoped` for Podman's files, whose keys may name
    /// a repository. The error says what is wrong, never a secret.
    pub(crate) fn parse(text: &str, scoped: bool) -> Result<Config, String> {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("it is not JSON ({e})"))?;
        let Value::Object(mut root) = v else { return Err("it is not a JSON object".into()) };
        let auths = match root.remove("auths") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err("\"auths\" is not an object".into()),
        };
        let creds_store = match root.remove("credsStore") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s).filter(|s| !s.is_empty()),
            Some(_) => return Err("\"credsStore\" is not a string".into()),
        };
        let cred_helpers = match root.remove("credHelpers") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Object(m)) => m
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(name) => Ok((k, name)),
                    _ => Err(format!("\"credHelpers\" entry {k:?} is not a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err("\"credHelpers\" is not an object".into()),
        };
        Ok(Config { auths, creds_store, cred_helpers, scoped })
    }

    /// The helper to ask for `target`: its `credHelpers` entry, else `credsStore`.
    pub(crate) fn helper(&self, target: &Target) -> Option<HelperRef> {
        let own = self
            .cred_helpers
            .iter()
            .filter(|(_, name)| !name.is_empty())
            .filter_map(|(key, name)| Some((rank(key, target, false)?, name)))
            .max_by_key(|(r, _)| *r)
            .map(|(_, name)| HelperRef { name: name.clone(), key: "credHelpers" });
        own.or_else(|| self.creds_store.as_ref().map(|name| HelperRef { name: name.clone(), key: "credsStore" }))
    }

    /// The login in the closest `auths` entry for `target` that holds one
    /// (`{}` entries, as Docker leaves beside a helper, hold none).
    pub(crate) fn entry(&self, target: &Target) -> Result<Option<RegistryAuth>, String> {
        let mut keys: Vec<_> =
            self.auths.keys().filter_map(|k| Some((rank(k, target, self.scoped)?, k.as_str()))).collect();
        keys.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        for (_, key) in keys {
            if let Some(login) = login(key, &self.auths[key], target.server())? {
                return Ok(Some(login));
            }
        }
        Ok(None)
    }
}

/// An `auths` entry: `identitytoken`, `auth` (base64 `user:password`), or
/// `username` and `password`.
fn login(key: &str, entry: &Value, server: String) -> Result<Option<RegistryAuth>, String> {
    let field = |name: &str| match entry.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("the \"{name}\" of the auths entry {key:?} is not a string")),
    };
    if !entry.is_object() {
        return Err(format!("the auths entry {key:?} is not an object"));
    }
    let (username, password) = match field("auth")? {
        Some(auth) => decode_auth(auth)
            .ok_or_else(|| format!("the \"auth\" of the auths entry {key:?} is not base64 of user:password"))?,
        None => (field("username")?.unwrap_or("").to_string(), field("password")?.unwrap_or("").to_string()),
    };
    Ok(match field("identitytoken")? {
        Some(token) => Some(RegistryAuth::with_identity_token(username, token, server)),
        None if !username.is_empty() || !password.is_empty() => Some(RegistryAuth::new(username, password, server)),
        None => None,
    })
}

fn decode_auth(auth: &str) -> Option<(String, String)> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(auth).ok()?;
    let (user, password) = std::str::from_utf8(&bytes).ok()?.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(s: &str) -> Target {
        Target::image(&ImageRef::parse(s).unwrap())
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// The user name of the login `text` holds for `target`.
    fn user(text: &str, scoped: bool, target: &Target) -> Option<String> {
        Config::parse(text, scoped).unwrap().entry(target).unwrap().map(|a| a.username)
    }

    fn one_key(key: &str) -> String {
        serde_json::json!({"auths": {key: {"auth": b64("u:p")}}}).to_string()
    }

    #[test]
    fn docker_hub_goes_by_every_name() {
        let keys = ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io", "docker.io", "Docker.IO"];
        let images =
            ["alpine", "library/alpine:3.20", "docker.io/library/alpine", "index.docker.io/team/app", "team/app"];
        for key in keys {
            for i in images {
                assert_eq!(user(&one_key(key), false, &image(i)).as_deref(), Some("u"), "{key} for {i}");
            }
            assert_eq!(user(&one_key(key), false, &Target::registry("docker.io")).as_deref(), Some("u"), "{key}");
            assert_eq!(user(&one_key(key), false, &image("ghcr.io/team/app")), None, "{key}");
        }
        assert_eq!(image("alpine").server(), HUB_SERVER);
        assert_eq!(image("registry-1.docker.io/x/y").server(), HUB_SERVER);
        assert_eq!(Target::registry("https://index.docker.io/v1/").server(), HUB_SERVER);
    }

    #[test]
    fn registry_keys_match_by_host_and_port() {
        let target = image("127.0.0.1:5001/cstream-test:v1");
        assert_eq!(target.server(), "127.0.0.1:5001");
        for key in
            ["127.0.0.1:5001", "https://127.0.0.1:5001", "http://127.0.0.1:5001/v2/", "https://127.0.0.1:5001/v1/"]
        {
            assert_eq!(user(&one_key(key), false, &target).as_deref(), Some("u"), "{key}");
            assert_eq!(user(&one_key(key), true, &target).as_deref(), Some("u"), "{key}");
        }
        for key in ["127.0.0.1:5000", "127.0.0.1", "https://127.0.0.1:50011", "127.0.0.1:5001.evil.example", "ghcr.io"]
        {
            assert_eq!(user(&one_key(key), false, &target), None, "{key}");
        }
        assert_eq!(user(&one_key("GHCR.io"), false, &image("ghcr.io/a/b")).as_deref(), Some("u"));
    }

    #[test]
    fn repository_scoped_keys() {
        let both = serde_json::json!({"auths": {
            "quay.io": {"auth": b64("host:p")},
            "quay.io/team": {"auth": b64("team:p")},
            "quay.io/team/app": {"auth": b64("app:p")},
        }})
        .to_string();
        // Podman: the closest scope wins; a scope is a whole path component.
        assert_eq!(user(&both, true, &image("quay.io/team/app:v1")).as_deref(), Some("app"));
        assert_eq!(user(&both, true, &image("quay.io/team/other")).as_deref(), Some("team"));
        assert_eq!(user(&both, true, &image("quay.io/teamster/app")).as_deref(), Some("host"));
        assert_eq!(user(&both, true, &Target::registry("quay.io")).as_deref(), Some("host"));
        assert_eq!(user(&one_key("quay.io/team"), true, &image("quay.io/other/app")), None);
        assert_eq!(user(&one_key("docker.io/library"), true, &image("alpine")).as_deref(), Some("u"));
        // Docker: the path after the host is ignored.
        assert_eq!(user(&one_key("quay.io/team"), false, &image("quay.io/other/app")).as_deref(), Some("u"));
    }

    #[test]
    fn the_key_spelled_as_the_server_beats_its_aliases_and_empty_entries_hold_nothing() {
        let text = serde_json::json!({"auths": {
            "https://index.docker.io/v1/": {"auth": b64("exact:p")},
            "docker.io": {"auth": b64("alias:p")},
            "https://127.0.0.1:5001": {},
            "127.0.0.1:5001": {"auth": b64("real:p")},
        }})
        .to_string();
        assert_eq!(user(&text, false, &image("alpine")).as_deref(), Some("exact"));
        assert_eq!(user(&text, false, &image("127.0.0.1:5001/a")).as_deref(), Some("real"));
        assert_eq!(user(r#"{"auths": {"127.0.0.1:5001": {}}}"#, false, &image("127.0.0.1:5001/a")), None);
    }

    #[test]
    fn entries_and_their_forms() {
        let target = image("ghcr.io/a/b");
        let entry =
            |e: Value| Config::parse(&serde_json::json!({"auths": {"ghcr.io": e}}).to_string(), false)?.entry(&target);
        let a = entry(serde_json::json!({"auth": b64("me:pa:ss")})).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str(), a.identity_token), ("me", "pa:ss", None));
        assert_eq!(a.server_address, "ghcr.io");
        let unpadded = b64("me:x").trim_end_matches('=').to_string();
        assert_eq!(entry(serde_json::json!({"auth": unpadded})).unwrap().unwrap().password, "x");
        let a = entry(serde_json::json!({"username": "me", "password": "pw"})).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str()), ("me", "pw"));
        let a = entry(serde_json::json!({"auth": b64("me:pw"), "identitytoken": "tok"})).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str(), a.identity_token.as_deref()), ("me", "", Some("tok")));
        let a = entry(serde_json::json!({"identitytoken": "tok"})).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.identity_token.as_deref()), ("", Some("tok")));
        assert!(entry(serde_json::json!({"email": "me@example.com"})).unwrap().is_none());
        for (bad, why) in [
            (serde_json::json!({"auth": "%%%"}), "is not base64 of user:password"),
            (serde_json::json!({"auth": b64("no-colon")}), "is not base64 of user:password"),
            (serde_json::json!({"auth": 7}), "is not a string"),
            (serde_json::json!("x"), "is not an object"),
        ] {
            let e = entry(bad.clone()).unwrap_err();
            assert!(e.contains(why) && e.contains("\"ghcr.io\""), "{bad}: {e}");
        }
    }

    #[test]
    fn files_that_are_not_configs() {
        for (text, why) in [
            ("not json", "it is not JSON"),
            ("[]", "not a JSON object"),
            (r#"{"auths": []}"#, "\"auths\" is not an object"),
            (r#"{"credsStore": 1}"#, "\"credsStore\" is not a string"),
            (r#"{"credHelpers": {"a": 1}}"#, "\"credHelpers\" entry \"a\" is not a string"),
        ] {
            assert!(Config::parse(text, false).unwrap_err().contains(why), "{text}");
        }
        let empty = Config::parse(r#"{"credsStore": "", "other": {"x": 1}}"#, false).unwrap();
        assert_eq!(empty.helper(&image("alpine")), None);
    }

    #[test]
    fn cred_helpers_beat_creds_store_for_their_registry() {
        let c = Config::parse(
            r#"{"credsStore": "desktop", "credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login", "https://index.docker.io/v1/": "hub", "gcr.io": ""}}"#,
            false,
        )
        .unwrap();
        let helper = |i: &str| c.helper(&image(i)).map(|h| (h.name, h.key));
        assert_eq!(helper("123.dkr.ecr.eu-west-1.amazonaws.com/app"), Some(("ecr-login".into(), "credHelpers")));
        assert_eq!(helper("alpine"), Some(("hub".into(), "credHelpers")));
        assert_eq!(helper("gcr.io/p/app"), Some(("desktop".into(), "credsStore")));
        assert_eq!(helper("ghcr.io/a/b"), Some(("desktop".into(), "credsStore")));
    }
}
