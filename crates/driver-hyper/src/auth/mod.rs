//! Registry credentials: where a user's logins are found, and how the engine
//! wants them in `X-Registry-Auth`. See [`RegistryAuth`].

mod config;
mod error;
mod helper;
mod lookup;

use std::time::Duration;

use base64::Engine as _;
use cstream_proto_core::spec::{ImageRef, Secret};

use config::{Config, HUB_SERVER, Target};
pub use error::AuthError;
pub use lookup::AuthEnv;

/// How long a credential helper may take to answer.
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);

/// A registry login: builds the `X-Registry-Auth` value (base64url of the
/// JSON auth object). Debug output never shows the password or token.
///
/// [`RegistryAuth::for_image`] finds the login for an image's registry as
/// `docker pull` and `podman pull` would. The files, in order (the first
/// with a login for the registry wins):
///
/// 1. Docker's `config.json`: `$DOCKER_CONFIG/config.json`, else
///    `~/.docker/config.json`.
/// 2. Podman's `auth.json`: `$REGISTRY_AUTH_FILE`, then
///    `$XDG_RUNTIME_DIR/containers/auth.json`, then
///    `$XDG_CONFIG_HOME/containers/auth.json` (else
///    `~/.config/containers/auth.json`).
///
/// In each file, the credential helper it names for the registry
/// (`credHelpers`, such as `ecr-login`), else its `credsStore` (Docker
/// Desktop's `desktop`, `pass`, `secretservice`), is asked first:
/// `docker-credential-NAME get`, found on `PATH`. A helper without a login for
/// the registry passes the question on to the file's `auths` entry (a base64
/// `auth`, or an `identitytoken`), then to the next file. A helper that is
/// missing, fails, hangs (30 s) or answers nonsense is an [`AuthError`], as
/// `docker pull` fails then, never a quiet anonymous pull.
///
/// Docker Hub's logins are found under any of its names
/// (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`,
/// `docker.io`) for `alpine`, `library/alpine` or `docker.io/library/alpine`;
/// other registries by `host[:port]`, with or without `https://` and a path.
///
/// ```
/// use cstream_driver_hyper::{AuthEnv, RegistryAuth, core::spec::ImageRef};
///
/// let dir = std::env::temp_dir().join(format!("cstream-auth-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// // `docker login 127.0.0.1:5001` as user `me`, password `secret`:
/// std::fs::write(dir.join("config.json"), r#"{"auths": {"127.0.0.1:5001": {"auth": "bWU6c2VjcmV0"}}}"#)?;
/// let env = AuthEnv { docker_config: Some(dir.clone()), ..AuthEnv::default() };
///
/// let image = ImageRef::parse("127.0.0.1:5001/team/app:v1")?;
/// let login = RegistryAuth::for_image_in(&image, &env)?.expect("a login");
/// assert_eq!((login.username.as_str(), login.server_address.as_str()), ("me", "127.0.0.1:5001"));
/// assert!(!format!("{login:?}").contains("secret"));
/// assert_eq!(RegistryAuth::for_image_in(&ImageRef::parse("alpine")?, &env)?, None);
/// // In a program: `RegistryAuth::for_image(&image)?`, reading this process's environment.
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryAuth {
    /// The user name (may be empty with an identity token).
    pub username: String,
    /// The password or access token (empty with an identity token).
    pub password: String,
    /// An identity token (an OAuth refresh token, as registries' and cloud
    /// helpers' logins give), sent instead of the password.
    pub identity_token: Option<String>,
    /// The registry, such as `ghcr.io`, `127.0.0.1:5000`, or
    /// `https://index.docker.io/v1/` for Docker Hub.
    pub server_address: String,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("identity_token", &self.identity_token.as_ref().map(|_| "<redacted>"))
            .field("server_address", &self.server_address)
            .finish()
    }
}

