//! Image references: `[registry[:port]/]path[:tag][@algorithm:hex]`, checked
//! with the grammar registries use, so a bad name fails before any request.

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;
use core::str::FromStr;

use super::SpecError;

/// A parsed, checked image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: Option<String>,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

const MAX_NAME: usize = 255;
const MAX_TAG: usize = 128;

impl ImageRef {
    /// Parses and checks a reference such as `alpine`, `alpine:3.20`,
    /// `127.0.0.1:5000/team/app:v1` or `app@sha256:<64 hex>`.
    pub fn parse(s: &str) -> Result<Self, SpecError> {
        let bad = |why: &'static str| SpecError::Image { reference: s.to_string(), why: why.into() };
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((rest, digest)) => {
                check_digest(digest).map_err(bad)?;
                (rest, Some(digest.to_string()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                check_tag(tag).map_err(bad)?;
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if name.len() > MAX_NAME {
            return Err(bad("the name is longer than 255 characters"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if is_registry(first) => {
                check_registry(first).map_err(bad)?;
                (Some(first.to_string()), path)
            }
            _ => (None, name),
        };
        check_repository(repository).map_err(bad)?;
        Ok(ImageRef { registry, repository: repository.to_string(), tag, digest })
    }

    /// The registry host (and port), when the reference names one.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The repository path as written, such as `alpine` or `team/app` (no
    /// `library/` is added).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, when given; with neither tag nor digest, the create and the
    /// pull use `latest`.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest (`sha256:<64 hex>`), when given; a pull asks for it rather
    /// than the tag.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `[registry/]repository`, without tag or digest.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(r) => format!("{r}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The `fromImage` and `tag` parameters of a pull. A tag is always sent,
    /// since without one the engine pulls every tag: the digest when there is
    /// one, else the tag, else `latest`.
    pub fn pull_params(&self) -> (String, &str) {
        let tag = self.digest.as_deref().or(self.tag.as_deref()).unwrap_or("latest");
        (self.name(), tag)
    }
}

impl fmt::Display for ImageRef {
    /// The reference as sent to `create`; `:latest` is added when neither tag
    /// nor digest was given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.registry {
            write!(f, "{r}/")?;
        }
        f.write_str(&self.repository)?;
        match (&self.tag, &self.digest) {
            (Some(t), _) => write!(f, ":{t}")?,
            (None, None) => f.write_str(":latest")?,
            (None, Some(_)) => {}
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageRef {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        ImageRef::parse(s)
    }
}

/// Whether the first path component names a registry. (The reference grammar
/// also takes an uppercase component for a host, but Docker and Podman both
/// refuse such references, so they are refused here, as a path.)
fn is_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

fn check_registry(registry: &str) -> Result<(), &'static str> {
    let (host, port) = if let Some(v6) = registry.strip_prefix('[') {
        let (inner, after) = v6.split_once(']').ok_or("the registry's IPv6 address is not closed by ']'")?;
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err("the registry's IPv6 address is malformed");
        }
        match after {
            "" => return Ok(()),
            _ => ("", Some(after.strip_prefix(':').ok_or("unexpected text after the registry's IPv6 address")?)),
        }
    } else {
        match registry.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (registry, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the registry port is not a number");
        }
    }
    if host.is_empty() && registry.starts_with('[') {
        return Ok(());
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err("the registry host is malformed");
        }
    }
    Ok(())
}

fn check_repository(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("the repository name is empty");
    }
    for component in path.split('/') {
        check_path_component(component)?;
    }
    Ok(())
}

/// `[a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*`
fn check_path_component(c: &str) -> Result<(), &'static str> {
    if c.is_empty() {
        return Err("the repository name has an empty path component");
    }
    if c.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("repository names must be lowercase");
    }
    let alnum = |x: char| x.is_ascii_lowercase() || x.is_ascii_digit();
    if !c.starts_with(alnum) || !c.ends_with(alnum) {
        return Err("a repository path component must start and end with a letter or digit");
    }
    for sep in c.split(alnum).filter(|s| !s.is_empty()) {
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return Err("a repository name may only contain lowercase letters, digits and separators (., _, __, -)");
        }
    }
    Ok(())
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`
fn check_tag(tag: &str) -> Result<(), &'static str> {
    if tag.is_empty() {
        return Err("the tag after ':' is empty");
    }
    if tag.len() > MAX_TAG {
        return Err("the tag is longer than 128 characters");
    }
    let word = |x: char| x.is_ascii_alphanumeric() || x == '_';
    if !tag.starts_with(word) || !tag.chars().all(|x| word(x) || x == '.' || x == '-') {
        return Err("a tag may only contain letters, digits, '_', '.' and '-', and may not start with '.' or '-'");
    }
    Ok(())
}

/// `algorithm:hex`, with sha256 and sha512 lengths checked.
fn check_digest(d: &str) -> Result<(), &'static str> {
    let (algo, hex) = d.split_once(':').ok_or("the digest must look like sha256:<hex>")?;
    let algo_ok =
        !algo.is_empty() && algo.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-_".contains(&b));
    if !algo_ok {
        return Err("the digest algorithm is malformed");
    }
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err("the digest must be lowercase hex, at least 32 characters");
    }
    let want = match algo {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    };
    if want.is_some_and(|n| n != hex.len()) {
        return Err("the digest has the wrong length for its algorithm");
    }
    Ok(())
}

impl ImageRef {
    /// An empty reference, replaced before a spec is built.
    pub(super) fn placeholder() -> Self {
        ImageRef { registry: None, repository: String::new(), tag: None, digest: None }
    }
}
