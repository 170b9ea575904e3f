//! Image layouts: written by tools we did not write (umoci, skopeo) and by hand for the cases
//! those tools do not produce (multi-platform indexes, lying descriptors).

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use arca_image::digest::{Digest, HashingReader};
use arca_image::layout::{Layout, LayoutError, PlatformSpec};
use arca_image::media::{decompress, Compression};
use arca_image::store::Store;
use serde_json::json;

mod common;
use common::amd64;

/// The tools we did not write are required, never skipped: scripts/test.sh installs them.
fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    assert!(found, "{tool} is needed (apt-get install -y {tool})");
    found
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// umoci's recipe from the brief: an empty image, one layer adding /hello.
fn umoci_layout(dir: &Path) -> std::path::PathBuf {
    let layout = dir.join("L");
    let bundle = dir.join("b");
    run(Command::new("umoci")
        .arg("init")
        .arg("--layout")
        .arg(&layout));
    run(Command::new("umoci")
        .arg("new")
        .arg("--image")
        .arg(format!("{}:v1", layout.display())));
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    fs::write(bundle.join("rootfs/hello"), "hi\n").unwrap();
    run(Command::new("umoci")
        .args(["repack", "--image"])
        .arg(format!("{}:v1", layout.display()))
        .arg(&bundle));
    layout
}

/// Reads the layer through the verifying reader and the decompressor, checks the diff_id,
/// and returns the names in the tar.
fn layer_names(layout: &Layout, layer: &arca_image::layout::Layer) -> Vec<String> {
    let raw = layout.open_layer(layer).unwrap();
    let mut tar_bytes = Vec::new();
    let mut hashing = HashingReader::new(decompress(layer.compression, raw).unwrap());
    hashing.read_to_end(&mut tar_bytes).unwrap();
    assert_eq!(hashing.finish().0, layer.diff_id);
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn check_umoci_image(layout: &Layout, reference: Option<&str>) {
    let image = layout.image(reference, &amd64()).unwrap();
    assert_eq!(image.layers.len(), 1);
    let layer = &image.layers[0];
    assert_eq!(layer.compression, Compression::Gzip);
    assert_eq!(image.config.rootfs().diff_ids().len(), 1);
    let names = layer_names(layout, layer);
    assert!(
        names.iter().any(|n| n.trim_start_matches("./") == "hello"),
        "{names:?}"
    );

    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    layout.import_into(&store, &image).unwrap();
    let mut want = vec![
        image.manifest_digest.clone(),
        image.config_digest.clone(),
        layer.digest.clone(),
    ];
    want.sort();
    assert_eq!(store.list().unwrap(), want);
    for d in &want {
        store.verify_blob(d).unwrap();
    }
    // Idempotent.
    layout.import_into(&store, &image).unwrap();
}

#[test]
fn reads_a_umoci_layout_and_its_skopeo_archive() {
    if !have("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = umoci_layout(tmp.path());
    let layout = Layout::open(&dir).unwrap();
    assert_eq!(layout.refs(), vec!["v1".to_owned()]);
    check_umoci_image(&layout, Some("v1"));
    // The only manifest is also found without a ref.
    check_umoci_image(&layout, None);

    if !have("skopeo") {
        return;
    }
    let archive = tmp.path().join("x.tar");
    run(Command::new("skopeo")
        .arg("copy")
        .arg(format!("oci:{}:v1", dir.display()))
        .arg(format!("oci-archive:{}:v1", archive.display())));
    let reference =
        arca_image::layout::ImageReference::parse(&format!("oci-archive:{}:v1", archive.display()))
            .unwrap();
    let from_archive = reference.open().unwrap();
    let extracted = from_archive.dir().to_path_buf();
    assert!(extracted.join("index.json").is_file());
    check_umoci_image(&from_archive, reference.reference());
    drop(from_archive);
    assert!(
        !extracted.exists(),
        "the extraction must be removed on drop"
    );
}

#[test]
fn missing_ref_lists_the_refs() {
    if !have("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = umoci_layout(tmp.path());
    let e = Layout::open(&dir)
        .unwrap()
        .image(Some("nope"), &amd64())
        .unwrap_err();
    assert!(matches!(e, LayoutError::RefNotFound { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("\"nope\"") && e.contains("refs available: v1"),
        "{e}"
    );
    assert!(
        e.starts_with(&format!("oci:{}:nope: index.json", dir.display())),
        "{e}"
    );
}

#[test]
fn corrupted_layout_blob_names_the_digest() {
    if !have("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = umoci_layout(tmp.path());
    let layout = Layout::open(&dir).unwrap();
    let image = layout.image(Some("v1"), &amd64()).unwrap();

    // Corrupt the config (a JSON blob): resolution itself fails.
    let config = layout.blob_path(&image.config_digest);
    let mut bytes = fs::read(&config).unwrap();
    bytes[0] = b' ';
    fs::write(&config, &bytes).unwrap();
    let e = layout.image(Some("v1"), &amd64()).unwrap_err().to_string();
    assert!(
        e.contains(&image.config_digest.to_string()) && e.contains("digest mismatch"),
        "{e}"
    );

    // Corrupt the layer: the stream fails at its end, and the import refuses it.
    let layer = &image.layers[0];
    let path = layout.blob_path(&layer.digest);
    let mut bytes = fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let mut sink = Vec::new();
    let e = layout
        .open_layer(layer)
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap_err()
        .to_string();
    assert!(e.contains(&layer.digest.to_string()), "{e}");
    let store_dir = tempfile::tempdir().unwrap();
    let store = Store::open(store_dir.path()).unwrap();
    let e = layout.import_into(&store, &image).unwrap_err().to_string();
    assert!(
        e.contains(&image.config_digest.to_string()) || e.contains(&layer.digest.to_string()),
        "{e}"
    );
    assert!(!store.has(&layer.digest) && !store.has(&image.config_digest));
}

/// A hand-made layout: blobs written by the test, descriptors pointing at them.
struct Builder {
    dir: tempfile::TempDir,
}

impl Builder {
    fn new() -> Builder {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        fs::write(
            dir.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Builder { dir }
    }

    fn blob(&self, data: &[u8]) -> (Digest, u64) {
        let d = Digest::sha256_of(data);
        fs::write(self.dir.path().join("blobs/sha256").join(d.hex()), data).unwrap();
        (d, data.len() as u64)
    }

    fn json_blob(&self, v: &serde_json::Value) -> (Digest, u64) {
        self.blob(&serde_json::to_vec(v).unwrap())
    }

    /// A one-file gzip layer; returns (layer digest, size, diff_id).
    fn layer(&self, file: &str) -> (Digest, u64, Digest) {
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, file, &b"x\n"[..]).unwrap();
        let tar = tar.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let (d, n) = self.blob(&gz.finish().unwrap());
        (d, n, Digest::sha256_of(&tar))
    }

    /// A manifest for one platform; returns its descriptor JSON.
    fn manifest(&self, arch: &str, variant: Option<&str>) -> serde_json::Value {
        let (ld, ln, diff) = self.layer(&format!("{arch}-file"));
        let (cd, cn) = self.json_blob(&json!({
            "architecture": arch, "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff.to_string()]},
        }));
        let (md, mn) = self.json_blob(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cn},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": ln}],
        }));
        let mut platform = json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            platform["variant"] = json!(v);
        }
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mn, "platform": platform})
    }

    fn index_json(&self, manifests: Vec<serde_json::Value>) {
        fs::write(
            self.dir.path().join("index.json"),
            serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": manifests})).unwrap(),
        )
        .unwrap();
    }

    fn open(&self) -> Layout {
        Layout::open(self.dir.path()).unwrap()
    }
}