impl RegistryAuth {
    /// A login for `server_address` with a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>, server_address: impl Into<String>) -> Self {
        RegistryAuth {
            username: username.into(),
            password: password.into(),
            identity_token: None,
            server_address: server_address.into(),
        }
    }

    /// A login for `server_address` with an identity token.
    pub fn with_identity_token(
        username: impl Into<String>,
        token: impl Into<String>,
        server_address: impl Into<String>,
    ) -> Self {
        RegistryAuth {
            username: username.into(),
            password: String::new(),
            identity_token: Some(token.into()),
            server_address: server_address.into(),
        }
    }

    /// The header value, for [`RunSpecBuilder::registry_auth`](cstream_proto_core::spec::RunSpecBuilder::registry_auth).
    pub fn to_secret(&self) -> Secret {
        let json = match &self.identity_token {
            None => serde_json::json!({
                "username": self.username,
                "password": self.password,
                "serveraddress": self.server_address,
            }),
            Some(token) => {
                let mut v = serde_json::json!({"identitytoken": token, "serveraddress": self.server_address});
                if !self.username.is_empty() {
                    v["username"] = self.username.clone().into();
                }
                v
            }
        };
        Secret::new(base64::engine::general_purpose::URL_SAFE.encode(json.to_string()))
    }

    /// The user's login for `image`'s registry (Docker Hub when it names
    /// none), from the files and helpers this process's environment points
    /// to (see [`RegistryAuth`]); `None` when there is none.
    pub fn for_image(image: &ImageRef) -> Result<Option<RegistryAuth>, AuthError> {
        Self::for_image_in(image, &AuthEnv::from_process())
    }

    /// The user's login for `registry` (`host[:port]`, `docker.io`, or a URL
    /// such as `https://index.docker.io/v1/`), as [`for_image`](Self::for_image).
    pub fn for_registry(registry: &str) -> Result<Option<RegistryAuth>, AuthError> {
        Self::for_registry_in(registry, &AuthEnv::from_process())
    }

    /// [`for_image`](Self::for_image) in the environment `env`.
    pub fn for_image_in(image: &ImageRef, env: &AuthEnv) -> Result<Option<RegistryAuth>, AuthError> {
        find(&Target::image(image), env)
    }

    /// [`for_registry`](Self::for_registry) in the environment `env`.
    pub fn for_registry_in(registry: &str, env: &AuthEnv) -> Result<Option<RegistryAuth>, AuthError> {
        find(&Target::registry(registry), env)
    }

    /// The login for `registry` in the `auths` entries of the Docker
    /// `config.json` text `config`, if it holds one; Docker Hub's when
    /// `registry` is `None`. Helpers and other files are not consulted (see
    /// [`for_image`](Self::for_image)); a file that cannot be read gives `None`.
    pub fn from_docker_config(config: &str, registry: Option<&str>) -> Option<RegistryAuth> {
        let target = Target::registry(registry.unwrap_or(HUB_SERVER));
        Config::parse(config, false).ok()?.entry(&target).ok().flatten()
    }
}

fn find(target: &Target, env: &AuthEnv) -> Result<Option<RegistryAuth>, AuthError> {
    lookup::find(target, env, &mut |helper, origin, server| {
        helper::get(&helper.name, origin, server, env.path.as_deref(), HELPER_TIMEOUT)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(a: &RegistryAuth) -> serde_json::Value {
        let decoded = base64::engine::general_purpose::URL_SAFE.decode(a.to_secret().expose()).unwrap();
        serde_json::from_slice(&decoded).unwrap()
    }

    #[test]
    fn header_value_and_config() {
        let a = RegistryAuth::new("u", "p@ss", "127.0.0.1:5001");
        assert_eq!(
            header(&a),
            serde_json::json!({"username": "u", "password": "p@ss", "serveraddress": "127.0.0.1:5001"})
        );
        assert!(!format!("{a:?}").contains("p@ss"));
        let config = r#"{"auths": {"127.0.0.1:5001": {"auth": "dTpwQHNz"}, "https://index.docker.io/v1/": {"auth": "aHViOnNlY3JldA=="}}}"#;
        assert_eq!(RegistryAuth::from_docker_config(config, Some("127.0.0.1:5001")), Some(a));
        let hub = RegistryAuth::from_docker_config(config, None).unwrap();
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("hub", "secret"));
        assert_eq!(hub.server_address, "https://index.docker.io/v1/");
        assert_eq!(RegistryAuth::from_docker_config(config, Some("ghcr.io")), None);
        assert_eq!(RegistryAuth::from_docker_config("not json", None), None);
    }

    #[test]
    fn identity_tokens_go_as_identitytoken_never_as_password() {
        let a = RegistryAuth::with_identity_token("", "refresh-tok", "acr.example");
        assert_eq!(header(&a), serde_json::json!({"identitytoken": "refresh-tok", "serveraddress": "acr.example"}));
        let a = RegistryAuth::with_identity_token("me", "refresh-tok", "ghcr.io");
        assert_eq!(
            header(&a),
            serde_json::json!({"username": "me", "identitytoken": "refresh-tok", "serveraddress": "ghcr.io"})
        );
        let shown = format!("{a:?}");
        assert!(!shown.contains("refresh-tok") && shown.contains("identity_token: Some(\"<redacted>\")"), "{shown}");
    }
}
