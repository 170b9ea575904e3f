//! Shared helpers for the unpack tests: building layers (including ones the tar crate's
//! Builder refuses to write), a scratch area with a bait directory next to the destination,
//! and a tree snapshot to compare results.

#![allow(dead_code)]

pub mod proxy;
pub mod registry;

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use arca_image::unpack::{unpack, UnpackError, UnpackOptions, UnpackStats, Whiteouts};

/// `tmp/dest` is unpacked into; `tmp/outside` is bait that no layer may touch.
pub struct Scratch {
    pub tmp: tempfile::TempDir,
    pub dest: PathBuf,
    pub outside: PathBuf,
    before: Tree,
}

impl Scratch {
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&dest).unwrap();
        std::fs::create_dir(&outside).unwrap();
        arca_image::objects::Objects::open(&tmp.path().join("images")).unwrap();
        std::fs::write(outside.join("passwd"), b"root:x:0:0\n").unwrap();
        std::fs::create_dir(outside.join("dir")).unwrap();
        std::fs::write(outside.join("dir/keep"), b"keep").unwrap();
        std::fs::set_permissions(
            &outside,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        let before = snapshot(&outside);
        Self {
            tmp,
            dest,
            outside,
            before,
        }
    }

    /// The absolute path of the bait, as an attacker would write it in a layer.
    pub fn outside_abs(&self) -> String {
        self.outside.to_str().unwrap().to_owned()
    }

    /// `outside_abs` as it lands when contained: inside dest, leading `/` dropped.
    pub fn contained(&self, rel: &str) -> PathBuf {
        self.dest
            .join(self.outside.strip_prefix("/").unwrap())
            .join(rel)
    }

    /// Unpacks as snapshots do: files through an object store (beside `dest`, not in the
    /// bait), so the corpus covers the dedup path's file creation too.
    pub fn unpack(&self, layer: &[u8], whiteouts: Whiteouts) -> Result<UnpackStats, UnpackError> {
        let objects = arca_image::objects::Objects::open(&self.tmp.path().join("images")).unwrap();
        self.unpack_with(layer, whiteouts, Some(std::sync::Arc::new(objects)))
    }

    /// Unpacks with files written in place (no object store), as `rootfs::build` does.
    pub fn unpack_plain(
        &self,
        layer: &[u8],
        whiteouts: Whiteouts,
    ) -> Result<UnpackStats, UnpackError> {
        self.unpack_with(layer, whiteouts, None)
    }

    fn unpack_with(
        &self,
        layer: &[u8],
        whiteouts: Whiteouts,
        objects: Option<std::sync::Arc<arca_image::objects::Objects>>,
    ) -> Result<UnpackStats, UnpackError> {
        unpack(
            layer,
            &self.dest,
            &UnpackOptions {
                whiteouts,
                preserve_owner: true,
                objects,
                lowers: Vec::new(),
            },
        )
    }

    /// Panics if anything under the bait (or the bait itself) changed.
    pub fn assert_outside_untouched(&self) {
        assert_eq!(snapshot(&self.outside), self.before, "outside changed");
        let md = std::fs::symlink_metadata(&self.outside).unwrap();
        assert!(md.is_dir());
        assert_eq!(md.mode() & 0o7777, 0o755);
        assert_eq!(md.uid(), 0);
        let entries: Vec<_> = std::fs::read_dir(self.tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        // dest, outside and the object store (made by `new`).
        assert_eq!(
            entries.len(),
            3,
            "something appeared next to dest: {entries:?}"
        );
    }
}

/// A layer under construction. `raw` writes a header with an arbitrary name, which the
/// Builder refuses for `..` and absolute paths.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

pub fn header(ty: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(ty);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_600_000_000);
    h
}

/// Sets the name field byte for byte, bypassing the tar crate's checks.
pub fn set_raw_name(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().name;
    assert!(name.len() < field.len());
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

pub fn set_raw_link(h: &mut tar::Header, name: &str) {
    let field = &mut h.as_old_mut().linkname;
    assert!(name.len() < field.len());
    field.fill(0);
    field[..name.len()].copy_from_slice(name.as_bytes());
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

impl Layer {
    pub fn new() -> Self {
        Self {
            b: tar::Builder::new(Vec::new()),
        }
    }

    /// Appends a header (name and link set raw) and its content.
    pub fn raw(
        &mut self,
        mut h: tar::Header,
        name: &str,
        link: Option<&str>,
        data: &[u8],
    ) -> &mut Self {
        set_raw_name(&mut h, name);
        if let Some(l) = link {
            set_raw_link(&mut h, l);
        }
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub fn file(&mut self, name: &str, data: &[u8], mode: u32) -> &mut Self {
        let h = header(tar::EntryType::Regular, mode, data.len() as u64);
        self.raw(h, name, None, data)
    }

    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        let h = header(tar::EntryType::Directory, mode, 0);
        self.raw(h, name, None, &[])
    }

    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = header(tar::EntryType::Symlink, 0o777, 0);
        self.raw(h, name, Some(target), &[])
    }

    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = header(tar::EntryType::Link, 0o644, 0);
        self.raw(h, name, Some(target), &[])
    }

    /// An entry with PAX records before it.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        self.b
            .append_pax_extensions(records.iter().copied())
            .unwrap();
        self
    }

    pub fn builder(&mut self) -> &mut tar::Builder<Vec<u8>> {
        &mut self.b
    }

    pub fn finish(self) -> Vec<u8> {
        self.b.into_inner().unwrap()
    }
}

