//! `attach`: clients connected to a running detached container's stdio, with no daemon. The
//! container's monitor (see [`crate::monitor`]) already holds its output pipes (or pty master)
//! and, with `-i`, the write end of its stdin pipe, so it is the one place both directions can
//! meet: it listens on a unix socket in the container's directory and, in the single-threaded
//! poll loop that writes the log, copies each chunk of output to every connected client and
//! each client's input to the container.
//!
//! The socket is `SOCK_SEQPACKET`, as conmon's attach socket: a packet is a message, so each
//! one carries a one-byte tag (which stream, or a control message) and no length. The socket
//! file is `<root>/containers/<id>/attach`, but it is bound and connected through
//! `/proc/self/fd/<dir fd>/attach`, since a `sun_path` holds only 108 bytes and a container's
//! directory under a long `--root` does not fit (console sockets live in `/run/arca` for the
//! same reason; this one belongs with the container, and goes with its directory).
//!
//! - [`server`]: the monitor's side (accept, fan-out with bounded per-client queues, input).
//! - [`client`]: `arca attach` / `start -a`: raw terminal, window size, signals, detach keys.
//! - [`keys`]: Docker's `--detach-keys` and the matcher that spots them in typed input.

pub(crate) mod client;
pub mod keys;
pub(crate) mod server;

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use rustix::fs::{Mode, OFlags};
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

pub use client::AttachOptions;

/// The socket's name in the container's directory.
pub(crate) const SOCKET: &str = "attach";

/// The largest packet a client sends (tag included): the monitor receives into a buffer of
/// this size, and a longer packet would be cut short (`SOCK_SEQPACKET` drops the rest).
pub(crate) const MAX_INPUT_PACKET: usize = 16 * 1024;
/// The largest packet the monitor sends: a tag and one read of the container's output.
pub(crate) const MAX_OUTPUT_PACKET: usize = 1 + crate::monitor::READ_SIZE;

/// Client → monitor: bytes for the container's stdin (or its pty).
pub(crate) const STDIN: u8 = 0;
/// Monitor → client: the container's stdout (everything, with a pty).
pub(crate) const STDOUT: u8 = 1;
/// Monitor → client: the container's stderr.
pub(crate) const STDERR: u8 = 2;
/// Monitor → client: the container exited; an i32 (little-endian) with Docker's exit code,
/// or nothing when its status is unknown. The monitor closes the connection after it.
pub(crate) const EXIT: u8 = 3;
/// Client → monitor: the client's window size, rows and cols as u16 little-endian.
pub(crate) const RESIZE: u8 = 4;
/// Client → monitor: the client's stdin ended (the container's closes only with
/// `stdin_once`, as Docker's `StdinOnce`).
pub(crate) const STDIN_EOF: u8 = 5;

/// `f(address)` with the address of `dir/attach` spelled through `/proc/self/fd`, so its
/// length does not depend on `dir`'s.
fn with_address<T>(
    dir: &Path,
    f: impl FnOnce(&SocketAddrUnix) -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    let dirfd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let addr = SocketAddrUnix::new(format!("/proc/self/fd/{}/{SOCKET}", dirfd.as_raw_fd()))?;
    // `dirfd` lives until the call is done: the path names it.
    f(&addr)
}

fn seqpacket(flags: SocketFlags) -> rustix::io::Result<OwnedFd> {
    rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC | flags,
        None,
    )
}

/// A connection to the monitor of the container whose directory is `dir`.
pub(crate) fn connect(dir: &Path) -> rustix::io::Result<OwnedFd> {
    let sock = seqpacket(SocketFlags::empty())?;
    with_address(dir, |addr| rustix::net::connect(&sock, addr))?;
    Ok(sock)
}

/// A connected pair: one end for a monitor about to start (it takes it as its first client,
/// so `start -a` misses none of the output), the other for the attaching command.
pub fn pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )?)
}

/// One packet: `tag` then `data`.
pub(crate) fn packet(tag: u8, data: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(1 + data.len());
    p.push(tag);
    p.extend_from_slice(data);
    p
}
