//! The monitor's side of attach: a listening socket, the connected clients and where their
//! input goes, driven from the monitor's poll loop ([`AttachServer::poll_fds`] adds the fds to
//! its poll set, [`AttachServer::handle`] acts on what came back).
//!
//! The monitor must never block on a client: its job is the log, and the container stalls if
//! nobody reads its pipes. So every socket is non-blocking; output a client cannot take yet
//! waits in a queue of its own, bounded ([`QUEUE_LIMIT`]), and a client that falls further
//! behind is dropped (it reports that, and `logs` still has everything). Input the container
//! does not read yet waits too, and meanwhile no more is read from clients, so a fast writer
//! is slowed by its socket rather than buffered in the monitor.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags, SocketFlags};

use super::{packet, EXIT, MAX_INPUT_PACKET, RESIZE, SOCKET, STDERR, STDIN, STDIN_EOF, STDOUT};
use crate::error::EngineError;
use crate::logs::Stream;

/// Output held for one slow client before it is dropped: small, the monitor stays tiny.
const QUEUE_LIMIT: usize = 256 * 1024;
/// How long the exit notice may take to reach the clients after the container ended.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
struct Client {
    fd: OwnedFd,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
}

/// The container's input: its stdin pipe's write end, or its pty master.
#[derive(Debug)]
struct Input {
    fd: OwnedFd,
    pending: Vec<u8>,
    tty: bool,
}

#[derive(Debug)]
pub(crate) struct AttachServer {
    listener: OwnedFd,
    path: PathBuf,
    clients: Vec<Client>,
    input: Option<Input>,
    /// Docker's `StdinOnce`: the first client's end of input closes the container's stdin.
    stdin_once: bool,
}

impl AttachServer {
    /// Listens on `dir/attach` (a stale socket from a dead monitor is replaced).
    pub(crate) fn bind(dir: &Path, stdin_once: bool) -> Result<AttachServer, EngineError> {
        let path = dir.join(SOCKET);
        let err = |op| move |e: Errno| EngineError::io(op, &dir.join(SOCKET), e.into());
        let _ = std::fs::remove_file(&path);
        let listener = super::seqpacket(SocketFlags::NONBLOCK).map_err(err("socket"))?;
        super::with_address(dir, |addr| rustix::net::bind(&listener, addr)).map_err(err("bind"))?;
        rustix::net::listen(&listener, 16).map_err(err("listen"))?;
        Ok(AttachServer {
            listener,
            path,
            clients: Vec::new(),
            input: None,
            stdin_once,
        })
    }

    /// A client connected before the container started (`start -a`).
    pub(crate) fn add_client(&mut self, fd: OwnedFd) {
        if rustix::io::ioctl_fionbio(&fd, true).is_ok() {
            self.clients.push(Client {
                fd,
                queue: VecDeque::new(),
                queued: 0,
            });
        }
    }

    /// Where clients' input goes for this run of the container (`None`: it has no `-i`, and
    /// input is read and dropped).
    pub(crate) fn set_input(&mut self, fd: Option<OwnedFd>, tty: bool) {
        self.input = fd
            .filter(|fd| rustix::io::ioctl_fionbio(fd, true).is_ok())
            .map(|fd| Input {
                fd,
                pending: Vec::new(),
                tty,
            });
    }

    fn input_blocked(&self) -> bool {
        self.input.as_ref().is_some_and(|i| !i.pending.is_empty())
    }

