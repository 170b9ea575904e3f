//! `arca system prune` from the user's side: what it removes (stopped containers, dangling
//! images, with `-a` every image no container uses, with `--volumes` unused anonymous
//! volumes) and what it keeps (running containers, their images, named volumes).

mod common;

use common::engine::{Engine, IMAGE};

fn volumes(e: &Engine) -> Vec<String> {
    let mut v: Vec<String> = e
        .ok(&["volume", "ls", "-q"])
        .lines()
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

fn image_ids(e: &Engine) -> Vec<String> {
    e.env
        .images_json()
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn system_prune_removes_only_what_nothing_uses() {
    let e = Engine::new();
    let busybox = image_ids(&e).remove(0);
    e.ok(&["run", "-d", "--name", "live", IMAGE, "sleep", "60"]);
    let done = e.ok(&[
        "run",
        "-d",
        "--name",
        "done",
        "-v",
        "/scratch",
        "-v",
        "named:/n",
        IMAGE,
        "sh",
        "-c",
        "head -c 300000 /dev/zero > /scratch/zeros; echo x > /n/x",
    ]);
    let done = done.trim();
    e.ok(&["wait", "done"]);
    let anonymous: Vec<String> = volumes(&e).into_iter().filter(|v| v != "named").collect();
    assert_eq!(anonymous.len(), 1);
    let labels = &e.ok(&["volume", "inspect", &anonymous[0]]);
    assert!(labels.contains("com.docker.volume.anonymous"), "{labels}");
    // A dangling image (imported without a name) and a named one no container uses.
    let tar = e.env.path().join("fs.tar");
    e.ok(&["export", "-o", tar.to_str().unwrap(), "done"]);
    let dangling = e.ok(&["import", tar.to_str().unwrap()]).trim().to_owned();
    let spare = e
        .ok(&["import", tar.to_str().unwrap(), "spare:1"])
        .trim()
        .to_owned();
    assert_ne!(dangling, spare);
    assert_eq!(image_ids(&e).len(), 3);
    // A network nothing is on goes; the default one (the live container's) stays.
    e.ok(&["network", "create", "idle"]);

    let out = e.ok(&["system", "prune", "-f"]);
    assert!(out.contains("Deleted Networks:\nidle\n"), "{out}");
    assert_eq!(e.ok(&["network", "ls", "-q"]), "arca\n");
    assert!(
        out.contains(&format!("Deleted Containers:\n{done}\n")),
        "{out}"
    );
    assert!(out.contains(&format!("Deleted: {dangling}")), "{out}");
    assert!(!out.contains("Deleted Volumes"), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(e.ok(&["ps", "-a", "--format", "{{.Names}}"]).trim(), "live");
    let mut left = image_ids(&e);
    left.sort();
    let mut want = vec![busybox.clone(), spare.clone()];
    want.sort();
    assert_eq!(left, want, "only the dangling image goes without -a");
    assert_eq!(volumes(&e).len(), 2, "volumes stay without --volumes");

    let out = e.ok(&["system", "prune", "-a", "--volumes", "-f"]);
    assert!(
        out.contains(&format!("Deleted Volumes:\n{}\n", anonymous[0])),
        "{out}"
    );
    assert!(out.contains("Untagged: spare:1"), "{out}");
    assert!(out.contains(&format!("Deleted: {spare}")), "{out}");
    // The anonymous volume's 300 kB at least.
    let total = out.lines().last().unwrap();
    assert!(
        total.ends_with("kB") || total.ends_with("MB"),
        "{total} (from:\n{out})"
    );
    // The running container's image and the named volume stay.
    assert_eq!(image_ids(&e), [busybox]);
    assert_eq!(volumes(&e), ["named"]);
    assert!(e.ok(&["ps"]).contains("live"));
}
