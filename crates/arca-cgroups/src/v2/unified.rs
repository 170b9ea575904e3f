//! The spec's `unified` map: raw cgroup v2 files, written last so they override the
//! converted values (runc's `setUnified`).

use std::collections::HashMap;
use std::path::Path;

use crate::error::CgroupError;
use crate::fs::{read_optional, write_file};

/// Core files that move processes, kill, freeze or reshape the tree: writing them through
/// resources would bypass the runtime's own bookkeeping, so they are refused (runc only
/// refuses slashes; this is stricter).
const FORBIDDEN: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.subtree_control",
    "cgroup.kill",
    "cgroup.freeze",
    "cgroup.type",
];

/// A key must name a file of this very cgroup, in runc's `CONTROLLER.PARAMETER` form.
pub(crate) fn validate_key(key: &str) -> Result<(), CgroupError> {
    let invalid = |reason: &str| {
        Err(CgroupError::InvalidResource {
            resource: "unified",
            reason: format!("{key:?} {reason}"),
        })
    };
    if key.contains('/') || key.contains('\0') {
        return invalid("must be a file name (no slashes)");
    }
    if key.contains("..")
        || key
            .split_once('.')
            .is_none_or(|(c, p)| c.is_empty() || p.is_empty())
    {
        return invalid("must be in the form CONTROLLER.PARAMETER");
    }
    if FORBIDDEN.contains(&key) {
        return invalid("is managed by the runtime and cannot be set as a resource");
    }
    Ok(())
}

/// Validates every key first (nothing is written for a bad map), then writes in key order,
/// each line of a value as its own write since files like `io.max` take one entry per write.
/// A missing file whose controller is not enabled here says so, like runc.
pub(crate) fn apply(dir: &Path, unified: &HashMap<String, String>) -> Result<(), CgroupError> {
    let mut keys: Vec<&String> = unified.keys().collect();
    keys.sort();
    for key in &keys {
        validate_key(key)?;
    }
    for key in keys {
        for line in unified[key].lines().filter(|l| !l.trim().is_empty()) {
            match write_file(dir, key, line) {
                Err(e @ CgroupError::MissingFile { .. }) => {
                    let controller = key.split_once('.').map_or("", |(c, _)| c);
                    let enabled = read_optional(&dir.join("cgroup.controllers"))?;
                    let available = enabled
                        .as_deref()
                        .is_some_and(|e| e.split_whitespace().any(|c| c == controller));
                    if controller != "cgroup" && !available {
                        return Err(CgroupError::InvalidResource {
                            resource: "unified",
                            reason: format!(
                                "{key:?} can't be set: controller {controller:?} not available in {}",
                                dir.display()
                            ),
                        });
                    }
                    return Err(e);
                }
                other => other?,
            }
        }
    }
    Ok(())
}