fn with_ref(mut desc: serde_json::Value, name: &str) -> serde_json::Value {
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": name});
    desc
}

#[test]
fn multi_platform_index_picks_by_platform() {
    let b = Builder::new();
    let arm = b.manifest("arm64", Some("v8"));
    let amd = b.manifest("amd64", None);
    let (id, n) = b.json_blob(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [arm.clone(), amd.clone()],
    }));
    b.index_json(vec![with_ref(
        json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": id.to_string(), "size": n}),
        "multi",
    )]);
    let layout = b.open();

    let image = layout.image(Some("multi"), &amd64()).unwrap();
    assert_eq!(
        image.manifest_digest.to_string(),
        amd["digest"].as_str().unwrap()
    );
    assert_eq!(image.config.architecture().to_string(), "amd64");
    assert_eq!(layer_names(&layout, &image.layers[0]), vec!["amd64-file"]);

    let arm_image = layout
        .image(Some("multi"), &PlatformSpec::new("linux", "arm64", None))
        .unwrap();
    assert_eq!(
        arm_image.manifest_digest.to_string(),
        arm["digest"].as_str().unwrap()
    );

    if PlatformSpec::host().architecture == "amd64" {
        assert_eq!(
            layout
                .image(None, &PlatformSpec::host())
                .unwrap()
                .manifest_digest,
            image.manifest_digest
        );
    }

    let e = layout
        .image(Some("multi"), &PlatformSpec::new("linux", "s390x", None))
        .unwrap_err();
    assert!(matches!(e, LayoutError::NoPlatform { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("linux/s390x") && e.contains("linux/arm64/v8, linux/amd64"),
        "{e}"
    );
    assert!(e.contains(&format!("index {id}")), "{e}");
}

#[test]
fn docker_manifest_list_is_an_index_too() {
    let b = Builder::new();
    let mut amd = b.manifest("amd64", None);
    amd["mediaType"] = json!("application/vnd.docker.distribution.manifest.v2+json");
    let (id, n) = b.json_blob(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [amd.clone()],
    }));
    b.index_json(vec![with_ref(
        json!({"mediaType": "application/vnd.docker.distribution.manifest.list.v2+json", "digest": id.to_string(), "size": n}),
        "latest",
    )]);
    let image = b.open().image(Some("latest"), &amd64()).unwrap();
    assert_eq!(
        image.manifest_digest.to_string(),
        amd["digest"].as_str().unwrap()
    );
}

