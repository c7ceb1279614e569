//! What an engine cannot do with a spec, known once its ping says which
//! engine it is and which API version is spoken.
//!
//! An option an engine would silently ignore is refused before anything is
//! created, rather than giving a run that looks right and is not.

use alloc::format;

use super::{RunSpec, SpecError};
use crate::api::version::{ApiVersion, EngineInfo, EngineKind};

/// Why `engine` cannot run `spec` as asked, if it cannot.
///
/// - Podman's Docker-compatible API (4.3 here) ignores the create's and the
///   pull's `platform`, so a wrong platform would run whatever image it has;
///   it also ignores `HostConfig.Runtime` and runs its default OCI runtime.
/// - Below API 1.41 the create has no `platform` parameter.
pub(crate) fn refusal(spec: &RunSpec, engine: &EngineInfo) -> Option<SpecError> {
    let podman = engine.kind == EngineKind::Podman;
    let unsupported = |field: &'static str, engine, why: &'static str| {
        Some(SpecError::Unsupported { field: field.into(), engine, why: why.into() })
    };
    if spec.platform.is_some() && podman {
        let why =
            "its Docker-compatible API ignores the platform of a create and of a pull, so it could not be checked";
        return unsupported("platform", "Podman".into(), why);
    }
    if spec.platform.is_some() && engine.api < ApiVersion::CREATE_PLATFORM {
        let why = "a create takes a platform from API 1.41 on";
        return unsupported("platform", format!("API {}", engine.api), why);
    }
    if spec.runtime.is_some() && podman {
        let why = "its Docker-compatible API ignores HostConfig.Runtime and would run its default OCI runtime";
        return unsupported("OCI runtime", "Podman".into(), why);
    }
    None
}
