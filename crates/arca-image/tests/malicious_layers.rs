//! Layers built to escape the destination. Each test asserts where (or whether) the hostile
//! entry landed inside `dest`, and that the bait directory next to it is byte-for-byte intact.

mod common;

use std::os::unix::fs::{FileTypeExt, MetadataExt};

use arca_image::unpack::Whiteouts;
use common::{header, Layer, Scratch};

#[test]
fn dotdot_and_absolute_names_are_contained() {
    let s = Scratch::new();
    let abs = format!("{}/passwd", s.outside_abs());
    let mut l = Layer::new();
    l.file("../outside/passwd", b"owned", 0o644)
        .file("../../../../../../outside/new", b"owned", 0o644)
        .file(&abs, b"owned", 0o644)
        .file("a/../../b", b"b", 0o644)
        .dir("../../", 0o777);
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    assert_eq!(
        std::fs::read(s.dest.join("outside/passwd")).unwrap(),
        b"owned"
    );
    assert_eq!(std::fs::read(s.dest.join("outside/new")).unwrap(), b"owned");
    assert_eq!(std::fs::read(s.contained("passwd")).unwrap(), b"owned");
    assert_eq!(std::fs::read(s.dest.join("b")).unwrap(), b"b");
    // `../../` names the destination itself and is ignored, not chmodded.
    assert_ne!(std::fs::metadata(&s.dest).unwrap().mode() & 0o777, 0o777);
    s.assert_outside_untouched();
}

#[test]
fn write_through_symlink_stays_inside() {
    write_through_symlink(false);
}

/// The same with files written in place rather than as objects (`rootfs::build`'s path).
#[test]
fn write_through_symlink_stays_inside_without_objects() {
    write_through_symlink(true);
}

fn write_through_symlink(plain: bool) {
    let s = Scratch::new();
    let mut l = Layer::new();
    l.symlink("abs", &s.outside_abs())
        .symlink("rel", "../outside")
        .symlink("deep", "../../../../../../../..")
        .symlink("chain", "rel/dir")
        .file("abs/passwd", b"owned", 0o644)
        .file("rel/passwd", b"owned", 0o644)
        .file(
            &format!("deep{}/dir/keep", s.outside_abs()),
            b"owned",
            0o644,
        )
        .file("chain/keep", b"owned", 0o644)
        .dir("rel/dir/sub", 0o777);
    if plain {
        s.unpack_plain(&l.finish(), Whiteouts::Apply).unwrap();
    } else {
        s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    }
    // Absolute symlinks resolve inside dest (RESOLVE_IN_ROOT), `..` stops at dest.
    assert_eq!(std::fs::read(s.contained("passwd")).unwrap(), b"owned");
    assert_eq!(std::fs::read(s.contained("dir/keep")).unwrap(), b"owned");
    assert_eq!(
        std::fs::read(s.dest.join("outside/passwd")).unwrap(),
        b"owned"
    );
    assert_eq!(
        std::fs::read(s.dest.join("outside/dir/keep")).unwrap(),
        b"owned"
    );
    assert!(s.dest.join("outside/dir/sub").is_dir());
    // The symlinks themselves are stored verbatim.
    assert_eq!(
        std::fs::read_link(s.dest.join("rel")).unwrap().to_str(),
        Some("../outside")
    );
    s.assert_outside_untouched();
}

#[test]
fn hardlink_to_outside_is_refused() {
    for i in 0..3 {
        let s = Scratch::new();
        let target = match i {
            0 => format!("{}/passwd", s.outside_abs()),
            1 => "../outside/passwd".to_owned(),
            _ => "../../../../../etc/shadow".to_owned(),
        };
        let mut l = Layer::new();
        l.hardlink("link", &target);
        let err = s.unpack(&l.finish(), Whiteouts::Apply).unwrap_err();
        assert!(err.to_string().contains("link"), "{err}");
        assert!(!s.dest.join("link").exists());
        assert_eq!(
            std::fs::metadata(s.outside.join("passwd")).unwrap().nlink(),
            1
        );
        s.assert_outside_untouched();
    }
}

