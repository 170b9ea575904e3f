use std::io::{self, Read, Write};

use sha2::{Digest as _, Sha256};

use super::Digest;

/// Hashes and counts exactly the bytes the consumer pulled through, so a digest can be
/// computed while streaming (a layer is never held in memory, nor read twice).
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// Bytes read so far: lets a caller refuse an over-long stream before it ends.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn finish(self) -> (Digest, u64) {
        (
            Digest::from_sha256(self.hasher.finalize().into()),
            self.count,
        )
    }

    /// The digest of what was read so far, without consuming the reader (a check at EOF
    /// inside `read`, where `self` cannot be given up).
    pub fn peek(&self) -> (Digest, u64) {
        (
            Digest::from_sha256(self.hasher.clone().finalize().into()),
            self.count,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The write-side twin of [`HashingReader`]: only bytes the inner writer accepted are hashed,
/// so a short write cannot make the digest disagree with the file.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    pub fn finish(self) -> (Digest, u64) {
        let (_, digest, count) = self.into_parts();
        (digest, count)
    }

    /// Like [`finish`](Self::finish), also giving the writer back (to fsync a file, say).
    pub fn into_parts(self) -> (W, Digest, u64) {
        let digest = Digest::from_sha256(self.hasher.finalize().into());
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
