//! `arca import` from the user's side: tarballs made by GNU tar (plain, gzip, zstd, and on
//! stdin) become one-layer images whose config and layer are checked against the input, and
//! which skopeo and umoci (tools we did not write) read and unpack; garbage is refused by name.

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run, sha256_hex, Env};
use serde_json::{json, Value};

/// `rootfs.tar` of a small tree (a file and a directory) under `env`, and its bytes.
fn rootfs_tar(env: &Env) -> (PathBuf, Vec<u8>) {
    let root = env.path().join("rootfs");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("etc/motd"), "imported\n").unwrap();
    run(
        env.path(),
        "tar",
        &["--numeric-owner", "-C", "rootfs", "-cf", "rootfs.tar", "."],
    );
    let tar = env.path().join("rootfs.tar");
    let bytes = fs::read(&tar).unwrap();
    (tar, bytes)
}

/// A blob of the store, by digest.
fn blob(env: &Env, digest: &str) -> Vec<u8> {
    fs::read(
        env.path()
            .join("root/images/blobs/sha256")
            .join(&digest[7..]),
    )
    .unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

fn last_line(out: &str) -> String {
    out.lines().last().unwrap().to_owned()
}

#[test]
fn import_gzip_and_plain_with_changes() {
    let env = Env::new();
    let (_, tar) = rootfs_tar(&env);
    let diff_id = format!("sha256:{}", sha256_hex(&tar));
    run(env.path(), "gzip", &["-k", "rootfs.tar"]);

    let id = last_line(&env.ok(&["import", "rootfs.tar.gz", "example/gz"]));
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let gz = env.inspect("example/gz:latest");
    assert_eq!(gz["Id"], id.as_str());
    assert_eq!(gz["RepoTags"], json!(["example/gz:latest"]));
    assert_eq!(gz["Os"], "linux");
    assert_eq!(gz["Architecture"], "amd64");
    assert_eq!(
        gz["RootFS"],
        json!({"type": "layers", "diff_ids": [diff_id]})
    );
    let layers = gz["Manifest"]["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    // The layer is stored gzip-compressed, and is the tarball once decompressed.
    let layer = blob(&env, layers[0]["digest"].as_str().unwrap());
    assert_eq!(&layer[..2], &[0x1f, 0x8b]);
    assert_eq!(gunzip(&layer), tar);
    let config: Value = serde_json::from_slice(&blob(&env, &id)).unwrap();
    assert_eq!(config["history"][0]["comment"], "Imported from -");

    let id2 = last_line(&env.ok(&[
        "import",
        "-c",
        r#"CMD ["/bin/sh"]"#,
        "-c",
        "ENV A=b",
        "--change",
        "WORKDIR /srv",
        "-m",
        "from plain tar",
        "rootfs.tar",
        "example/plain:v1",
    ]));
    assert_ne!(id2, id);
    let plain = env.inspect("example/plain:v1");
    assert_eq!(
        plain["Config"],
        json!({"Cmd": ["/bin/sh"], "Env": ["A=b"], "WorkingDir": "/srv"})
    );
    assert_eq!(plain["RootFS"]["diff_ids"], json!([diff_id]));
    // Same content, same compressor: the one layer blob serves both images.
    assert_eq!(plain["Manifest"]["layers"], gz["Manifest"]["layers"]);
    let config: Value = serde_json::from_slice(&blob(&env, &id2)).unwrap();
    assert_eq!(config["history"][0]["comment"], "from plain tar");
    assert_eq!(config["created"], config["history"][0]["created"]);
    // manifest, config and one layer each, the layer shared
    assert_eq!(env.blobs().len(), 5, "{:?}", env.blobs());
}

#[test]
fn import_zstd_from_stdin_unnamed_and_unpacked_by_umoci() {
    let env = Env::new();
    let (_, tar) = rootfs_tar(&env);
    run(
        env.path(),
        "zstd",
        &["-q", "rootfs.tar", "-o", "rootfs.tar.zst"],
    );
    let zst = fs::read(env.path().join("rootfs.tar.zst")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arca"))
        .arg("--root")
        .arg(env.path().join("root"))
        .args(["import", "--platform", "linux/arm64", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&zst).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = last_line(&String::from_utf8(out.stdout).unwrap());
    let images = env.images_json();
    assert_eq!(images.len(), 1);
    assert_eq!(images[0]["Names"], json!([]));
    let image = env.inspect(&id);
    assert_eq!(image["Architecture"], "arm64");
    assert_eq!(
        image["RootFS"]["diff_ids"],
        json!([format!("sha256:{}", sha256_hex(&tar))])
    );

    // Other tools read it: out through dir:, into an OCI layout, unpacked by umoci.
    env.ok(&["push", "-q", &id, "dir:exported"]);
    run(
        env.path(),
        "skopeo",
        &["copy", "dir:exported", "oci:layout:x"],
    );
    run(
        env.path(),
        "umoci",
        &["unpack", "--image", "layout:x", "bundle"],
    );
    let motd = Path::new("bundle/rootfs/etc/motd");
    assert_eq!(
        fs::read_to_string(env.path().join(motd)).unwrap(),
        "imported\n"
    );
}

#[test]
fn garbage_and_bad_changes_are_refused_and_nothing_is_stored() {
    let env = Env::new();
    let junk = b"not a tarball, just text long enough for a header\n".repeat(100);
    fs::write(env.path().join("junk.tar"), &junk).unwrap();
    let err = env.fails(&["import", "junk.tar", "example/junk"]);
    assert!(
        err.contains("junk.tar") && err.contains("not a tar archive"),
        "{err}"
    );
    fs::write(env.path().join("junk.tar.gz"), b"\x1f\x8bnot really gzip").unwrap();
    let err = env.fails(&["import", "junk.tar.gz"]);
    assert!(err.contains("junk.tar.gz"), "{err}");
    let err = env.fails(&["import", "missing.tar"]);
    assert!(err.contains("missing.tar"), "{err}");

    // Cut short half-way through the layer: refused by name, the partial layer not kept.
    rootfs_tar(&env);
    run(env.path(), "gzip", &["-k", "rootfs.tar"]);
    let gz = fs::read(env.path().join("rootfs.tar.gz")).unwrap();
    fs::write(env.path().join("cut.tar.gz"), &gz[..gz.len() / 2]).unwrap();
    let err = env.fails(&["import", "cut.tar.gz"]);
    assert!(err.contains("cut.tar.gz"), "{err}");

    let err = env.fails(&["import", "-c", "RUN rm -rf /", "rootfs.tar"]);
    assert!(
        err.contains("RUN") && err.contains("CMD, ENTRYPOINT"),
        "{err}"
    );
    let err = env.fails(&["import", "rootfs.tar", "Not/A Name"]);
    assert!(err.contains("Not/A Name"), "{err}");

    assert!(env.images_json().is_empty());
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());
    let ingest = env.path().join("root/images/ingest");
    assert_eq!(fs::read_dir(ingest).unwrap().count(), 0);
}
