//! The streaming pull-and-unpack (`registry::pull_unpack`) against a real registry (Debian's
//! docker-registry, images pushed by skopeo from layouts umoci wrote): the tree must be what
//! `umoci unpack` gives and the store what `registry::pull` leaves; a layer corrupted in the
//! registry or not matching its config's diff_id must leave nothing at the destination, no
//! temporary directory and no unverified blob; a base layer already in the store is unpacked
//! from there without being requested again.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use arca_image::digest::Digest;
use arca_image::layout::{Image, Layout};
use arca_image::reference::Reference;
use arca_image::registry::{pull, pull_unpack, PullError, PullOptions, PullUnpackError};
use arca_image::rootfs::RootfsError;
use arca_image::store::Store;
use common::registry::Registry;
use common::{amd64, layout_with_diff_id, sh, snapshot, umoci, Layer};

fn opts() -> PullOptions {
    PullOptions {
        platform: amd64(),
        ..PullOptions::default()
    }
}

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

/// Layout `L` with `base` (one layer, a few MiB of incompressible data so its body arrives in
/// many chunks through the tee) and `app` (base's layer + one of its own that deletes and
/// replaces files of the base). `etc` gets a new mtime so the layer carries its entry: without
/// one (umoci omits it when the mtime did not change within the second) the whiteout leaves
/// `etc`'s mtime at the time of the unpack, where umoci restores the lower layer's — a
/// difference of the unpacker (rootfs::build has it too), not of the streaming.
fn two_images(w: &Path) -> PathBuf {
    umoci(&["init", "--layout", "L"], w);
    umoci(&["new", "--image", "L:base"], w);
    umoci(&["unpack", "--image", "L:base", "b"], w);
    sh(
        &w.join("b/rootfs"),
        "mkdir -p etc usr/bin var/lib && echo base > etc/os-release && echo t > usr/bin/tool \
         && chmod 4711 usr/bin/tool && ln -s /usr/bin/tool tool-link && echo gone > etc/old \
         && head -c 3000000 /dev/urandom > var/lib/blob && echo x > var/lib/keep",
    );
    umoci(&["repack", "--image", "L:base", "b"], w);
    umoci(&["unpack", "--image", "L:base", "a"], w);
    sh(
        &w.join("a/rootfs"),
        "mkdir -p srv/app && echo app > srv/app/main && chown 7:8 srv/app/main \
         && rm etc/old && echo new > etc/os-release && touch -d @946684800 etc",
    );
    umoci(&["repack", "--image", "L:app", "a"], w);
    w.join("L")
}

