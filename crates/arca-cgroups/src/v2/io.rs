//! v2 `io` controller: the spec's v1 blkio values converted as runc's `fs2` does.

use std::path::Path;

use oci_spec::runtime::LinuxBlockIo;

use crate::error::CgroupError;
use crate::fs::write_file;

/// runc's `ConvertBlkIOToIOWeightValue`: v1 blkio weights [10, 1000] linearly onto v2 io
/// weights [1, 10000]. 0 stays 0 (unset); values outside the v1 range are clamped to it (runc
/// would wrap around below 10).
pub(crate) fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight.clamp(10, 1000)) - 10) * 9999 / 990
}

/// `major:minor <key>=rate` for `io.max`, runc's `ThrottleDevice.StringName`.
pub(crate) fn io_max_line(key: &str, major: i64, minor: i64, rate: u64) -> String {
    format!("{major}:{minor} {key}={rate}")
}

/// Weight, per-device weights, throttles (runc's `setIo`). BFQ keeps v1's weight scale in
/// `io.bfq.weight`, so the weight goes there unconverted when BFQ is present and converted to
/// `io.weight` otherwise. Per-device weights exist only in BFQ: without it runc skips them,
/// and so does this, with a warning. Leaf weights have no v2 equivalent (ignored, as runc).
pub(crate) fn apply(dir: &Path, b: &LinuxBlockIo) -> Result<(), CgroupError> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = b.weight().filter(|w| *w != 0) {
        if bfq {
            write_file(dir, "io.bfq.weight", &w.to_string())?;
        } else {
            write_file(dir, "io.weight", &blkio_to_io_weight(w).to_string())?;
        }
    }
    if b.leaf_weight().unwrap_or(0) != 0 {
        tracing::warn!("cgroup v2 has no leaf weight, ignoring blockIO.leafWeight (as runc)");
    }
    for wd in b.weight_device().as_deref().unwrap_or_default() {
        let Some(w) = wd.weight().filter(|w| *w != 0) else {
            continue;
        };
        if bfq {
            write_file(
                dir,
                "io.bfq.weight",
                &format!("{}:{} {w}", wd.major(), wd.minor()),
            )?;
        } else {
            tracing::warn!(
                device = format!("{}:{}", wd.major(), wd.minor()),
                "no BFQ (io.bfq.weight), ignoring the per-device weight (as runc)"
            );
        }
    }
    let keys = ["rbps", "wbps", "riops", "wiops"];
    for (key, (_, list)) in keys.into_iter().zip(crate::v1::throttles(b)) {
        for t in list {
            write_file(
                dir,
                "io.max",
                &io_max_line(key, t.major(), t.minor(), t.rate()),
            )?;
        }
    }
    Ok(())
}
