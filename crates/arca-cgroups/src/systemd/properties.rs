//! Spec resources as systemd unit properties, per runc's table (docs/systemd.md in runc):
//! only the limits systemd itself would otherwise reset on `daemon-reload`. Everything is also
//! written to cgroupfs afterwards, so a resource missing here is still enforced.

use oci_spec::runtime::LinuxResources;
use zbus::zvariant::Value;

use super::Unit;
use crate::error::CgroupError;
use crate::Hierarchy;

pub(super) type Property = (&'static str, Value<'static>);

/// systemd's "no limit" for u64 properties.
const INFINITY: u64 = u64::MAX;

/// The properties of the container's scope: placement, delegation, accounting, the init's
/// pid, then the limits.
pub(super) fn for_scope(
    unit: &Unit,
    pid: u32,
    id: &str,
    resources: Option<&LinuxResources>,
    hierarchy: Hierarchy,
) -> Result<Vec<Property>, CgroupError> {
    let v2 = hierarchy == Hierarchy::Unified;
    let mut props: Vec<Property> = vec![
        ("Description", Value::from(format!("arca container {id}"))),
        ("Slice", Value::from(unit.slice().to_owned())),
        ("Delegate", Value::from(true)),
        // Without this the scope would be stopped early at shutdown, before its manager.
        ("DefaultDependencies", Value::from(false)),
        ("PIDs", Value::from(vec![pid])),
        ("MemoryAccounting", Value::from(true)),
        ("CPUAccounting", Value::from(true)),
        ("TasksAccounting", Value::from(true)),
        (
            if v2 {
                "IOAccounting"
            } else {
                "BlockIOAccounting"
            },
            Value::from(true),
        ),
    ];
    if let Some(r) = resources {
        limits(r, v2, &mut props)?;
    }
    Ok(props)
}

/// Only the limits, for SetUnitProperties.
pub(super) fn limits_only(
    r: &LinuxResources,
    hierarchy: Hierarchy,
) -> Result<Vec<Property>, CgroupError> {
    let mut props = Vec::new();
    limits(r, hierarchy == Hierarchy::Unified, &mut props)?;
    Ok(props)
}

fn limits(r: &LinuxResources, v2: bool, props: &mut Vec<Property>) -> Result<(), CgroupError> {
    if let Some(m) = r.memory() {
        let limit = m.limit().unwrap_or(0);
        if let Some(v) = bytes(limit) {
            props.push((if v2 { "MemoryMax" } else { "MemoryLimit" }, Value::from(v)));
        }
        if v2 {
            if let Some(v) = bytes(m.reservation().unwrap_or(0)) {
                props.push(("MemoryLow", Value::from(v)));
            }
            let swap = m.swap().unwrap_or(0);
            if swap != 0 {
                let v = crate::v2::memory::swap_v2(swap, limit)?;
                props.push(("MemorySwapMax", Value::from(bytes(v).unwrap_or(0))));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            if v2 {
                let w = crate::v2::cpu::shares_to_weight(shares);
                props.push(("CPUWeight", Value::from(w)));
            } else {
                props.push(("CPUShares", Value::from(shares)));
            }
        }
        let period = c.period().filter(|p| *p != 0).unwrap_or(100_000);
        if let Some(quota) = c.quota().filter(|q| *q > 0) {
            props.push((
                "CPUQuotaPerSecUSec",
                Value::from(quota_per_sec(quota, period)),
            ));
            if v2 {
                props.push(("CPUQuotaPeriodUSec", Value::from(period)));
            }
        }
    }
    if let Some(p) = r.pids() {
        let max = u64::try_from(p.limit())
            .ok()
            .filter(|l| *l > 0)
            .unwrap_or(INFINITY);
        props.push(("TasksMax", Value::from(max)));
    }
    Ok(())
}

/// A byte limit: 0 is unset, -1 (or any negative) unlimited.
fn bytes(v: i64) -> Option<u64> {
    match v {
        0 => None,
        v => Some(u64::try_from(v).unwrap_or(INFINITY)),
    }
}

/// systemd keeps the quota as a whole percentage of a CPU, so a quota that is not a multiple
/// of 1% is rounded up to the next 10 ms per second (runc does the same): the cgroupfs write
/// that follows then sets the exact value below systemd's ceiling.
fn quota_per_sec(quota: i64, period: u64) -> u64 {
    let quota = u64::try_from(quota).unwrap_or(0);
    let per_sec = quota.saturating_mul(1_000_000) / period.max(1);
    per_sec.div_ceil(10_000) * 10_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(props: &'a [Property], name: &str) -> Option<&'a Value<'static>> {
        props.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn v2_limits_become_properties() {
        let unit = Unit::parse(Some("machine.slice:arca:c1"), "c1").unwrap();
        let r = res(r#"{"memory":{"limit":67108864,"swap":134217728},
            "cpu":{"shares":1024,"quota":50000,"period":100000},"pids":{"limit":20}}"#);
        let p = for_scope(&unit, 42, "c1", Some(&r), Hierarchy::Unified).unwrap();
        assert_eq!(
            get(&p, "Slice"),
            Some(&Value::from("machine.slice".to_owned()))
        );
        assert_eq!(get(&p, "PIDs"), Some(&Value::from(vec![42u32])));
        assert_eq!(get(&p, "Delegate"), Some(&Value::from(true)));
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::from(67_108_864u64)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::from(67_108_864u64)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::from(39u64)));
        assert_eq!(
            get(&p, "CPUQuotaPerSecUSec"),
            Some(&Value::from(500_000u64))
        );
        assert_eq!(get(&p, "TasksMax"), Some(&Value::from(20u64)));
        assert!(get(&p, "MemoryLimit").is_none() && get(&p, "CPUShares").is_none());
    }

    #[test]
    fn v1_names_and_unlimited_values() {
        let unit = Unit::parse(None, "c1").unwrap();
        let r = res(r#"{"memory":{"limit":-1},"cpu":{"shares":512},"pids":{"limit":-1}}"#);
        let p = for_scope(&unit, 1, "c1", Some(&r), Hierarchy::Hybrid).unwrap();
        assert_eq!(get(&p, "MemoryLimit"), Some(&Value::from(u64::MAX)));
        assert_eq!(get(&p, "CPUShares"), Some(&Value::from(512u64)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::from(u64::MAX)));
        assert_eq!(get(&p, "BlockIOAccounting"), Some(&Value::from(true)));
    }

    #[test]
    fn quota_rounds_up_to_whole_percent() {
        assert_eq!(quota_per_sec(50_000, 100_000), 500_000);
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(1, 1_000_000), 10_000);
    }
}
