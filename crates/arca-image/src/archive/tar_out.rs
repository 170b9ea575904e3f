//! Writing archive members: fixed owner, mode and mtime (as Podman writes them), so saving the
//! same images twice gives the same bytes.

use std::io::{self, Read, Write};

use crate::layout::LayoutError;

pub(super) struct TarOut<W: Write> {
    builder: tar::Builder<W>,
    name: &'static str,
}

impl<W: Write> TarOut<W> {
    pub(super) fn new(out: W, name: &'static str) -> TarOut<W> {
        TarOut {
            builder: tar::Builder::new(out),
            name,
        }
    }

    /// Appends `size` bytes from `data` as the regular file `path`; fails if `data` holds
    /// fewer, so a short read can never leave a header that lies about its content.
    pub(super) fn file(
        &mut self,
        path: &str,
        size: u64,
        data: impl Read,
    ) -> Result<(), LayoutError> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        let mut data = Exact {
            inner: data.take(size),
            left: size,
        };
        self.builder
            .append_data(&mut header, path, &mut data)
            .map_err(|source| self.err(path, source))?;
        if data.left != 0 {
            return Err(self.err(
                path,
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "content shorter than its size",
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn bytes(&mut self, path: &str, data: &[u8]) -> Result<(), LayoutError> {
        self.file(path, data.len() as u64, data)
    }

    pub(super) fn finish(self) -> Result<(), LayoutError> {
        let name = self.name;
        let mut out = self
            .builder
            .into_inner()
            .map_err(|source| LayoutError::Io {
                at: format!("{name}: finishing the archive"),
                source,
            })?;
        out.flush().map_err(|source| LayoutError::Io {
            at: format!("{name}: finishing the archive"),
            source,
        })
    }

    fn err(&self, path: &str, source: io::Error) -> LayoutError {
        LayoutError::Io {
            at: format!("{}: writing {path}", self.name),
            source,
        }
    }
}

/// Counts what is left of the promised size.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left -= n as u64;
        Ok(n)
    }
}
