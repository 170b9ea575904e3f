//! `arca save` and `arca load` from the user's side: round trips through both formats, and
//! archives exchanged with Podman both ways (Podman in a private store under the test's
//! directory). Podman, umoci and GNU tar are required: a missing tool panics with its package.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{run, umoci_image, Env};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Podman with its own store under `dir`: no systemd here, and no journald for events.
fn podman(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("podman")
        .arg("--root")
        .arg(dir.join("podman/root"))
        .arg("--runroot")
        .arg(dir.join("podman/run"))
        .args([
            "--storage-driver",
            "vfs",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("podman is needed (apt-get install podman): {e}"));
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `arca load` with the archive on stdin.
fn load_stdin(env: &Env, archive: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_arca"))
        .arg("--root")
        .arg(env.path().join("root"))
        .arg("load")
        .stdin(fs::File::open(archive).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "arca load < {}: {}",
        archive.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `arca save` to stdout, into `dest`.
fn save_stdout(env: &Env, args: &[&str], dest: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_arca"))
        .arg("--root")
        .arg(env.path().join("root"))
        .arg("save")
        .args(args)
        .stdout(fs::File::create(dest).unwrap())
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success(), "arca save {args:?}");
}

fn tar_names(archive: &Path) -> Vec<String> {
    let out = Command::new("tar")
        .arg("-tf")
        .arg(archive)
        .output()
        .expect("tar is needed (apt-get install tar)");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn round_trip_keeps_id_and_names_in_both_formats() {
    let src = Env::new();
    umoci_image(src.path(), "app");
    src.ok(&["pull", "-q", "oci:app:v1"]);
    src.ok(&["tag", "localhost/app:v1", "example.com/team/app:2"]);
    let id = src.inspect("localhost/app:v1")["Id"].clone();

    // docker-archive to a file: Docker's layout, layers uncompressed, named by diff_id.
    let docker = src.path().join("d.tar");
    src.ok(&[
        "save",
        "-o",
        docker.to_str().unwrap(),
        "localhost/app:v1",
        "example.com/team/app:2",
    ]);
    let names = tar_names(&docker);
    let config = format!("{}.json", &id.as_str().unwrap()[7..]);
    assert!(names.contains(&"manifest.json".to_owned()), "{names:?}");
    assert!(names.contains(&config), "{names:?}");
    let diff_ids = src.inspect("localhost/app:v1")["RootFS"]["diff_ids"].clone();
    for d in diff_ids.as_array().unwrap() {
        let layer = format!("{}.tar", &d.as_str().unwrap()[7..]);
        assert!(names.contains(&layer), "{layer} not in {names:?}");
    }

    // oci-archive through stdout.
    let oci = src.path().join("o.tar");
    save_stdout(&src, &["--format", "oci-archive", "localhost/app:v1"], &oci);
    assert!(tar_names(&oci).contains(&"oci-layout".to_owned()));

    let dst = Env::new();
    let out = dst.ok(&["load", "-i", docker.to_str().unwrap()]);
    assert_eq!(
        out,
        "Loaded image: localhost/app:v1\nLoaded image: example.com/team/app:2\n"
    );
    let images = dst.images_json();
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["Id"], id);
    assert_eq!(
        images[0]["Names"],
        serde_json::json!(["example.com/team/app:2", "localhost/app:v1"])
    );
    let loaded = dst.inspect("localhost/app:v1");
    assert_eq!(loaded["RootFS"]["diff_ids"], diff_ids);
    // The synthesised manifest: uncompressed OCI layers whose digests are the diff_ids.
    for (l, d) in loaded["Manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(diff_ids.as_array().unwrap())
    {
        assert_eq!(l["mediaType"], "application/vnd.oci.image.layer.v1.tar");
        assert_eq!(&l["digest"], d);
    }

    let dst = Env::new();
    let out = load_stdin(&dst, &oci);
    assert_eq!(out, "Loaded image: localhost/app:v1\n");
    let loaded = dst.inspect("localhost/app:v1");
    assert_eq!(loaded["Id"], id);
    // oci-archive keeps the blobs as they were: the same manifest.
    assert_eq!(loaded["Digest"], src.inspect("localhost/app:v1")["Digest"]);
}

#[test]
fn podman_loads_what_arca_saves_and_arca_loads_what_podman_saves() {
    let env = Env::new();
    let bb = env.path().join("bb");
    run(
        &repo_root(),
        "bash",
        &["scripts/busybox-image.sh", bb.to_str().unwrap()],
    );
    let name = "docker.io/library/arca-busybox:latest";
    podman(
        env.path(),
        &["load", "-i", bb.join("image.tar").to_str().unwrap()],
    );
    let podman_id = podman(
        env.path(),
        &["image", "inspect", "--format", "{{.Id}}", name],
    );
    let podman_layers = podman(
        env.path(),
        &[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            name,
        ],
    );

    // Podman → arca, both formats: the same image id (config) and the same layer content.
    for format in ["docker-archive", "oci-archive"] {
        let file = env.path().join(format!("podman-{format}.tar"));
        podman(
            env.path(),
            &[
                "save",
                "--format",
                format,
                "-o",
                file.to_str().unwrap(),
                name,
            ],
        );
        let arca = Env::new();
        let out = arca.ok(&["load", "-q", "-i", file.to_str().unwrap()]);
        assert_eq!(out, format!("Loaded image: {name}\n"), "{format}");
        let image = arca.inspect(name);
        assert_eq!(
            image["Id"].as_str().unwrap()[7..],
            podman_id.trim()[..],
            "{format}"
        );
        let diff_ids: Value = serde_json::from_str(&podman_layers).unwrap();
        assert_eq!(image["RootFS"]["diff_ids"], diff_ids, "{format}");
        // The rootfs the loaded layers unpack to is the busybox tree.
        let rootfs = arca.path().join("rootfs");
        let store = arca_image::store::Store::open(arca.path().join("root/images")).unwrap();
        let manifest =
            arca_image::digest::Digest::parse(image["Digest"].as_str().unwrap()).unwrap();
        let img = arca_image::archive::stored_image(&store, &manifest).unwrap();
        arca_image::rootfs::build(&store, &img, &rootfs, false).unwrap();
        // busybox-image.sh copies the host's /bin/busybox.
        assert_eq!(
            fs::read(rootfs.join("bin/busybox")).unwrap(),
            fs::read("/bin/busybox").unwrap(),
            "{format}"
        );
        assert_eq!(
            fs::read_link(rootfs.join("bin/sh")).unwrap(),
            Path::new("busybox")
        );

        // arca → Podman (a fresh Podman store): the same id and layers.
        let saved = arca.path().join("arca.tar");
        arca.ok(&[
            "save",
            "--format",
            format,
            "-o",
            saved.to_str().unwrap(),
            name,
        ]);
        let out = podman(arca.path(), &["load", "-i", saved.to_str().unwrap()]);
        assert!(
            out.contains(&format!("Loaded image: {name}")),
            "{format}: {out}"
        );
        let id = podman(
            arca.path(),
            &["image", "inspect", "--format", "{{.Id}}", name],
        );
        assert_eq!(id.trim(), podman_id.trim(), "{format}");
        let layers = podman(
            arca.path(),
            &[
                "image",
                "inspect",
                "--format",
                "{{json .RootFS.Layers}}",
                name,
            ],
        );
        assert_eq!(layers, podman_layers, "{format}");
    }
}

#[test]
fn hostile_archives_are_refused_and_nothing_is_kept() {
    let env = Env::new();
    let dir = env.path().join("evil");
    fs::create_dir(&dir).unwrap();
    let hex = "a".repeat(64);
    fs::write(dir.join(format!("{hex}.json")), "{}").unwrap();
    fs::write(
        dir.join("manifest.json"),
        format!(r#"[{{"Config":"{hex}.json","RepoTags":["evil:1"],"Layers":[]}}]"#),
    )
    .unwrap();
    fs::write(dir.join("evil"), "x").unwrap();
    // `../evil`: GNU tar keeps the name only with -P.
    let climbing = env.path().join("climb.tar");
    run(
        &dir,
        "tar",
        &[
            "-P",
            "--transform",
            "s,^evil$,../evil,",
            "-cf",
            climbing.to_str().unwrap(),
            &format!("{hex}.json"),
            "evil",
            "manifest.json",
        ],
    );
    let err = env.fails(&["load", "-i", climbing.to_str().unwrap()]);
    assert!(
        err.contains("../evil") && err.contains("'..' name refused"),
        "{err}"
    );

    // A symlink where the archive's manifest belongs.
    let linked = env.path().join("link");
    fs::create_dir(&linked).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", linked.join("manifest.json")).unwrap();
    let link_tar = env.path().join("link.tar");
    run(
        &linked,
        "tar",
        &["-cf", link_tar.to_str().unwrap(), "manifest.json"],
    );
    let err = env.fails(&["load", "-i", link_tar.to_str().unwrap()]);
    assert!(
        err.contains("manifest.json") && err.contains("Symlink entry refused"),
        "{err}"
    );

    assert!(env.images_json().is_empty());
    assert!(env.blobs().is_empty(), "{:?}", env.blobs());
}

#[test]
fn save_refuses_unknown_images() {
    let env = Env::new();
    let err = env.fails(&["save", "-o", "x.tar", "nope:1"]);
    assert!(
        err.contains("nope:1") && err.contains("no such image"),
        "{err}"
    );
    assert!(!env.path().join("x.tar").exists());
}
