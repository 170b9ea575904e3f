//! `arca pull dir:DIR` and `arca push IMAGE dir:DIR` (Podman's and skopeo's directory
//! transport) from the user's side: directories written by skopeo pulled and compared with the
//! same image pulled from its OCI layout; what arca pushes read back by skopeo; tampered
//! directories refused. skopeo and umoci are required.

mod common;

use std::fs;
use std::path::Path;

use common::{output, run, sha256_hex, umoci_image, Env};
use serde_json::{json, Value};

/// The fixture image `app:v1` as a layout under `env`, and as skopeo's `dir:` copy of it.
fn skopeo_dir(env: &Env, dir: &str) {
    umoci_image(env.path(), "app");
    run(
        env.path(),
        "skopeo",
        &["copy", "oci:app:v1", &format!("dir:{dir}")],
    );
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// What `skopeo inspect REFERENCE` says, run in `env`.
fn skopeo_inspect(env: &Env, reference: &str) -> Value {
    serde_json::from_slice(&output(env.path(), "skopeo", &["inspect", reference])).unwrap()
}

#[test]
fn pull_dir_from_skopeo_is_the_image_pulled_from_its_layout() {
    let by_dir = Env::new();
    skopeo_dir(&by_dir, "appdir");
    assert_eq!(
        fs::read_to_string(by_dir.path().join("appdir/version")).unwrap(),
        "Directory Transport Version: 1.1\n"
    );
    let out = by_dir.ok(&["pull", "dir:appdir"]);
    let id = out.lines().last().unwrap().to_owned();
    assert!(out.contains("copying blob"), "{out}");
    // Podman leaves a dir: image unnamed; it is used by id.
    let images = by_dir.images_json();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["Names"], json!([]), "{images:?}");

    // The same layout skopeo copied from, pulled into a store of its own.
    let by_layout = Env::new();
    let layout = format!("oci:{}:v1", by_dir.path().join("app").display());
    let out = by_layout.ok(&["pull", &layout]);
    assert_eq!(out.lines().last().unwrap(), id, "{out}");
    let (a, b) = (by_dir.inspect(&id), by_layout.inspect("localhost/app:v1"));
    for field in ["Id", "Digest", "RootFS", "Manifest", "Config", "Size"] {
        assert_eq!(a[field], b[field], "{field}");
    }
    assert_eq!(by_dir.blobs(), by_layout.blobs());
    assert_eq!(by_dir.blobs().len(), 4, "{:?}", by_dir.blobs());

    // Pulling again reads nothing new and changes nothing.
    let again = by_dir.ok(&["pull", "-q", "dir:appdir"]);
    assert_eq!(again.trim(), id);
    assert_eq!(by_dir.blobs().len(), 4);
}

#[test]
fn pull_dir_with_a_manifest_list_chooses_the_platform() {
    let env = Env::new();
    skopeo_dir(&env, "list");
    let dir = env.path().join("list");
    // Turn the directory into what `skopeo copy --all` writes for a list: the instance's
    // manifest under its digest, the list in manifest.json.
    let manifest = fs::read(dir.join("manifest.json")).unwrap();
    let hex = sha256_hex(&manifest);
    fs::write(dir.join(format!("{hex}.manifest.json")), &manifest).unwrap();
    let list = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", "0".repeat(64)),
                "size": 1,
                "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
            },
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{hex}"),
                "size": manifest.len(),
                "platform": {"os": "linux", "architecture": "amd64"},
            },
        ],
    });
    fs::write(dir.join("manifest.json"), list.to_string()).unwrap();
    let out = env.ok(&["pull", "--platform", "linux/amd64", "dir:list"]);
    assert!(out.contains(&format!("manifest sha256:{hex}")), "{out}");
    assert_eq!(
        env.inspect(out.lines().last().unwrap())["Digest"],
        format!("sha256:{hex}")
    );
    let err = env.fails(&["pull", "--platform", "linux/s390x", "dir:list"]);
    assert!(
        err.contains("no manifest for platform linux/s390x")
            && err.contains("linux/arm64/v8, linux/amd64"),
        "{err}"
    );
}

#[test]
fn tampered_dir_is_refused_and_nothing_is_committed() {
    let env = Env::new();
    skopeo_dir(&env, "bad");
    let dir = env.path().join("bad");
    let manifest = json_file(&dir.join("manifest.json"));
    let layer = manifest["layers"][1]["digest"].as_str().unwrap()[7..].to_owned();
    let mut data = fs::read(dir.join(&layer)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    fs::write(dir.join(&layer), data).unwrap();
    let err = env.fails(&["pull", "dir:bad"]);
    assert!(err.contains(&layer) && err.contains("dir:bad"), "{err}");
    assert!(env.images_json().is_empty());
    assert!(!env.blobs().contains(&layer), "{:?}", env.blobs());
    let ingest = env.path().join("root/images/ingest");
    assert_eq!(fs::read_dir(ingest).unwrap().count(), 0);

    // A config that is not the one the manifest names is refused before any layer is read.
    let env = Env::new();
    skopeo_dir(&env, "cfg");
    let dir = env.path().join("cfg");
    let config = json_file(&dir.join("manifest.json"))["config"]["digest"]
        .as_str()
        .unwrap()[7..]
        .to_owned();
    fs::write(dir.join(&config), b"{}").unwrap();
    let err = env.fails(&["pull", "dir:cfg"]);
    assert!(err.contains(&config), "{err}");
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());

    // A foreign version is another format.
    fs::write(dir.join("version"), "Directory Transport Version: 9.9\n").unwrap();
    let err = env.fails(&["pull", "dir:cfg"]);
    assert!(err.contains("version") && err.contains("9.9"), "{err}");
}

