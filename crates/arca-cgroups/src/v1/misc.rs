//! v1 `hugetlb`, `net_cls` and `net_prio` (`rdma` has the same file on v1 and v2, see
//! `v2::misc`).

use std::path::Path;

use oci_spec::runtime::{LinuxHugepageLimit, LinuxInterfacePriority};

use crate::error::CgroupError;
use crate::fs::write_file;

/// `hugetlb.<size>.limit_in_bytes` per page size, and the reservation limit
/// `hugetlb.<size>.rsvd.limit_in_bytes` (Linux 5.7+) to the same value, as current runc does:
/// without it, pages reserved by mmap but not yet faulted escape the limit. Kernels without
/// the rsvd files are detected on the first page size and skipped.
pub(super) fn hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<(), CgroupError> {
    let mut rsvd = true;
    for l in limits {
        let size = crate::v2::misc::page_size(l)?;
        let value = l.limit().to_string();
        write_file(dir, &format!("hugetlb.{size}.limit_in_bytes"), &value)?;
        if rsvd {
            match write_file(dir, &format!("hugetlb.{size}.rsvd.limit_in_bytes"), &value) {
                Err(CgroupError::MissingFile { .. }) => rsvd = false,
                other => other?,
            }
        }
    }
    Ok(())
}

/// `net_cls.classid`, in decimal as runc writes it (the kernel takes the 0xAAAABBBB handle as
/// a plain number).
pub(super) fn net_cls(dir: &Path, class_id: u32) -> Result<(), CgroupError> {
    write_file(dir, "net_cls.classid", &class_id.to_string())
}

/// One `iface prio` write per interface: the kernel parses one pair per write.
pub(super) fn net_prio(dir: &Path, prios: &[LinuxInterfacePriority]) -> Result<(), CgroupError> {
    for p in prios {
        write_file(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
        )?;
    }
    Ok(())
}
