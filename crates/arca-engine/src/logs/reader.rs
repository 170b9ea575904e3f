//! The reading side, `arca logs`: the files oldest first, filtered and printed.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record::{decode, Record};
use super::time::format_rfc3339_nano;
use super::{follow, rotated, tail, ReadOptions, Stream};

/// A longer line is not a record the writer made (they are at most ~100 KiB even with every
/// byte escaped): it is dropped rather than held in memory while waiting for its end.
pub(super) const MAX_LINE: usize = 1024 * 1024;

/// Prints the records of the log at `path` to `out` (stdout records) and `err` (stderr ones):
/// each record's text, with `opts.timestamps` prefixed by its time in RFC 3339 with nine
/// fraction digits and a space (as `docker logs -t`), oldest first across the rotated files
/// (`path.N` ... `path.1`, then `path`).
///
/// `opts.tail` keeps the last N of the records that pass `since` and `until` (Docker counts
/// before filtering, which makes `--since 1h --tail 5` print fewer than 5 when the file has
/// newer lines; here it prints the last 5 of the last hour). `since` and `until` are inclusive.
///
/// With `opts.follow`, keeps printing new records as the writer appends them, following it into
/// a fresh file when it rotates (without losing or repeating a record), until `done()` returns
/// true and everything written before that was printed, or, with `until`, once that time has
/// passed. It waits on inotify (the log's directory), falling back to polling, and calls
/// `done()` at least every 100 ms. Without a log file yet, it waits for one to appear.
///
/// Malformed lines are skipped with a warning. Errors are those of reading the files and of
/// writing to `out`/`err` (a closed pipe ends the read with its error).
pub fn read(
    path: &Path,
    opts: &ReadOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
    done: &dyn Fn() -> bool,
) -> io::Result<()> {
    let mut sink = Sink { opts, out, err };
    let files = open_all(path)?;
    let newest = match opts.tail {
        Some(n) => tail::print_tail(files, n, &mut sink)?,
        None => {
            let mut newest = None;
            // Oldest first; the last (newest) is kept for a follow.
            for (path, file) in files.into_iter().rev() {
                if let Some(older) = newest.replace(LineReader::new(file, path)?) {
                    older.finish_rotated();
                }
                if let Some(r) = newest.as_mut() {
                    r.drain(&mut sink)?;
                }
            }
            newest
        }
    };
    sink.flush()?;
    if opts.follow {
        follow::follow(path, newest, &mut sink, done)
    } else {
        // A partial line at the end of the newest file is a record being written, not an
        // error: it is left for the next read.
        Ok(())
    }
}

/// Opens the log's files, newest (`path`) first. Opened at once so that a rotation while they
/// are read cannot shift a file out from under the reader: each file is kept open by its
/// descriptor, and a file seen twice (renamed between two opens) is taken once. A missing
/// `path.k` ends the list unless `path.(k+1)` exists: that gap is a rotation in progress.
pub(super) fn open_all(path: &Path) -> io::Result<Vec<(PathBuf, File)>> {
    let mut seen = HashSet::new();
    let mut files = Vec::new();
    let mut misses = 0;
    for k in 0.. {
        let p = if k == 0 {
            path.to_owned()
        } else {
            rotated(path, k)
        };
        match File::open(&p) {
            Ok(f) => {
                misses = 0;
                if seen.insert(file_id(&f)?) {
                    files.push((p, f));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                misses += 1;
                if misses == 2 && k > 0 {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(files)
}

/// Identifies a file across renames: (device, inode).
pub(super) fn file_id(f: &File) -> io::Result<(u64, u64)> {
    let md = f.metadata()?;
    Ok((md.dev(), md.ino()))
}

/// Where records go: filtered by time, printed to the stream they came from.
pub(super) struct Sink<'a> {
    pub opts: &'a ReadOptions,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
}

impl Sink<'_> {
    pub fn wants(&self, t: SystemTime) -> bool {
        self.opts.since.is_none_or(|s| t >= s) && self.opts.until.is_none_or(|u| t <= u)
    }

    pub fn print(&mut self, r: &Record) -> io::Result<()> {
        let w: &mut dyn Write = match r.stream {
            Stream::Stdout => self.out,
            Stream::Stderr => self.err,
        };
        if self.opts.timestamps {
            write!(w, "{} ", format_rfc3339_nano(r.time))?;
        }
        w.write_all(r.log.as_bytes())
    }

    /// Decodes, filters and prints one line of `path`; a malformed one is skipped with a
    /// warning: one bad line (a disk that filled mid-record, a hand edit) must not hide the
    /// rest of the log.
    pub fn line(&mut self, line: &[u8], path: &Path) -> io::Result<()> {
        if line.is_empty() {
            return Ok(());
        }
        match decode(line) {
            Ok(r) if self.wants(r.time) => self.print(&r),
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping a malformed log line");
                Ok(())
            }
        }
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.err.flush()
    }
}

/// Reads a file forward by lines, from where it was left: a line without its newline yet is a
/// record still being written, kept until the rest comes.
#[derive(Debug)]
pub(super) struct LineReader {
    pub path: PathBuf,
    file: File,
    pub id: (u64, u64),
    pending: Vec<u8>,
    /// Dropping an overlong line until its newline.
    skipping: bool,
}

impl LineReader {
    pub fn new(file: File, path: PathBuf) -> io::Result<LineReader> {
        Ok(LineReader {
            id: file_id(&file)?,
            path,
            file,
            pending: Vec::new(),
            skipping: false,
        })
    }

    /// A reader that starts at byte `offset`.
    pub fn at(mut file: File, path: PathBuf, offset: u64) -> io::Result<LineReader> {
        file.seek(SeekFrom::Start(offset))?;
        LineReader::new(file, path)
    }

    /// Prints every complete line up to the current end of the file.
    pub fn drain(&mut self, sink: &mut Sink) -> io::Result<()> {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = match self.file.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut data = &chunk[..n];
            while let Some(i) = data.iter().position(|&b| b == b'\n') {
                if self.skipping {
                    self.skipping = false;
                } else if self.pending.is_empty() {
                    sink.line(&data[..i], &self.path)?;
                } else {
                    self.pending.extend_from_slice(&data[..i]);
                    sink.line(&self.pending, &self.path)?;
                    self.pending.clear();
                }
                data = &data[i + 1..];
            }
            if !self.skipping {
                self.pending.extend_from_slice(data);
                if self.pending.len() > MAX_LINE {
                    tracing::warn!(path = %self.path.display(), "skipping an overlong log line");
                    self.pending = Vec::new();
                    self.skipping = true;
                }
            }
        }
    }

    /// Done with a file that was rotated away: a partial line left at its end will never be
    /// completed.
    pub fn finish_rotated(self) {
        if !self.pending.is_empty() {
            tracing::warn!(
                path = %self.path.display(),
                "skipping a truncated record at the end of a rotated log file"
            );
        }
    }
}
