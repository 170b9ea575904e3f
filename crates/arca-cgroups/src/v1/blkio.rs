//! v1 `blkio` controller: proportional weights (CFQ or BFQ) and throttling.

use std::path::Path;

use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};

use crate::error::CgroupError;
use crate::fs::write_file;

/// Whether the spec sets anything of the controller (0 weights mean unset, as in runc).
pub(crate) fn is_set(b: &LinuxBlockIo) -> bool {
    b.weight().unwrap_or(0) != 0
        || b.leaf_weight().unwrap_or(0) != 0
        || b.weight_device().as_ref().is_some_and(|d| !d.is_empty())
        || throttles(b).iter().any(|(_, t)| !t.is_empty())
}

/// The throttle lists with their v1 files, in runc's order.
pub(crate) fn throttles(b: &LinuxBlockIo) -> [(&'static str, &[LinuxThrottleDevice]); 4] {
    fn list(v: &Option<Vec<LinuxThrottleDevice>>) -> &[LinuxThrottleDevice] {
        v.as_deref().unwrap_or_default()
    }
    [
        ("read_bps", list(b.throttle_read_bps_device())),
        ("write_bps", list(b.throttle_write_bps_device())),
        ("read_iops", list(b.throttle_read_iops_device())),
        ("write_iops", list(b.throttle_write_iops_device())),
    ]
}

/// runc's `BlkioGroup.Set`. Since Linux 5.0 CFQ is gone and with it `blkio.weight`; BFQ offers
/// the same knobs as `blkio.bfq.weight[_device]`, so those are used when the CFQ file is absent.
/// Leaf weights only ever existed in CFQ. Each device is its own write: the kernel parses one
/// `major:minor value` per write.
pub(super) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let (weight_file, device_file) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        write_file(dir, weight_file, &w.to_string())?;
    }
    if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
        write_file(dir, "blkio.leaf_weight", &w.to_string())?;
    }
    for wd in b.weight_device().as_deref().unwrap_or_default() {
        let dev = format!("{}:{}", wd.major(), wd.minor());
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            write_file(dir, device_file, &format!("{dev} {w}"))?;
        }
        if let Some(w) = wd.leaf_weight().filter(|w| *w != 0) {
            write_file(dir, "blkio.leaf_weight_device", &format!("{dev} {w}"))?;
        }
    }
    for (kind, list) in throttles(b) {
        let file = format!("blkio.throttle.{kind}_device");
        for t in list {
            write_file(dir, &file, &throttle_line(t))?;
        }
    }
    Ok(())
}

/// `major:minor rate`, runc's `ThrottleDevice.String`.
pub(crate) fn throttle_line(t: &LinuxThrottleDevice) -> String {
    format!("{}:{} {}", t.major(), t.minor(), t.rate())
}
