//! The one typed channel between the runtime and the container's init (a SOCK_SEQPACKET
//! socketpair): numbered steps of create, and the child's errors travelling back so that the
//! parent can report which step failed and why.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// parent → child: id maps written and cgroup joined; carry on.
    Go { state: serde_json::Value },
    /// parent → child: your pid is in state.json; from here on you may outlive the parent.
    Recorded,
    /// child → parent: mounts are done, run the prestart and createRuntime hooks now.
    RunCreateRuntimeHooks,
    /// parent → child: those hooks succeeded.
    HooksDone,
    /// child → parent: fully set up, now blocked on the exec fifo (or, created to start at
    /// once, on this channel).
    Ready,
    /// parent → child, created to start at once (no exec fifo): exec now.
    Start,
    /// child → parent: set-up failed; the child exits after sending this.
    Failed { msg: String },
}

#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair: the first end for the parent, the second for the child.
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    pub fn send(&self, msg: &Message) -> Result<()> {
        let data = serde_json::to_vec(msg).map_err(|e| Error::Usage(e.to_string()))?;
        socket::send(self.fd.as_raw_fd(), &data, MsgFlags::MSG_NOSIGNAL)
            .map_err(|e| Error::sys("sending to sync channel", e))?;
        Ok(())
    }

    /// The next message, or `None` when the peer closed its end (exited or exec'd).
    pub fn recv(&self) -> Result<Option<Message>> {
        let mut buf = [0u8; 8192];
        let n = loop {
            match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(nix::Error::EINTR) => continue,
                other => break other.map_err(|e| Error::sys("reading sync channel", e))?,
            }
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| Error::Usage(format!("bad sync message: {e}")))
    }

    /// A message already queued, without waiting: `None` if there is none (or the peer closed
    /// its end).
    pub fn try_recv(&self) -> Result<Option<Message>> {
        let mut buf = [0u8; 8192];
        let n = match socket::recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(n) => n,
            Err(nix::Error::EAGAIN | nix::Error::EINTR) => return Ok(None),
            Err(e) => return Err(Error::sys("reading sync channel", e)),
        };
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&buf[..n])
            .map(Some)
            .map_err(|e| Error::Usage(format!("bad sync message: {e}")))
    }

    /// Waits for the parent's `Start`: true once it came, false if the parent closed its end.
    /// With read(2), as the exec fifo is waited on: the container's seccomp filter is already
    /// in place, and whatever lets an init wait on the fifo lets it wait here.
    pub fn await_start(&self) -> Result<bool> {
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.fd, &mut buf) {
                Ok(n) => return Ok(n > 0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    return Err(Error::sys(
                        "reading sync channel",
                        nix::Error::from_raw(e.raw_os_error()),
                    ))
                }
            }
        }
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_fd().as_raw_fd()
    }
}
