//! Finding the container's command in its root filesystem before starting it, so that a
//! missing one is exit 127 and one that cannot be run exit 126 with a clear message, as
//! Docker reports them, instead of an init failing somewhere inside the runtime. Looked up
//! by file descriptor beneath the rootfs (openat2 `RESOLVE_IN_ROOT`): the image's symlinks
//! resolve inside it, never on the host.

use std::path::Path;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::error::EngineError;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Checks that `args[0]` names an executable file in `rootfs`, searching the `PATH` of `env`
/// (Docker's default if unset) when it has no `/`, else relative to `cwd`.
pub fn check(rootfs: &Path, args: &[String], env: &[String], cwd: &str) -> Result<(), EngineError> {
    let Some(cmd) = args.first() else {
        return Err(EngineError::Spec(
            "no command: the image has no Entrypoint or Cmd and none was given".into(),
        ));
    };
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| EngineError::io("open", rootfs, e.into()))?;
    let candidates: Vec<String> = if cmd.contains('/') {
        if cmd.starts_with('/') {
            vec![cmd.clone()]
        } else {
            vec![format!("{}/{cmd}", cwd.trim_end_matches('/'))]
        }
    } else {
        let path = env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{cmd}", d.trim_end_matches('/')))
            .collect()
    };
    let mut found_unusable = false;
    for c in &candidates {
        let Ok(fd) = rustix::fs::openat2(
            &root,
            c.as_str(),
            OFlags::PATH | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) else {
            continue;
        };
        let Ok(st) = rustix::fs::fstat(&fd) else {
            continue;
        };
        let regular = rustix::fs::FileType::from_raw_mode(st.st_mode).is_file();
        if regular && st.st_mode & 0o111 != 0 {
            return Ok(());
        }
        found_unusable = true;
    }
    if found_unusable {
        Err(EngineError::NotExecutable(cmd.clone()))
    } else {
        Err(EngineError::NotFound(cmd.clone()))
    }
}
