//! Turning a tar entry name into a path that can only name something beneath the destination.
//!
//! Names are *contained*, not refused, as containerd (`filepath.Clean` of `"/" + name`) and
//! umoci do: a leading `/` is dropped and `..` cannot climb above the root, so `/etc/passwd`
//! and `../../etc/passwd` both become `etc/passwd` inside the destination. Refusing would break
//! real images built by tools that write absolute names, and containing is equally safe because
//! the cleaned path is then resolved by file descriptor (`RESOLVE_IN_ROOT`), never joined as a
//! string.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Prefix of a whiteout entry (OCI image spec, "Whiteouts").
pub(super) const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The opaque-directory marker.
pub(super) const OPAQUE: &[u8] = b".wh..wh..opq";
/// Prefix of aufs metadata (`.wh..wh.plnk`, `.wh..wh.aufs`): never content, skipped as Docker does.
pub(super) const META_PREFIX: &[u8] = b".wh..wh.";

/// Lexically cleans a tar name: only `Normal` components remain; `..` at the top is dropped.
/// The empty result means the destination itself.
pub(super) fn clean(name: &[u8]) -> PathBuf {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    let mut out = PathBuf::new();
    for p in parts {
        out.push(OsStr::from_bytes(p));
    }
    out
}

/// What an entry's final name says about it, before its tar type is considered.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Kind<'a> {
    /// An ordinary name.
    Plain,
    /// `.wh..wh..opq`: the parent directory is opaque.
    Opaque,
    /// `.wh.<name>`: `<name>` in the parent is deleted.
    Whiteout(&'a OsStr),
    /// Other `.wh..wh.` metadata, or a whiteout naming nothing (`.wh.`, `.wh..`).
    Ignored,
}

pub(super) fn classify(name: &OsStr) -> Kind<'_> {
    let b = name.as_bytes();
    if b == OPAQUE {
        Kind::Opaque
    } else if b.starts_with(META_PREFIX) {
        Kind::Ignored
    } else if let Some(rest) = b.strip_prefix(WHITEOUT_PREFIX) {
        // `.wh..` would otherwise whiteout the parent's parent, `.wh.` the parent itself.
        match rest {
            b"" | b"." | b".." => Kind::Ignored,
            r if r.contains(&b'/') => Kind::Ignored,
            r => Kind::Whiteout(OsStr::from_bytes(r)),
        }
    } else {
        Kind::Plain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn clean_contains_names() {
        assert_eq!(clean(b"/etc/passwd"), Path::new("etc/passwd"));
        assert_eq!(clean(b"../../etc/shadow"), Path::new("etc/shadow"));
        assert_eq!(clean(b"a/../../b"), Path::new("b"));
        assert_eq!(clean(b"./a//b/./c/"), Path::new("a/b/c"));
        assert_eq!(clean(b"./"), Path::new(""));
        assert_eq!(clean(b".."), Path::new(""));
    }

    #[test]
    fn classify_whiteouts() {
        assert_eq!(classify(OsStr::new("x")), Kind::Plain);
        assert_eq!(classify(OsStr::new(".wh..wh..opq")), Kind::Opaque);
        assert_eq!(classify(OsStr::new(".wh..wh.plnk")), Kind::Ignored);
        assert_eq!(
            classify(OsStr::new(".wh.x")),
            Kind::Whiteout(OsStr::new("x"))
        );
        assert_eq!(classify(OsStr::new(".wh.")), Kind::Ignored);
        assert_eq!(classify(OsStr::new(".wh.."),), Kind::Ignored);
    }
}
