//! `update`: change a running (or created, or paused) container's cgroup limits. Only the
//! resources given are written, through [`Cgroup::apply`].

use arca_cgroups::Cgroup;
use oci_spec::runtime::LinuxResources;

use crate::error::{Error, Result};
use crate::state::Status;
use crate::store::Store;

pub fn update(store: &Store, id: &str, resources: &LinuxResources) -> Result<()> {
    let _lock = store.lock(id)?;
    let st = store.load(id)?;
    let status = st.status(&store.dir(id));
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "update",
            status: status.to_string(),
        });
    }
    if st.no_cgroup {
        return Err(Error::Usage(format!(
            "cannot update container {id:?}: it has no cgroup (rootless without cgroup \
             delegation)"
        )));
    }
    Cgroup::open(&st.cgroup_path)?.apply(resources)?;
    Ok(())
}