/// What the tests compare about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub link: Option<PathBuf>,
    pub rdev: u64,
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// For multiply-linked files: the first path (in sorted order) sharing the inode.
    pub hardlink_group: Option<PathBuf>,
    pub content: Option<Vec<u8>>,
}

pub type Tree = BTreeMap<PathBuf, Node>;

pub fn xattrs(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut names = vec![0u8; 65536];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names[..]) else {
        return out;
    };
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = std::str::from_utf8(name).unwrap();
        let mut val = vec![0u8; 65536];
        let n = rustix::fs::lgetxattr(path, name, &mut val[..]).unwrap();
        out.insert(name.to_owned(), val[..n].to_vec());
    }
    out
}

/// Every path under `root` (excluded), with its attributes.
pub fn snapshot(root: &Path) -> Tree {
    let mut tree = Tree::new();
    let mut inodes: BTreeMap<(u64, u64), PathBuf> = BTreeMap::new();
    walk(root, root, &mut tree, &mut inodes);
    tree
}

fn walk(root: &Path, dir: &Path, tree: &mut Tree, inodes: &mut BTreeMap<(u64, u64), PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        let rel = p.strip_prefix(root).unwrap().to_path_buf();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_char_device() {
            "char"
        } else if ft.is_block_device() {
            "block"
        } else if ft.is_fifo() {
            "fifo"
        } else {
            "socket"
        };
        let hardlink_group = (!ft.is_dir() && md.nlink() > 1).then(|| {
            inodes
                .entry((md.dev(), md.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        tree.insert(
            rel.clone(),
            Node {
                kind,
                mode: md.mode() & 0o7777,
                uid: md.uid(),
                gid: md.gid(),
                size: if ft.is_file() { md.size() } else { 0 },
                mtime: md.mtime(),
                link: ft.is_symlink().then(|| std::fs::read_link(&p).unwrap()),
                rdev: md.rdev(),
                xattrs: xattrs(&p),
                hardlink_group,
                content: ft.is_file().then(|| std::fs::read(&p).unwrap()),
            },
        );
        if ft.is_dir() {
            walk(root, &p, tree, inodes);
        }
    }
}

/// Runs `umoci ARGS` in `dir` (a tool we did not write, Debian's umoci), asserting success.
/// Missing umoci fails the test: scripts/test.sh installs it.
pub fn umoci(args: &[&str], dir: &Path) -> bool {
    let out = std::process::Command::new("umoci")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("umoci is needed (apt-get install umoci): {e}"));
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// This host's platform as the tests name it (the images they build are linux/amd64).
pub fn amd64() -> arca_image::layout::PlatformSpec {
    arca_image::layout::PlatformSpec::new("linux", "amd64", None)
}

/// Runs `sh -ec CMD` in `dir`, asserting success (to shape a bundle's rootfs).
pub fn sh(dir: &Path, cmd: &str) {
    let st = std::process::Command::new("sh")
        .arg("-ec")
        .arg(cmd)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{cmd}");
}

/// A one-layer gzip OCI layout in `dir`, ref `t`, written by hand: its config names `diff_id`
/// (or the layer's true one), which no tool we did not write would get wrong on purpose.
pub fn layout_with_diff_id(dir: &Path, tar: &[u8], diff_id: Option<&arca_image::digest::Digest>) {
    use arca_image::digest::Digest;
    use serde_json::json;
    use std::io::Write;
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let put = |data: &[u8]| -> (String, usize) {
        let d = Digest::sha256_of(data);
        std::fs::write(blobs.join(d.hex()), data).unwrap();
        (d.to_string(), data.len())
    };
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(tar).unwrap();
    let (layer, layer_size) = put(&gz.finish().unwrap());
    let real = Digest::sha256_of(tar).to_string();
    let diff_id = diff_id.map_or(real, ToString::to_string);
    let config = json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "config": {}});
    let (config, config_size) = put(config.to_string().as_bytes());
    let manifest = json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer, "size": layer_size}]});
    let (manifest, manifest_size) = put(manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "t"}}]});
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
}

/// A two-layer image written by umoci (a tool we did not write) in the layout `<w>/L` (tag
/// `v1`), the second layer deleting a file (whiteout), emptying and refilling a directory, and
/// replacing a symlink by a directory; `umoci unpack` of it is at `<w>/theirs/rootfs`.
pub fn umoci_two_layers(w: &Path) {
    umoci(&["init", "--layout", "L"], w);
    umoci(&["new", "--image", "L:v1"], w);
    umoci(&["unpack", "--image", "L:v1", "b"], w);
    let r = w.join("b/rootfs");
    sh(
        &r,
        "mkdir -p etc/app var/cache/x usr/bin && echo one > etc/app/a && echo two > etc/app/b \
         && echo c > var/cache/x/c && echo t > usr/bin/tool && chmod 4711 usr/bin/tool \
         && chown 7:8 etc/app/b && ln -s /usr/bin/tool link",
    );
    // --refresh-bundle: the next repack diffs against this layer, not the empty image.
    umoci(&["repack", "--refresh-bundle", "--image", "L:v1", "b"], w);
    // Second layer: a file deleted (whiteout), a directory emptied and refilled (opaque or
    // per-file whiteouts, whichever umoci writes), a file replaced by a directory.
    sh(
        &r,
        "rm etc/app/a && rm -r var/cache/x && mkdir var/cache/x && echo new > var/cache/x/n \
         && rm link && mkdir link && echo in > link/f",
    );
    umoci(&["repack", "--image", "L:v1", "b"], w);
    umoci(&["unpack", "--image", "L:v1", "theirs"], w);
}
