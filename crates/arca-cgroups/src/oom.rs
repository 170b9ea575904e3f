//! OOM-kill notifications for a cgroup: v1 through an eventfd registered on
//! `memory.oom_control`, v2 through inotify on `memory.events` (as runc's `notify_linux.go` and
//! `notify_v2_linux.go`). Both fds are nonblocking so a caller can poll one alongside a timer
//! and drain it without ever stalling on a spurious wake-up.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use crate::error::CgroupError;
use crate::fs::{read_optional, write_file};
use crate::Cgroup;

/// Counts OOM events of one cgroup; see [`Cgroup::oom_watcher`].
#[derive(Debug)]
pub struct OomWatcher {
    source: Source,
}

#[derive(Debug)]
enum Source {
    V1 {
        eventfd: EventFd,
        /// The kernel ties the registration to this open file; closing it would drop the
        /// notification, so it lives as long as the watcher.
        _oom_control: File,
        event_control: PathBuf,
    },
    V2 {
        inotify: Inotify,
        events: PathBuf,
        /// `oom_kill` at the last read: the file holds totals, callers want increments.
        last: u64,
    },
}

fn io_error(path: &Path, errno: Errno) -> CgroupError {
    CgroupError::Read {
        path: path.to_owned(),
        source: errno.into(),
    }
}

impl Cgroup {
    /// Starts watching for OOM kills: through the v1 memory hierarchy when there is one (legacy
    /// and hybrid hosts), else through the cgroup2 tree. Only events after this call count.
    pub fn oom_watcher(&self) -> Result<OomWatcher, CgroupError> {
        if let Some(d) = self.v1.iter().find(|d| d.has("memory")) {
            return watch_v1(&d.dir);
        }
        match &self.unified {
            Some((_, dir)) => watch_v2(dir),
            None => Err(CgroupError::MissingController {
                controller: "memory",
                file: "memory.oom_control",
            }),
        }
    }
}

fn watch_v1(dir: &Path) -> Result<OomWatcher, CgroupError> {
    let oom_control_path = dir.join("memory.oom_control");
    let oom_control = File::open(&oom_control_path).map_err(|source| CgroupError::Read {
        path: oom_control_path.clone(),
        source,
    })?;
    let eventfd = EventFd::from_flags(EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK)
        .map_err(|e| io_error(&oom_control_path, e))?;
    let registration = format!(
        "{} {}",
        eventfd.as_fd().as_raw_fd(),
        oom_control.as_raw_fd()
    );
    write_file(dir, "cgroup.event_control", &registration)?;
    Ok(OomWatcher {
        source: Source::V1 {
            eventfd,
            _oom_control: oom_control,
            event_control: dir.join("cgroup.event_control"),
        },
    })
}

fn watch_v2(dir: &Path) -> Result<OomWatcher, CgroupError> {
    let events = dir.join("memory.events");
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
        .map_err(|e| io_error(&events, e))?;
    // Watch before reading the baseline so that a kill in between is not lost.
    inotify
        .add_watch(&events, AddWatchFlags::IN_MODIFY)
        .map_err(|e| io_error(&events, e))?;
    let last = oom_kills(&events)?.unwrap_or(0);
    Ok(OomWatcher {
        source: Source::V2 {
            inotify,
            events,
            last,
        },
    })
}

/// The `oom_kill` count of a `memory.events` file, `None` once the cgroup is gone.
fn oom_kills(events: &Path) -> Result<Option<u64>, CgroupError> {
    let Some(text) = read_optional(events)? else {
        return Ok(None);
    };
    for line in text.lines() {
        if let Some(("oom_kill", value)) = line.split_once(' ') {
            return value
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| CgroupError::Parse {
                    path: events.to_owned(),
                    reason: format!("oom_kill {value:?} is not a number"),
                });
        }
    }
    Ok(Some(0))
}

impl OomWatcher {
    /// The fd to poll for readability; then call [`OomWatcher::read_events`].
    pub fn fd(&self) -> BorrowedFd<'_> {
        match &self.source {
            Source::V1 { eventfd, .. } => eventfd.as_fd(),
            Source::V2 { inotify, .. } => inotify.as_fd(),
        }
    }

    /// How many OOM events happened since the last call; 0 when nothing is pending. Never
    /// blocks.
    pub fn read_events(&mut self) -> Result<u64, CgroupError> {
        match &mut self.source {
            Source::V1 {
                eventfd,
                event_control,
                ..
            } => {
                let count = match eventfd.read() {
                    Ok(n) => n,
                    Err(Errno::EAGAIN) => return Ok(0),
                    Err(e) => return Err(io_error(event_control, e)),
                };
                // The kernel also signals the eventfd when the cgroup is removed; that is not
                // an OOM (runc makes the same check).
                if event_control.exists() {
                    Ok(count)
                } else {
                    Ok(0)
                }
            }
            Source::V2 {
                inotify,
                events,
                last,
            } => {
                loop {
                    match inotify.read_events() {
                        Ok(batch) if !batch.is_empty() => {}
                        Ok(_) | Err(Errno::EAGAIN) => break,
                        Err(e) => return Err(io_error(events, e)),
                    }
                }
                let Some(now) = oom_kills(events)? else {
                    return Ok(0);
                };
                let new = now.saturating_sub(*last);
                *last = now;
                Ok(new)
            }
        }
    }
}

#[cfg(test)]
mod tests;
