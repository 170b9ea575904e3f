//! The CVE-2019-5736 defence: make sure the binary our processes run (what /proc/self/exe
//! names) cannot be opened for writing from inside a container.
//!
//! The attack: a container's entrypoint is `#!/proc/self/exe`, so the runtime's process that
//! execs it runs the runtime binary again, now as a container process; it opens its own
//! /proc/self/exe and, once the runtime has exited, writes the host's binary. crun's cheap
//! defence, in order: nothing to do if the binary sits on a read-only mount (or is immutable,
//! which is how `scripts/install.sh` installs it); else re-exec it
//! from a read-only bind (a detached `open_tree` clone with `MOUNT_ATTR_RDONLY`: one extra
//! execve, no copy); else, without the privilege for that, from a sealed memfd copy.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::mount::MountAttrFlags as A;

use crate::error::{Error, Result};

/// Set in the environment of the re-exec'd runtime, and removed again at once.
const PROTECTED: &str = "_ARCA_PROTECTED_EXE";

fn sys(op: &str) -> impl FnOnce(rustix::io::Errno) -> Error + '_ {
    move |e| Error::sys(op, nix::Error::from_raw(e.raw_os_error()))
}

/// Returns when the running binary is safe to expose to containers; otherwise re-executes the
/// runtime from a protected copy (and does not return).
pub fn protect() -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    // Once this process runs protected, a later call (a library user may ask again) must not
    // re-exec again: a sealed memfd does not sit on a read-only mount, so the checks below
    // would not see it (and an unprivileged runtime would re-exec forever).
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.load(Ordering::Relaxed) {
        return Ok(());
    }
    if std::env::var_os(PROTECTED).is_some() {
        // Not for the container, nor for a runtime this one execs: drop it now (we are still
        // single-threaded, at the start of main).
        std::env::remove_var(PROTECTED);
        DONE.store(true, Ordering::Relaxed);
        return Ok(());
    }
    let exe = rustix::fs::open(
        "/proc/self/exe",
        OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys("opening /proc/self/exe"))?;
    let vfs = rustix::fs::fstatvfs(&exe).map_err(sys("statvfs /proc/self/exe"))?;
    if vfs.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) || immutable(&exe) {
        DONE.store(true, Ordering::Relaxed);
        return Ok(());
    }
    let target = match read_only_bind(&exe) {
        Ok(fd) => fd,
        Err(e) => {
            tracing::debug!(
                "read-only bind of the runtime binary failed ({e}): using a sealed copy"
            );
            sealed_copy()?
        }
    };
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).unwrap_or_default())
        .collect();
    let mut env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).unwrap_or_default()
        })
        .collect();
    env.push(CString::new(format!("{PROTECTED}=1")).unwrap_or_default());
    let err = nix::unistd::fexecve(target.as_fd(), &args, &env).unwrap_err();
    Err(Error::sys(
        "re-executing the runtime from a protected copy",
        err,
    ))
}

/// An immutable file (`chattr +i`, as `scripts/install.sh` leaves the installed binary) cannot
/// be opened for writing by anyone without CAP_LINUX_IMMUTABLE, which no container gets by
/// default: as safe as a read-only mount, and it costs one statx instead of an execve.
fn immutable(exe: &OwnedFd) -> bool {
    use rustix::fs::{AtFlags, StatxAttributes, StatxFlags};
    rustix::fs::statx(exe, "", AtFlags::EMPTY_PATH, StatxFlags::BASIC_STATS).is_ok_and(|st| {
        let flag = StatxAttributes::IMMUTABLE;
        st.stx_attributes_mask.contains(flag) && st.stx_attributes.contains(flag)
    })
}

/// A detached, read-only bind mount of the binary itself.
fn read_only_bind(exe: &OwnedFd) -> Result<OwnedFd> {
    let tree = match crate::init::mounts::clone_tree(exe, Path::new(""), false) {
        // The binary sits on a mount of another mount namespace: this process joined its
        // current one after execve (a rootless engine's invocation does). Its path, resolved
        // here, names the same file on this namespace's copy of that mount.
        Err(rustix::io::Errno::INVAL) => {
            let here = same_file_here(exe)?;
            crate::init::mounts::clone_tree(&here, Path::new(""), false)
        }
        other => other,
    }
    .map_err(sys("open_tree of the runtime binary"))?;
    crate::init::mounts::set_attr(tree.as_fd(), A::MOUNT_ATTR_RDONLY, A::empty(), 0, false)
        .map_err(|e| Error::sys("making the runtime binary's bind read-only", e))?;
    Ok(tree)
}

/// The binary opened by its path in our mount namespace, if that is still the same file.
fn same_file_here(exe: &OwnedFd) -> Result<OwnedFd> {
    let path = std::fs::read_link("/proc/self/exe")
        .map_err(|e| Error::io("reading", "/proc/self/exe", e))?;
    let here = rustix::fs::open(&path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
        .map_err(sys("opening the runtime binary by its path"))?;
    let (a, b) = (
        rustix::fs::fstat(exe).map_err(sys("stat /proc/self/exe"))?,
        rustix::fs::fstat(&here).map_err(sys("stat the runtime binary"))?,
    );
    if (a.st_dev, a.st_ino) != (b.st_dev, b.st_ino) {
        return Err(Error::sys(
            "the runtime binary's path names another file in this mount namespace",
            nix::Error::EINVAL,
        ));
    }
    Ok(here)
}

/// A memfd holding a copy of the binary, sealed against any change.
fn sealed_copy() -> Result<OwnedFd> {
    use rustix::fs::{MemfdFlags, SealFlags};
    let memfd = rustix::fs::memfd_create(
        "arca-runtime",
        MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
    )
    .map_err(sys("memfd_create"))?;
    let mut file = std::fs::File::from(memfd);
    let mut src = std::fs::File::open("/proc/self/exe")
        .map_err(|e| Error::io("opening", "/proc/self/exe", e))?;
    std::io::copy(&mut src, &mut file).map_err(|e| Error::io("copying", "/proc/self/exe", e))?;
    file.flush()
        .map_err(|e| Error::io("copying", "/proc/self/exe", e))?;
    let seals = SealFlags::SEAL | SealFlags::SHRINK | SealFlags::GROW | SealFlags::WRITE;
    rustix::fs::fcntl_add_seals(&file, seals).map_err(sys("sealing the runtime copy"))?;
    Ok(OwnedFd::from(file))
}
