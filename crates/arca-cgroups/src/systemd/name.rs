//! runc's naming rules for the systemd driver: `linux.cgroupsPath` is `slice:prefix:name`, the
//! unit is `prefix-name.scope` in `slice`, and the cgroup is the slice's path (each `-` in a
//! slice name is a level: `a-b.slice` lives in `a.slice/a-b.slice`) plus the unit.

use std::path::PathBuf;

use crate::error::CgroupError;

/// A transient scope unit and the slice it goes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    slice: String,
    name: String,
}

impl Unit {
    /// From `linux.cgroupsPath` (`None` or empty: `:arca:<id>`, like runc's `:runc:<id>`). An
    /// empty slice means `system.slice`; `-` is the root slice.
    pub fn parse(cgroups_path: Option<&str>, id: &str) -> Result<Unit, CgroupError> {
        let default = format!(":arca:{id}");
        let path = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
        let invalid = |reason: String| CgroupError::InvalidSystemdPath {
            path: path.to_owned(),
            reason,
        };
        let parts: Vec<&str> = path.split(':').collect();
        let [slice, prefix, name] = parts[..] else {
            return Err(invalid(
                "want \"slice:prefix:name\" (e.g. \"system.slice:arca:ctr1\")".into(),
            ));
        };
        if name.is_empty() {
            return Err(invalid("the name part is empty".into()));
        }
        if name.ends_with(".slice") {
            return Err(invalid(
                "a slice as the container's unit is not supported; name a scope".into(),
            ));
        }
        let slice = match slice {
            "" => "system.slice",
            "-" => "-.slice",
            s => s,
        };
        expand_slice(slice).map_err(|r| invalid(r.to_owned()))?;
        for part in [prefix, name] {
            if part.contains('/') {
                return Err(invalid(format!("{part:?} contains '/'")));
            }
        }
        let name = if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        Ok(Unit {
            slice: slice.to_owned(),
            name,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn slice(&self) -> &str {
        &self.slice
    }

    /// The absolute cgroup path systemd gives the scope (the same under every hierarchy).
    pub fn cgroup_path(&self) -> Result<PathBuf, CgroupError> {
        let slice = expand_slice(&self.slice).map_err(|r| CgroupError::InvalidSystemdPath {
            path: self.slice.clone(),
            reason: r.to_owned(),
        })?;
        Ok(slice.join(&self.name))
    }
}

/// `a-b-c.slice` → `/a.slice/a-b.slice/a-b-c.slice`; `-.slice` → `/` (runc's `ExpandSlice`).
fn expand_slice(slice: &str) -> Result<PathBuf, &'static str> {
    let base = slice
        .strip_suffix(".slice")
        .ok_or("the slice must end in \".slice\"")?;
    if base.contains('/') {
        return Err("the slice must not contain '/'");
    }
    let mut path = PathBuf::from("/");
    if base == "-" {
        return Ok(path);
    }
    let mut prefix = String::new();
    for component in base.split('-') {
        if component.is_empty() {
            return Err("the slice has an empty component ('--', or '-' at an end)");
        }
        prefix.push_str(component);
        path.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_like_runc() {
        assert_eq!(expand_slice("-.slice").unwrap(), PathBuf::from("/"));
        assert_eq!(
            expand_slice("system.slice").unwrap(),
            PathBuf::from("/system.slice")
        );
        assert_eq!(
            expand_slice("kubepods-burstable-pod1.slice").unwrap(),
            PathBuf::from("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice")
        );
        for bad in ["system", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice"] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cgroups_paths_like_runc() {
        let u = Unit::parse(Some("system.slice:containerd:abc"), "x").unwrap();
        assert_eq!(u.name(), "containerd-abc.scope");
        assert_eq!(
            u.cgroup_path().unwrap(),
            PathBuf::from("/system.slice/containerd-abc.scope")
        );
        let u = Unit::parse(None, "ctr1").unwrap();
        assert_eq!((u.slice(), u.name()), ("system.slice", "arca-ctr1.scope"));
        let u = Unit::parse(Some("-::plain"), "x").unwrap();
        assert_eq!(u.cgroup_path().unwrap(), PathBuf::from("/plain.scope"));
        for bad in [
            "/abs/path",
            "a:b",
            "system.slice:p:",
            "bad:p:n",
            "system.slice:p:x.slice",
        ] {
            let e = Unit::parse(Some(bad), "x").unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
    }
}
