//! The writing side, used by a container's monitor.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::record::encode;
use super::time::format_rfc3339_nano;
use super::{rotated, LogOptions, Stream, MAX_RECORD_TEXT};

/// Appends a container's output to its log file as json-file records, rotating by size.
///
/// Output is cut into lines per stream, so that a line that arrives in pieces (a pipe read
/// ends wherever the kernel's buffer did) is still one record, and so that stdout and stderr
/// never mix within a record. The records of one [`write`](LogWriter::write) are written with
/// one `write(2)` (between rotations) on an `O_APPEND` file: a reader never sees half a record
/// except while that write is in progress, and readers wait for the newline.
///
/// Dropping the writer flushes partial lines as [`flush_partial`](LogWriter::flush_partial)
/// does, so that output is not lost when a monitor returns early; errors there are ignored.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    opts: LogOptions,
    file: File,
    /// Bytes in the current file, including those still in `buf`.
    size: u64,
    /// Records encoded but not yet written, all for the current file.
    buf: Vec<u8>,
    /// The text of each stream's line so far (never a newline; at most `MAX_RECORD_TEXT`).
    partial: [Partial; 2],
}

#[derive(Debug, Default)]
struct Partial {
    text: Vec<u8>,
    /// When the first byte of `text` arrived.
    since: Option<SystemTime>,
}

fn open_append(path: &Path) -> io::Result<File> {
    // 0640: logs can hold secrets a container printed; readable by the owner's group (an
    // `adm`-style log group) but not by everyone.
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

impl LogWriter {
    /// Opens (creating it, mode 0640) the log at `path` to append to it: a restarted container
    /// keeps its earlier output, as in Docker.
    pub fn open(path: &Path, opts: LogOptions) -> io::Result<LogWriter> {
        if opts.max_files == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "max_files must be at least 1",
            ));
        }
        let file = open_append(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_owned(),
            opts,
            file,
            size,
            buf: Vec::new(),
            partial: Default::default(),
        })
    }

    /// Takes bytes as they came off the `stream` pipe: each complete line becomes one record
    /// timestamped when its first byte arrived (here or in an earlier call); the rest of a line
    /// is kept until its newline or [`flush_partial`](LogWriter::flush_partial). A line longer
    /// than [`MAX_RECORD_TEXT`] is cut into records of at most that much (at a UTF-8 character
    /// boundary when there is one nearby), the last holding the newline, as Docker does.
    pub fn write(&mut self, stream: Stream, data: &[u8]) -> io::Result<()> {
        let now = SystemTime::now();
        let mut rest = data;
        while !rest.is_empty() {
            let p = &mut self.partial[stream.index()];
            if p.text.is_empty() {
                p.since = Some(now);
            }
            let room = MAX_RECORD_TEXT - p.text.len();
            let window = &rest[..rest.len().min(room + 1)];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                p.text.extend_from_slice(&rest[..=i]);
                rest = &rest[i + 1..];
                self.emit(stream, None, now)?;
            } else if rest.len() > room {
                // Without a newline within reach, the line is longer than a record holds.
                p.text.extend_from_slice(&rest[..room]);
                rest = &rest[room..];
                let cut = utf8_cut(&p.text);
                self.emit(stream, Some(cut), now)?;
            } else {
                p.text.extend_from_slice(rest);
                rest = &[];
            }
        }
        self.flush_buf()
    }

    /// Writes out the unfinished line of each stream as a record without a newline: for the
    /// end of the streams, when no newline will come.
    pub fn flush_partial(&mut self) -> io::Result<()> {
        self.flush_partial_stream(Stream::Stdout)?;
        self.flush_partial_stream(Stream::Stderr)
    }

    /// [`flush_partial`](LogWriter::flush_partial) for one stream, for when one pipe reaches
    /// its end before the other.
    pub fn flush_partial_stream(&mut self, stream: Stream) -> io::Result<()> {
        if !self.partial[stream.index()].text.is_empty() {
            let len = self.partial[stream.index()].text.len();
            self.emit(stream, Some(len), SystemTime::now())?;
        }
        self.flush_buf()
    }

    /// Encodes `partial[stream].text[..cut]` (all of it if `None`) as a record; what is left
    /// after the cut stays as the next line's start, dated `now`.
    fn emit(&mut self, stream: Stream, cut: Option<usize>, now: SystemTime) -> io::Result<()> {
        let p = &mut self.partial[stream.index()];
        let cut = cut.unwrap_or(p.text.len());
        let time = format_rfc3339_nano(p.since.unwrap_or(now));
        let start = self.buf.len();
        encode(&mut self.buf, stream, &p.text[..cut], &time);
        p.text.drain(..cut);
        p.since = if p.text.is_empty() { None } else { Some(now) };
        let len = (self.buf.len() - start) as u64;
        if self.opts.max_size > 0 && self.size > 0 && self.size + len > self.opts.max_size {
            // The record goes to a fresh file: write the ones before it to the old one.
            let record = self.buf.split_off(start);
            self.flush_buf()?;
            self.rotate()?;
            self.buf = record;
        }
        self.size += len;
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.file.write_all(&self.buf);
        self.buf.clear();
        r
    }

    /// `path.(n-1)` → `path.n`, ..., `path` → `path.1`, dropping the file that would become
    /// `path.max_files`, then a fresh `path`. Renames, not copies: a reader that holds the old
    /// file open reads it to its end and then moves on to the new one.
    fn rotate(&mut self) -> io::Result<()> {
        let n = self.opts.max_files;
        if n >= 2 {
            ignore_missing(fs::remove_file(rotated(&self.path, n - 1)))?;
            for k in (1..n - 1).rev() {
                ignore_missing(fs::rename(
                    rotated(&self.path, k),
                    rotated(&self.path, k + 1),
                ))?;
            }
            fs::rename(&self.path, rotated(&self.path, 1))?;
        } else {
            fs::remove_file(&self.path)?;
        }
        self.file = open_append(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        let _ = self.flush_partial();
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

/// Where to cut a full record's worth of `text` so that a character is not split across two
/// records (each would get U+FFFD): before the last character if it is incomplete. Text that
/// is not UTF-8 there is cut at its end.
fn utf8_cut(text: &[u8]) -> usize {
    let len = text.len();
    let mut i = len;
    while i > 0 && len - i < 4 {
        i -= 1;
        let b = text[i];
        if b & 0xC0 != 0x80 {
            // A lead byte (or ASCII): how long is its character?
            let need = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            return if len - i < need && i > 0 { i } else { len };
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::utf8_cut;

    #[test]
    fn cuts_before_an_incomplete_character() {
        assert_eq!(utf8_cut(b"abc"), 3);
        assert_eq!(utf8_cut("aé".as_bytes()), 3);
        assert_eq!(utf8_cut(&"aé".as_bytes()[..2]), 1);
        assert_eq!(utf8_cut(&"a€".as_bytes()[..3]), 1);
        assert_eq!(utf8_cut(&"a😀".as_bytes()[..4]), 1);
        assert_eq!(utf8_cut("a😀".as_bytes()), 5);
        assert_eq!(utf8_cut(b"a\x80\x80\x80\x80"), 5);
    }
}
