//! Registry credentials on disk, in the files Podman and Docker already use, so a `podman
//! login` serves arca and an `arca login` serves Podman, skopeo and buildah.
//!
//! The format is containers-auth.json(5): `{"auths": {"<host[:port]>": {"auth":
//! "<base64 user:password>"}}}`. Docker's `~/.docker/config.json` has the same `auths` map
//! (keyed `https://index.docker.io/v1/` for Docker Hub), so it is read as a fallback, as
//! Podman does, but never written: Docker may keep its credentials in a helper we do not
//! speak, and rewriting its file could lose settings it owns.
//!
//! Writes replace the whole file by rename (temp file in the same directory, mode 0600,
//! fsynced), so a crash or a concurrent reader never sees half a file, and every key and
//! entry arca does not touch is kept as it was.

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};

use crate::reference::DOCKER_HUB;

/// Docker Hub's key in Docker's config.json (the v1 index URL, kept for compatibility).
const DOCKER_HUB_LEGACY: &str = "https://index.docker.io/v1/";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{op} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        op: &'static str,
        source: std::io::Error,
    },
    #[error("{}: {reason}", path.display())]
    Invalid { path: PathBuf, reason: String },
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> AuthError + 'a {
    move |source| AuthError::Io {
        path: path.to_owned(),
        op,
        source,
    }
}

/// Where credentials are written, as Podman decides: `$REGISTRY_AUTH_FILE`, else
/// `$XDG_RUNTIME_DIR/containers/auth.json`, else `/run/containers/<uid>/auth.json` (for root
/// that is `/run/containers/0/auth.json`). Per boot on purpose: Podman keeps logins in the
/// runtime directory so they do not outlive the session.
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        return Path::new(&p).join("containers/auth.json");
    }
    let uid = rustix::process::getuid().as_raw();
    PathBuf::from(format!("/run/containers/{uid}/auth.json"))
}

/// Docker's file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), read-only.
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG").filter(|p| !p.is_empty()) {
        return Some(Path::new(&d).join("config.json"));
    }
    let home = std::env::var_os("HOME").filter(|p| !p.is_empty())?;
    Some(Path::new(&home).join(".docker/config.json"))
}

/// The files credentials are looked up in, in order. An explicit `--authfile` is the only
/// one (as in Podman: the user asked for that file); otherwise the default file, then
/// Docker's.
pub fn lookup_paths(authfile: Option<&Path>) -> Vec<PathBuf> {
    match authfile {
        Some(f) => vec![f.to_owned()],
        None => std::iter::once(default_path())
            .chain(docker_config_path())
            .collect(),
    }
}

/// The key a registry is stored under: `host[:port]`, with Docker's spellings of Docker Hub
/// (`https://index.docker.io/v1/`, `index.docker.io`, `registry-1.docker.io`) and a scheme or
/// trailing slash, which Docker writes and users type, taken off.
pub fn normalize_key(key: &str) -> String {
    if key == DOCKER_HUB_LEGACY {
        return DOCKER_HUB.to_owned();
    }
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let k = k.trim_end_matches('/');
    // Docker's v1 index URL: the path says nothing about which registry.
    let k = k.strip_suffix("/v1").unwrap_or(k);
    match k {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        k => k.to_owned(),
    }
}

/// `(user, password)` for `registry` (as [`Reference::registry`](crate::reference::Reference::registry)
/// spells it) from the first of `paths` that has an entry for it. Missing files are skipped
/// (nobody logged in yet); unreadable or malformed ones are errors, so a broken file is not
/// mistaken for "no credentials".
pub fn lookup(paths: &[PathBuf], registry: &str) -> Result<Option<(String, String)>, AuthError> {
    let wanted = normalize_key(registry);
    for path in paths {
        let Some(doc) = read(path)? else { continue };
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            continue;
        };
        for (key, entry) in auths {
            if normalize_key(key) != wanted {
                continue;
            }
            // An entry without `auth` (Docker's credential helpers leave `{}`) is not ours.
            let Some(encoded) = entry.get("auth").and_then(Value::as_str) else {
                continue;
            };
            if encoded.is_empty() {
                continue;
            }
            return decode(encoded).map(Some).ok_or_else(|| AuthError::Invalid {
                path: path.clone(),
                reason: format!("auths.{key:?}.auth is not base64 of USER:PASSWORD"),
            });
        }
    }
    Ok(None)
}

