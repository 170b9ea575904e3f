//! Pulls from a real registry (Debian's docker-registry, images pushed by skopeo from layouts
//! umoci wrote): by tag and by digest, through an index, sharing a base layer, with a blob
//! corrupted in the registry's storage, a missing tag, and basic auth.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arca_image::digest::Digest;
use arca_image::layout::{Image, Layout, PlatformSpec};
use arca_image::reference::Reference;
use arca_image::registry::{pull, Progress, PullError, PullOptions};
use arca_image::rootfs;
use arca_image::store::Store;
use common::registry::Registry;
use common::{amd64, sh, snapshot, umoci};
use serde_json::json;

fn opts() -> PullOptions {
    PullOptions {
        platform: amd64(),
        ..PullOptions::default()
    }
}

/// Layout `L` with `base` (one layer) and `app` (base's layer + one of its own).
fn two_images(w: &Path) -> PathBuf {
    umoci(&["init", "--layout", "L"], w);
    umoci(&["new", "--image", "L:base"], w);
    umoci(&["unpack", "--image", "L:base", "b"], w);
    sh(
        &w.join("b/rootfs"),
        "mkdir -p etc usr/bin && echo base > etc/os-release && echo t > usr/bin/tool \
         && chmod 4711 usr/bin/tool && ln -s /usr/bin/tool tool-link",
    );
    umoci(&["repack", "--image", "L:base", "b"], w);
    umoci(&["unpack", "--image", "L:base", "a"], w);
    sh(
        &w.join("a/rootfs"),
        "mkdir -p srv/app && echo app > srv/app/main && chown 7:8 srv/app/main",
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

fn r(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn ingest_entries(store: &Store) -> Vec<PathBuf> {
    fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// Records `(digest → last bytes_done, total)` from the progress callback.
type Seen = Arc<Mutex<BTreeMap<Digest, (u64, u64)>>>;

fn recorder() -> (Progress, Seen) {
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let s = seen.clone();
    let p: Progress = Arc::new(move |d: &Digest, done, total| {
        s.lock().unwrap().insert(d.clone(), (done, total));
    });
    (p, seen)
}

#[test]
fn pull_by_tag_unpacks_like_umoci() {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path();
    let layout = two_images(w);
    let reg = Registry::start(None);
    reg.push(&layout, "app", "test/img:app", None);
    let want = source(&layout, "app");

    let store = Store::open(w.join("store")).unwrap();
    let (progress, seen) = recorder();
    let reference = r(&format!("{}/test/img:app", reg.host()));
    let image = pull(
        &reference,
        &store,
        &PullOptions {
            progress: Some(progress),
            ..opts()
        },
    )
    .unwrap();

    assert_eq!(image.layers, want.layers);
    assert_eq!(image.config_digest, want.config_digest);
    assert_eq!(image.manifest_digest, want.manifest_digest);
    for d in [&image.manifest_digest, &image.config_digest]
        .into_iter()
        .chain(image.layers.iter().map(|l| &l.digest))
    {
        store.verify_blob(d).unwrap();
    }
    let seen = seen.lock().unwrap();
    for l in &image.layers {
        assert_eq!(seen.get(&l.digest), Some(&(l.size, l.size)), "{seen:?}");
    }
    assert!(ingest_entries(&store).is_empty());

    umoci(&["unpack", "--image", "L:app", "theirs"], w);
    fs::create_dir(w.join("rootfs")).unwrap();
    let dest = w.join("rootfs/ours");
    rootfs::build(&store, &image, &dest, true).unwrap();
    let ours = snapshot(&dest);
    let theirs = snapshot(&w.join("theirs/rootfs"));
    assert_eq!(ours, theirs);
    assert_eq!(
        fs::read_to_string(dest.join("srv/app/main")).unwrap(),
        "app\n"
    );
}

#[test]
fn pull_by_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    let reg = Registry::start(None);
    reg.push(&layout, "app", "test/img:app", None);
    reg.push(&layout, "base", "test/img:base", None);
    let app = source(&layout, "app");
    let store = Store::open(tmp.path().join("store")).unwrap();

    let by_digest = r(&format!("{}/test/img@{}", reg.host(), app.manifest_digest));
    let image = pull(&by_digest, &store, &opts()).unwrap();
    assert_eq!(image.manifest_digest, app.manifest_digest);
    assert_eq!(image.layers, app.layers);

    // Tag and digest: the digest wins.
    let both = r(&format!(
        "{}/test/img:base@{}",
        reg.host(),
        app.manifest_digest
    ));
    assert_eq!(pull(&both, &store, &opts()).unwrap().layers, app.layers);

    // A digest the registry does not have.
    let absent = Digest::sha256_of(b"no such manifest");
    let missing = r(&format!("{}/test/img@{absent}", reg.host()));
    let err = pull(&missing, &store, &opts()).unwrap_err();
    assert!(matches!(err, PullError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains(&absent.to_string()), "{err}");
}

#[test]
fn second_image_downloads_only_its_new_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    let reg = Registry::start(None);
    reg.push(&layout, "base", "test/base:1", None);
    reg.push(&layout, "app", "test/app:1", None);
    let store = Store::open(tmp.path().join("store")).unwrap();

    let base = pull(&r(&format!("{}/test/base:1", reg.host())), &store, &opts()).unwrap();
    assert_eq!(base.layers.len(), 1);
    let shared = base.layers[0].digest.clone();
    assert_eq!(reg.blob_gets(shared.hex()), 1);

    let (progress, seen) = recorder();
    let app = pull(
        &r(&format!("{}/test/app:1", reg.host())),
        &store,
        &PullOptions {
            progress: Some(progress),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(app.layers.len(), 2);
    assert_eq!(app.layers[0].digest, shared);
    let new = &app.layers[1].digest;
    // Counted at the registry: the shared layer was not requested again.
    assert_eq!(reg.blob_gets(shared.hex()), 1);
    assert_eq!(reg.blob_gets(new.hex()), 1);
    let downloaded: Vec<Digest> = seen.lock().unwrap().keys().cloned().collect();
    let mut want = vec![new.clone(), app.config_digest.clone()];
    want.sort();
    assert_eq!(downloaded, want);

    // Pulling again downloads no blob at all.
    pull(&r(&format!("{}/test/app:1", reg.host())), &store, &opts()).unwrap();
    assert_eq!(reg.blob_gets(new.hex()), 1);
    assert_eq!(reg.blob_gets(app.config_digest.hex()), 1);
}

#[test]
fn blob_corrupted_in_the_registry_fails_and_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    let reg = Registry::start(None);
    reg.push(&layout, "app", "test/img:app", None);
    let app = source(&layout, "app");
    let bad = &app.layers[1].digest;
    let data = reg.blob_data(bad.hex());
    let mut bytes = fs::read(&data).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4] {
        *b ^= 0xff;
    }
    fs::write(&data, &bytes).unwrap();

    let store = Store::open(tmp.path().join("store")).unwrap();
    let reference = r(&format!("{}/test/img:app", reg.host()));
    let err = pull(&reference, &store, &opts()).unwrap_err();
    assert!(matches!(err, PullError::DigestMismatch { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!(
            "registry returned content for {bad} that hashes to sha256:"
        )),
        "{msg}"
    );
    assert!(msg.contains(&reference.to_string()), "{msg}");
    assert!(!store.has(bad));
    assert!(
        !store.has(&app.manifest_digest),
        "no manifest for an incomplete image"
    );
    assert!(
        ingest_entries(&store).is_empty(),
        "{:?}",
        ingest_entries(&store)
    );
}

#[test]
fn missing_tag_is_a_clear_404() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    let reg = Registry::start(None);
    reg.push(&layout, "base", "test/img:base", None);
    let store = Store::open(tmp.path().join("store")).unwrap();
    for missing in ["test/img:nope", "test/nothing:base"] {
        let reference = r(&format!("{}/{missing}", reg.host()));
        let err = pull(&reference, &store, &opts()).unwrap_err();
        assert!(matches!(err, PullError::NotFound { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains(&reference.to_string()), "{msg}");
        assert!(msg.contains("not found (404)"), "{msg}");
    }
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn index_is_walked_by_platform() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    // An index in the layout: app for linux/amd64, base for linux/arm64.
    let app = source(&layout, "app");
    let base = source(&layout, "base");
    let entry = |img: &Image, arch: &str| {
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": img.manifest_digest.to_string(), "size": img.manifest_size,
               "platform": {"os": "linux", "architecture": arch}})
    };
    let index = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry(&app, "amd64"), entry(&base, "arm64")]})
    .to_string();
    let digest = Digest::sha256_of(index.as_bytes());
    fs::write(layout.join("blobs/sha256").join(digest.hex()), &index).unwrap();
    let index_json = layout.join("index.json");
    let mut top: serde_json::Value =
        serde_json::from_slice(&fs::read(&index_json).unwrap()).unwrap();
    top["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest.to_string(), "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"}}));
    fs::write(&index_json, top.to_string()).unwrap();

    let reg = Registry::start(None);
    reg.push_args(&layout, "multi", "test/multi:1", None, &["--all"]);
    let store = Store::open(tmp.path().join("store")).unwrap();
    let reference = r(&format!("{}/test/multi:1", reg.host()));
    let got = pull(&reference, &store, &opts()).unwrap();
    assert_eq!(got.manifest_digest, app.manifest_digest);
    let arm = PullOptions {
        platform: PlatformSpec::new("linux", "arm64", None),
        ..opts()
    };
    assert_eq!(
        pull(&reference, &store, &arm).unwrap().manifest_digest,
        base.manifest_digest
    );
    let s390 = PullOptions {
        platform: PlatformSpec::new("linux", "s390x", None),
        ..opts()
    };
    let err = pull(&reference, &store, &s390).unwrap_err();
    assert!(matches!(err, PullError::NoPlatform { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("linux/amd64, linux/arm64"), "{msg}");
}

#[test]
fn basic_auth() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = two_images(tmp.path());
    let reg = Registry::start(Some(("arca", "s3cret")));
    reg.push(&layout, "base", "test/img:base", Some("arca:s3cret"));
    let store = Store::open(tmp.path().join("store")).unwrap();
    let reference = r(&format!("{}/test/img:base", reg.host()));

    let err = pull(&reference, &store, &opts()).unwrap_err();
    assert!(matches!(err, PullError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("authentication required (401)"), "{msg}");
    assert!(msg.contains("no credentials"), "{msg}");
    assert!(msg.contains(&reference.to_string()), "{msg}");

    let wrong = PullOptions {
        auth: Some(("arca".into(), "wrong".into())),
        ..opts()
    };
    let err = pull(&reference, &store, &wrong).unwrap_err();
    assert!(matches!(err, PullError::Unauthorized { .. }), "{err:?}");
    assert!(
        err.to_string().contains("credentials were refused"),
        "{err}"
    );
    assert!(
        !format!("{wrong:?}").contains("wrong"),
        "the password is not in Debug"
    );

    let right = PullOptions {
        auth: Some(("arca".into(), "s3cret".into())),
        ..opts()
    };
    let image = pull(&reference, &store, &right).unwrap();
    assert_eq!(image.layers, source(&layout, "base").layers);
    store.verify_blob(&image.layers[0].digest).unwrap();
}
