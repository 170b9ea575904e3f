//! A root filesystem built from an image in the store: the image written by umoci (a tool we did
//! not write) over two layers, the second deleting and replacing files, must unpack to exactly
//! what `umoci unpack` gives; a layer that does not match the config's diff_id, or a blob
//! corrupted in the store, must leave nothing at the destination.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use arca_image::digest::Digest;
use arca_image::layout::Layout;
use arca_image::rootfs::{self, RootfsError};
use arca_image::store::Store;
use common::{amd64, snapshot, Layer};

/// Nothing but `keep` (if given) in `dir`: no half-built tree, no temporary directory.
fn assert_only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, keep, "in {}", dir.display());
}

#[test]
fn two_umoci_layers_unpack_like_umoci() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    common::umoci_two_layers(w);
    let layout = Layout::open(w.join("L")).unwrap();
    let image = layout.image(Some("v1"), &amd64()).unwrap();
    assert_eq!(image.layers.len(), 2);
    let store = Store::open(w.join("store")).unwrap();
    layout.import_into(&store, &image).unwrap();
    fs::create_dir(w.join("rootfs")).unwrap();
    let dest = w.join("rootfs/ours");
    let stats = rootfs::build(&store, &image, &dest, true).unwrap();
    assert!(stats.entries > 5, "{stats:?}");

    let theirs = snapshot(&w.join("theirs/rootfs"));
    let ours = snapshot(&dest);
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (path, node) in &theirs {
        assert_eq!(&ours[path], node, "{}", path.display());
    }
    assert!(!dest.join("etc/app/a").exists());
    assert!(!dest.join("var/cache/x/c").exists());
    assert_eq!(fs::read_to_string(dest.join("link/f")).unwrap(), "in\n");
    assert_only(&w.join("rootfs"), &["ours"]);
}

/// The hand-made one-layer layout of [`common::layout_with_diff_id`], opened.
fn layout_with_diff_id(dir: &Path, tar: &[u8], diff_id: Option<&Digest>) -> Layout {
    common::layout_with_diff_id(dir, tar, diff_id);
    Layout::open(dir).unwrap()
}

fn small_tar() -> Vec<u8> {
    let mut l = Layer::new();
    l.dir("etc", 0o755).file("etc/hostname", b"arca\n", 0o644);
    l.finish()
}

#[test]
fn layer_not_matching_the_config_diff_id_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let wrong = Digest::sha256_of(b"some other layer");
    let layout = layout_with_diff_id(&tmp.path().join("L"), &small_tar(), Some(&wrong));
    let image = layout.image(Some("t"), &amd64()).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    layout.import_into(&store, &image).unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    let err = rootfs::build(&store, &image, &out.join("rootfs"), true).unwrap_err();
    assert!(matches!(err, RootfsError::DiffId { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&wrong.to_string()), "{msg}");
    assert!(msg.contains(&image.layers[0].digest.to_string()), "{msg}");
    assert_only(&out, &[]);
}

#[test]
fn blob_corrupted_in_the_store_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let tar = small_tar();
    let layout = layout_with_diff_id(&tmp.path().join("L"), &tar, None);
    let image = layout.image(Some("t"), &amd64()).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    layout.import_into(&store, &image).unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    // Intact, it unpacks.
    rootfs::build(&store, &image, &out.join("good"), true).unwrap();
    assert_eq!(
        fs::read_to_string(out.join("good/etc/hostname")).unwrap(),
        "arca\n"
    );
    // One byte of a file changed behind the store's back, the blob still valid gzip: only
    // the diff_id check can tell.
    let blob = store.path(&image.layers[0].digest);
    let mut bad = tar.clone();
    let pos = bad.windows(5).position(|w| w == b"arca\n").unwrap();
    bad[pos] = b'X';
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bad).unwrap();
    fs::write(&blob, gz.finish().unwrap()).unwrap();
    assert!(store.verify_blob(&image.layers[0].digest).is_err());
    let err = rootfs::build(&store, &image, &out.join("bad"), true).unwrap_err();
    assert!(matches!(err, RootfsError::DiffId { .. }), "{err}");
    assert_only(&out, &["good"]);
}

#[test]
fn existing_destination_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = layout_with_diff_id(&tmp.path().join("L"), &small_tar(), None);
    let image = layout.image(Some("t"), &amd64()).unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    layout.import_into(&store, &image).unwrap();
    let dest = tmp.path().join("rootfs");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("mine"), "x").unwrap();
    let err = rootfs::build(&store, &image, &dest, true).unwrap_err();
    assert!(matches!(err, RootfsError::Exists(_)), "{err}");
    assert_only(&dest, &["mine"]);
}
