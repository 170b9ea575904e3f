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
use crate::paths::{create_file_in_root, open_in_root};

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

/// Bind-mounts the pty slave on /dev/console inside the root.
pub fn mount_console(root: impl AsFd, slave: &OwnedFd) -> Result<()> {
    let target = create_file_in_root(root, Path::new("/dev/console"), 0o600)
        .map_err(fail("creating /dev/console"))?;
    let tree = clone_tree(slave, Path::new(""), false).map_err(fail("open_tree pty"))?;
    attach(&tree, &target).map_err(fail("mounting /dev/console"))
}

/// Sends the pty master over the console socket.
pub fn send_master(socket: &Path, master: &OwnedFd) -> Result<()> {
    let stream = UnixStream::connect(socket)
        .map_err(|e| Error::io("connecting to console socket", socket, e))?;
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