    /// The fds to poll, in the order [`AttachServer::handle`] expects their events.
    pub(crate) fn poll_fds(&self) -> Vec<PollFd<'_>> {
        let mut fds = vec![PollFd::new(&self.listener, PollFlags::IN)];
        if let Some(i) = self.input.as_ref().filter(|i| !i.pending.is_empty()) {
            fds.push(PollFd::new(&i.fd, PollFlags::OUT));
        }
        let read = if self.input_blocked() {
            PollFlags::empty()
        } else {
            PollFlags::IN
        };
        for c in &self.clients {
            let write = if c.queue.is_empty() {
                PollFlags::empty()
            } else {
                PollFlags::OUT
            };
            fds.push(PollFd::new(&c.fd, read | write));
        }
        fds
    }

    /// Acts on the events `poll` returned for [`AttachServer::poll_fds`], in its order.
    pub(crate) fn handle(&mut self, revents: &[PollFlags]) {
        let mut events = revents.iter().copied();
        let accept = events.next().is_some_and(|r| !r.is_empty());
        if self.input_blocked() && events.next().is_some_and(|r| !r.is_empty()) {
            if let Some(i) = self.input.as_mut() {
                i.flush();
            }
        }
        let mut dead = Vec::new();
        for (n, r) in events.enumerate().take(self.clients.len()) {
            // Gone while its input waits: what it sent last is lost, it cannot be kept polled.
            if self.input_blocked() && r.intersects(PollFlags::HUP | PollFlags::ERR) {
                dead.push(n);
                continue;
            }
            let c = &mut self.clients[n];
            if r.contains(PollFlags::OUT) && c.flush().is_err() {
                dead.push(n);
                continue;
            }
            if r.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) && !self.read_client(n)
            {
                dead.push(n);
            }
        }
        for n in dead.into_iter().rev() {
            self.clients.remove(n);
        }
        if accept {
            self.accept();
        }
    }

    fn accept(&mut self) {
        let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
        while let Ok(fd) = rustix::net::accept_with(&self.listener, flags) {
            // Only our own user: the directory already keeps others out; this says so here.
            let ours = rustix::net::sockopt::socket_peercred(&fd)
                .is_ok_and(|c| c.uid == rustix::process::geteuid());
            if ours {
                self.add_client(fd);
            }
        }
    }

    /// Reads what client `n` sent; false when it is gone.
    fn read_client(&mut self, n: usize) -> bool {
        let mut buf = [0u8; MAX_INPUT_PACKET];
        loop {
            if self.input_blocked() {
                return true;
            }
            let got = rustix::net::recv(&self.clients[n].fd, &mut buf, RecvFlags::DONTWAIT);
            let len = match got {
                Ok((0, _)) => return false,
                Ok((len, _)) => len,
                Err(Errno::AGAIN | Errno::INTR) => return true,
                Err(_) => return false,
            };
            let (tag, data) = (buf[0], &buf[1..len]);
            match (tag, self.input.as_mut()) {
                (STDIN, Some(i)) => i.write(data),
                (RESIZE, Some(i)) if i.tty && data.len() == 4 => {
                    let rows = u16::from_le_bytes([data[0], data[1]]);
                    let cols = u16::from_le_bytes([data[2], data[3]]);
                    let _ = arca_sys::tty::set_window_size(i.fd.as_fd(), rows, cols);
                }
                (STDIN_EOF, Some(i)) if self.stdin_once && !i.tty => {
                    // Closing our write end is the container's EOF (what was not taken yet
                    // is lost, as it would be with Docker's).
                    self.input = None;
                }
                _ => {}
            }
        }
    }

    /// A chunk of the container's output, to every client.
    pub(crate) fn output(&mut self, stream: Stream, data: &[u8]) {
        if self.clients.is_empty() {
            return;
        }
        let tag = match stream {
            Stream::Stdout => STDOUT,
            Stream::Stderr => STDERR,
        };
        let p = packet(tag, data);
        self.clients.retain_mut(|c| c.send(&p));
    }

    /// The container ended (and its exit is recorded): every client gets its exit code (after
    /// all its output) and is let go; its input goes with it. New clients may still connect
    /// (a restart follows, or the monitor is about to exit and close the socket).
    pub(crate) fn exited(&mut self, code: Option<i32>) {
        self.input = None;
        let notice = packet(EXIT, &code.map(i32::to_le_bytes).unwrap_or_default());
        let deadline = Instant::now() + FLUSH_TIMEOUT;
        for mut c in std::mem::take(&mut self.clients) {
            if !c.send(&notice) {
                continue;
            }
            while !c.queue.is_empty() && Instant::now() < deadline {
                let mut fds = [PollFd::new(&c.fd, PollFlags::OUT)];
                let wait = rustix::time::Timespec {
                    tv_sec: 0,
                    tv_nsec: 100_000_000,
                };
                let _ = rustix::event::poll(&mut fds, Some(&wait));
                if c.flush().is_err() {
                    break;
                }
            }
        }
    }
}

impl Drop for AttachServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Client {
    /// Sends or queues `p`; false when the client is gone or too far behind.
    fn send(&mut self, p: &[u8]) -> bool {
        if self.queue.is_empty() {
            match rustix::net::send(&self.fd, p, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                Ok(_) => return true,
                Err(Errno::AGAIN | Errno::INTR | Errno::NOBUFS) => {}
                Err(_) => return false,
            }
        }
        self.queued += p.len();
        self.queue.push_back(p.to_vec());
        self.queued <= QUEUE_LIMIT
    }

    /// Sends what is queued, as far as the socket takes it.
    fn flush(&mut self) -> Result<(), Errno> {
        while let Some(p) = self.queue.front() {
            match rustix::net::send(&self.fd, p, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                Ok(_) => {
                    self.queued -= p.len();
                    self.queue.pop_front();
                }
                Err(Errno::AGAIN | Errno::INTR | Errno::NOBUFS) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl Input {
    /// Writes `data` to the container, keeping what it does not take yet.
    fn write(&mut self, data: &[u8]) {
        self.pending.extend_from_slice(data);
        self.flush();
    }

    fn flush(&mut self) {
        while !self.pending.is_empty() {
            match rustix::io::write(&self.fd, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => return,
                // The container closed its stdin: what it would not read is dropped.
                Err(_) => {
                    self.pending = Vec::new();
                    return;
                }
            }
        }
    }
}
