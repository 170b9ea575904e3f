//! The snapshotter suite: every test runs once per driver (overlay and copy), as containerd
//! runs one suite over all its snapshotters. What a container sees through a mounted snapshot
//! must equal `umoci unpack` of the same image; containers must not see each other's writes
//! nor change the committed layers; equal files are stored once; a failed unpack commits
//! nothing; concurrent unpacks of one image agree; collection keeps what is in use.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use arca_image::digest::Digest;
use arca_image::layout::{Image, Layout};
use arca_image::snapshot::{self, Driver, SnapshotError, Snapshots, Unpacked};
use arca_image::store::Store;
use common::{amd64, sh, snapshot, umoci, Tree};

/// Runs the test body once per driver, each in its own temporary root.
macro_rules! each_driver {
    ($($name:ident($w:ident, $snaps:ident) $body:block)*) => {$(
        mod $name {
            use super::*;
            fn run($w: &Path, $snaps: Snapshots) $body
            #[test]
            fn overlay() {
                let tmp = tempfile::tempdir().unwrap();
                let s = Snapshots::open(&tmp.path().join("images"), Some(Driver::Overlay)).unwrap();
                run(tmp.path(), s);
            }
            #[test]
            fn copy() {
                let tmp = tempfile::tempdir().unwrap();
                let s = Snapshots::open(&tmp.path().join("images"), Some(Driver::Copy)).unwrap();
                run(tmp.path(), s);
            }
        }
    )*};
}

/// A snapshot mounted at a directory, unmounted when dropped (also when the test fails).
struct Mounted(PathBuf);

impl Mounted {
    fn new(snaps: &Snapshots, key: &str, at: &Path) -> Mounted {
        fs::create_dir_all(at).unwrap();
        snaps.mount(key, at).unwrap();
        Mounted(at.to_owned())
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = snapshot::unmount(&self.0);
    }
}

/// The image `<w>/L:v1` in a store under `w`, unpacked into `snaps`.
fn unpacked(w: &Path, snaps: &Snapshots) -> (Store, Image, Vec<Digest>) {
    let layout = Layout::open(w.join("L")).unwrap();
    let image = layout.image(Some("v1"), &amd64()).unwrap();
    let store = Store::open(w.join("images")).unwrap();
    layout.import_into(&store, &image).unwrap();
    let (chain, stats) = snaps.unpack_image(&store, &image, None).unwrap();
    assert!(stats.iter().all(Option::is_some), "{stats:?}");
    (store, image, chain)
}

