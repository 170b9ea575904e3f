//! What a well-formed layer becomes: every entry type with its attributes, whiteouts in both
//! modes across two layers, stream draining, and a comparison with umoci's own unpack.

mod common;

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use arca_image::unpack::Whiteouts;
use common::{header, snapshot, umoci, Layer, Scratch};

fn dev(l: &mut Layer, ty: tar::EntryType, name: &str, major: u32, minor: u32) {
    let mut h = header(ty, 0o640, 0);
    h.set_device_major(major).unwrap();
    h.set_device_minor(minor).unwrap();
    h.set_uid(7);
    h.set_gid(8);
    l.raw(h, name, None, &[]);
}

#[test]
fn every_entry_type_with_attributes() {
    let s = Scratch::new();
    let mut l = Layer::new();
    // A read-only directory listed before its children still receives them.
    l.dir("ro", 0o555).file("ro/inner", b"inner", 0o644);
    l.dir("tmp", 0o1777);
    let mut h = header(tar::EntryType::Regular, 0o4755, 3);
    h.set_uid(1000);
    h.set_gid(1001);
    h.set_mtime(1_234_567_890);
    l.raw(h, "bin/su", None, b"su!");
    let mut h = header(tar::EntryType::Regular, 0o2755, 1);
    h.set_gid(42);
    l.raw(h, "bin/sg", None, b"g");
    // user.* and security.capability (cap_net_bind_service=ep, v2) from PAX records.
    let cap: &[u8] = &[0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    l.pax(&[
        ("SCHILY.xattr.user.note", b"hello"),
        ("SCHILY.xattr.security.capability", cap),
    ]);
    let mut h = header(tar::EntryType::Regular, 0o755, 4);
    h.set_uid(5);
    l.raw(h, "bin/ping", None, b"ping");
    let mut h = header(tar::EntryType::Symlink, 0o777, 0);
    h.set_mtime(1_000_000);
    h.set_uid(9);
    l.raw(h, "bin/sh", Some("/bin/busybox"), &[]);
    l.hardlink("bin/su-again", "bin/su");
    dev(&mut l, tar::EntryType::Char, "dev/null", 1, 3);
    dev(&mut l, tar::EntryType::Block, "dev/loop0", 7, 0);
    dev(&mut l, tar::EntryType::Fifo, "dev/fifo", 0, 0);
    let mut h = header(tar::EntryType::Directory, 0o750, 0);
    h.set_mtime(1_111_111_111);
    h.set_uid(3);
    l.raw(h, "bin", None, &[]);
    // A long name goes through a GNU long-name record.
    let long = format!("deep/{}/f", "x".repeat(200));
    let mut h = header(tar::EntryType::Regular, 0o600, 4);
    l.builder()
        .append_data(&mut h, &long, &b"long"[..])
        .unwrap();
    let bytes = l.finish();

    let stats = s.unpack(&bytes, Whiteouts::Apply).unwrap();
    assert_eq!(stats.entries, 13);
    assert_eq!(stats.bytes, 5 + 3 + 1 + 4 + 4);
    let t = snapshot(&s.dest);
    let n = |p: &str| t.get(Path::new(p)).unwrap_or_else(|| panic!("{p} missing"));
    assert_eq!((n("ro").kind, n("ro").mode), ("dir", 0o555));
    assert_eq!(n("ro/inner").content.as_deref(), Some(&b"inner"[..]));
    assert_eq!(n("tmp").mode, 0o1777);
    let su = n("bin/su");
    assert_eq!(
        (su.mode, su.uid, su.gid, su.mtime),
        (0o4755, 1000, 1001, 1_234_567_890)
    );
    assert_eq!((n("bin/sg").mode, n("bin/sg").gid), (0o2755, 42));
    let ping = n("bin/ping");
    assert_eq!(ping.uid, 5);
    assert_eq!(
        ping.xattrs.get("user.note").map(Vec::as_slice),
        Some(&b"hello"[..])
    );
    assert_eq!(
        ping.xattrs.get("security.capability").map(Vec::as_slice),
        Some(cap)
    );
    let sh = n("bin/sh");
    assert_eq!(
        (sh.kind, sh.link.as_deref(), sh.mtime, sh.uid),
        ("symlink", Some(Path::new("/bin/busybox")), 1_000_000, 9)
    );
    assert_eq!(
        n("bin/su-again").hardlink_group.as_deref(),
        Some(Path::new("bin/su"))
    );
    assert_eq!(
        n("bin/su").hardlink_group.as_deref(),
        Some(Path::new("bin/su"))
    );
    let null = n("dev/null");
    assert_eq!(
        (null.kind, null.rdev, null.mode, null.uid, null.gid),
        ("char", rustix::fs::makedev(1, 3), 0o640, 7, 8)
    );
    assert_eq!(
        (n("dev/loop0").kind, n("dev/loop0").rdev),
        ("block", rustix::fs::makedev(7, 0))
    );
    assert_eq!(n("dev/fifo").kind, "fifo");
    // Directory attributes land after the children, so the mtime is the header's.
    let bin = n("bin");
    assert_eq!((bin.mode, bin.uid, bin.mtime), (0o750, 3, 1_111_111_111));
    assert_eq!(n(&long).content.as_deref(), Some(&b"long"[..]));
    s.assert_outside_untouched();
}

fn lower() -> Vec<u8> {
    let mut l = Layer::new();
    l.file("a/x", b"x", 0o644)
        .file("a/y", b"y", 0o644)
        .file("b/z", b"z", 0o644)
        .file("c/old", b"old", 0o644)
        .file("d/sub/old", b"old", 0o644)
        .file("d/keep-not", b"k", 0o644)
        .symlink("link", "/a")
        .file("gone-dir/f", b"f", 0o644);
    l.finish()
}

fn upper() -> Vec<u8> {
    let mut l = Layer::new();
    l.file("a/.wh.x", &[], 0o644)
        .file(".wh.b", &[], 0o644)
        // Same-layer content before the opaque marker survives it; lower content does not.
        .file("c/new", b"new", 0o644)
        .file("c/.wh..wh..opq", &[], 0o644)
        .dir("d", 0o755)
        .dir("d/sub", 0o755)
        .file("d/sub/new", b"new", 0o644)
        .file("d/.wh..wh..opq", &[], 0o644)
        .file(".wh.link", &[], 0o644)
        .file(".wh.gone-dir", &[], 0o644)
        // A whiteout hides only lower layers: this layer's own `e` stays.
        .file("e", b"e", 0o644)
        .file(".wh.e", &[], 0o644);
    l.finish()
}

#[test]
fn whiteouts_apply_across_two_layers() {
    let s = Scratch::new();
    s.unpack(&lower(), Whiteouts::Apply).unwrap();
    s.unpack(&upper(), Whiteouts::Apply).unwrap();
    let t = snapshot(&s.dest);
    let paths: Vec<_> = t.keys().map(|p| p.to_str().unwrap()).collect();
    assert_eq!(
        paths,
        ["a", "a/y", "c", "c/new", "d", "d/sub", "d/sub/new", "e"]
    );
    s.assert_outside_untouched();
}

#[test]
fn whiteouts_overlay_become_char_devices_and_xattrs() {
    let s = Scratch::new();
    s.unpack(&upper(), Whiteouts::Overlay).unwrap();
    for w in ["a/x", "b", "link", "gone-dir"] {
        let md = std::fs::symlink_metadata(s.dest.join(w)).unwrap();
        assert!(md.file_type().is_char_device() && md.rdev() == 0, "{w}");
    }
    for d in ["c", "d"] {
        let x = common::xattrs(&s.dest.join(d));
        assert_eq!(
            x.get("trusted.overlay.opaque").map(Vec::as_slice),
            Some(&b"y"[..]),
            "{d}"
        );
    }
    assert!(s.dest.join("c/new").is_file() && s.dest.join("d/sub/new").is_file());
    s.assert_outside_untouched();
}

#[test]
fn later_layer_replaces_across_types() {
    let s = Scratch::new();
    let mut l = Layer::new();
    l.file("x/child", b"c", 0o644)
        .file("y", b"y", 0o644)
        .symlink("z", "/y");
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    let mut l = Layer::new();
    l.file("x", b"now a file", 0o644)
        .dir("y", 0o700)
        .file("z", b"z", 0o600)
        .dir("x2", 0o755);
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    assert_eq!(std::fs::read(s.dest.join("x")).unwrap(), b"now a file");
    assert!(s.dest.join("y").is_dir());
    assert!(std::fs::symlink_metadata(s.dest.join("z"))
        .unwrap()
        .is_file());
    assert_eq!(std::fs::read(s.dest.join("y/../z")).unwrap(), b"z");
    s.assert_outside_untouched();
}

/// Counts what the unpacker reads.
struct Counting<'a>(&'a [u8], usize);
impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        self.1 += n;
        Ok(n)
    }
}

