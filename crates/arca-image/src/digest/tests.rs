use std::io::{Read, Write};

use super::*;

const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn parses_and_displays_round_trip() {
    let d = Digest::parse(EMPTY).unwrap();
    assert_eq!(d.to_string(), EMPTY);
    assert_eq!(d.algorithm(), Algorithm::Sha256);
    assert_eq!(d.hex(), &EMPTY[7..]);
    assert_eq!(Digest::sha256_of(b""), d);
    let oci: oci_spec::image::Digest = (&d).into();
    assert_eq!(Digest::try_from(&oci).unwrap(), d);
}

#[test]
fn refuses_every_bad_form() {
    let hex = &EMPTY[7..];
    let upper = format!("sha256:{}", hex.to_uppercase());
    let short = format!("sha256:{}", &hex[1..]);
    let long = format!("sha256:{hex}0");
    let nonhex = format!("sha256:{}g", &hex[1..]);
    let sha512 = format!("sha512:{hex}{hex}");
    let md5 = format!("md5:{hex}");
    let cases: &[(&str, &str)] = &[
        (&upper, "lowercase hex"),
        (&short, "63 hex characters"),
        (&long, "65 hex characters"),
        (&nonhex, "'g'"),
        (hex, "missing ':'"),
        ("", "missing ':'"),
        (&format!(":{hex}"), "empty algorithm"),
        (&sha512, "not supported"),
        (&md5, "unknown algorithm \"md5\""),
        ("sha256:", "0 hex characters"),
    ];
    for (input, want) in cases {
        let err = Digest::parse(input).unwrap_err().to_string();
        assert!(err.contains(want), "{input:?}: {err}");
        assert!(
            err.contains(&format!("{input:?}")),
            "error must name the input: {err}"
        );
    }
}

#[test]
fn serde_is_strict_too() {
    let d: Digest = serde_json::from_str(&format!("\"{EMPTY}\"")).unwrap();
    assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{EMPTY}\""));
    assert!(serde_json::from_str::<Digest>(&format!("\"{}\"", EMPTY.to_uppercase())).is_err());
}

#[test]
fn hashing_reader_and_writer_agree() {
    let data = b"hello, layers".repeat(10_000);
    let mut r = HashingReader::new(&data[..]);
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    let (d, n) = r.finish();
    assert_eq!(n, data.len() as u64);
    assert_eq!(d, Digest::sha256_of(&data));

    let mut w = HashingWriter::new(Vec::new());
    w.write_all(&data).unwrap();
    let (buf, d2, n2) = w.into_parts();
    assert_eq!((d2, n2), (d.clone(), n));
    assert_eq!(buf, data);
    verify(&d, Some(n), (Digest::sha256_of(&data), n)).unwrap();
}

#[test]
fn verify_names_expected_and_actual() {
    let want = Digest::sha256_of(b"a");
    let got = Digest::sha256_of(b"b");
    let e = verify(&want, None, (got.clone(), 1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&want.to_string()) && e.contains(&got.to_string()),
        "{e}"
    );
    let e = verify(&want, Some(2), (want.clone(), 1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("expected 2 bytes, got 1") && e.contains(&want.to_string()),
        "{e}"
    );
}

#[test]
fn verifying_reader_checks_at_eof_and_refuses_overlong() {
    let data = b"0123456789";
    let d = Digest::sha256_of(data);
    let mut ok = VerifyingReader::new(&data[..], d.clone(), 10);
    let mut out = Vec::new();
    ok.read_to_end(&mut out).unwrap();
    assert!(ok.is_verified());

    let mut long = VerifyingReader::new(&data[..], d.clone(), 9);
    let e = long.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    assert!(e.to_string().contains("more than the declared 9"), "{e}");

    let mut short = VerifyingReader::new(&data[..], d.clone(), 11);
    let e = short.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("expected 11 bytes, got 10"), "{e}");

    let mut wrong = VerifyingReader::new(&b"0123456780"[..], d, 10);
    let e = wrong.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().contains("digest mismatch"), "{e}");
    assert!(!wrong.is_verified());
}