/// File-level dedup links every file to its object, so each has at least two links; only
/// links within the tree are the image's own hardlinks.
fn own_hardlinks_only(mut tree: Tree) -> Tree {
    let mut groups: std::collections::HashMap<PathBuf, usize> = Default::default();
    for n in tree.values() {
        if let Some(g) = &n.hardlink_group {
            *groups.entry(g.clone()).or_default() += 1;
        }
    }
    for n in tree.values_mut() {
        if n.hardlink_group.as_ref().is_some_and(|g| groups[g] < 2) {
            n.hardlink_group = None;
        }
    }
    tree
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

each_driver! {
    container_sees_what_umoci_unpacks(w, snaps) {
        common::umoci_two_layers(w);
        let (_store, _image, chain) = unpacked(w, &snaps);
        snaps.prepare("c1", &chain).unwrap();
        let m = Mounted::new(&snaps, "c1", &w.join("merged"));
        let theirs = snapshot(&w.join("theirs/rootfs"));
        let ours = own_hardlinks_only(snapshot(&m.0));
        assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
        for (path, node) in &theirs {
            assert_eq!(&ours[path], node, "{}", path.display());
        }
        drop(m);
        snaps.remove("c1").unwrap();
        assert!(snaps.list_active().unwrap().is_empty());
    }

    containers_do_not_share_writes(w, snaps) {
        common::umoci_two_layers(w);
        let (_store, _image, chain) = unpacked(w, &snaps);
        let before: Vec<Tree> = chain.iter().map(|c| snapshot(&snaps.path(c))).collect();
        snaps.prepare("a", &chain).unwrap();
        snaps.prepare("b", &chain).unwrap();
        let a = Mounted::new(&snaps, "a", &w.join("a"));
        let b = Mounted::new(&snaps, "b", &w.join("b-root"));
        // Write in place, append, delete, make new, chmod: all in a's view only.
        sh(&a.0, "echo changed > etc/app/b && echo more >> usr/bin/tool && rm var/cache/x/n \
                  && echo mine > new-file && chmod 600 link/f");
        assert_eq!(fs::read_to_string(a.0.join("etc/app/b")).unwrap(), "changed\n");
        assert_eq!(fs::read_to_string(b.0.join("etc/app/b")).unwrap(), "two\n");
        assert_eq!(fs::read_to_string(b.0.join("usr/bin/tool")).unwrap(), "t\n");
        assert!(b.0.join("var/cache/x/n").exists());
        assert!(!b.0.join("new-file").exists());
        assert_eq!(fs::metadata(b.0.join("link/f")).unwrap().mode() & 0o777, 0o644);
        // The committed layers (and so the objects they link) are as unpacked.
        let after: Vec<Tree> = chain.iter().map(|c| snapshot(&snaps.path(c))).collect();
        assert_eq!(before, after);
        drop((a, b));
        snaps.remove("a").unwrap();
        snaps.remove("b").unwrap();
    }

    equal_files_are_stored_once(w, snaps) {
        // Two images that share nothing but equal files (same content, owner, mode, mtime),
        // as two debootstraps of the same packages do; and one file equal in content only.
        for (tag, extra) in [("v1", "one"), ("v2", "two")] {
            let l = w.join(tag);
            fs::create_dir_all(&l).unwrap();
            umoci(&["init", "--layout", "L"], &l);
            umoci(&["new", "--image", &format!("L:{tag}")], &l);
            umoci(&["unpack", "--image", &format!("L:{tag}"), "b"], &l);
            sh(&l.join("b/rootfs"), &format!(
                "mkdir -p usr/lib && head -c 300000 /dev/zero | tr '\\0' x > usr/lib/big \
                 && touch -d @1700000000 usr/lib/big && echo {extra} > only-{extra} \
                 && head -c 1000 /dev/zero | tr '\\0' y > same-content \
                 && chmod {} same-content", if tag == "v1" { "644" } else { "600" }));
            umoci(&["repack", "--image", &format!("L:{tag}"), "b"], &l);
        }
        let store = Store::open(w.join("images")).unwrap();
        let mut chains = Vec::new();
        for tag in ["v1", "v2"] {
            let layout = Layout::open(w.join(tag).join("L")).unwrap();
            let image = layout.image(Some(tag), &amd64()).unwrap();
            layout.import_into(&store, &image).unwrap();
            chains.push(snaps.unpack_image(&store, &image, None).unwrap().0);
        }
        let top = |i: usize| snaps.path(chains[i].last().unwrap());
        let ino = |p: PathBuf| fs::metadata(p).unwrap().ino();
        assert_eq!(ino(top(0).join("usr/lib/big")), ino(top(1).join("usr/lib/big")));
        assert_ne!(ino(top(0).join("same-content")), ino(top(1).join("same-content")));
        let usage = snaps.objects().usage().unwrap();
        // big once, same-content twice (modes differ), only-one, only-two.
        assert_eq!(usage.objects, 5, "{usage:?}");
        assert_eq!(usage.bytes, 300_000 + 2 * 1000 + 4 + 4, "{usage:?}");
        assert_eq!(usage.unreferenced, 0);
    }

    whiteout_of_a_file_equal_to_a_new_one(w, snaps) {
        // The second layer deletes z/x and adds a/y, equal to z/x in every attribute, so the
        // two share an object: the whiteout must still remove z/x.
        umoci(&["init", "--layout", "L"], w);
        umoci(&["new", "--image", "L:v1"], w);
        umoci(&["unpack", "--image", "L:v1", "b"], w);
        let r = w.join("b/rootfs");
        // `a/y` sorts before `z/.wh.x`: the new file is written first, then the whiteout.
        sh(&r, "mkdir a z && echo same > z/x && touch -d @1600000000 z/x");
        umoci(&["repack", "--refresh-bundle", "--image", "L:v1", "b"], w);
        sh(&r, "rm z/x && echo same > a/y && touch -d @1600000000 a/y");
        umoci(&["repack", "--image", "L:v1", "b"], w);
        let (_store, _image, chain) = unpacked(w, &snaps);
        snaps.prepare("c", &chain).unwrap();
        let m = Mounted::new(&snaps, "c", &w.join("m"));
        assert!(!m.0.join("z/x").exists(), "whited-out file still visible");
        assert_eq!(fs::read_to_string(m.0.join("a/y")).unwrap(), "same\n");
        drop(m);
        snaps.remove("c").unwrap();
    }

    shared_base_is_unpacked_once(w, snaps) {
        common::umoci_two_layers(w);
        let (store, image, chain) = unpacked(w, &snaps);
        // The same image again, as a second pull would: nothing to unpack.
        let (again, stats) = snaps.unpack_image(&store, &image, None).unwrap();
        assert_eq!(again, chain);
        assert!(stats.iter().all(Option::is_none), "{stats:?}");
        // Directly, too: an existing chain is reported present, not rebuilt.
        let blob = store.open_blob(&image.layers[0].digest).unwrap();
        let r = snaps.unpack_layer(None, &chain[0], &image.layers[0], blob).unwrap();
        assert_eq!(r, Unpacked::Present);
        assert_eq!(snaps.list().unwrap().len(), 2);
    }

    failed_unpack_commits_nothing(w, snaps) {
        let mut l = common::Layer::new();
        l.dir("etc", 0o755).file("etc/hostname", b"arca\n", 0o644);
        let wrong = Digest::sha256_of(b"another layer");
        common::layout_with_diff_id(&w.join("L"), &l.finish(), Some(&wrong));
        let layout = Layout::open(w.join("L")).unwrap();
        let image = layout.image(Some("t"), &amd64()).unwrap();
        let store = Store::open(w.join("images")).unwrap();
        layout.import_into(&store, &image).unwrap();
        let err = snaps.unpack_image(&store, &image, None).unwrap_err();
        assert!(matches!(err, SnapshotError::Layer(_)), "{err}");
        assert!(err.to_string().contains(&wrong.to_string()), "{err}");
        assert!(snaps.list().unwrap().is_empty());
        let committed = snaps.path(&wrong).parent().unwrap().parent().unwrap().to_owned();
        assert_eq!(names(&committed), Vec::<String>::new(), "staging left behind");
        // The objects it wrote are linked by nothing: the next collection removes them.
        assert!(snaps.objects().usage().unwrap().unreferenced > 0);
        snaps.collect(&HashSet::new()).unwrap();
        assert_eq!(snaps.objects().usage().unwrap().objects, 0);
    }

    concurrent_unpacks_agree(w, snaps) {
        common::umoci_two_layers(w);
        let layout = Layout::open(w.join("L")).unwrap();
        let image = layout.image(Some("v1"), &amd64()).unwrap();
        let store = Store::open(w.join("images")).unwrap();
        layout.import_into(&store, &image).unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..4)
                .map(|_| s.spawn(|| snaps.unpack_image(&store, &image, None).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let chains: Vec<Vec<Digest>> = results.iter().map(|r| r.0.clone()).collect();
        assert!(chains.windows(2).all(|p| p[0] == p[1]));
        // Each layer unpacked by exactly one of them; the others waited and found it.
        for layer in 0..image.layers.len() {
            let did = results.iter().filter(|r| r.1[layer].is_some()).count();
            assert_eq!(did, 1, "layer {layer} unpacked {did} times");
        }
        let committed = snaps.path(&chains[0][0]).parent().unwrap().parent().unwrap().to_owned();
        let mut want: Vec<String> = chains[0].iter().map(|c| c.hex().to_owned()).collect();
        want.sort();
        // Each committed once, no staging left.
        assert_eq!(names(&committed), want);
        assert_eq!(snaps.objects().usage().unwrap().unreferenced, 0);
    }

    collection_keeps_what_is_used(w, snaps) {
        common::umoci_two_layers(w);
        let (_store, _image, chain) = unpacked(w, &snaps);
        snaps.prepare("in-use", &chain).unwrap();
        // No image root, but a container stands on the chain: everything stays.
        assert!(snaps.collect(&HashSet::new()).unwrap().is_empty());
        assert_eq!(snaps.list().unwrap().len(), 2);
        snaps.remove("in-use").unwrap();
        // Kept as an image's root: stays.
        let keep: HashSet<_> = chain.iter().cloned().collect();
        assert!(snaps.collect(&keep).unwrap().is_empty());
        // Nothing needs it any more: layers and their objects go.
        let removed = snaps.collect(&HashSet::new()).unwrap();
        assert_eq!(removed.len(), 2);
        assert!(snaps.list().unwrap().is_empty());
        assert_eq!(snaps.objects().usage().unwrap().objects, 0);
    }
}

#[test]
fn a_store_keeps_its_driver() {
    let tmp = tempfile::tempdir().unwrap();
    let images = tmp.path().join("images");
    Snapshots::open(&images, Some(Driver::Copy)).unwrap();
    assert_eq!(
        Snapshots::open(&images, None).unwrap().driver(),
        Driver::Copy
    );
    let err = Snapshots::open(&images, Some(Driver::Overlay)).unwrap_err();
    assert!(matches!(err, SnapshotError::DriverMismatch { .. }), "{err}");
    assert!(err.to_string().contains("copy"), "{err}");
}

#[test]
fn bad_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = Snapshots::open(&tmp.path().join("images"), Some(Driver::Overlay)).unwrap();
    for key in ["", "../x", "a/b", ".hidden", &"k".repeat(129)] {
        assert!(
            matches!(s.prepare(key, &[]), Err(SnapshotError::BadKey(_))),
            "{key:?}"
        );
    }
    s.prepare("ok", &[]).unwrap();
    assert!(matches!(
        s.prepare("ok", &[]),
        Err(SnapshotError::KeyExists(_))
    ));
    s.remove("ok").unwrap();
}
