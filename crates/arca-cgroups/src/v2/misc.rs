//! v2 `hugetlb` and `rdma` (the latter shared with v1: same file, same format).

use std::collections::HashMap;
use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxRdma};

use crate::error::CgroupError;
use crate::fs::write_file;

/// The spec's page size (`2MB`, `1GB`), which becomes part of a file name: anything that could
/// leave the cgroup directory is refused.
pub(crate) fn page_size(l: &LinuxHugepageLimit) -> Result<&str, CgroupError> {
    let size = l.page_size().as_str();
    if size.is_empty() || size.contains('/') || size.contains("..") {
        return Err(CgroupError::InvalidResource {
            resource: "hugepageLimits.pageSize",
            reason: format!("{size:?} is not a page size like \"2MB\""),
        });
    }
    Ok(size)
}

/// `hugetlb.<size>.max`, and `hugetlb.<size>.rsvd.max` (Linux 5.7+) to the same value as
/// current runc does, so that reserved-but-unfaulted pages count too. Kernels without the rsvd
/// files are detected on the first page size and skipped. -1 (v1's "unlimited") is `max`.
pub(crate) fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let mut rsvd = true;
    for l in limits {
        let size = page_size(l)?;
        let value = match l.limit() {
            -1 => "max".to_owned(),
            n => n.to_string(),
        };
        write_file(dir, &format!("hugetlb.{size}.max"), &value)?;
        if rsvd {
            match write_file(dir, &format!("hugetlb.{size}.rsvd.max"), &value) {
                Err(CgroupError::MissingFile { .. }) => rsvd = false,
                other => other?,
            }
        }
    }
    Ok(())
}

/// `rdma.max`, same file and format on v1 and v2: one `<device> hca_handle=N hca_object=N`
/// line per device with only the limits the spec sets (runc's `RdmaSet`), one write each since
/// the kernel parses one device per write. Devices go in name order so that repeated applies
/// write identically.
pub(crate) fn rdma(dir: &Path, rdma: &HashMap<String, LinuxRdma>) -> Result<(), CgroupError> {
    let mut devices: Vec<_> = rdma.iter().collect();
    devices.sort_by(|a, b| a.0.cmp(b.0));
    for (device, limits) in devices {
        write_file(dir, "rdma.max", &rdma_line(device, limits))?;
    }
    Ok(())
}

/// runc's `createCmdString`.
pub(crate) fn rdma_line(device: &str, limits: &LinuxRdma) -> String {
    let mut line = device.to_owned();
    if let Some(h) = limits.hca_handles() {
        line.push_str(&format!(" hca_handle={h}"));
    }
    if let Some(o) = limits.hca_objects() {
        line.push_str(&format!(" hca_object={o}"));
    }
    line
}
