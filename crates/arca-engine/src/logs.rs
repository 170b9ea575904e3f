//! Container logs (a stand-in until the JSON-lines writer lands: raw bytes appended).

use std::io::Write;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {}

#[derive(Debug)]
pub struct LogWriter {
    file: std::fs::File,
}

impl LogWriter {
    pub fn open(path: &Path, _opts: LogOptions) -> std::io::Result<LogWriter> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LogWriter { file })
    }

    pub fn write(&mut self, _stream: Stream, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)
    }

    pub fn flush_partial(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