#[test]
fn several_manifests_without_a_ref_is_ambiguous() {
    let b = Builder::new();
    b.index_json(vec![
        with_ref(b.manifest("amd64", None), "a"),
        with_ref(b.manifest("arm64", None), "b"),
    ]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains("2 manifests and no ref given; name one of: a, b"),
        "{e}"
    );
    assert!(
        b.open().image(Some("b"), &amd64()).is_ok(),
        "a ref names one manifest whatever its platform"
    );
}

#[test]
fn lying_descriptors_are_refused() {
    let b = Builder::new();
    let mut desc = b.manifest("amd64", None);
    let real = desc["size"].as_u64().unwrap();

    // Larger than the cap: refused before reading anything.
    desc["size"] = json!(64u64 << 20);
    b.index_json(vec![desc.clone()]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains("index.json: manifests[0].size") && e.contains("limit"),
        "{e}"
    );

    // Smaller than the blob: the extra bytes are refused.
    desc["size"] = json!(real - 1);
    b.index_json(vec![desc.clone()]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains(desc["digest"].as_str().unwrap()) && e.contains("size mismatch"),
        "{e}"
    );

    // A digest oci-spec accepts but we do not.
    desc["size"] = json!(real);
    desc["digest"] = json!(format!("sha512:{}", "a".repeat(128)));
    b.index_json(vec![desc]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains("index.json: manifests[0].digest") && e.contains("sha512"),
        "{e}"
    );
}

#[test]
fn diff_id_count_must_match_layers() {
    let b = Builder::new();
    let (ld, ln, _) = b.layer("f");
    let (cd, cn) = b.json_blob(&json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}));
    let (md, mn) = b.json_blob(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cn},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": ln}],
    }));
    b.index_json(vec![json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mn})]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains("1 layers but the config's rootfs.diff_ids has 0")
            && e.contains(&md.to_string()),
        "{e}"
    );
}

#[test]
fn unknown_layer_media_type_is_named() {
    let b = Builder::new();
    let (ld, ln, diff) = b.layer("f");
    let (cd, cn) = b.json_blob(&json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff.to_string()]}}));
    let (md, mn) = b.json_blob(&json!({
        "schemaVersion": 2,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cn},
        "layers": [{"mediaType": "application/x-foo", "digest": ld.to_string(), "size": ln}],
    }));
    b.index_json(vec![json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mn})]);
    let e = b.open().image(None, &amd64()).unwrap_err().to_string();
    assert!(
        e.contains("layers[0].mediaType") && e.contains("application/x-foo"),
        "{e}"
    );
}

#[test]
fn layout_version_is_required() {
    let b = Builder::new();
    b.index_json(vec![]);
    fs::write(
        b.dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .unwrap();
    let e = Layout::open(b.dir.path()).unwrap_err().to_string();
    assert!(e.contains("oci-layout") && e.contains("\"2.0.0\""), "{e}");
    fs::remove_file(b.dir.path().join("oci-layout")).unwrap();
    assert!(Layout::open(b.dir.path()).is_err());
}

#[test]
fn archive_with_escaping_names_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for evil in ["../evil", "/abs/evil", "blobs/../../evil"] {
        let mut h = tar::Header::new_gnu();
        // Written raw: the tar crate itself refuses to build such names.
        h.as_gnu_mut().unwrap().name[..evil.len()].copy_from_slice(evil.as_bytes());
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut tar = tar::Builder::new(Vec::new());
        tar.append(&h, &b"x"[..]).unwrap();
        let file = tmp.path().join("evil.tar");
        fs::write(&file, tar.into_inner().unwrap()).unwrap();
        let e = Layout::open_archive(&file).unwrap_err().to_string();
        assert!(e.contains("refused") && e.contains("evil"), "{evil}: {e}");
        assert!(!tmp.path().join("evil").exists() && !Path::new("/abs/evil").exists());
    }
}

#[test]
fn archive_symlinks_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    tar.append_link(&mut h, "index.json", "/etc/passwd")
        .unwrap();
    let file = tmp.path().join("link.tar");
    fs::write(&file, tar.into_inner().unwrap()).unwrap();
    let e = Layout::open_archive(&file).unwrap_err().to_string();
    assert!(e.contains("index.json") && e.contains("Symlink"), "{e}");
}