#[test]
fn hardlink_through_symlink_resolves_inside() {
    let s = Scratch::new();
    let mut l = Layer::new();
    l.symlink("abs", &s.outside_abs())
        .hardlink("link", "abs/passwd");
    // Nothing at dest/<outside>/passwd: refused.
    assert!(s.unpack(&l.finish(), Whiteouts::Apply).is_err());
    assert_eq!(
        std::fs::metadata(s.outside.join("passwd")).unwrap().nlink(),
        1
    );

    // With a file there, the link is to that file, inside dest.
    let s = Scratch::new();
    let mut l = Layer::new();
    l.file(&format!("{}/passwd", s.outside_abs()), b"inner", 0o644)
        .symlink("abs", &s.outside_abs())
        .hardlink("link", "abs/passwd")
        .symlink("sym", "/etc/passwd")
        .hardlink("link-to-sym", "sym");
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    let a = std::fs::metadata(s.dest.join("link")).unwrap();
    let b = std::fs::metadata(s.contained("passwd")).unwrap();
    assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()));
    // A hardlink to a symlink links the symlink itself, not what it points to.
    let ls = std::fs::symlink_metadata(s.dest.join("link-to-sym")).unwrap();
    assert!(ls.file_type().is_symlink());
    s.assert_outside_untouched();
}

/// CVE-2021-32760: a symlink, then a directory entry of the same name whose chmod/chown/utimes
/// used to go through the symlink.
#[test]
fn metadata_never_applied_through_symlink() {
    let s = Scratch::new();
    let mut l = Layer::new();
    l.symlink("d", &s.outside_abs())
        .symlink("e", "../outside")
        .symlink("f", "../outside/passwd");
    let mut h = header(tar::EntryType::Directory, 0o777, 0);
    h.set_uid(1234);
    h.set_gid(1234);
    h.set_mtime(1);
    l.raw(h.clone(), "d", None, &[]).raw(h, "e", None, &[]);
    let mut fh = header(tar::EntryType::Regular, 0o4777, 5);
    fh.set_uid(1234);
    l.raw(fh, "f", None, b"owned");
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    for d in ["d", "e"] {
        let md = std::fs::symlink_metadata(s.dest.join(d)).unwrap();
        assert!(md.is_dir(), "{d} replaced by a real directory");
        assert_eq!((md.mode() & 0o7777, md.uid(), md.mtime()), (0o777, 1234, 1));
    }
    assert_eq!(std::fs::read(s.dest.join("f")).unwrap(), b"owned");
    s.assert_outside_untouched();
}

#[test]
fn whiteouts_cannot_reach_outside() {
    for mode in [Whiteouts::Apply, Whiteouts::Overlay] {
        let s = Scratch::new();
        std::fs::write(s.dest.join("passwd"), b"lower").unwrap();
        let mut l = Layer::new();
        l.symlink("abs", &s.outside_abs())
            .symlink("rel", "../outside")
            .file("../.wh.passwd", &[], 0o644)
            .file("abs/.wh.passwd", &[], 0o644)
            .file("rel/.wh.passwd", &[], 0o644)
            .file("rel/.wh.dir", &[], 0o644)
            .file("abs/.wh..wh..opq", &[], 0o644)
            .file("rel/.wh..wh..opq", &[], 0o644)
            .file("x/.wh..", &[], 0o644)
            .file(".wh.rel", &[], 0o644);
        s.unpack(&l.finish(), mode).unwrap();
        let p = std::fs::symlink_metadata(s.dest.join("passwd"));
        match mode {
            // `../.wh.passwd` is contained to `.wh.passwd` at the top of dest.
            Whiteouts::Apply => assert!(p.is_err()),
            Whiteouts::Overlay => {
                let p = p.unwrap();
                assert!(p.file_type().is_char_device());
                assert_eq!(p.rdev(), 0);
            }
        }
        // `.wh..` whiteouts nothing; `x` (its parent) survives.
        assert!(s.dest.join("x").is_dir());
        s.assert_outside_untouched();
    }
}

