//! The container's terminal: a pty from the container's own devpts, its master handed to the
//! caller over `--console-socket` with SCM_RIGHTS (the handshake containerd and conmon expect),
//! its slave bind-mounted on /dev/console.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use rustix::fs::OFlags;

use super::mounts::{attach, clone_tree};
use crate::error::{Error, Result};
use crate::paths::open_in_root;

fn fail(what: &'static str) -> impl FnOnce(rustix::io::Errno) -> Error {
    move |e| Error::sys(what, nix::Error::from_raw(e.raw_os_error()))
}

/// A new pty in the container's devpts: (master, slave).
pub fn open_pty(root: impl AsFd, size: Option<(u16, u16)>) -> Result<(OwnedFd, OwnedFd)> {
    let master = open_in_root(
        root,
        Path::new("/dev/pts/ptmx"),
        OFlags::RDWR | OFlags::NOCTTY,
    )
    .map_err(fail("opening /dev/pts/ptmx"))?;
    arca_sys::tty::unlock_pty(master.as_fd()).map_err(|e| Error::sys("unlocking pty", e))?;
    let slave = arca_sys::tty::open_pty_peer(master.as_fd())
        .map_err(|e| Error::sys("opening pty peer", e))?;
    if let Some((rows, cols)) = size {
        arca_sys::tty::set_window_size(slave.as_fd(), rows, cols)
            .map_err(|e| Error::sys("setting console size", e))?;
    }
    Ok((master, slave))
}

/// Bind-mounts the pty slave on /dev/console inside the root. Whatever the rootfs had there
/// (a symlink to a host path, a file) is replaced by a fresh empty file first, opened without
/// following links, so the pty can only land on /dev/console itself (CVE-2025-52565).
pub fn mount_console(root: impl AsFd, slave: &OwnedFd) -> Result<()> {
    let (dir, name) = crate::paths::parent_in_root(root, Path::new("/dev/console"))
        .map_err(fail("opening /dev"))?;
    match rustix::fs::unlinkat(&dir, name.as_os_str(), rustix::fs::AtFlags::empty()) {
        Ok(()) | Err(rustix::io::Errno::NOENT) => {}
        Err(e) => return Err(fail("replacing /dev/console")(e)),
    }
    drop(
        rustix::fs::openat(
            &dir,
            name.as_os_str(),
            OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .map_err(fail("creating /dev/console"))?,
    );
    let target = rustix::fs::openat(
        &dir,
        name.as_os_str(),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(fail("opening /dev/console"))?;
    let tree = clone_tree(slave, Path::new(""), false).map_err(fail("open_tree pty"))?;
    attach(&tree, &target).map_err(fail("mounting /dev/console"))
}

/// Connects to the console socket: done while still in the runtime's mount namespace, so the
/// path is the caller's and never one the container could plant.
pub fn connect(socket: &Path) -> Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| Error::io("connecting to console socket", socket, e))
}

/// Sends the pty master over the console socket.
pub fn send_master(socket: &Path, master: &OwnedFd) -> Result<()> {
    send_master_on(&connect(socket)?, socket, master)
}

/// Sends the pty master over an already connected console socket.
pub fn send_master_on(stream: &UnixStream, socket: &Path, master: &OwnedFd) -> Result<()> {
    let fds = [master.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let name = b"/dev/ptmx";
    sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(name)],
        &cmsg,
        MsgFlags::empty(),
        None,
    )
    .map_err(|e| Error::sys(format!("sending pty master to {}", socket.display()), e))?;
    Ok(())
}

/// The receiving end of the handshake, for a foreground `run` that owns the terminal itself:
/// accepts one connection on `listener` and returns the pty master it carries.
pub fn receive_master(listener: &std::os::unix::net::UnixListener) -> Result<OwnedFd> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let (stream, _) = listener
        .accept()
        .map_err(|e| Error::io("accepting console socket", "", e))?;
    let mut buf = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| Error::sys("receiving pty master", e))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| Error::sys("reading control message", e))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                return Ok(arca_sys::fd::own_received(fd));
            }
        }
    }
    Err(Error::Usage("console socket: no fd received".into()))
}
