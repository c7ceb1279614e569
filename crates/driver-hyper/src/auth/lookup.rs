//! Where a user's logins are: Docker's `config.json`, then Podman's
//! `auth.json` files, each asked in turn until one has a login.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::config::{Config, HelperRef, Target};
use super::helper::{Answer, TOKEN_USER};
use super::{AuthError, RegistryAuth};

/// The environment a lookup reads: the variables that say where the files
/// and helpers are. [`AuthEnv::from_process`] takes them from the process;
/// tests and job runners can set their own.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthEnv {
    /// `DOCKER_CONFIG`: the folder holding Docker's `config.json`.
    pub docker_config: Option<PathBuf>,
    /// `HOME`: `~/.docker/config.json` and `~/.config/containers/auth.json`.
    pub home: Option<PathBuf>,
    /// `REGISTRY_AUTH_FILE`: Podman's auth file, when set.
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`: `containers/auth.json` in it is Podman's default.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`: `containers/auth.json` in it (else in `~/.config`).
    pub xdg_config_home: Option<PathBuf>,
    /// `PATH`: where `docker-credential-NAME` helpers are looked for.
    pub path: Option<OsString>,
    /// This process's user id: without `XDG_RUNTIME_DIR`, Podman keeps its
    /// logins in `/run/containers/UID/auth.json` (root's `podman login`).
    pub uid: Option<u32>,
}

impl AuthEnv {
    /// The variables as this process has them (an empty one counts as unset).
    pub fn from_process() -> AuthEnv {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let dir = |k: &str| var(k).map(PathBuf::from);
        AuthEnv {
            docker_config: dir("DOCKER_CONFIG"),
            home: dir("HOME"),
            registry_auth_file: dir("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: dir("XDG_RUNTIME_DIR"),
            xdg_config_home: dir("XDG_CONFIG_HOME"),
            path: var("PATH"),
            // The owner of /proc/self is this process's user.
            uid: std::fs::metadata("/proc/self").ok().map(|m| std::os::unix::fs::MetadataExt::uid(&m)),
        }
    }

    /// The files read, in order: Docker's `config.json`
    /// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), then
    /// Podman's `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`
    /// (without `XDG_RUNTIME_DIR`: `/run/containers/UID/auth.json`) and `$XDG_CONFIG_HOME/containers/auth.json` (else
    /// `~/.config/containers/auth.json`). Each with whether it is Podman's.
    pub fn files(&self) -> Vec<(PathBuf, bool)> {
        let home = |rest: &str| self.home.as_ref().map(|h| h.join(rest));
        let docker = self.docker_config.as_ref().map(|d| d.join("config.json")).or_else(|| home(".docker/config.json"));
        let config_home = self.xdg_config_home.clone().or_else(|| home(".config"));
        let podman = [
            self.registry_auth_file.clone(),
            match &self.xdg_runtime_dir {
                Some(d) => Some(d.join("containers/auth.json")),
                None => self.uid.map(|uid| PathBuf::from(format!("/run/containers/{uid}/auth.json"))),
            },
            config_home.map(|d| d.join("containers/auth.json")),
        ];
        let mut files: Vec<(PathBuf, bool)> = docker.map(|d| (d, false)).into_iter().collect();
        for p in podman.into_iter().flatten() {
            if !files.iter().any(|(f, _)| *f == p) {
                files.push((p, true));
            }
        }
        files
    }
}

/// Asks a helper: `(helper, origin, server)` to its answer.
pub(crate) type Ask<'a> = dyn FnMut(&HelperRef, &str, &str) -> Result<Option<Answer>, AuthError> + 'a;

/// The first login for `target` in the files of `env`, in their order; in
/// each file the helper it names (`credHelpers` for the registry, else
/// `credsStore`), then its `auths` entry.
pub(crate) fn find(target: &Target, env: &AuthEnv, ask: &mut Ask<'_>) -> Result<Option<RegistryAuth>, AuthError> {
    let server = target.server();
    for (path, podman) in env.files() {
        let Some(text) = read(&path)? else { continue };
        let file_error = |why: String| AuthError::File { path: path.clone(), why };
        let config = Config::parse(&text, podman).map_err(file_error)?;
        if let Some(helper) = config.helper(target) {
            let origin = format!("{} in {}", helper.key, path.display());
            if let Some(a) = ask(&helper, &origin, &server)? {
                return Ok(Some(match a.username == TOKEN_USER {
                    true => RegistryAuth::with_identity_token("", a.secret, server),
                    false => RegistryAuth::new(a.username, a.secret, server),
                }));
            }
        }
        if let Some(login) = config.entry(target).map_err(file_error)? {
            return Ok(Some(login));
        }
    }
    Ok(None)
}

/// A file's text; `None` when there is no such file.
fn read(path: &Path) -> Result<Option<String>, AuthError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(AuthError::File { path: path.to_path_buf(), why: e.to_string() }),
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use cstream_proto_core::spec::ImageRef;

