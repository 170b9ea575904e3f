//! `pause` / `resume`: freeze and thaw every process of the container through its cgroup (v1
//! freezer, v2 `cgroup.freeze`). The status "paused" is derived from the cgroup (see
//! [`crate::state`]).

use arca_cgroups::Cgroup;

use crate::error::{Error, Result};
use crate::state::Status;
use crate::store::Store;

/// Freezes a running container.
pub fn pause(store: &Store, id: &str) -> Result<()> {
    set_paused(store, id, true)
}

/// Thaws a paused container.
pub fn resume(store: &Store, id: &str) -> Result<()> {
    set_paused(store, id, false)
}

fn set_paused(store: &Store, id: &str, pause: bool) -> Result<()> {
    let _lock = store.lock(id)?;
    let st = store.load(id)?;
    let status = st.status(&store.dir(id));
    let (action, wanted) = if pause {
        ("pause", Status::Running)
    } else {
        ("resume", Status::Paused)
    };
    if status != wanted {
        return Err(Error::BadState {
            id: id.to_owned(),
            action,
            status: status.to_string(),
        });
    }
    if st.no_cgroup {
        return Err(Error::Usage(format!(
            "cannot {action} container {id:?}: it has no cgroup (rootless without cgroup \
             delegation), and freezing needs one"
        )));
    }
    let cgroup = Cgroup::open(&st.cgroup_path)?;
    if pause {
        cgroup.freeze()?;
    } else {
        cgroup.thaw()?;
    }
    Ok(())
}
