//! Container logs in Docker's json-file format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-23T01:02:03.123456789Z"}`.
//!
//! The format is Docker's so that the files under a container's directory read the same as
//! Docker's to people and tools that already know them (`jq`, log shippers that tail
//! `*-json.log`), and so that `arca logs` can mirror `docker logs` flag for flag.
//!
//! - [`LogWriter`] is used by a container's monitor: it gets the bytes of the stdout and stderr
//!   pipes as they come, cuts them into lines per stream and appends one record per line,
//!   rotating the file by size (`path` is the newest, then `path.1`, `path.2`, ... as Docker
//!   names them).
//! - [`read`] is `arca logs`: it prints the records' text oldest first across the rotated files,
//!   with `--tail`, `--since`, `--until`, `--timestamps` and `--follow` (which notices rotation
//!   and ends once the container is done and everything was read).
//! - [`parse_since`] parses `--since`/`--until` values as Docker does; [`parse_size`] parses
//!   `--log-opt max-size` values.

mod follow;
mod reader;
mod record;
mod since;
mod tail;
use arca_image::time;
mod writer;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use reader::read;
pub use since::{parse_since, parse_size};
pub use time::format_rfc3339_nano;
pub use writer::LogWriter;

/// The most text one record holds: a longer line is cut into several records, the last of
/// which ends with the newline. This is Docker's buffer size; it bounds the memory a container
/// that prints without newlines can make its monitor hold, and keeps records readable in a line
/// at a time by readers of Docker's files.
pub const MAX_RECORD_TEXT: usize = 16 * 1024;

/// Which of the container's output pipes a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// The `"stream"` value of a record, as Docker writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

/// Rotation of a container's log, Docker's `--log-opt max-size` and `max-file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogOptions {
    /// Bytes a file may hold before the next record goes to a fresh one; 0 never rotates.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1: with 1, rotating drops the old file).
    pub max_files: usize,
}

impl Default for LogOptions {
    /// 10 MiB × 5 files: at most 50 MiB per container. Docker's json-file default is to never
    /// rotate, which is the classic way a chatty container fills a disk; a bound by default
    /// costs nothing to anyone who reads recent logs, and `--log-opt` still lifts it.
    fn default() -> Self {
        LogOptions {
            max_size: 10 * 1024 * 1024,
            max_files: 5,
        }
    }
}

/// What [`read`] prints: `arca logs` flags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Keep waiting for new records until `done()` (`--follow`).
    pub follow: bool,
    /// Only the last N records that pass `since`/`until` (`--tail N`); `None` is all.
    pub tail: Option<usize>,
    /// Only records at or after this time (`--since`).
    pub since: Option<SystemTime>,
    /// Only records at or before this time (`--until`); a follow ends past it.
    pub until: Option<SystemTime>,
    /// Prefix each record's text with its RFC 3339 time and a space (`--timestamps`).
    pub timestamps: bool,
}

/// A value of `--since`, `--until` or `--log-opt` that does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogError {
    #[error(
        "invalid time {input:?} ({reason}): expected RFC 3339 (2026-11-23T01:02:03Z), \
         a Unix timestamp (1700000000.5) or a duration ago (10m, 1h30m)"
    )]
    InvalidTime { input: String, reason: &'static str },
    #[error(
        "invalid size {input:?}: expected a number of bytes with an optional unit (10m, 512k, 1g)"
    )]
    InvalidSize { input: String },
}

/// `path.N`, the N-th rotated file (N ≥ 1; larger is older), as Docker names them.
fn rotated(path: &Path, n: usize) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n}"));
    PathBuf::from(s)
}
