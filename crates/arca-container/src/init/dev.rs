//! /dev for the container: the default devices, `linux.devices`, and the standard symlinks.
//! Nodes are made with `mknodat` relative to a directory fd resolved in the root; inside a
//! user namespace, where mknod is not allowed, the host's node is bind-mounted instead.

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use rustix::fs::{FileType, Mode, CWD};

use super::mounts::{attach, clone_tree};
use crate::error::{Error, Result};
use crate::paths::{create_file_in_root, parent_in_root};

/// A device node to create.
#[derive(Debug, Clone)]
pub struct Node {
    pub path: PathBuf,
    pub kind: FileType,
    pub major: u32,
    pub minor: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The devices every container gets (OCI runtime spec, "Default Devices").
pub fn default_nodes() -> Vec<Node> {
    [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ]
    .into_iter()
    .map(|(name, major, minor)| Node {
        path: Path::new("/dev").join(name),
        kind: FileType::CharacterDevice,
        major,
        minor,
        mode: 0o666,
        uid: 0,
        gid: 0,
    })
    .collect()
}

impl Node {
    pub fn from_spec(d: &LinuxDevice) -> Result<Node> {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => FileType::CharacterDevice,
            LinuxDeviceType::B => FileType::BlockDevice,
            LinuxDeviceType::P => FileType::Fifo,
            LinuxDeviceType::A => {
                return Err(Error::Usage(format!(
                    "linux.devices: {}: type \"a\" is not a device",
                    d.path().display()
                )))
            }
        };
        Ok(Node {
            path: d.path().clone(),
            kind,
            major: u32::try_from(d.major()).unwrap_or(0),
            minor: u32::try_from(d.minor()).unwrap_or(0),
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }
}

fn fail(what: String) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
}

/// Creates `nodes` (later entries override earlier ones with the same path).
pub fn create_nodes(root: &OwnedFd, nodes: &[Node], in_userns: bool) -> Result<()> {
    for (i, node) in nodes.iter().enumerate() {
        if nodes[i + 1..].iter().any(|n| n.path == node.path) {
            continue;
        }
        if in_userns {
            bind_host_node(root, node)?;
        } else {
            make_node(root, node)?;
        }
    }
    Ok(())
}

fn make_node(root: &OwnedFd, node: &Node) -> Result<()> {
    let what = node.path.display().to_string();
    let (dir, name) =
        parent_in_root(root, &node.path).map_err(fail(format!("opening parent of {what}")))?;
    let dev = rustix::fs::makedev(node.major, node.minor);
    let mode = Mode::from_raw_mode(node.mode);
    match rustix::fs::mknodat(&dir, name.as_os_str(), node.kind, mode, dev) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => {
            rustix::fs::unlinkat(&dir, name.as_os_str(), rustix::fs::AtFlags::empty())
                .map_err(fail(format!("replacing {what}")))?;
            rustix::fs::mknodat(&dir, name.as_os_str(), node.kind, mode, dev)
                .map_err(fail(format!("mknod {what}")))?;
        }
        Err(e) => return Err(fail(format!("mknod {what}"))(e)),
    }
    rustix::fs::chownat(
        &dir,
        name.as_os_str(),
        Some(rustix::fs::Uid::from_raw(node.uid)),
        Some(rustix::fs::Gid::from_raw(node.gid)),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(fail(format!("chown {what}")))?;
    // mknod honours the umask; set the mode the spec asked for exactly.
    rustix::fs::chmodat(&dir, name.as_os_str(), mode, rustix::fs::AtFlags::empty())
        .map_err(fail(format!("chmod {what}")))
}

fn bind_host_node(root: &OwnedFd, node: &Node) -> Result<()> {
    let what = node.path.display().to_string();
    let target =
        create_file_in_root(root, &node.path, 0o000).map_err(fail(format!("creating {what}")))?;
    let tree =
        clone_tree(CWD, &node.path, false).map_err(fail(format!("open_tree host {what}")))?;
    attach(&tree, &target).map_err(fail(format!("binding host {what}")))
}

/// The standard /dev symlinks.
pub fn create_symlinks(root: &OwnedFd) -> Result<()> {
    let links = [
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    for (target, link) in links {
        let (dir, name) =
            parent_in_root(root, Path::new(link)).map_err(fail(format!("opening {link}")))?;
        if link == "/dev/ptmx" {
            // An image may ship a ptmx node: the container must use its own devpts instance.
            let _ = rustix::fs::unlinkat(&dir, name.as_os_str(), rustix::fs::AtFlags::empty());
        }
        match rustix::fs::symlinkat(target, &dir, name.as_os_str()) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(fail(format!("symlink {link}"))(e)),
        }
    }
    Ok(())
}
