//! `arca push` from the user's side, against Debian's docker-registry on loopback: what arrives
//! is read back with skopeo and unpacked with umoci (tools we did not write) and compared with
//! the source; the registry's access log says which blobs were sent, found or mounted.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use common::{registry::Registry, run, umoci_image, Env};
use serde_json::Value;

/// Every entry under `root`: type, mode, owner, and the content or link target.
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let md = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let what = if md.file_type().is_symlink() {
                format!("link {}", fs::read_link(&path).unwrap().display())
            } else if md.is_dir() {
                "dir".to_owned()
            } else {
                format!("file {:?}", fs::read(&path).unwrap())
            };
            out.insert(
                rel,
                format!("{what} mode {:o} {}:{}", md.mode(), md.uid(), md.gid()),
            );
            if md.is_dir() {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn skopeo_inspect(reference: &str) -> Value {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .expect("skopeo is needed (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo inspect {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `(manifest digest, layer digests)` of a local image, from `arca image inspect`.
fn local_image(env: &Env, name: &str) -> (String, Vec<Value>) {
    let v: Value = serde_json::from_str(&env.ok(&["image", "inspect", name])).unwrap();
    let layers = v[0]["Manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].clone())
        .collect();
    (v[0]["Digest"].as_str().unwrap().to_owned(), layers)
}

fn count(out: &str, what: &str) -> usize {
    out.lines().filter(|l| l.starts_with(what)).count()
}

#[test]
fn push_round_trips_and_sends_only_what_is_missing() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "-q", "oci:app:v1"]);
    let (manifest, layers) = local_image(&env, "localhost/app:v1");
    let reg = Registry::start(None);
    let dest = format!("{}/team/x:1", reg.host());

    let out = env.ok(&["push", "localhost/app:v1", &dest]);
    assert_eq!(count(&out, "pushed blob sha256:"), 3, "{out}");
    let size = fs::metadata(
        env.path()
            .join("root/images/blobs/sha256")
            .join(&manifest[7..]),
    )
    .unwrap()
    .len();
    assert_eq!(
        out.lines().last().unwrap(),
        format!("1: digest: {manifest} size: {size}"),
        "{out}"
    );
    assert_eq!(reg.blob_uploads(), 3);

    // What the registry serves is the same image: same manifest digest, same layers...
    let remote = skopeo_inspect(&dest);
    assert_eq!(remote["Digest"], manifest.as_str(), "{remote:#}");
    assert_eq!(remote["Layers"], Value::Array(layers), "{remote:#}");
    // ...and the same files, unpacked by umoci from a copy skopeo pulled.
    run(
        env.path(),
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{dest}"),
            "oci:out:t",
        ],
    );
    run(
        env.path(),
        "umoci",
        &["unpack", "--image", "out:t", "out-bundle"],
    );
    run(
        env.path(),
        "umoci",
        &["unpack", "--image", "app:v1", "src-bundle"],
    );
    let got = tree(&env.path().join("out-bundle/rootfs"));
    assert!(
        got.contains_key("hello") && got.contains_key("etc/app/conf"),
        "{got:?}"
    );
    assert_eq!(got, tree(&env.path().join("src-bundle/rootfs")));

    // Again: the registry has everything, nothing is sent.
    let out = env.ok(&["push", "localhost/app:v1", &dest]);
    assert_eq!(count(&out, "exists blob sha256:"), 3, "{out}");
    assert_eq!(count(&out, "pushed blob"), 0, "{out}");
    assert_eq!(reg.blob_uploads(), 3);

    // A second image on the same base: only its new layer and its config travel.
    run(
        env.path(),
        "umoci",
        &["unpack", "--image", "app:v1", "v2-bundle"],
    );
    fs::write(env.path().join("v2-bundle/rootfs/v2"), "two\n").unwrap();
    run(
        env.path(),
        "umoci",
        &["repack", "--image", "app:v2", "v2-bundle"],
    );
    env.ok(&["pull", "-q", "oci:app:v2"]);
    let out = env.ok(&[
        "push",
        "-q",
        "localhost/app:v2",
        &format!("{}/team/x:2", reg.host()),
    ]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("2: digest: sha256:"), "{out}");
    assert_eq!(reg.blob_uploads(), 5);
    let v2 = skopeo_inspect(&format!("{}/team/x:2", reg.host()));
    assert_eq!(v2["Layers"].as_array().unwrap().len(), 3, "{v2:#}");
}

#[test]
fn push_to_another_repository_mounts_the_blobs() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "-q", "oci:app:v1"]);
    let reg = Registry::start(None);
    let first = format!("{}/team/x:1", reg.host());
    // Docker's way: name the image for the registry, then push it by that name.
    env.ok(&["tag", "localhost/app:v1", &first]);
    let out = env.ok(&["push", &first]);
    assert_eq!(count(&out, "pushed blob"), 3, "{out}");
    assert_eq!(reg.blob_mounts(), 0);

    // The image is known by team/x on this registry, so other/y gets the blobs by mount.
    let second = format!("{}/other/y:1", reg.host());
    let out = env.ok(&["push", &first, &second]);
    assert_eq!(count(&out, "mounted blob sha256:"), 3, "{out}");
    assert!(out.contains("from team/x"), "{out}");
    assert_eq!(reg.blob_mounts(), 3);
    assert_eq!(reg.blob_uploads(), 3);
    assert_eq!(
        skopeo_inspect(&second)["Layers"].as_array().unwrap().len(),
        2
    );
}

#[test]
fn push_errors_are_clear() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "-q", "oci:app:v1"]);
    let reg = Registry::start(Some(("alice", "s3cret")));
    let dest = format!("{}/team/x:1", reg.host());

    let err = env.fails(&["push", "localhost/nope:v1", &dest]);
    assert!(err.contains("localhost/nope:v1: no such image"), "{err}");
    // DEST defaults to NAME, and `localhost/app:v1` is a registry reference (localhost:80),
    // but an id is not.
    let id = env.ok(&["images", "-q"]);
    let err = env.fails(&["push", id.trim()]);
    assert!(err.contains("not a registry reference"), "{err}");

    let err = env.fails(&["push", "localhost/app:v1", &dest]);
    assert!(
        err.contains(&format!("pushing {dest}"))
            && err.contains("401")
            && err.contains("no credentials were given"),
        "{err}"
    );
    let err = env.fails(&["push", "--creds", "alice:wrong", "localhost/app:v1", &dest]);
    assert!(
        err.contains("401") && err.contains("credentials were refused"),
        "{err}"
    );
    assert_eq!(reg.blob_uploads(), 0);
    let out = env.ok(&["push", "--creds", "alice:s3cret", "localhost/app:v1", &dest]);
    assert_eq!(count(&out, "pushed blob"), 3, "{out}");
    assert_eq!(reg.blob_uploads(), 3);
}
