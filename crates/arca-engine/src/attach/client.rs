//! The attaching side (`arca attach`, `start -a`): one poll loop over the monitor's socket,
//! our stdin and a signalfd. Output packets go to our stdout / stderr as they come; typed
//! input goes to the container when it has `-i` (through the detach-key matcher with a
//! terminal); with `-t` our terminal is raw and its size follows ours; without, the signals
//! we get are passed on to the container (`--sig-proxy`), as Docker's attach does.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use arca_container::container as rt;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::net::{RecvFlags, SendFlags};

use super::keys::Matcher;
use super::{
    packet, EXIT, MAX_INPUT_PACKET, MAX_OUTPUT_PACKET, RESIZE, STDERR, STDIN, STDIN_EOF, STDOUT,
};
use crate::container::Status;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::records::Record;

/// Docker's attach flags.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Pass our stdin on (`attach` without `--no-stdin`, `start -a -i`); only a container
    /// made with `-i` has a stdin to take it.
    pub stdin: bool,
    /// Pass the signals we get on to the container (`--sig-proxy`; never with `-t`, where
    /// ctrl-c is a byte for the pty).
    pub sig_proxy: bool,
    /// The detach sequence ([`super::keys::parse`]), looked for in typed input with `-t`.
    pub detach_keys: Vec<u8>,
}

/// The signals `--sig-proxy` passes on: those a user sends to stop or poke a program.
const PROXIED: [Signal; 7] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
];

/// Puts the terminal back as it was, whichever way we leave.
struct RawMode(Option<Termios>);

impl RawMode {
    fn enter() -> RawMode {
        let stdin = std::io::stdin();
        match tcgetattr(&stdin) {
            Ok(saved) => {
                let mut raw = saved.clone();
                cfmakeraw(&mut raw);
                let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
                RawMode(Some(saved))
            }
            Err(_) => RawMode(None),
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, t);
        }
    }
}

impl Engine {
    /// `attach`: our stdio connected to the running container `rec`'s until it exits (its
    /// exit code is returned) or the detach keys are typed (0; it keeps running).
    pub fn attach(&self, rec: &Record, opts: &AttachOptions) -> Result<i32, EngineError> {
        let stopped = || EngineError::AttachStopped(rec.name.clone());
        if self.status(rec) != Status::Running {
            return Err(stopped());
        }
        if self.paused(rec) {
            return Err(EngineError::BadState {
                name: rec.name.clone(),
                state: "paused".into(),
                hint: "you cannot attach to a paused container, unpause it first",
            });
        }
        // No socket (or nobody on it): the monitor is gone or the container just ended.
        let sock = super::connect(&self.dir(&rec.id)).map_err(|_| stopped())?;
        self.attach_to(rec, sock, opts)
    }

