//! `arca pull --registries-conf` (and `$ARCA_REGISTRIES_CONF`): mirrors and blocked
//! registries; `--tls-verify=false` on pull and push: plain HTTP to a registry that is not on
//! the loopback (a name reached through an HTTP proxy, which the test registry serves).

mod common;

use std::fs;

use common::{registry::Registry, umoci_image, Env};

/// A registry holding `test/img:t` (umoci's two-layer image, pushed by arca) and the
/// environment that pushed it.
fn registry_with_image() -> (Env, Registry) {
    let env = Env::new();
    umoci_image(env.path(), "app");
    env.ok(&["pull", "-q", "oci:app:v1"]);
    let reg = Registry::start(None);
    let dest = format!("{}/test/img:t", reg.host());
    env.ok(&["push", "-q", "localhost/app:v1", &dest]);
    (env, reg)
}

#[test]
fn registries_conf_mirror_and_blocked() {
    let (source, reg) = registry_with_image();
    let env = Env::new();
    let conf = env.path().join("mirror.conf");
    // The registry as named does not exist: only its mirror can serve the pull.
    fs::write(
        &conf,
        format!(
            "[[registry]]\nlocation = \"registry.invalid\"\n\
             [[registry.mirror]]\nlocation = \"{}\"\n",
            reg.host()
        ),
    )
    .unwrap();
    let conf = conf.to_str().unwrap();
    let out = env.ok(&[
        "pull",
        "--registries-conf",
        conf,
        "registry.invalid/test/img:t",
    ]);
    assert!(
        out.contains("registry.invalid/test/img:t: manifest sha256:"),
        "{out}"
    );
    assert_eq!(env.blobs(), source.blobs(), "the whole image, as pushed");
    let images = env.images_json();
    assert!(
        images[0]["Names"]
            .to_string()
            .contains("registry.invalid/test/img:t"),
        "{images:?}"
    );

    let blocked = env.path().join("blocked.conf");
    fs::write(
        &blocked,
        format!(
            "[[registry]]\nlocation = \"{}\"\nblocked = true\n",
            reg.host()
        ),
    )
    .unwrap();
    let blocked = blocked.to_str().unwrap();
    let reference = format!("{}/test/img:t", reg.host());
    let want = format!("registry {} is blocked in {blocked}", reg.host());
    let err = env.fails(&["pull", "--registries-conf", blocked, &reference]);
    assert!(err.contains(&want), "{err}");
    // The default file comes from the environment.
    let out = env.arca_with(&["pull", &reference], &[("ARCA_REGISTRIES_CONF", blocked)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&want), "{err}");
    let err = env.fails(&["pull", "--registries-conf", "no-such.conf", &reference]);
    assert!(err.contains("no-such.conf"), "{err}");
}

#[test]
fn tls_verify_false_allows_plain_http_for_pull_and_push() {
    let (source, reg) = registry_with_image();
    // `registry.test` resolves nowhere; plain-HTTP requests for it go through the proxy,
    // which is the registry itself (it serves absolute-form request targets). HTTPS requests
    // go direct, and fail.
    let proxy = format!("http://{}", reg.host());
    let proxied = [
        ("http_proxy", proxy.as_str()),
        ("HTTP_PROXY", proxy.as_str()),
        ("no_proxy", ""),
        ("NO_PROXY", ""),
    ];
    let env = Env::new();
    let run = |args: &[&str]| {
        let out = env.arca_with(args, &proxied);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let name = "registry.test:5000/test/img:t";
    let (ok, _, err) = run(&["pull", name]);
    assert!(!ok, "HTTPS by default");
    assert!(err.contains(&format!("pulling {name}")), "{err}");
    let (ok, out, err) = run(&["pull", "--tls-verify=false", name]);
    assert!(ok, "{err}");
    assert!(out.contains("manifest sha256:"), "{out}");
    assert_eq!(env.blobs(), source.blobs());

    let pushed = "registry.test:5000/test/pushed:1";
    let (ok, _, _) = run(&["push", name, pushed]);
    assert!(!ok, "HTTPS by default");
    let (ok, _, err) = run(&["push", "--tls-verify=false", name, pushed]);
    assert!(ok, "{err}");
    // It arrived: pulled back from the loopback address.
    let back = Env::new();
    back.ok(&["pull", &format!("{}/test/pushed:1", reg.host())]);
    assert_eq!(back.blobs(), source.blobs());
}
