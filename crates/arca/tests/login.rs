//! `arca login` / `logout` from the user's side, against Debian's docker-registry with
//! htpasswd auth: credentials are checked before they are stored, the file is Podman's format
//! (skopeo reads it), and push and pull use the stored login without `--creds`. Every command
//! gets `--authfile` in the test's directory: the real /run/containers/0/auth.json is never
//! touched.

mod common;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{registry::Registry, umoci_image, Env};
use serde_json::Value;

#[test]
fn login_push_pull_logout() {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "-q", "oci:app:v1"]);
    let reg = Registry::start(Some(("alice", "s3cret")));
    let host = reg.host();
    let authfile = env.path().join("cfg/containers/auth.json");
    let af = authfile.to_str().unwrap();

    // Wrong password: refused, and nothing written.
    let err = env.fails(&[
        "login",
        "--authfile",
        af,
        "-u",
        "alice",
        "-p",
        "wrong",
        &host,
    ]);
    assert!(err.contains("invalid username/password"), "{err}");
    assert!(!authfile.exists());

    let out = env.ok(&[
        "login",
        "--authfile",
        af,
        "-u",
        "alice",
        "-p",
        "s3cret",
        &host,
    ]);
    assert_eq!(out.trim(), "Login Succeeded!");
    let mode = fs::metadata(&authfile).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let doc: Value = serde_json::from_slice(&fs::read(&authfile).unwrap()).unwrap();
    // base64("alice:s3cret")
    assert_eq!(doc["auths"][&host]["auth"], "YWxpY2U6czNjcmV0", "{doc:#}");

    // push picks the stored login up (no --creds)...
    let dest = format!("{host}/team/x:1");
    env.ok(&["push", "-q", "--authfile", af, "localhost/app:v1", &dest]);
    assert_eq!(reg.blob_uploads(), 3);
    // ...and skopeo reads the same file.
    let out = Command::new("skopeo")
        .args(["inspect", "--authfile", af, "--tls-verify=false"])
        .arg(format!("docker://{dest}"))
        .output()
        .expect("skopeo is needed (apt-get install skopeo)");
    assert!(
        out.status.success(),
        "skopeo: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let remote: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(remote["Layers"].as_array().unwrap().len(), 2, "{remote:#}");

    // pull into another root, no --creds.
    let other = Env::new();
    other.ok(&["pull", "-q", "--authfile", af, &dest]);
    assert_eq!(other.images_json().len(), 1);

    // logout: the entry goes, and pulls are anonymous again (401).
    let out = env.ok(&["logout", "--authfile", af, &host]);
    assert_eq!(out.trim(), format!("Removed login credentials for {host}"));
    let doc: Value = serde_json::from_slice(&fs::read(&authfile).unwrap()).unwrap();
    assert!(doc["auths"].get(&host).is_none(), "{doc:#}");
    let err = env.fails(&["logout", "--authfile", af, &host]);
    assert!(err.contains(&format!("not logged into {host}")), "{err}");
    let third = Env::new();
    let err = third.fails(&["pull", "-q", "--authfile", af, &dest]);
    assert!(
        err.contains("401") && err.contains("no credentials were given"),
        "{err}"
    );
}

#[test]
fn login_password_stdin_keeps_other_entries() {
    let env = Env::new();
    let reg = Registry::start(Some(("bob", "pw")));
    let host = reg.host();
    let authfile = env.path().join("auth.json");
    fs::write(&authfile, r#"{"auths":{"quay.io":{"auth":"cTp3"}}}"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args(["--root"])
        .arg(env.path().join("root"))
        .args(["login", "--password-stdin", "-u", "bob", "--authfile"])
        .arg(&authfile)
        .arg(&host)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"pw\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&fs::read(&authfile).unwrap()).unwrap();
    assert_eq!(doc["auths"]["quay.io"]["auth"], "cTp3");
    assert_eq!(doc["auths"][&host]["auth"], "Ym9iOnB3"); // base64("bob:pw")
}