#[test]
fn push_to_dir_is_read_back_by_skopeo() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "oci:app:v1"]);
    let source = env.inspect("localhost/app:v1");
    let digest = source["Digest"].as_str().unwrap().to_owned();

    let out = env.ok(&["push", "localhost/app:v1", "dir:out"]);
    assert!(
        out.contains(&format!("dir:out: digest: {digest} size: ")),
        "{out}"
    );
    let mut names: Vec<String> = fs::read_dir(env.path().join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = source["Manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&source["Manifest"]["config"]])
        .map(|d| d["digest"].as_str().unwrap()[7..].to_owned())
        .chain(["manifest.json".to_owned(), "version".to_owned()])
        .collect();
    want.sort();
    assert_eq!(names, want);
    // No temporary directory is left beside it.
    assert!(!fs::read_dir(env.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with(".out.")));

    let inspected = skopeo_inspect(&env, "dir:out");
    assert_eq!(inspected["Digest"], digest.as_str());
    assert_eq!(
        inspected["Layers"],
        json!(source["Manifest"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].clone())
            .collect::<Vec<_>>())
    );
    run(env.path(), "skopeo", &["copy", "dir:out", "oci:back:v1"]);
    let again = env.ok(&["pull", "-q", "oci:back:v1"]);
    assert_eq!(again.trim(), source["Id"].as_str().unwrap());

    // Pushing again replaces the old dir: image; a directory of anything else is refused
    // and left as it was.
    env.ok(&["push", "-q", "localhost/app:v1", "dir:out"]);
    assert_eq!(
        fs::read_dir(env.path().join("out")).unwrap().count(),
        want.len()
    );
    fs::create_dir(env.path().join("precious")).unwrap();
    fs::write(env.path().join("precious/data"), "keep").unwrap();
    let err = env.fails(&["push", "localhost/app:v1", "dir:precious"]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(
        fs::read_to_string(env.path().join("precious/data")).unwrap(),
        "keep"
    );
    assert_eq!(
        fs::read_dir(env.path().join("precious")).unwrap().count(),
        1
    );
}

#[test]
fn push_to_layouts_and_archives_is_read_back_by_skopeo() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "oci:app:v1"]);
    let digest = env.inspect("localhost/app:v1")["Digest"].clone();
    env.ok(&["push", "localhost/app:v1", "oci-archive:a.tar:app"]);
    env.ok(&["push", "localhost/app:v1", "docker-archive:d.tar"]);
    // A new layout, then added to: one descriptor per ref, the same ref replaced.
    env.ok(&["push", "localhost/app:v1", "oci:out:one"]);
    env.ok(&["push", "localhost/app:v1", "oci:out:two"]);
    let out = env.ok(&["push", "localhost/app:v1", "oci:out:one"]);
    assert!(!out.contains("copying blob"), "{out}");
    let index = json_file(&env.path().join("out/index.json"));
    let refs: Vec<&Value> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["annotations"]["org.opencontainers.image.ref.name"])
        .collect();
    assert_eq!(refs, [&json!("two"), &json!("one")], "{index}");
    fs::create_dir(env.path().join("notalayout")).unwrap();
    fs::write(env.path().join("notalayout/x"), "x").unwrap();
    let err = env.fails(&["push", "localhost/app:v1", "oci:notalayout"]);
    assert!(err.contains("not an OCI layout"), "{err}");
    for (reference, want_tag) in [
        ("oci:out:one", None),
        ("oci:out:two", None),
        ("oci-archive:a.tar:app", None),
        ("docker-archive:d.tar", Some("localhost/app:v1")),
    ] {
        let v = skopeo_inspect(&env, reference);
        match want_tag {
            // A layout or an oci-archive keeps the manifest's exact bytes.
            None => assert_eq!(v["Digest"], digest),
            // A docker-archive names the image as it was pushed.
            Some(tag) => {
                let manifest = run_tar(env.path(), "d.tar", "manifest.json");
                assert_eq!(manifest[0]["RepoTags"], json!([tag]), "{manifest}");
            }
        }
    }
}

fn run_tar(dir: &Path, archive: &str, member: &str) -> Value {
    serde_json::from_slice(&output(dir, "tar", &["-xOf", archive, member])).unwrap()
}