    /// [`Engine::attach`] over a connection already made (`start -a` hands its monitor the
    /// other end before the container starts).
    pub fn attach_to(
        &self,
        rec: &Record,
        sock: OwnedFd,
        opts: &AttachOptions,
    ) -> Result<i32, EngineError> {
        let tty = rec.settings.tty;
        let forward_input = opts.stdin && rec.settings.interactive;
        let _raw = if tty && forward_input {
            RawMode::enter()
        } else {
            RawMode(None)
        };
        let mut set = SigSet::empty();
        if tty {
            set.add(Signal::SIGWINCH);
        } else if opts.sig_proxy {
            PROXIED.iter().for_each(|s| set.add(*s));
        }
        let sys = |what: &'static str| {
            move |e: nix::Error| EngineError::io(what, std::path::Path::new("/"), e.into())
        };
        set.thread_block().map_err(sys("sigprocmask"))?;
        let sfd = SignalFd::with_flags(&set, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(sys("signalfd"))?;
        if tty {
            send_resize(sock.as_fd());
        }
        let mut matcher = (tty && forward_input).then(|| Matcher::new(opts.detach_keys.clone()));
        let stdin = std::io::stdin();
        let mut stdin_open = forward_input;
        let mut pending: Option<Vec<u8>> = None;
        // Whether anything came from the monitor: a connection closed before that was never
        // taken (the container ended as we connected).
        let mut seen = false;
        let mut buf = vec![0u8; MAX_OUTPUT_PACKET];
        let io = |what: &'static str| {
            move |e: Errno| EngineError::io(what, std::path::Path::new("-"), e.into())
        };
        loop {
            let sock_events = if pending.is_some() {
                PollFlags::IN | PollFlags::OUT
            } else {
                PollFlags::IN
            };
            let mut fds = vec![
                PollFd::new(&sock, sock_events),
                PollFd::new(&sfd, PollFlags::IN),
            ];
            if stdin_open && pending.is_none() {
                fds.push(PollFd::new(&stdin, PollFlags::IN));
            }
            match rustix::event::poll(&mut fds, None) {
                Ok(_) | Err(Errno::INTR) => {}
                Err(e) => return Err(io("poll")(e)),
            }
            let ready: Vec<PollFlags> = fds.iter().map(PollFd::revents).collect();
            drop(fds);
            if !ready[0].is_empty() {
                loop {
                    let n = match rustix::net::recv(&sock, &mut buf[..], RecvFlags::DONTWAIT) {
                        Ok((0, _)) => return self.exit_without_notice(rec, seen),
                        Ok((n, _)) => n,
                        Err(Errno::AGAIN | Errno::INTR) => break,
                        Err(Errno::CONNRESET) => return self.exit_without_notice(rec, seen),
                        Err(e) => return Err(io("receive from the monitor")(e)),
                    };
                    seen = true;
                    let data = &buf[1..n];
                    match buf[0] {
                        STDOUT => write_all(std::io::stdout().as_fd(), data)
                            .map_err(io("write stdout"))?,
                        STDERR => write_all(std::io::stderr().as_fd(), data)
                            .map_err(io("write stderr"))?,
                        EXIT => {
                            return match <[u8; 4]>::try_from(data) {
                                Ok(code) => Ok(i32::from_le_bytes(code)),
                                Err(_) => Err(EngineError::Monitor {
                                    id: rec.id.clone(),
                                    msg: "the container's exit status is unknown".into(),
                                }),
                            }
                        }
                        _ => {}
                    }
                }
            }
            if ready[0].contains(PollFlags::OUT) {
                if let Some(p) = &pending {
                    match rustix::net::send(&sock, p, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
                        Ok(_) => pending = None,
                        Err(Errno::AGAIN | Errno::INTR | Errno::NOBUFS) => {}
                        Err(_) => return self.exit_without_notice(rec, seen),
                    }
                }
            }
            if !ready[1].is_empty() {
                while let Ok(Some(info)) = sfd.read_signal() {
                    match Signal::try_from(info.ssi_signo.cast_signed()) {
                        Ok(Signal::SIGWINCH) => send_resize(sock.as_fd()),
                        Ok(sig) => {
                            // It may have exited meanwhile: its exit notice follows.
                            let _ = rt::kill(&self.runtime, &rec.id, sig, false);
                        }
                        Err(_) => {}
                    }
                }
            }
            if ready.get(2).is_some_and(|r| !r.is_empty()) {
                // One packet's worth: the monitor would cut a longer one short.
                let n = match rustix::io::read(&stdin, &mut buf[..MAX_INPUT_PACKET - 1]) {
                    Ok(n) => n,
                    Err(Errno::AGAIN | Errno::INTR) => continue,
                    Err(_) => 0,
                };
                if n == 0 {
                    stdin_open = false;
                    pending = Some(packet(STDIN_EOF, &[]));
                    continue;
                }
                let (data, detach) = match matcher.as_mut() {
                    Some(m) => m.feed(&buf[..n]),
                    None => (buf[..n].to_vec(), false),
                };
                if detach {
                    // What was typed before the keys still goes; then we let go.
                    if !data.is_empty() {
                        let _ =
                            rustix::net::send(&sock, &packet(STDIN, &data), SendFlags::NOSIGNAL);
                    }
                    return Ok(0);
                }
                if !data.is_empty() {
                    pending = Some(packet(STDIN, &data));
                }
            }
        }
    }

    /// The connection ended with no exit code. Before anything came over it, the container
    /// ended as we connected (its record has the code); after, output may be missing: the
    /// monitor dropped us for falling too far behind, or it is gone.
    fn exit_without_notice(&self, rec: &Record, seen: bool) -> Result<i32, EngineError> {
        if !seen {
            let ended = self.wait_exited(&rec.id, std::time::Duration::from_secs(5))?;
            if let Some(code) = ended.and_then(|r| r.exit_code) {
                return Ok(code);
            }
        }
        Err(EngineError::Monitor {
            id: rec.id.clone(),
            msg: "it closed the attach connection before the exit code: this client fell too \
                  far behind, or the monitor is gone (arca logs has all the output)"
                .into(),
        })
    }
}

/// Our terminal's size to the monitor, for the container's pty.
fn send_resize(sock: BorrowedFd<'_>) {
    let size = arca_sys::tty::window_size(std::io::stdout().as_fd())
        .or_else(|| arca_sys::tty::window_size(std::io::stdin().as_fd()));
    if let Some((rows, cols)) = size {
        let mut data = rows.to_le_bytes().to_vec();
        data.extend_from_slice(&cols.to_le_bytes());
        // Best effort: a lost resize is made good by the next SIGWINCH.
        let _ = rustix::net::send(
            sock,
            &packet(RESIZE, &data),
            SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
        );
    }
}

/// Writes all of `data`, waiting when `fd` is non-blocking and full.
fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match rustix::io::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut fds, None);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