    use super::*;
    use crate::auth::helper::tests::{SCRIPTS, TempDir, write_helper};

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    fn write(path: &Path, json: serde_json::Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, json.to_string()).unwrap();
    }

    /// An environment with every file under `dir`: `docker/config.json`,
    /// `run/containers/auth.json`, `home/.config/containers/auth.json`.
    fn env(dir: &TempDir) -> AuthEnv {
        AuthEnv {
            docker_config: Some(dir.0.join("docker")),
            home: Some(dir.0.join("home")),
            xdg_runtime_dir: Some(dir.0.join("run")),
            ..AuthEnv::default()
        }
    }

    /// Looks up `image` with helpers answered from `helpers` (name to user;
    /// absent: no login), recording what they were asked.
    fn lookup(
        image: &str,
        env: &AuthEnv,
        helpers: &[(&str, &str)],
        asked: &mut Vec<String>,
    ) -> Result<Option<RegistryAuth>, AuthError> {
        let target = Target::image(&ImageRef::parse(image).unwrap());
        find(&target, env, &mut |h, origin, server| {
            asked.push(format!("{} ({origin}) for {server}", h.name));
            Ok(helpers
                .iter()
                .find(|(n, _)| *n == h.name)
                .map(|(_, u)| Answer { username: u.to_string(), secret: "s".into() }))
        })
    }

    fn user(r: Result<Option<RegistryAuth>, AuthError>) -> Option<String> {
        r.unwrap().map(|a| a.username)
    }

    #[test]
    fn the_files_and_their_order() {
        let e = AuthEnv {
            docker_config: Some("/d".into()),
            home: Some("/h".into()),
            registry_auth_file: Some("/r/auth.json".into()),
            xdg_runtime_dir: Some("/run/user/1".into()),
            ..AuthEnv::default()
        };
        let files: Vec<_> = e.files().into_iter().map(|(p, podman)| (p.display().to_string(), podman)).collect();
        assert_eq!(
            files,
            [
                ("/d/config.json".to_string(), false),
                ("/r/auth.json".to_string(), true),
                ("/run/user/1/containers/auth.json".to_string(), true),
                ("/h/.config/containers/auth.json".to_string(), true),
            ]
        );
        let e = AuthEnv { home: Some("/h".into()), xdg_config_home: Some("/c".into()), ..AuthEnv::default() };
        let files: Vec<_> = e.files().into_iter().map(|(p, _)| p.display().to_string()).collect();
        assert_eq!(files, ["/h/.docker/config.json", "/c/containers/auth.json"]);
        // Root's `podman login` with no XDG_RUNTIME_DIR writes /run/containers/0/auth.json.
        let e = AuthEnv { home: Some("/h".into()), uid: Some(0), ..AuthEnv::default() };
        let files: Vec<_> = e.files().into_iter().map(|(p, _)| p.display().to_string()).collect();
        assert_eq!(files, ["/h/.docker/config.json", "/run/containers/0/auth.json", "/h/.config/containers/auth.json"]);
        let e = AuthEnv { xdg_runtime_dir: Some("/x".into()), uid: Some(0), ..AuthEnv::default() };
        assert_eq!(e.files()[0].0, PathBuf::from("/x/containers/auth.json"), "XDG_RUNTIME_DIR, when set, decides");
        assert!(AuthEnv::default().files().is_empty());
    }

    #[test]
    fn cred_helpers_then_creds_store_then_auths() {
        let dir = TempDir::new("precedence");
        let e = env(&dir);
        let config = e.docker_config.as_ref().unwrap().join("config.json");
        write(
            &config,
            serde_json::json!({
                "auths": {"127.0.0.1:5001": {"auth": b64("from-auths:p")}, "ghcr.io": {"auth": b64("ghcr-auths:p")}},
                "credsStore": "store",
                "credHelpers": {"127.0.0.1:5001": "own"},
            }),
        );
        let mut asked = vec![];
        let image = "127.0.0.1:5001/cstream-test:v1";
        let both = [("own", "from-own"), ("store", "from-store")];
        assert_eq!(user(lookup(image, &e, &both, &mut asked)).as_deref(), Some("from-own"));
        let origin = format!("own (credHelpers in {}) for 127.0.0.1:5001", config.display());
        assert_eq!(asked, std::slice::from_ref(&origin), "credsStore is not asked for a registry with its own helper");
        // The registry's helper has no login: the auths entry (not credsStore).
        asked.clear();
        assert_eq!(user(lookup(image, &e, &[("store", "from-store")], &mut asked)).as_deref(), Some("from-auths"));
        assert_eq!(asked, [origin]);
        // Other registries: credsStore, and when it has none, their entry.
        asked.clear();
        assert_eq!(user(lookup("ghcr.io/a/b", &e, &both, &mut asked)).as_deref(), Some("from-store"));
        assert_eq!(asked, [format!("store (credsStore in {}) for ghcr.io", config.display())]);
        assert_eq!(user(lookup("ghcr.io/a/b", &e, &[], &mut vec![])).as_deref(), Some("ghcr-auths"));
        // Docker Hub's helper is asked for Docker's address for it.
        asked.clear();
        assert_eq!(user(lookup("alpine", &e, &both, &mut asked)).as_deref(), Some("from-store"));
        assert_eq!(asked, [format!("store (credsStore in {}) for https://index.docker.io/v1/", config.display())]);
        assert_eq!(lookup("quay.io/a/b", &e, &[], &mut vec![]).unwrap(), None);
    }

    #[test]
    fn docker_config_then_podman_files() {
        let dir = TempDir::new("order");
        let mut e = env(&dir);
        e.registry_auth_file = Some(dir.0.join("explicit.json"));
        let docker = dir.0.join("docker/config.json");
        let explicit = dir.0.join("explicit.json");
        let runtime = dir.0.join("run/containers/auth.json");
        let config_home = dir.0.join("home/.config/containers/auth.json");
        for (path, who) in
            [(&docker, "docker"), (&explicit, "explicit"), (&runtime, "runtime"), (&config_home, "config")]
        {
            write(path, serde_json::json!({"auths": {"127.0.0.1:5001": {"auth": b64(&format!("{who}:p"))}}}));
        }
        let image = "127.0.0.1:5001/x";
        let each = [(&docker, "docker"), (&explicit, "explicit"), (&runtime, "runtime"), (&config_home, "config")];
        for (path, who) in each {
            assert_eq!(user(lookup(image, &e, &[], &mut vec![])).as_deref(), Some(who));
            // Without a login for the registry, the next file is read.
            write(path, serde_json::json!({"auths": {"127.0.0.1:5001": {}, "other.example": {"auth": b64("o:p")}}}));
        }
        assert_eq!(lookup(image, &e, &[], &mut vec![]).unwrap(), None);
        // A Podman file's helper counts too.
        write(&runtime, serde_json::json!({"credHelpers": {"127.0.0.1:5001": "podhelper"}}));
        assert_eq!(user(lookup(image, &e, &[("podhelper", "from-pod")], &mut vec![])).as_deref(), Some("from-pod"));
    }

    #[test]
    fn identity_tokens_from_helpers_and_entries() {
        let dir = TempDir::new("token");
        let e = env(&dir);
        write(
            &dir.0.join("docker/config.json"),
            serde_json::json!({"credHelpers": {"acr.example": "acr"}, "auths": {"ghcr.io": {"identitytoken": "refresh"}}}),
        );
        let a = lookup("acr.example/app", &e, &[("acr", "<token>")], &mut vec![]).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.password.as_str(), a.identity_token.as_deref()), ("", "", Some("s")));
        let a = lookup("ghcr.io/a/b", &e, &[], &mut vec![]).unwrap().unwrap();
        assert_eq!(a.identity_token.as_deref(), Some("refresh"));
        assert_eq!(a.server_address, "ghcr.io");
    }

    #[test]
    fn unreadable_files_are_errors_and_absent_ones_are_not() {
        let dir = TempDir::new("bad");
        let e = env(&dir);
        assert_eq!(lookup("alpine", &e, &[], &mut vec![]).unwrap(), None, "no files at all");
        let config = dir.0.join("docker/config.json");
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::write(&config, "{\"auths\": ").unwrap();
        let err = lookup("alpine", &e, &[], &mut vec![]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot use the registry credentials in {}: it is not JSON", config.display())),
            "{err}"
        );
        std::fs::remove_file(&config).unwrap();
        std::fs::create_dir(&config).unwrap();
        assert!(matches!(lookup("alpine", &e, &[], &mut vec![]), Err(AuthError::File { .. })), "a folder");
        // A file under a plain file is absent, not an error.
        let e =
            AuthEnv { registry_auth_file: Some(dir.0.join("docker/config.json/x/auth.json")), ..AuthEnv::default() };
        assert_eq!(lookup("alpine", &e, &[], &mut vec![]).unwrap(), None);
    }

    #[test]
    fn helpers_run_for_real_through_the_path() {
        let _one = SCRIPTS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = TempDir::new("real");
        let bin = dir.0.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        write_helper(
            &bin,
            "realtest",
            r#"read -r url || true; [ "$url" = 127.0.0.1:5001 ] && echo '{"Username":"cstream","Secret":"pw"}' && exit 0; echo 'credentials not found in native keychain'; exit 1"#,
        );
        let mut e = env(&dir);
        e.path = Some(std::env::join_paths(["relative/dir".into(), bin]).unwrap());
        write(&dir.0.join("docker/config.json"), serde_json::json!({"credsStore": "realtest"}));
        let image = ImageRef::parse("127.0.0.1:5001/cstream-test:v1").unwrap();
        let a = RegistryAuth::for_image_in(&image, &e).unwrap().unwrap();
        assert_eq!(a, RegistryAuth::new("cstream", "pw", "127.0.0.1:5001"));
        assert_eq!(RegistryAuth::for_registry_in("ghcr.io", &e).unwrap(), None);
        e.path = Some("/nonexistent".into());
        let err = RegistryAuth::for_image_in(&image, &e).unwrap_err().to_string();
        let config = dir.0.join("docker/config.json");
        assert_eq!(
            err,
            format!("credential helper docker-credential-realtest (credsStore in {}) is not on PATH", config.display())
        );
    }
}
