//! Resolving paths from a bundle or an image inside the container root, by file descriptor.
//!
//! Every lookup goes through `openat2(RESOLVE_IN_ROOT)`: a symlink or `..` in the rootfs can
//! never lead outside it (CVE-2021-30465 and its relatives). Nothing here joins strings.

use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

fn resolve_flags() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// Opens `path` (absolute or relative, read as relative to `root`) inside `root`.
pub fn open_in_root(root: impl AsFd, path: &Path, flags: OFlags) -> Result<OwnedFd, Errno> {
    let rel = relative(path);
    rustix::fs::openat2(
        root,
        if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        },
        flags | OFlags::CLOEXEC,
        Mode::empty(),
        resolve_flags(),
    )
}

/// An `O_PATH` handle on `path` inside `root`.
pub fn path_in_root(root: impl AsFd, path: &Path) -> Result<OwnedFd, Errno> {
    open_in_root(root, path, OFlags::PATH)
}

/// Creates every missing directory of `path` inside `root`, then returns an `O_PATH` handle on
/// it. Each step is resolved in the root, so a symlinked component stays contained.
pub fn mkdir_all_in_root(root: impl AsFd, path: &Path, mode: u32) -> Result<OwnedFd, Errno> {
    let root = root.as_fd();
    match path_in_root(root, path) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e),
    }
    let mut dir = rustix::fs::openat(root, ".", OFlags::PATH | OFlags::CLOEXEC, Mode::empty())?;
    let mut sofar = PathBuf::from("/");
    for comp in relative(path).components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        sofar.push(name);
        match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(mode)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
        dir = open_in_root(root, &sofar, OFlags::PATH | OFlags::DIRECTORY)?;
    }
    Ok(dir)
}

/// Creates an empty regular file at `path` inside `root` (and its parents) if nothing is there,
/// and returns an `O_PATH` handle on whatever is there now: a bind-mount target for a file.
pub fn create_file_in_root(root: impl AsFd, path: &Path, mode: u32) -> Result<OwnedFd, Errno> {
    let root = root.as_fd();
    match path_in_root(root, path) {
        Ok(fd) => return Ok(fd),
        Err(Errno::NOENT) => {}
        Err(e) => return Err(e),
    }
    let rel = relative(path);
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().ok_or(Errno::INVAL)?;
    let dir = mkdir_all_in_root(root, parent, 0o755)?;
    let dir = rustix::fs::openat(
        &dir,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    drop(rustix::fs::openat(
        &dir,
        name,
        OFlags::CREATE | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(mode),
    )?);
    path_in_root(root, path)
}

/// A directory handle on the parent of `path` inside `root` (created if missing) plus the last
/// component: for `mknodat`, `symlinkat` and friends.
pub fn parent_in_root(
    root: impl AsFd,
    path: &Path,
) -> Result<(OwnedFd, std::ffi::OsString), Errno> {
    let rel = relative(path);
    let name = rel.file_name().ok_or(Errno::INVAL)?.to_owned();
    let parent = rel.parent().unwrap_or(Path::new(""));
    let dir = mkdir_all_in_root(root.as_fd(), parent, 0o755)?;
    let dir = rustix::fs::openat(
        &dir,
        ".",
        OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok((dir, name))
}

/// `path` without its leading `/` (an empty path means the root itself).
pub fn relative(path: &Path) -> &Path {
    path.strip_prefix("/").unwrap_or(path)
}

/// Lexically checks that `path` never climbs above the root with `..`: such a destination is
/// refused as a spec error rather than silently clamped.
pub fn escapes_root(path: &Path) -> bool {
    let mut depth = 0i32;
    for comp in path.components() {
        match comp {
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return true;
                }
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_in_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        symlink("/", root.join("escape")).unwrap();
        symlink("../../..", root.join("up")).unwrap();
        let rootfd =
            rustix::fs::open(&root, OFlags::PATH | OFlags::DIRECTORY, Mode::empty()).unwrap();
        // "escape/etc" must be the rootfs's etc, not the host's.
        let fd = path_in_root(&rootfd, Path::new("/escape/etc")).unwrap();
        let host_etc = std::fs::metadata("/etc").unwrap();
        let st = rustix::fs::fstat(&fd).unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_ne!(st.st_ino, host_etc.ino());
        let made = mkdir_all_in_root(&rootfd, Path::new("/up/a/b"), 0o755).unwrap();
        drop(made);
        assert!(root.join("a/b").is_dir());
    }

    #[test]
    fn escape_detection() {
        assert!(escapes_root(Path::new("/../etc")));
        assert!(escapes_root(Path::new("a/../../b")));
        assert!(!escapes_root(Path::new("/a/../b")));
        assert!(!escapes_root(Path::new("/proc/sys")));
    }
}
