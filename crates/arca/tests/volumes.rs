//! Volumes from the user's side, with real busybox containers: named volumes outlive their
//! containers and are shared between them, a new one is filled from the image, one in use
//! cannot be removed, anonymous ones go with `rm -v`, unused ones with `volume prune`.

mod common;

use common::engine::{code, stdout, Engine, IMAGE};
use serde_json::Value;

fn volumes(e: &Engine) -> Vec<String> {
    e.ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn named_volume_persists_between_containers() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--rm",
        "-v",
        "data:/data",
        IMAGE,
        "sh",
        "-c",
        "echo kept > /data/f",
    ]);
    assert_eq!(volumes(&e), ["data"]);
    let out = e.ok(&["run", "--rm", "-v", "data:/mnt:ro", IMAGE, "cat", "/mnt/f"]);
    assert_eq!(out, "kept\n");
    // Read-only where asked.
    let o = e.arca(&[
        "run",
        "--rm",
        "--mount",
        "type=volume,source=data,target=/d,readonly",
        IMAGE,
        "sh",
        "-c",
        "echo x > /d/g",
    ]);
    assert_ne!(code(&o), 0);

    let v: Value = serde_json::from_str(&e.ok(&["volume", "inspect", "data"])).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], "data");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    let mp = e.root().join("volumes/data/_data");
    assert_eq!(v["Mountpoint"], mp.to_str().unwrap());
    assert!(v["CreatedAt"].as_str().unwrap().starts_with("20"));
    assert_eq!(std::fs::read_to_string(mp.join("f")).unwrap(), "kept\n");

    let table = e.ok(&["volume", "ls"]);
    assert!(
        table.starts_with("DRIVER") && table.contains("local           data"),
        "{table}"
    );
    let json: Value =
        serde_json::from_str(e.ok(&["volume", "ls", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Name"], "data");
}

#[test]
fn create_inspect_labels_and_idempotence() {
    let e = Engine::new();
    assert_eq!(e.ok(&["volume", "create", "--label", "a=b", "v1"]), "v1\n");
    // Again: the same volume, its labels kept.
    assert_eq!(e.ok(&["volume", "create", "v1"]), "v1\n");
    let v: Value = serde_json::from_str(&e.ok(&["volume", "inspect", "v1"])).unwrap();
    assert_eq!(v[0]["Labels"]["a"], "b");
    let anon = e.ok(&["volume", "create"]);
    let anon = anon.trim();
    assert_eq!(anon.len(), 64);
    assert!(anon.bytes().all(|b| b.is_ascii_hexdigit()));
    let missing = e.arca(&["volume", "inspect", "nope"]);
    assert_ne!(code(&missing), 0);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no such volume: nope"));
}

#[test]
fn bad_names_are_refused() {
    let e = Engine::new();
    for bad in ["a", "_x", ".hidden", "a/b", "sp ace", "x:y"] {
        let err = e.env.fails(&["volume", "create", bad]);
        assert!(err.contains("invalid volume name"), "{bad}: {err}");
    }
    let err = e
        .env
        .fails(&["run", "--rm", "-v", "_bad:/d", IMAGE, "true"]);
    assert!(err.contains("invalid volume name"), "{err}");
    assert!(volumes(&e).is_empty());
    assert!(e.ok(&["ps", "-aq"]).is_empty());
}

#[test]
fn volume_in_use_is_not_removed() {
    let e = Engine::new();
    e.ok(&[
        "create",
        "--name",
        "user",
        "-v",
        "busy:/data",
        IMAGE,
        "true",
    ]);
    let err = e.env.fails(&["volume", "rm", "busy"]);
    assert!(
        err.contains("volume busy is in use by container user"),
        "{err}"
    );
    assert_eq!(volumes(&e), ["busy"]);
    // Prune leaves it too.
    e.ok(&["volume", "prune", "-f"]);
    assert_eq!(volumes(&e), ["busy"]);
    e.ok(&["rm", "user"]);
    assert_eq!(e.ok(&["volume", "rm", "busy"]), "busy\n");
    assert!(volumes(&e).is_empty());
    assert!(!e.root().join("volumes/busy").exists());
}

#[test]
fn new_volume_is_filled_from_the_image() {
    let e = Engine::new();
    let passwd = e.ok(&["run", "--rm", IMAGE, "cat", "/etc/passwd"]);
    assert!(passwd.contains("root:"));
    let out = e.ok(&["run", "--rm", "-v", "etc:/etc", IMAGE, "cat", "/etc/passwd"]);
    assert_eq!(out, passwd);
    // The copy is in the volume, for other containers at other paths.
    let out = e.ok(&["run", "--rm", "-v", "etc:/x", IMAGE, "cat", "/x/passwd"]);
    assert_eq!(out, passwd);
    // A volume that has content keeps it: no copy over it.
    e.ok(&["run", "--rm", "-v", "etc:/x", IMAGE, "rm", "/x/passwd"]);
    let o = e.arca(&["run", "--rm", "-v", "etc:/etc", IMAGE, "cat", "/etc/passwd"]);
    assert_ne!(code(&o), 0);
    // An image path that is missing: an empty volume.
    let out = e.ok(&[
        "run",
        "--rm",
        "-v",
        "empty:/nowhere",
        IMAGE,
        "ls",
        "-A",
        "/nowhere",
    ]);
    assert_eq!(out, "");
}

#[test]
fn anonymous_volumes_go_with_rm_v() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "--name",
        "keep",
        "-v",
        "/scratch",
        IMAGE,
        "sh",
        "-c",
        "echo a > /scratch/a",
    ]);
    let vols = volumes(&e);
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].len(), 64);
    // Plain rm keeps it (then it is unused, and prune takes it).
    e.ok(&["rm", "keep"]);
    assert_eq!(volumes(&e), vols);
    let pruned = e.ok(&["volume", "prune", "-f"]);
    assert!(pruned.contains(&vols[0]), "{pruned}");
    assert!(volumes(&e).is_empty());

    e.ok(&[
        "run", "--name", "gone", "-v", "/scratch", "-v", "named:/n", IMAGE, "true",
    ]);
    assert_eq!(volumes(&e).len(), 2);
    e.ok(&["rm", "-v", "gone"]);
    // rm -v removes the anonymous volume only.
    assert_eq!(volumes(&e), ["named"]);

    // --rm removes its anonymous volumes too, as Docker's.
    let o = e.arca(&["run", "--rm", "-v", "/scratch", IMAGE, "true"]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert_eq!(volumes(&e), ["named"]);
    assert!(e.mounts().is_empty());
}

