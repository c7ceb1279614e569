//! `create_extra`: JSON merged into the create body, for what the builder lacks.

use alloc::string::ToString;

use serde_json::Value;

use super::SpecError;
use super::validate::RESERVED_LABEL_PREFIX;

/// Merges `extra` into `base`: objects key by key, at every depth; anything
/// else in `extra` (a string, a number, an array, null) replaces what `base` has.
pub(crate) fn merge(base: &mut Value, extra: &Value) {
    match (base, extra) {
        (Value::Object(base), Value::Object(extra)) => {
            for (key, value) in extra {
                match base.get_mut(key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (slot, value) => *slot = value.clone(),
    }
}

/// Fields of the create body the run depends on: how output is framed,
/// which streams are attached, which image was pulled.
const RUN_FIELDS: [&str; 7] = ["Image", "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"];

/// Refuses extra JSON that is not an object, or that would change what the
/// run depends on: the fields above, `HostConfig.AutoRemove` (the engine
/// would remove the container before its end is read) and cstream's own
/// `io.cstream.` labels (which `gc` relies on).
pub(super) fn check(extra: &Value) -> Result<(), SpecError> {
    let invalid = |value: &str, why: &'static str| SpecError::Invalid {
        field: "create_extra".into(),
        value: value.to_string(),
        why: why.into(),
    };
    let Value::Object(top) = extra else {
        return Err(invalid(&extra.to_string(), "must be a JSON object, merged into the create body"));
    };
    if let Some(key) = top.keys().find(|k| RUN_FIELDS.contains(&k.as_str())) {
        return Err(invalid(key, "is set by cstream and the run depends on it; use the builder's setter"));
    }
    if top.get("HostConfig").and_then(|h| h.get("AutoRemove")).is_some() {
        let why =
            "would let the engine remove the container before its end is read; cstream removes it, keep(true) keeps it";
        return Err(invalid("HostConfig.AutoRemove", why));
    }
    match top.get("Labels") {
        Some(Value::Object(labels)) => match labels.keys().find(|k| k.starts_with(RESERVED_LABEL_PREFIX)) {
            Some(key) => {
                Err(invalid(key, "uses the io.cstream. label prefix that cstream reserves for its own labels"))
            }
            None => Ok(()),
        },
        Some(other) => {
            Err(invalid(&other.to_string(), "Labels must be an object: it would replace cstream's own labels"))
        }
        None => Ok(()),
    }
}
