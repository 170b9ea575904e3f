//! The on-disk cache of compiled programs, keyed by a hash of the canonical profile.

use super::*;

/// The cache key: sha256 of the format tag, the canonical profile JSON (without the listener
/// fields), the architecture and the libseccomp version, in hex.
pub fn cache_key(profile: &LinuxSeccomp) -> String {
    let mut p = profile.clone();
    p.set_listener_path(None);
    p.set_listener_metadata(None);
    let mut canonical = Vec::new();
    if let Ok(v) = serde_json::to_value(&p) {
        write_canonical(&v, &mut canonical);
    }
    let (major, minor, micro) = libseccomp_version();
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.as_bytes());
    h.update([0]);
    h.update(&canonical);
    h.update([0]);
    h.update(std::env::consts::ARCH.as_bytes());
    h.update([0]);
    h.update(format!("libseccomp {major}.{minor}.{micro}").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level, no whitespace.
pub(super) fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                if let Some(val) = map.get(*k) {
                    write_canonical(val, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

/// The cached program at `file`: `None` when there is none, an error when it is unusable.
pub(super) fn read_cached(file: &Path) -> std::io::Result<Option<Vec<SockFilter>>> {
    match fs::read(file) {
        Ok(bytes) => decode(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores `bytes` at `file` (in `dir`, created 0700), whole and synced.
pub(super) fn write_cached(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    arca_sys::fs::Replace::new().durable().write(file, bytes)
}
