//! The engine's handle on one `--root`: where containers live on disk, their records, the
//! image snapshots they stand on, and the OCI runtime's state directory.
//!
//! ```text
//! <root>/containers/<id>/config.json   the bundle (built from the image config and flags)
//! <root>/containers/<id>/rootfs/       the writable snapshot, mounted while it may run
//! <root>/containers/<id>/ctr.log       its log (JSON lines, rotated)
//! <root>/containers/<id>/attach        its monitor's attach socket (see `attach`)
//! <root>/runtime/<id>/                 arca-container's state while it exists in the runtime
//! <root>/containers/<id>/{hosts,resolv.conf,hostname}  bind-mounted into it (see `network`)
//! <root>/containers/<id>/net/<net>.json  a CNI attachment: config and ADD result, for DEL
//! <root>/networks/<name>.conflist      a network (CNI config list); ipam/ its leases
//! /run/arca/netns/<id>                 a CNI container's network namespace, while it runs
//!                                      (a rootless user's run dir instead, see `rootless`)
//! <root>/volumes/<name>/_data         a volume's content (see `volumes`)
//! <root>/images/catalog.db             the records (`containers` table) beside the images'
//! <root>/images/snapshots/active/<id>/ the writable snapshot (key = container id)
//! ```

use std::path::{Path, PathBuf};

use arca_image::snapshot::Snapshots;

use crate::error::EngineError;
use crate::records::Records;

#[derive(Debug)]
pub struct Engine {
    root: PathBuf,
    pub(crate) records: Records,
    pub(crate) snapshots: Snapshots,
    pub(crate) runtime: arca_container::store::Store,
    pub(crate) networks: arca_net::Networks,
    /// Run by an ordinary user, inside its namespaces (see `rootless`).
    pub(crate) rootless: bool,
    /// Network namespaces and console sockets: `/run/arca`, or the rootless user's own.
    pub(crate) run_dir: PathBuf,
}

impl Engine {
    /// The engine under `root`, whose image store (`root/images`) the caller opened, so its
    /// catalog (the records' database) exists.
    pub fn open(root: &Path, snapshots: Snapshots) -> Result<Engine, EngineError> {
        let containers = root.join("containers");
        std::fs::create_dir_all(&containers)
            .map_err(|e| EngineError::io("create", &containers, e))?;
        let records = Records::open(&root.join("images").join("catalog.db"))?;
        let runtime = arca_container::store::Store::new(&root.join("runtime"))?;
        Ok(Engine {
            root: root.to_owned(),
            records,
            snapshots,
            runtime,
            networks: arca_net::Networks::new(
                &root.join("networks"),
                arca_net::cni::PluginPath::default(),
            ),
            rootless: crate::rootless::active(),
            run_dir: crate::rootless::run_dir(),
        })
    }

    /// Where CNI plugins are looked up (`--cni-plugin-dir`).
    pub fn set_cni_plugin_path(&mut self, path: arca_net::cni::PluginPath) {
        self.networks.plugins = path;
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn records(&self) -> &Records {
        &self.records
    }

    /// The container's directory (bundle, rootfs mount point, log).
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }

    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.dir(id).join("rootfs")
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("ctr.log")
    }

    /// Whether the engine runs for an ordinary user (see `rootless`).
    pub fn is_rootless(&self) -> bool {
        self.rootless
    }

    /// Where container `id`'s network namespace is mounted while it runs.
    pub fn netns_path(&self, id: &str) -> PathBuf {
        self.run_dir.join("netns").join(id)
    }

    /// Where console sockets are bound (a short path: see `console`).
    pub(crate) fn console_dir(&self) -> PathBuf {
        self.run_dir.join("console")
    }

    /// The images' directory (for the GC lock).
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
}