fn decode(encoded: &str) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (user, password) = s.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Records `user`/`password` for `registry` in `path`, replacing any entry for it (under any
/// spelling) and keeping everything else.
pub fn store(path: &Path, registry: &str, user: &str, password: &str) -> Result<(), AuthError> {
    let key = normalize_key(registry);
    let mut doc = read(path)?.unwrap_or_else(|| Value::Object(Map::new()));
    let auths = auths_mut(path, &mut doc)?;
    auths.retain(|k, _| normalize_key(k) != key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    auths.insert(key, serde_json::json!({ "auth": encoded }));
    write(path, &doc)
}

/// Removes `registry`'s entry from `path`; `false` if there was none.
pub fn remove(path: &Path, registry: &str) -> Result<bool, AuthError> {
    let key = normalize_key(registry);
    let Some(mut doc) = read(path)? else {
        return Ok(false);
    };
    let auths = auths_mut(path, &mut doc)?;
    let before = auths.len();
    auths.retain(|k, _| normalize_key(k) != key);
    if auths.len() == before {
        return Ok(false);
    }
    write(path, &doc)?;
    Ok(true)
}

fn auths_mut<'a>(path: &Path, doc: &'a mut Value) -> Result<&'a mut Map<String, Value>, AuthError> {
    let invalid = |reason: &str| AuthError::Invalid {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    let top = doc
        .as_object_mut()
        .ok_or_else(|| invalid("not a JSON object"))?;
    top.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| invalid("\"auths\" is not an object"))
}

/// The file's JSON; `None` if it does not exist (or is empty, as a freshly touched file is).
fn read(path: &Path) -> Result<Option<Value>, AuthError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path, "reading")(e)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| AuthError::Invalid {
            path: path.to_owned(),
            reason: format!("not valid JSON: {e}"),
        })
}

/// Replaces `path` whole, 0600 from creation (the secret is never readable by others, not even
/// briefly), and durably. The directory is created 0700 if missing, as Podman does.
fn write(path: &Path, doc: &Value) -> Result<(), AuthError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir, "creating"))?;
    let mut bytes = serde_json::to_vec_pretty(doc).expect("a JSON value serialises");
    bytes.push(b'\n');
    arca_sys::fs::Replace::new()
        .mode(0o600)
        .durable()
        .write(path, &bytes)
        .map_err(io(path, "replacing"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_normalise_docker_spellings() {
        assert_eq!(normalize_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_key("registry-1.docker.io"), "docker.io");
        assert_eq!(normalize_key("docker.io"), "docker.io");
        assert_eq!(normalize_key("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(normalize_key("quay.io"), "quay.io");
    }

    #[test]
    fn store_lookup_remove_keep_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/auth.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"auths":{"quay.io":{"auth":"cTp3"}},"credHelpers":{"x":"y"}}"#,
        )
        .unwrap();
        store(&path, "127.0.0.1:5000", "alice", "s3:cret").unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let paths = vec![path.clone()];
        assert_eq!(
            lookup(&paths, "127.0.0.1:5000").unwrap(),
            Some(("alice".into(), "s3:cret".into()))
        );
        assert_eq!(
            lookup(&paths, "quay.io").unwrap(),
            Some(("q".into(), "w".into()))
        );
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["credHelpers"]["x"], "y");
        assert!(remove(&path, "127.0.0.1:5000").unwrap());
        assert!(!remove(&path, "127.0.0.1:5000").unwrap());
        assert_eq!(lookup(&paths, "127.0.0.1:5000").unwrap(), None);
        assert!(lookup(&paths, "quay.io").unwrap().is_some());
    }

    #[test]
    fn docker_hub_legacy_key_is_read_and_missing_files_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let docker = dir.path().join("config.json");
        fs::write(
            &docker,
            format!(r#"{{"auths":{{"{DOCKER_HUB_LEGACY}":{{"auth":"dTpw"}}}}}}"#),
        )
        .unwrap();
        let paths = vec![dir.path().join("missing.json"), docker];
        assert_eq!(
            lookup(&paths, "docker.io").unwrap(),
            Some(("u".into(), "p".into()))
        );
        fs::write(&paths[0], "{").unwrap();
        assert!(lookup(&paths, "docker.io").is_err());
    }

    #[test]
    fn directory_is_created_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containers/auth.json");
        store(&path, "docker.io", "u", "p").unwrap();
        let mode = fs::metadata(dir.path().join("containers"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o700);
    }
}
