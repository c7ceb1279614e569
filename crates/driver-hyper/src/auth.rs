//! Registry credentials, as the engine wants them in `X-Registry-Auth`.

use base64::Engine as _;
use cstream_proto_core::spec::Secret;

/// A registry login: builds the `X-Registry-Auth` value (base64url of the
/// JSON auth object). Debug output never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
    /// The registry, such as `ghcr.io` or `127.0.0.1:5000`.
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("server_address", &self.server_address)
            .finish()
    }
}

impl RegistryAuth {
    /// A login for `server_address`.
    pub fn new(username: impl Into<String>, password: impl Into<String>, server_address: impl Into<String>) -> Self {
        RegistryAuth { username: username.into(), password: password.into(), server_address: server_address.into() }
    }

    /// The header value, for [`RunSpecBuilder::registry_auth`](cstream_proto_core::spec::RunSpecBuilder::registry_auth).
    pub fn to_secret(&self) -> Secret {
        let json = serde_json::json!({
            "username": self.username,
            "password": self.password,
            "serveraddress": self.server_address,
        });
        Secret::new(base64::engine::general_purpose::URL_SAFE.encode(json.to_string()))
    }

    /// The login for `registry` in a Docker `config.json` (its `auths` map,
    /// base64 `user:password` entries), when there is one. Docker Hub's entry
    /// is `https://index.docker.io/v1/`, used when `registry` is `None`.
    pub fn from_docker_config(config: &str, registry: Option<&str>) -> Option<RegistryAuth> {
        let v: serde_json::Value = serde_json::from_str(config).ok()?;
        let auths = v.get("auths")?.as_object()?;
        let wanted = registry.unwrap_or("https://index.docker.io/v1/");
        let host = |k: &str| {
            let k = k.strip_prefix("https://").or_else(|| k.strip_prefix("http://")).unwrap_or(k);
            k.split('/').next().unwrap_or(k).to_string()
        };
        let entry =
            auths.get(wanted).or_else(|| auths.iter().find(|(k, _)| host(k) == host(wanted)).map(|(_, v)| v))?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(entry.get("auth")?.as_str()?).ok()?;
        let (user, pass) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
        Some(RegistryAuth::new(user, pass, wanted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_value_and_config() {
        let a = RegistryAuth::new("u", "p@ss", "127.0.0.1:5001");
        let decoded = base64::engine::general_purpose::URL_SAFE.decode(a.to_secret().expose()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(v, serde_json::json!({"username": "u", "password": "p@ss", "serveraddress": "127.0.0.1:5001"}));
        assert!(!format!("{a:?}").contains("p@ss"));
        let config = r#"{"auths": {"127.0.0.1:5001": {"auth": "dTpwQHNz"}, "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="}}}"#;
        assert_eq!(RegistryAuth::from_docker_config(config, Some("127.0.0.1:5001")), Some(a));
        let hub = RegistryAuth::from_docker_config(config, None).unwrap();
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("hub", "secret"));
        assert_eq!(RegistryAuth::from_docker_config(config, Some("ghcr.io")), None);
        assert_eq!(RegistryAuth::from_docker_config("not json", None), None);
    }
}