fn source(layout: &Path, tag: &str) -> Image {
    Layout::open(layout)
        .unwrap()
        .image(Some(tag), &amd64())
        .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn ingest_entries(store: &Store) -> Vec<String> {
    names(&store.root().join("ingest"))
}

#[test]
fn streams_to_the_same_tree_as_umoci_and_the_same_store_as_pull() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let layout = two_images(w);
    let reg = Registry::start(None);
    reg.push(&layout, "app", "test/img:app", None);
    let reference = r(&format!("{}/test/img:app", reg.host()));

    let store = Store::open(w.join("store")).unwrap();
    fs::create_dir(w.join("out")).unwrap();
    let dest = w.join("out/rootfs");
    let (image, stats) = pull_unpack(&reference, &store, &dest, &opts(), true).unwrap();
    assert_eq!(image.layers, source(&layout, "app").layers);
    assert!(stats.entries > 0 && stats.bytes >= 3_000_000, "{stats:?}");
    assert_eq!(
        names(&w.join("out")),
        ["rootfs"],
        "no temporary directory left"
    );

    umoci(&["unpack", "--image", "L:app", "theirs"], w);
    assert_eq!(snapshot(&dest), snapshot(&w.join("theirs/rootfs")));
    assert!(!dest.join("etc/old").exists());
    assert_eq!(
        fs::read_to_string(dest.join("etc/os-release")).unwrap(),
        "new\n"
    );

    // The store: exactly what a plain pull leaves, every blob verified, nothing in ingest/.
    let plain = Store::open(w.join("plain")).unwrap();
    pull(&reference, &plain, &opts()).unwrap();
    assert_eq!(store.list().unwrap(), plain.list().unwrap());
    for d in store.list().unwrap() {
        store.verify_blob(&d).unwrap();
    }
    assert!(store.has(&image.manifest_digest));
    assert!(ingest_entries(&store).is_empty());

    // The destination is never replaced.
    let err = pull_unpack(&reference, &store, &dest, &opts(), true).unwrap_err();
    assert!(
        matches!(
            err,
            PullUnpackError::Rootfs {
                source: RootfsError::Exists(_),
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn layer_corrupted_in_the_registry_commits_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let layout = two_images(w);
    let reg = Registry::start(None);
    reg.push(&layout, "app", "test/img:app", None);
    let app = source(&layout, "app");
    for bad in [&app.layers[0].digest, &app.layers[1].digest] {
        let data = reg.blob_data(bad.hex());
        let mut bytes = fs::read(&data).unwrap();
        let mid = bytes.len() / 2;
        for b in &mut bytes[mid..mid + 4] {
            *b ^= 0xff;
        }
        fs::write(&data, &bytes).unwrap();
    }

    let store = Store::open(w.join("store")).unwrap();
    let reference = r(&format!("{}/test/img:app", reg.host()));
    fs::create_dir(w.join("out")).unwrap();
    let err = pull_unpack(&reference, &store, &w.join("out/rootfs"), &opts(), true).unwrap_err();
    // The registry's wrong bytes are the error, even though the unpacker, fed the same bytes
    // as they arrived, may have failed on them first.
    assert!(
        matches!(err, PullUnpackError::Pull(PullError::DigestMismatch { .. })),
        "{err:?}"
    );
    let msg = err.to_string();
    let named = app
        .layers
        .iter()
        .any(|l| msg.contains(&format!("content for {} that hashes", l.digest)));
    assert!(named, "{msg}");
    assert!(
        names(&w.join("out")).is_empty(),
        "nothing at dest, no temp dir"
    );
    for l in &app.layers {
        assert!(!store.has(&l.digest));
    }
    assert!(!store.has(&app.manifest_digest));
    assert!(
        ingest_entries(&store).is_empty(),
        "{:?}",
        ingest_entries(&store)
    );
    // What is left (the config) verifies.
    for d in store.list().unwrap() {
        store.verify_blob(&d).unwrap();
    }
}

#[test]
fn layer_not_matching_the_config_diff_id_commits_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let mut l = Layer::new();
    l.dir("etc", 0o755).file("etc/hostname", b"arca\n", 0o644);
    let wrong = Digest::sha256_of(b"some other layer");
    layout_with_diff_id(&w.join("L"), &l.finish(), Some(&wrong));
    let image = source(&w.join("L"), "t");
    let reg = Registry::start(None);
    reg.push(&w.join("L"), "t", "test/bad:1", None);

    let store = Store::open(w.join("store")).unwrap();
    fs::create_dir(w.join("out")).unwrap();
    let reference = r(&format!("{}/test/bad:1", reg.host()));
    let err = pull_unpack(&reference, &store, &w.join("out/rootfs"), &opts(), true).unwrap_err();
    assert!(
        matches!(
            err,
            PullUnpackError::Rootfs {
                source: RootfsError::DiffId { .. },
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&wrong.to_string()), "{msg}");
    assert!(msg.contains(&image.layers[0].digest.to_string()), "{msg}");
    assert!(msg.contains(&reference.to_string()), "{msg}");
    assert!(
        names(&w.join("out")).is_empty(),
        "nothing at dest, no temp dir"
    );
    // The layer itself verified (its digest is right) and may stay; the image is not recorded.
    assert!(!store.has(&image.manifest_digest));
    assert!(ingest_entries(&store).is_empty());
    for d in store.list().unwrap() {
        store.verify_blob(&d).unwrap();
    }
}

#[test]
fn shared_base_is_unpacked_from_the_store_not_downloaded_again() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let layout = two_images(w);
    let reg = Registry::start(None);
    reg.push(&layout, "base", "test/base:1", None);
    reg.push(&layout, "app", "test/app:1", None);
    let store = Store::open(w.join("store")).unwrap();
    fs::create_dir(w.join("out")).unwrap();

    let base_ref = r(&format!("{}/test/base:1", reg.host()));
    let (base, _) = pull_unpack(&base_ref, &store, &w.join("out/base"), &opts(), true).unwrap();
    let shared = base.layers[0].digest.clone();
    assert_eq!(reg.blob_gets(shared.hex()), 1);

    let app_ref = r(&format!("{}/test/app:1", reg.host()));
    let (app, _) = pull_unpack(&app_ref, &store, &w.join("out/app"), &opts(), true).unwrap();
    assert_eq!(app.layers[0].digest, shared);
    assert_eq!(
        reg.blob_gets(shared.hex()),
        1,
        "the base was not requested again"
    );
    assert_eq!(reg.blob_gets(app.layers[1].digest.hex()), 1);

    umoci(&["unpack", "--image", "L:app", "theirs"], w);
    assert_eq!(
        snapshot(&w.join("out/app")),
        snapshot(&w.join("theirs/rootfs"))
    );
    umoci(&["unpack", "--image", "L:base", "theirs-base"], w);
    assert_eq!(
        snapshot(&w.join("out/base")),
        snapshot(&w.join("theirs-base/rootfs"))
    );
    assert_eq!(names(&w.join("out")), ["app", "base"]);
    assert!(ingest_entries(&store).is_empty());
}
