//! The CVE regression suite: one module per family of runc CVEs, each
//! starting real containers (as root) and checking what the container could
//! or could not do. Runs against arca by default and against runc with
//! `ARCA_TEST_RUNTIME=/usr/sbin/runc`; runc 1.1.5 is itself vulnerable to
//! some of these, and those assertions are guarded with `is_runc()`.
//!
//! | module | CVE |
//! |---|---|
//! | `cve_2019_5736` | overwriting the runtime binary through /proc/self/exe |
//! | `cve_2024_21626` | leaked fds: cwd, executable path and open fds |
//! | `cve_2016_9962` | the created init reachable through /proc/<pid> |
//! | `cve_2021_30465` | mount targets, special dirs and masked paths through symlinks |
//! | `cve_2021_30465_race` | a mount destination swapped with a symlink while the runtime mounts |
//! | `cve_2022_0811` | sysctl values smuggling another setting (CRI-O's `+` separator) |
//! | `cve_2025_31133` | crafted /dev/null, /dev/console symlink, sysctl through a fake /proc (also CVE-2025-52565, CVE-2025-52881) |
//! | `cve_2022_29162` | non-empty inheritable capabilities |
//! | `cve_2023_25173` | supplementary groups |
//! | `cve_2024_40635` | uid/gid above 2^31-1 |
//! | `cve_2023_25809` | writable /sys/fs/cgroup without a cgroup namespace |
//!
//! Not here: path traversal when unpacking image layers (tar `..` entries,
//! symlinks in layers) belongs to the image layer (arca-image) and gets its
//! tests there.

#[path = "../common/mod.rs"]
mod common;
mod support;

mod cve_2016_9962;
mod cve_2019_5736;
mod cve_2021_30465;
mod cve_2021_30465_race;
mod cve_2022_0811;
mod cve_2022_29162;
mod cve_2023_25173;
mod cve_2023_25809;
mod cve_2024_21626;
mod cve_2024_40635;
mod cve_2025_31133;
