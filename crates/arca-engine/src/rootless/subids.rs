//! The user namespace's id maps: uid/gid 0 is the user (and the user's primary group), ids
//! from 1 on are the ranges /etc/subuid and /etc/subgid allot to the user (by name or uid), as
//! Podman maps them; `newuidmap`/`newgidmap` check those files before writing.

use oci_spec::runtime::{LinuxIdMapping, LinuxIdMappingBuilder};

use crate::error::EngineError;

/// `(start, count)` ranges of `file` for the user `name` (or numeric `id`).
fn ranges(text: &str, name: Option<&str>, id: u32) -> Vec<(u32, u32)> {
    let id = id.to_string();
    text.lines()
        .filter_map(|l| {
            let mut f = l.trim().split(':');
            let (who, start, count) = (f.next()?, f.next()?, f.next()?);
            (Some(who) == name || who == id)
                .then(|| Some((start.parse().ok()?, count.parse().ok()?)))
                .flatten()
        })
        .filter(|&(_, count)| count > 0)
        .collect()
}

fn mapping(container: u32, host: u32, size: u32) -> Result<LinuxIdMapping, EngineError> {
    LinuxIdMappingBuilder::default()
        .container_id(container)
        .host_id(host)
        .size(size)
        .build()
        .map_err(|e| EngineError::Spec(format!("id mapping: {e}")))
}

/// Own id at 0, then the subordinate ranges back to back (a user with none gets only 0, and a
/// warning: image files owned by other ids cannot be unpacked then).
pub(super) fn maps(
    file: &str,
    own: u32,
    name: Option<&str>,
) -> Result<Vec<LinuxIdMapping>, EngineError> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut maps = vec![mapping(0, own, 1)?];
    let mut next: u32 = 1;
    for (start, count) in ranges(&text, name, own) {
        maps.push(mapping(next, start, count)?);
        next = next.saturating_add(count);
    }
    if maps.len() == 1 {
        tracing::warn!(
            "rootless: {file} allots no ids to {}: only id 0 is mapped (images with files \
             owned by other users cannot be used; add a range with usermod --add-subuids \
             --add-subgids)",
            name.map_or_else(|| own.to_string(), str::to_owned)
        );
    }
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn by_name_or_uid() {
        let t = "alice:100000:65536\n1001:200000:1000\nbob:300000:5\n# c\nalice:400000:0\n";
        assert_eq!(ranges(t, Some("alice"), 1000), [(100000, 65536)]);
        assert_eq!(ranges(t, Some("carol"), 1001), [(200000, 1000)]);
        assert!(ranges(t, None, 7).is_empty());
    }
}
