//! `update`: change a running (or created, or paused) container's cgroup limits. The values
//! given are merged into the resources recorded in the state, the merged set is applied, and
//! the state records it, so a later partial update starts from what is in force.

use arca_cgroups::Cgroup;
use oci_spec::runtime::LinuxResources;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::state::Status;
use crate::store::Store;

pub fn update(store: &Store, id: &str, resources: &LinuxResources) -> Result<()> {
    let _lock = store.lock(id)?;
    let mut st = store.load(id)?;
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
    let merged = merge(st.resources.as_ref(), resources)?;
    // Device rules are rewritten only when the update names them: v1 replays them after a
    // deny-all, which would briefly cut the running container off /dev/null and friends.
    let mut to_apply = merged.clone();
    if resources.devices().is_none() {
        to_apply.set_devices(None);
    }
    let cgroup = Cgroup::open(&st.cgroup_path)?;
    if let Some(unit) = &st.systemd_unit {
        arca_cgroups::systemd::update(unit, &merged, cgroup.hierarchy())?;
    }
    cgroup.apply(&to_apply)?;
    st.resources = Some(merged);
    store.save(&st)?;
    Ok(())
}

/// `update` layered over `current`, field by field: what the update sets wins, what it leaves
/// out stays. Lists (devices, hugepage limits, throttles) are replaced whole, as in runc.
fn merge(current: Option<&LinuxResources>, update: &LinuxResources) -> Result<LinuxResources> {
    let to_value = |r: &LinuxResources| {
        serde_json::to_value(r).map_err(|e| Error::Usage(format!("update: resources: {e}")))
    };
    let mut base = match current {
        Some(c) => to_value(c)?,
        None => Value::Object(Default::default()),
    };
    merge_value(&mut base, to_value(update)?);
    serde_json::from_value(base).map_err(|e| Error::Usage(format!("update: resources: {e}")))
}

fn merge_value(base: &mut Value, update: Value) {
    match (base, update) {
        (Value::Object(b), Value::Object(u)) => {
            for (k, v) in u {
                if v.is_null() {
                    continue;
                }
                match b.get_mut(&k) {
                    Some(slot) => merge_value(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn partial_update_keeps_the_rest() {
        let current = res(r#"{"memory":{"limit":100,"swap":200},"pids":{"limit":10},
            "cpu":{"shares":512,"cpus":"0"}}"#);
        let merged = merge(Some(&current), &res(r#"{"memory":{"swap":300}}"#)).unwrap();
        let m = merged.memory().as_ref().unwrap();
        assert_eq!((m.limit(), m.swap()), (Some(100), Some(300)));
        assert_eq!(merged.pids().as_ref().unwrap().limit(), 10);
        assert_eq!(merged.cpu().as_ref().unwrap().shares(), Some(512));
    }

    #[test]
    fn lists_are_replaced_and_nothing_recorded_starts_empty() {
        let current = res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":1},
            {"pageSize":"1GB","limit":2}]}"#);
        let merged = merge(
            Some(&current),
            &res(r#"{"hugepageLimits":[{"pageSize":"2MB","limit":4}]}"#),
        )
        .unwrap();
        let h = merged.hugepage_limits().as_ref().unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].limit(), 4);
        let fresh = merge(None, &res(r#"{"pids":{"limit":5}}"#)).unwrap();
        assert_eq!(fresh.pids().as_ref().unwrap().limit(), 5);
    }
}
