//! `list` and `ps`: what containers exist under the root, and which processes one holds.

use std::path::PathBuf;

use arca_cgroups::Cgroup;
use serde::Serialize;

use crate::error::Result;
use crate::store::Store;

/// One row of `list`, in the JSON shape runc prints with `--format json`.
#[derive(Debug, Clone, Serialize)]
pub struct ListEntry {
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    pub status: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: String,
}

pub fn list(store: &Store) -> Result<Vec<ListEntry>> {
    let mut out = Vec::new();
    for id in store.list()? {
        let Ok(st) = store.load(&id) else { continue };
        let status = st.status(&store.dir(&id));
        let running = status != crate::state::Status::Stopped;
        out.push(ListEntry {
            oci_version: crate::OCI_VERSION.into(),
            pid: if running { st.pid } else { 0 },
            status: status.to_string(),
            bundle: st.bundle,
            rootfs: st.rootfs,
            created: st.created,
            owner: if st.owner.is_empty() {
                "root".into()
            } else {
                st.owner
            },
            id,
        });
    }
    Ok(out)
}

/// Host pids of every process in the container's cgroup.
pub fn ps(store: &Store, id: &str) -> Result<Vec<i32>> {
    let st = store.load(id)?;
    let mut pids = if st.no_cgroup {
        crate::state::pids_without_cgroup(st.pid, st.start_time)
    } else {
        Cgroup::open(&st.cgroup_path)?.pids()?
    };
    pids.sort_unstable();
    Ok(pids)
}
