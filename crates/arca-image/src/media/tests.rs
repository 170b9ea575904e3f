use std::io::{Read, Write};

use super::types::*;
use super::*;

fn sample() -> Vec<u8> {
    (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn round_trip(c: Compression, compressed: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    decompress(c, compressed)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn media_types_map_to_compression() {
    for (m, c) in [
        (OCI_LAYER, Compression::None),
        (OCI_LAYER_GZIP, Compression::Gzip),
        (OCI_LAYER_ZSTD, Compression::Zstd),
        (OCI_LAYER_NONDISTRIBUTABLE, Compression::None),
        (OCI_LAYER_NONDISTRIBUTABLE_GZIP, Compression::Gzip),
        (OCI_LAYER_NONDISTRIBUTABLE_ZSTD, Compression::Zstd),
        (DOCKER_LAYER_GZIP, Compression::Gzip),
        (DOCKER_LAYER_FOREIGN_GZIP, Compression::Gzip),
    ] {
        assert_eq!(Compression::from_media_type(m).unwrap(), c, "{m}");
        assert_eq!(
            Compression::try_from(&oci_spec::image::MediaType::from(m)).unwrap(),
            c
        );
    }
    let e = Compression::from_media_type(OCI_CONFIG)
        .unwrap_err()
        .to_string();
    assert!(e.contains(OCI_CONFIG), "{e}");
    assert!(is_index(DOCKER_MANIFEST_LIST) && is_manifest(DOCKER_MANIFEST));
    assert!(is_config(OCI_CONFIG) && !is_manifest(OCI_INDEX));
}

#[test]
fn gzip_round_trips_including_multi_member() {
    let data = sample();
    assert_eq!(round_trip(Compression::Gzip, &gzip(&data)), data);
    let (a, b) = data.split_at(12_345);
    let mut multi = gzip(a);
    multi.extend(gzip(b));
    assert_eq!(round_trip(Compression::Gzip, &multi), data);
}

#[test]
fn zstd_and_none_round_trip() {
    let data = sample();
    let z = zstd::encode_all(&data[..], 3).unwrap();
    assert_eq!(round_trip(Compression::Zstd, &z), data);
    assert_eq!(round_trip(Compression::None, &data), data);
}

#[test]
fn corrupt_gzip_is_an_error() {
    let mut g = gzip(&sample());
    let mid = g.len() / 2;
    g[mid] ^= 0xff;
    let mut out = Vec::new();
    assert!(decompress(Compression::Gzip, &g[..])
        .unwrap()
        .read_to_end(&mut out)
        .is_err());
}