#[test]
fn reads_the_stream_to_its_end() {
    let s = Scratch::new();
    let mut bytes = lower();
    bytes.extend_from_slice(&[0u8; 10240]); // record padding after the end marker
    let mut r = Counting(&bytes, 0);
    arca_image::unpack::unpack(
        &mut r,
        &s.dest,
        &arca_image::unpack::UnpackOptions {
            whiteouts: Whiteouts::Apply,
            preserve_owner: true,
            objects: None,
            lowers: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(r.1, bytes.len());
}

/// umoci (which we did not write) builds a layer from a tree with every kind of file; our
/// unpack of that layer must match umoci's unpack of it.
#[test]
fn matches_umoci() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    assert!(umoci(&["init", "--layout", "L"], w));
    assert!(umoci(&["new", "--image", "L:t"], w));
    assert!(umoci(&["unpack", "--image", "L:t", "bundle"], w));
    let r = w.join("bundle/rootfs");
    let sh = |cmd: &str| {
        let st = std::process::Command::new("sh")
            .arg("-ec")
            .arg(cmd)
            .current_dir(&r)
            .status()
            .unwrap();
        assert!(st.success(), "{cmd}");
    };
    sh("mkdir -p usr/bin etc/ro dev var/empty && echo hi > usr/bin/tool && chmod 4755 usr/bin/tool \
        && chown 1000:1001 usr/bin/tool && ln usr/bin/tool usr/bin/tool2 && ln -s /usr/bin/tool bin-link \
        && ln -s ../etc rel-link && mknod dev/null c 1 3 && mknod dev/sda b 8 0 && mkfifo dev/fifo \
        && chmod 640 dev/null && chown 5:6 dev/fifo && echo conf > etc/ro/conf && chmod 555 etc/ro \
        && chmod 1777 var/empty && chmod 2711 usr/bin && touch -h -d @1000000 bin-link \
        && touch -d @1500000000 usr/bin/tool && head -c 300000 /dev/urandom > big");
    rustix::fs::setxattr(
        r.join("usr/bin/tool"),
        "user.k",
        b"v",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    let cap: &[u8] = &[0, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    std::fs::write(r.join("ping"), b"p").unwrap();
    rustix::fs::setxattr(
        r.join("ping"),
        "security.capability",
        cap,
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    assert!(umoci(&["repack", "--image", "L:t", "bundle"], w));
    assert!(umoci(&["unpack", "--image", "L:t", "theirs"], w));

    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |d: &str| {
        w.join("L/blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index = json(&w.join("L/index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let layers = manifest["layers"].as_array().unwrap();
    let ours = w.join("ours");
    std::fs::create_dir(&ours).unwrap();
    for layer in layers {
        let f = std::fs::File::open(blob(layer["digest"].as_str().unwrap())).unwrap();
        arca_image::unpack::unpack(
            flate2::read::GzDecoder::new(f),
            &ours,
            &arca_image::unpack::UnpackOptions {
                whiteouts: Whiteouts::Apply,
                preserve_owner: true,
                objects: None,
                lowers: Vec::new(),
            },
        )
        .unwrap();
    }
    let theirs = snapshot(&w.join("theirs/rootfs"));
    let mine = snapshot(&ours);
    assert!(theirs.len() > 15, "{theirs:#?}");
    for (p, n) in &theirs {
        let m = mine
            .get(p)
            .unwrap_or_else(|| panic!("{} missing from ours", p.display()));
        assert_eq!(m, n, "{}", p.display());
    }
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
}

/// A layer that deletes and adds files in a directory it carries no entry for leaves that
/// directory's times as the lower layer set them (builders omit a directory whose times did
/// not change), not at the time of the unpack.
#[test]
fn directory_without_an_entry_keeps_the_lower_layers_times() {
    let s = Scratch::new();
    let mut l = Layer::new();
    l.dir("d", 0o755)
        .file("d/a", b"a", 0o644)
        .file("d/keep", b"k", 0o644);
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    let mtime = |p: &str| std::fs::symlink_metadata(s.dest.join(p)).unwrap().mtime();
    assert_eq!(mtime("d"), 1_600_000_000);
    let mut l = Layer::new();
    l.file("d/.wh.a", b"", 0o644).file("d/b", b"b", 0o644);
    s.unpack(&l.finish(), Whiteouts::Apply).unwrap();
    assert!(!s.dest.join("d/a").exists() && s.dest.join("d/b").exists());
    assert_eq!(mtime("d"), 1_600_000_000);
    s.assert_outside_untouched();
}
