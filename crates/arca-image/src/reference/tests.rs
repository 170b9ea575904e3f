//! Cases from Docker's own `reference/normalize_test.go` (TestValidateReferenceName,
//! TestParseNormalizedNamed, TestNormalizedSplitHostname), plus the forms arca documents.

use super::*;

fn canonical(s: &str) -> String {
    Reference::parse(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .to_string()
}

const HEX: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

#[test]
fn docker_valid_names_normalise() {
    for (input, want) in [
        ("docker/docker", "docker.io/docker/docker:latest"),
        ("library/debian", "docker.io/library/debian:latest"),
        ("debian", "docker.io/library/debian:latest"),
        ("docker.io/docker/docker", "docker.io/docker/docker:latest"),
        ("docker.io/library/debian", "docker.io/library/debian:latest"),
        ("docker.io/debian", "docker.io/library/debian:latest"),
        ("index.docker.io/docker/docker", "docker.io/docker/docker:latest"),
        ("index.docker.io/library/debian", "docker.io/library/debian:latest"),
        ("index.docker.io/debian", "docker.io/library/debian:latest"),
        ("127.0.0.1:5000/docker/docker", "127.0.0.1:5000/docker/docker:latest"),
        ("127.0.0.1:5000/library/debian", "127.0.0.1:5000/library/debian:latest"),
        ("127.0.0.1:5000/debian", "127.0.0.1:5000/debian:latest"),
        ("192.168.0.1/docker/docker", "192.168.0.1/docker/docker:latest"),
        ("192.168.0.1/debian", "192.168.0.1/debian:latest"),
        ("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev", 
         "docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev:latest"),
        ("docker.io/docker/docker:latest", "docker.io/docker/docker:latest"),
        ("foo_bar.com:8080", "docker.io/library/foo_bar.com:8080"),
        ("foo/foo_bar.com:8080", "docker.io/foo/foo_bar.com:8080"),
        ("localhost/x", "localhost/x:latest"),
        ("localhost:5000/a/b:tag", "localhost:5000/a/b:tag"),
        ("localhost", "docker.io/library/localhost:latest"),
        ("example.com/a__b/c-----d/e.f_g:v1.0-rc_1", "example.com/a__b/c-----d/e.f_g:v1.0-rc_1"),
        ("[::1]:5000/x", "[::1]:5000/x:latest"),
    ] {
        assert_eq!(canonical(input), want, "{input}");
    }
}

#[test]
fn docker_invalid_names_are_refused() {
    for input in [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        HEX,
        "",
        "a/",
        "a:",
        "a:-tag",
        "a@sha256:abc",
        "a@",
        "UPPER",
        "a..b",
        "a/b_c-",
        "example.com:port/x",
        "ex_ample.com/x",
    ] {
        let err = Reference::parse(input).expect_err(input);
        assert!(
            err.to_string().contains(&format!("{input:?}")),
            "the error names the reference: {err}"
        );
    }
    assert!(matches!(
        Reference::parse("docker/Docker"),
        Err(ReferenceError::Uppercase { .. })
    ));
    assert!(matches!(
        Reference::parse(HEX),
        Err(ReferenceError::ImageId { .. })
    ));
}

#[test]
fn fields_and_api_host() {
    let r = Reference::parse("busybox").unwrap();
    assert_eq!(r.registry(), "docker.io");
    assert_eq!(r.api_host(), "registry-1.docker.io");
    assert_eq!(r.repository(), "library/busybox");
    assert_eq!(r.tag(), Some("latest"));
    assert_eq!(r.digest(), None);
    assert_eq!(r.familiar(), "busybox:latest");

    let r = Reference::parse("user/app:1").unwrap();
    assert_eq!(
        (r.registry(), r.repository(), r.tag()),
        ("docker.io", "user/app", Some("1"))
    );
    assert_eq!(r.familiar(), "user/app:1");

    let r = Reference::parse("127.0.0.1:5000/a/b:tag").unwrap();
    assert_eq!(r.api_host(), "127.0.0.1:5000");
    assert_eq!(r.host(), "127.0.0.1");
    assert_eq!(r.repository(), "a/b");
    assert_eq!(r.familiar(), "127.0.0.1:5000/a/b:tag");
    assert_eq!(Reference::parse("[::1]:5000/x").unwrap().host(), "::1");
}

#[test]
fn digests() {
    let d = format!("sha256:{HEX}");
    let r = Reference::parse(&format!("ghcr.io/o/r@{d}")).unwrap();
    assert_eq!(r.tag(), None);
    assert_eq!(r.digest().unwrap().to_string(), d);
    assert_eq!(r.to_string(), format!("ghcr.io/o/r@{d}"));

    // Both: the digest decides, the tag is kept for display (Docker's canonical form).
    let r = Reference::parse(&format!("name:tag@{d}")).unwrap();
    assert_eq!(r.tag(), Some("tag"));
    assert_eq!(r.digest().unwrap().to_string(), d);
    assert_eq!(r.to_string(), format!("docker.io/library/name:tag@{d}"));
    assert_eq!(r.familiar(), format!("name:tag@{d}"));

    // A port and a digest, no tag.
    let r = Reference::parse(&format!("localhost:5000/x@{d}")).unwrap();
    assert_eq!((r.registry(), r.tag()), ("localhost:5000", None));

    let err = Reference::parse("x@sha256:ABC").unwrap_err();
    assert!(matches!(err, ReferenceError::Digest { .. }), "{err}");
}

#[test]
fn tags() {
    let long = "a".repeat(128);
    assert!(Reference::parse(&format!("x:{long}")).is_ok());
    assert!(Reference::parse(&format!("x:{long}a")).is_err());
    assert!(Reference::parse("x:_ok.1-A").is_ok());
    assert!(Reference::parse("x:.no").is_err());
    assert!(Reference::parse("x:a/b").is_err());
}

#[test]
fn display_round_trips() {
    for s in [
        "busybox",
        "user/app:1",
        "localhost/x",
        "127.0.0.1:5000/a/b:tag",
    ] {
        let r = Reference::parse(s).unwrap();
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
        assert_eq!(Reference::parse(&r.familiar()).unwrap(), r);
    }
}