/// tar-rs CVE-2021-38511's sibling TARmageddon (CVE-2025-62518): a PAX size that disagrees
/// with the ustar size must not let file content be parsed as headers. The smuggled archive
/// hides a header for `smuggled` inside the content of `a`.
#[test]
fn pax_size_confusion_does_not_smuggle_entries() {
    let mut inner = Layer::new();
    inner.file("smuggled", b"evil", 0o644);
    let mut hidden = inner.finish();
    hidden.truncate(1024); // header + one data block, no end marker
    let size = hidden.len().to_string();

    for (pax_size, ustar_size) in [(size.as_str(), 0u64), (size.as_str(), 7)] {
        let s = Scratch::new();
        let mut l = Layer::new();
        l.pax(&[("size", pax_size.as_bytes())]);
        let mut h = header(tar::EntryType::Regular, 0o644, ustar_size);
        common::set_raw_name(&mut h, "a");
        h.set_cksum();
        // Write header and body by hand: the Builder would pad the body to the ustar size.
        let b = l.builder();
        b.get_mut().extend_from_slice(h.as_bytes());
        b.get_mut().extend_from_slice(&hidden);
        l.file("after", b"ok", 0o644);
        let bytes = l.finish();
        s.unpack(&bytes, Whiteouts::Apply).unwrap();
        assert!(
            !s.dest.join("smuggled").exists(),
            "content parsed as a header"
        );
        assert_eq!(std::fs::read(s.dest.join("a")).unwrap(), hidden);
        assert_eq!(std::fs::read(s.dest.join("after")).unwrap(), b"ok");
        // GNU tar, which we did not write, agrees on the entries.
        if let Some(listing) = gnu_tar_list(&s, &bytes) {
            assert_eq!(listing, ["a", "after"]);
        }
        s.assert_outside_untouched();
    }
}

fn gnu_tar_list(s: &Scratch, bytes: &[u8]) -> Option<Vec<String>> {
    let f = s.tmp.path().join("../list.tar");
    std::fs::write(&f, bytes).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&f)
        .output()
        .ok()?;
    std::fs::remove_file(&f).unwrap();
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn huge_declared_size_is_an_error_not_an_allocation() {
    let s = Scratch::new();
    let mut h = header(tar::EntryType::Regular, 0o644, 0);
    h.set_size(1 << 40);
    common::set_raw_name(&mut h, "huge");
    h.set_cksum();
    let mut bytes = h.as_bytes().to_vec();
    bytes.extend_from_slice(&[b'x'; 4096]);
    let err = s.unpack(&bytes, Whiteouts::Apply).unwrap_err();
    assert!(err.to_string().contains("huge"), "{err}");
    // Written in place, the file stops where the stream did; as an object, it never gets a
    // name in the tree.
    let len = std::fs::metadata(s.dest.join("huge")).map_or(0, |m| m.len());
    assert!(len <= 4096, "{len}");
    s.assert_outside_untouched();
}

/// Runs the unprivileged half in a child of this test binary under `setpriv`, since the test
/// itself runs as root.
#[test]
fn devices_are_skipped_when_not_permitted() {
    if let Ok(dir) = std::env::var("ARCA_UNPACK_CHILD_DEST") {
        let mut l = Layer::new();
        let mut h = header(tar::EntryType::Char, 0o666, 0);
        h.set_device_major(1).unwrap();
        h.set_device_minor(3).unwrap();
        l.raw(h, "null", None, &[]);
        l.raw(header(tar::EntryType::Fifo, 0o600, 0), "fifo", None, &[]);
        l.file("file", b"x", 0o644);
        let opts = arca_image::unpack::UnpackOptions {
            whiteouts: Whiteouts::Apply,
            preserve_owner: false,
            objects: None,
            lowers: Vec::new(),
        };
        arca_image::unpack::unpack(&l.finish()[..], std::path::Path::new(&dir), &opts).unwrap();
        return;
    }
    if !std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("setpriv missing: skipped");
        return;
    }
    let s = Scratch::new();
    std::fs::set_permissions(
        s.tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    rustix::fs::chown(
        &s.dest,
        Some(rustix::fs::Uid::from_raw(65534)),
        Some(rustix::fs::Gid::from_raw(65534)),
    )
    .unwrap();
    let status = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
        ])
        .arg(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "devices_are_skipped_when_not_permitted",
            "--test-threads=1",
        ])
        .env("ARCA_UNPACK_CHILD_DEST", &s.dest)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(!s.dest.join("null").exists());
    assert!(std::fs::symlink_metadata(s.dest.join("fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(std::fs::read(s.dest.join("file")).unwrap(), b"x");
    s.assert_outside_untouched();
}
