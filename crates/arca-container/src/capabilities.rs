//! Applying the spec's capability sets. Names the running kernel does not know are skipped with
//! a warning, as runc does, so a newer profile still runs on an older kernel.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::error::{Error, Result};

fn to_set(names: Option<&oci_spec::runtime::Capabilities>) -> CapsHashSet {
    let mut out = CapsHashSet::new();
    let all = caps::all();
    for cap in names.into_iter().flatten() {
        let name = cap.to_string();
        let name = if name.starts_with("CAP_") {
            name
        } else {
            format!("CAP_{name}")
        };
        match name.parse::<Capability>() {
            Ok(c) if all.contains(&c) => {
                out.insert(c);
            }
            _ => tracing::warn!("capability {name} is unknown to this kernel: skipped"),
        }
    }
    out
}

fn err(op: &str, e: caps::errors::CapsError) -> Error {
    Error::Usage(format!("capabilities: {op}: {e}"))
}

/// Drops what the bounding set does not keep. Must run while still privileged (before setuid).
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep = to_set(c.bounding().as_ref());
    for cap in caps::all() {
        if !keep.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap).map_err(|e| err("dropping bounding", e))?;
        }
    }
    Ok(())
}

/// Sets effective, permitted and inheritable (in an order the kernel accepts), then ambient.
pub fn apply_sets(c: &LinuxCapabilities) -> Result<()> {
    let eff = to_set(c.effective().as_ref());
    let perm = to_set(c.permitted().as_ref());
    let inh = to_set(c.inheritable().as_ref());
    let amb = to_set(c.ambient().as_ref());
    // Effective may only shrink within permitted: narrow effective first, then permitted.
    let cur_perm = caps::read(None, CapSet::Permitted).map_err(|e| err("reading", e))?;
    let interim: CapsHashSet = eff.intersection(&cur_perm).copied().collect();
    caps::set(None, CapSet::Effective, &interim).map_err(|e| err("setting effective", e))?;
    caps::set(None, CapSet::Inheritable, &inh).map_err(|e| err("setting inheritable", e))?;
    caps::set(None, CapSet::Permitted, &perm).map_err(|e| err("setting permitted", e))?;
    caps::set(None, CapSet::Effective, &eff).map_err(|e| err("setting effective", e))?;
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clearing ambient", e))?;
    // The kernel only raises an ambient capability that is also permitted and inheritable;
    // runc warns and goes on (inheritable is empty by default since CVE-2022-29162).
    for cap in amb {
        if let Err(e) = caps::raise(None, CapSet::Ambient, cap) {
            tracing::debug!("ambient {cap} not raised: {e}");
        }
    }
    Ok(())
}
