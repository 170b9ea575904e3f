//! `--tail N`: the files are read backwards from their end, newest first, so that the last
//! records of a large log cost what those records weigh, not what the whole log does.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::reader::{LineReader, Sink, MAX_LINE};
use super::record::{decode, Record};

/// Prints the last `n` records (of those the sink wants) of `files` (newest first), oldest
/// first. Returns a reader of the newest file positioned after its last complete line, where a
/// follow goes on.
pub(super) fn print_tail(
    files: Vec<(PathBuf, File)>,
    n: usize,
    sink: &mut Sink,
) -> io::Result<Option<LineReader>> {
    let mut picked: Vec<Record<'static>> = Vec::new();
    let mut newest = None;
    for (idx, (path, file)) in files.into_iter().enumerate() {
        let len = file.metadata()?.len();
        let mut lines = RevLines {
            file: &file,
            pos: len,
            buf: Vec::new(),
            at_start: false,
        };
        // What follows the last newline: in the newest file a record being written (left to
        // a follow), in a rotated one a record cut short.
        let trailing = lines.next_line()?.map_or(0, |l| l.len());
        if trailing > 0 && idx > 0 {
            tracing::warn!(
                path = %path.display(),
                "skipping a truncated record at the end of a rotated log file"
            );
        }
        while picked.len() < n {
            let Some(line) = lines.next_line()? else {
                break;
            };
            if line.is_empty() {
                continue;
            }
            match decode(&line) {
                Ok(r) if sink.wants(r.time) => picked.push(r.into_owned()),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    path = %path.display(), error = %e, "skipping a malformed log line"
                ),
            }
        }
        if idx == 0 {
            let end = len - trailing as u64;
            newest = Some(LineReader::at(file, path, end)?);
        }
        if picked.len() >= n && newest.is_some() {
            break;
        }
    }
    for r in picked.iter().rev() {
        sink.print(r)?;
    }
    Ok(newest)
}

/// The lines of a file from its end back to its start (without their newlines): the first
/// is what follows the last newline, empty if the file ends with one.
struct RevLines<'a> {
    file: &'a File,
    /// Bytes before this offset are not read yet.
    pos: u64,
    /// Bytes from `pos` up to the end of the next line to return.
    buf: Vec<u8>,
    /// The first line of the file was returned: nothing is left.
    at_start: bool,
}

impl RevLines<'_> {
    fn next_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        const BLOCK: u64 = 64 * 1024;
        let mut skipping = false;
        loop {
            if let Some(i) = self.buf.iter().rposition(|&b| b == b'\n') {
                let line = self.buf.split_off(i + 1);
                self.buf.truncate(i);
                if skipping {
                    // The overlong line is dropped; the next one starts here.
                    skipping = false;
                    continue;
                }
                return Ok(Some(line));
            }
            if self.pos == 0 {
                // What is left is the file's first line, returned once.
                if self.at_start || skipping {
                    self.at_start = true;
                    return Ok(None);
                }
                self.at_start = true;
                return Ok(Some(std::mem::take(&mut self.buf)));
            }
            if self.buf.len() > MAX_LINE {
                tracing::warn!("skipping an overlong log line");
                self.buf.clear();
                skipping = true;
            }
            let n = self.pos.min(BLOCK);
            self.pos -= n;
            // n ≤ BLOCK: fits in usize.
            let mut block = vec![0u8; usize::try_from(n).unwrap_or(0)];
            self.file.read_exact_at(&mut block, self.pos)?;
            block.append(&mut self.buf);
            self.buf = block;
        }
    }
}