/// An image (by `arca import`) with `VOLUME /vol` holding a file, a `data` symlink climbing
/// out of the rootfs to `etc`, and `/bin/true` (busybox-static under that name).
fn import_image(e: &Engine) -> String {
    let dir = e.env.path().join("img");
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::create_dir_all(dir.join("vol/sub")).unwrap();
    std::fs::copy("/bin/busybox", dir.join("bin/true")).unwrap();
    std::fs::write(dir.join("etc/marker"), "image\n").unwrap();
    std::fs::write(dir.join("vol/sub/file"), "in vol\n").unwrap();
    std::os::unix::fs::symlink("../../../../../../../../etc", dir.join("data")).unwrap();
    let tar = e.env.path().join("img.tar");
    let out = std::process::Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = e.ok(&["import", "-c", "VOLUME /vol", tar.to_str().unwrap()]);
    out.lines().last().unwrap().trim().to_owned()
}

#[test]
fn image_volumes_and_symlinks_stay_in_the_rootfs() {
    let e = Engine::new();
    let img = import_image(&e);
    e.ok(&["create", "--name", "c", &img, "/bin/true"]);
    let vols = volumes(&e);
    assert_eq!(vols.len(), 1, "{vols:?}");
    let data = e.root().join("volumes").join(&vols[0]).join("_data");
    assert_eq!(
        std::fs::read_to_string(data.join("sub/file")).unwrap(),
        "in vol\n"
    );
    let inspect = e.inspect("c");
    assert_eq!(
        inspect["Name"].as_str().map(|n| n.trim_start_matches('/')),
        Some("c")
    );

    // /data climbs out of the rootfs: resolved inside it, it is the image's /etc.
    e.ok(&[
        "create",
        "--name",
        "d",
        "-v",
        "esc:/data",
        &img,
        "/bin/true",
    ]);
    let esc = e.root().join("volumes/esc/_data");
    assert_eq!(
        std::fs::read_to_string(esc.join("marker")).unwrap(),
        "image\n"
    );
    assert!(!esc.join("passwd").exists());

    // rm -v takes the image's anonymous volume; the named one stays.
    e.ok(&["rm", "-v", "c", "d"]);
    assert_eq!(volumes(&e), ["esc"]);
}
