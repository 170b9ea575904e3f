//! `--follow`: print records as they are appended, across rotations.
//!
//! The reader holds the current file open. When `path` names another file, the writer has
//! rotated: it renames before it opens the new file and never writes to the old one after, so
//! reading the held file to its end then gets every record it will ever have, and the next
//! records are in the file that followed it, found by where the held file went (`path.k` →
//! `path.(k-1)`, or `path`). Found by inode, this holds even when several rotations happened
//! between two looks.

use std::fs::{self, File};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, SystemTime};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};

use super::reader::{LineReader, Sink};
use super::rotated;

/// How long to wait for a change before calling `done()` again: how late a follow notices
/// that the container is gone, and how late it notices changes without inotify.
const TICK: Duration = Duration::from_millis(100);

pub(super) fn follow(
    path: &Path,
    mut current: Option<LineReader>,
    sink: &mut Sink,
    done: &dyn Fn() -> bool,
) -> io::Result<()> {
    let waiter = Waiter::new(path);
    loop {
        // Asked before reading: once it says done, the writer wrote its last record already,
        // and the reading that follows gets it.
        let finished = done();
        if current.is_none() {
            current = match File::open(path) {
                Ok(f) => Some(LineReader::new(f, path.to_owned())?),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
        }
        if let Some(cur) = current.as_mut() {
            cur.drain(sink)?;
            if rotated_away(path, cur.id)? {
                // Everything written before the rename, which happened before this look.
                cur.drain(sink)?;
                if let Some(next) = successor(path, cur.id)? {
                    if let Some(old) = current.replace(next) {
                        old.finish_rotated();
                    }
                    // The new file may be full already: read it before waiting.
                    continue;
                }
            }
        }
        sink.flush()?;
        if finished {
            return Ok(());
        }
        if sink.opts.until.is_some_and(|u| SystemTime::now() > u) {
            return Ok(());
        }
        waiter.wait();
    }
}

/// Whether `path` now names another file than the one read (or none: mid-rotation).
fn rotated_away(path: &Path, id: (u64, u64)) -> io::Result<bool> {
    match fs::metadata(path) {
        Ok(md) => Ok((md.dev(), md.ino()) != id),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e),
    }
}

/// The file written after the one with `id`, opened; `None` while it does not exist yet (a
/// rotation in progress), to be looked for again.
fn successor(path: &Path, id: (u64, u64)) -> io::Result<Option<LineReader>> {
    let mut found = None;
    let mut oldest = None;
    let mut misses = 0;
    for k in 1.. {
        match fs::metadata(rotated(path, k)) {
            Ok(md) => {
                misses = 0;
                if (md.dev(), md.ino()) == id {
                    found = Some(k);
                    break;
                }
                oldest = Some(k);
            }
            // One gap is a rename in progress; two end the list.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                misses += 1;
                if misses == 2 {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let next = match (found, oldest) {
        (Some(1), _) | (None, None) => path.to_owned(),
        (Some(k), _) => rotated(path, k - 1),
        // The file was dropped (max_files reached, or 1): every file left is newer, and the
        // oldest of them came next. Records in files dropped in between are gone.
        (None, Some(k)) => rotated(path, k),
    };
    match File::open(&next) {
        Ok(f) => {
            let r = LineReader::new(f, next)?;
            Ok((r.id != id).then_some(r))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Waits for a change in the log's directory (writes, renames, creations) or a [`TICK`].
/// inotify when it can be had (it can run out of instances), else just the tick.
enum Waiter {
    Inotify(Inotify),
    Tick,
}

impl Waiter {
    fn new(path: &Path) -> Waiter {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let watch = || -> nix::Result<Inotify> {
            let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
            ino.add_watch(
                dir,
                AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_FROM
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_DELETE,
            )?;
            Ok(ino)
        };
        match watch() {
            Ok(ino) => Waiter::Inotify(ino),
            Err(e) => {
                tracing::debug!(error = %e, dir = %dir.display(), "no inotify for logs: polling");
                Waiter::Tick
            }
        }
    }

    fn wait(&self) {
        match self {
            Waiter::Inotify(ino) => {
                let ms = u16::try_from(TICK.as_millis()).unwrap_or(u16::MAX);
                let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
                // An error (EINTR) only means looking again sooner.
                if matches!(poll(&mut fds, PollTimeout::from(ms)), Ok(n) if n > 0) {
                    // Emptied so that the next wait blocks; what changed is read from the files.
                    let _ = ino.read_events();
                }
            }
            Waiter::Tick => thread::sleep(TICK),
        }
    }
}
