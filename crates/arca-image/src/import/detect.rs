//! From the bytes given to the uncompressed tar: compression told by magic bytes, then the
//! first tar header checked, so that a file that is no tarball is refused by name before a
//! layer is written rather than stored as a "filesystem".

use std::io::{self, Cursor, Read};

use super::ImportError;
use crate::media::{decompress, Compression};

const BLOCK: usize = 512;

/// The uncompressed tar stream of `source`, its first header already checked.
pub(super) fn open_tar<'a>(
    source: impl Read + 'a,
    name: &str,
) -> Result<Box<dyn Read + 'a>, ImportError> {
    let read_err = |source| ImportError::Read {
        name: name.to_owned(),
        source,
    };
    let (head, source) = peek(source, BLOCK).map_err(read_err)?;
    let compression = match head.as_slice() {
        [0x1f, 0x8b, ..] => Compression::Gzip,
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
        [b'B', b'Z', b'h', ..] => return Err(unsupported(name, "bzip2")),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => return Err(unsupported(name, "xz")),
        _ => Compression::None,
    };
    let tar = decompress(compression, source).map_err(read_err)?;
    let (head, tar) = peek(tar, BLOCK).map_err(read_err)?;
    check_header(&head).map_err(|reason| ImportError::NotTar {
        name: name.to_owned(),
        reason,
    })?;
    Ok(tar)
}

fn unsupported(name: &str, compression: &'static str) -> ImportError {
    ImportError::Compression {
        name: name.to_owned(),
        compression,
    }
}

/// Reads up to `n` bytes, and gives them back in front of the rest.
fn peek<'a>(mut r: impl Read + 'a, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read + 'a>)> {
    let mut head = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match r.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head.clone(), Box::new(Cursor::new(head).chain(r))))
}

/// A tar starts with a header whose checksum (the sum of its bytes, the checksum field
/// counted as spaces) is stored in octal at offset 148; an all-zero block is an empty
/// archive's end marker.
fn check_header(head: &[u8]) -> Result<(), String> {
    if head.is_empty() {
        return Err("it is empty".to_owned());
    }
    if head.len() < BLOCK {
        return Err(format!(
            "{} bytes is shorter than one tar header",
            head.len()
        ));
    }
    if head.iter().all(|&b| b == 0) {
        return Ok(());
    }
    let field = &head[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let stored = u32::from_str_radix(text.trim(), 8)
        .map_err(|_| "the first header has no valid checksum".to_owned())?;
    let computed: u32 = head[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    if stored != computed {
        return Err("the first header's checksum does not match its content".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(data: &[u8]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "f", data).unwrap();
        b.into_inner().unwrap()
    }

    fn read_all(r: &mut dyn Read) -> Vec<u8> {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn plain_gzip_and_zstd_give_the_same_tar() {
        let tar = tar_of(b"hello");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(tar.as_slice(), 1).unwrap();
        for input in [tar.clone(), gz, zst] {
            let mut r = open_tar(input.as_slice(), "t").unwrap();
            assert_eq!(read_all(&mut r), tar);
        }
    }

    fn refused(input: &[u8], name: &str) -> String {
        match open_tar(input, name) {
            Ok(_) => panic!("{name} accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn garbage_and_unsupported_are_refused() {
        let err = refused(b"hello, world", "x.tar");
        assert!(err.starts_with("x.tar: not a tar"), "{err}");
        let err = refused(&[7u8; 2048], "y");
        assert!(err.contains("checksum"), "{err}");
        let err = refused(b"BZh91AY&SY", "z.tbz");
        assert!(err.contains("bzip2"), "{err}");
        assert!(open_tar(vec![0u8; 1024].as_slice(), "empty.tar").is_ok());
    }
}
