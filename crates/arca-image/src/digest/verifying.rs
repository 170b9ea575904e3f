use std::io::{self, Read};

use super::{verify, Digest, DigestError, HashingReader};

/// A reader that enforces a descriptor while streaming: it fails as soon as more than the
/// declared size arrives, and turns end-of-file into an error when size or digest disagree.
///
/// This is what lets a consumer (the unpacker) act on a layer as it streams and still never
/// accept a layer that was not the one named: the final `read` returning `Ok(0)` is the proof.
/// Failures are `io::ErrorKind::InvalidData` wrapping a [`DigestError`].
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: HashingReader<io::Take<R>>,
    expected: Digest,
    size: u64,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, size: u64) -> Self {
        VerifyingReader {
            // One byte more than allowed, so an over-long source is noticed without reading on.
            inner: HashingReader::new(inner.take(size.saturating_add(1))),
            expected,
            size,
            verified: false,
        }
    }

    /// Whether end-of-file was reached and the content matched.
    pub fn is_verified(&self) -> bool {
        self.verified
    }
}

fn invalid(e: DigestError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() || self.verified {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if self.inner.count() > self.size {
            return Err(invalid(DigestError::TooLong {
                digest: self.expected.clone(),
                expected: self.size,
            }));
        }
        if n == 0 {
            verify(&self.expected, Some(self.size), self.inner.peek()).map_err(invalid)?;
            self.verified = true;
        }
        Ok(n)
    }
}
