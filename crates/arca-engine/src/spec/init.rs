//! `--init`: a reaper as the container's PID 1 that runs the command as its child, as Docker's
//! `docker-init` (tini) and Podman's `catatonit` do. The reaper is arca's own binary (static,
//! so it runs in any image), bind-mounted read-only at [`INIT_PATH`]; the process becomes
//! `INIT_PATH -- ARGS…`, and arca's `main` recognises that name before doing anything else.
//!
//! The bind is read-only and not recursive, so a container cannot write the host's binary
//! through it (the CVE-2019-5736 concern with any host binary a container can see; runc's
//! answer for `docker-init` is the same read-only bind).

use std::path::Path;

use oci_spec::runtime::Mount as OciMount;

/// Where the init appears in the container (Podman: `/run/podman-init`, Docker:
/// `/sbin/docker-init`). Its file name is what arca's `main` dispatches on.
pub const INIT_PATH: &str = "/run/arca-init";

/// `ARGS` run under the init.
pub(super) fn wrap(args: Vec<String>) -> Vec<String> {
    [INIT_PATH.to_owned(), "--".to_owned()]
        .into_iter()
        .chain(args)
        .collect()
}

/// The user's command inside `args`: what follows `INIT_PATH --` when the process runs under
/// the init, else `args` itself. The command check and the record (`ps`, `inspect`) use it.
pub fn user_command(args: &[String]) -> &[String] {
    match args {
        [init, dashes, rest @ ..] if init == INIT_PATH && dashes == "--" => rest,
        _ => args,
    }
}

/// The read-only bind of `source` (the host's arca binary) at [`INIT_PATH`].
pub(super) fn mount(source: &Path) -> OciMount {
    let mut m = OciMount::default();
    m.set_destination(INIT_PATH.into());
    m.set_typ(Some("bind".to_owned()));
    m.set_source(Some(source.to_path_buf()));
    m.set_options(Some(
        ["bind", "ro", "nosuid", "nodev", "rprivate"]
            .map(str::to_owned)
            .to_vec(),
    ));
    m
}
