//! `arca pull`, `images`, `tag`, `image inspect`, `rmi`, `image prune` from the user's side: the
//! arca binary run as a user would, on images written by umoci and skopeo (tools we did not
//! write), each test with its own `--root`.

mod common;

use std::fs;

use common::{registry, run, sha256_hex, umoci_image, Env};
use serde_json::Value;

#[test]
fn pull_list_inspect_tag_rmi() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    let out = env.ok(&["pull", "oci:app:v1"]);
    let id = out.lines().last().unwrap().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{out}");
    // manifest, config, two layers
    assert_eq!(env.blobs().len(), 4, "{:?}", env.blobs());

    let images = env.images_json();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["Id"], id.as_str());
    assert_eq!(images[0]["Names"], serde_json::json!(["localhost/app:v1"]));
    let table = env.ok(&["images"]);
    let short = &id[7..19];
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("localhost/app") && l.contains(" v1 ") && l.contains(short)),
        "{table}"
    );
    assert_eq!(env.ok(&["images", "-q"]).trim(), short);

    // Pulling again changes nothing.
    let again = env.ok(&["pull", "oci:app:v1"]);
    assert!(again.contains("exists blob"), "{again}");
    assert_eq!(again.lines().last().unwrap(), id);
    assert_eq!(env.blobs().len(), 4);

    let inspect: Value =
        serde_json::from_str(&env.ok(&["image", "inspect", "localhost/app:v1"])).unwrap();
    let layers = inspect[0]["RootFS"]["diff_ids"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{inspect:#}");
    assert_eq!(inspect[0]["Architecture"], "amd64");
    assert_eq!(inspect[0]["Id"], id.as_str());

    env.ok(&["tag", short, "example/app:2"]);
    let names = &env.images_json()[0]["Names"];
    assert_eq!(
        names,
        &serde_json::json!(["example/app:2", "localhost/app:v1"])
    );
    // Untagging one name keeps the image and its blobs.
    let out = env.ok(&["rmi", "localhost/app:v1"]);
    assert!(
        out.contains("Untagged: localhost/app:v1") && !out.contains("Deleted"),
        "{out}"
    );
    assert_eq!(env.blobs().len(), 4);
    // The last name takes the image, and its blobs go.
    let out = env.ok(&["rmi", "example/app:2"]);
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());
    assert!(env.images_json().is_empty());
    let err = env.fails(&["rmi", "example/app:2"]);
    assert!(err.contains("no such image"), "{err}");
}

#[test]
fn pull_an_oci_archive_written_by_skopeo() {
    let env = Env::new();
    umoci_image(env.path(), "src");
    run(
        env.path(),
        "skopeo",
        &["copy", "oci:src:v1", "oci-archive:exported.tar:v1"],
    );
    env.ok(&["pull", "-q", "oci-archive:exported.tar:v1"]);
    let images = env.images_json();
    assert_eq!(
        images[0]["Names"],
        serde_json::json!(["localhost/exported:v1"])
    );
}

#[test]
fn corrupted_layout_blob_is_refused_and_nothing_recorded() {
    let env = Env::new();
    let layout = umoci_image(env.path(), "bad");
    // Corrupt the last layer (the biggest blob written by the second repack).
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let manifest: Value = serde_json::from_slice(
        &fs::read(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][1]["digest"].as_str().unwrap().to_owned();
    let mut data = fs::read(blob(&layer)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    fs::write(blob(&layer), data).unwrap();
    let err = env.fails(&["pull", "oci:bad:v1"]);
    assert!(err.contains(layer.trim_start_matches("sha256:")), "{err}");
    assert!(env.images_json().is_empty());
    assert!(
        !env.blobs().contains(&layer[7..].to_owned()),
        "{:?}",
        env.blobs()
    );
    let ingest = env.path().join("root/images/ingest");
    assert_eq!(fs::read_dir(ingest).unwrap().count(), 0);
}

#[test]
fn concurrent_pulls_of_one_image_all_succeed_once() {
    let env = Env::new();
    umoci_image(env.path(), "conc");
    // Eight at once on an empty root: they race to create the store, the catalog and each
    // blob.
    let ids = env.parallel(8, &["pull", "-q", "oci:conc:v1"]);
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "{ids:?}");
    assert_eq!(env.images_json().len(), 1);
    assert_eq!(env.blobs().len(), 4);
}

#[test]
fn prune_removes_unreferenced_blobs_and_keeps_the_rest() {
    let env = Env::new();
    umoci_image(env.path(), "keep");
    env.ok(&["pull", "-q", "oci:keep:v1"]);
    // A verified blob no image refers to (as a pull killed before naming its image leaves).
    let stray = b"left by an interrupted pull";
    let hex = sha256_hex(stray);
    fs::write(
        env.path().join("root/images/blobs/sha256").join(&hex),
        stray,
    )
    .unwrap();
    assert_eq!(env.blobs().len(), 5);
    let out = env.ok(&["image", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space: 27B"), "{out}");
    assert_eq!(env.blobs().len(), 4);
    assert!(!env.blobs().contains(&hex));
}

#[test]
fn pull_from_a_registry_by_docker_reference() {
    let env = Env::new();
    let layout = umoci_image(env.path(), "reg");
    let reg = registry::Registry::start(None);
    reg.push(&layout, "v1", "team/app:1.0", None);
    let reference = format!("{}/team/app:1.0", reg.host());
    let out = env.ok(&["pull", &reference]);
    // Not a terminal here: a line per blob, then the image id.
    assert_eq!(out.matches("copying blob sha256:").count(), 3, "{out}");
    let id = out.lines().last().unwrap().to_owned();
    let images = env.images_json();
    assert_eq!(images[0]["Id"], id.as_str());
    assert_eq!(images[0]["Names"], serde_json::json!([reference]));
    // The same image from the layout is the same image: nothing new is stored.
    let before = env.blobs();
    env.ok(&["pull", "-q", "oci:reg:v1"]);
    assert_eq!(env.blobs(), before);
    assert_eq!(env.images_json().len(), 1);
    // A tag the registry does not have: a clear error naming it, nothing recorded.
    let missing = format!("{}/team/app:nope", reg.host());
    let err = env.fails(&["pull", &missing]);
    assert!(
        err.contains("team/app:nope") && err.contains("404"),
        "{err}"
    );
    assert_eq!(env.images_json().len(), 1);
}
