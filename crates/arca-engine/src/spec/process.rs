//! The process: its arguments, environment, working directory and terminal, and the
//! container's hostname, by Docker's rules for merging the image config with `run`'s flags.

use oci_spec::image::Config;
use oci_spec::runtime::Process;

use super::{Network, RunConfig, SpecError};

/// Docker's `PATH` when neither the image nor the user sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Linux's `HOST_NAME_MAX`: `sethostname` refuses longer names.
const HOST_NAME_MAX: usize = 64;

/// The process without user, capabilities and rlimits (set by their own modules).
pub(super) fn process(
    image: &Config,
    run: &RunConfig,
    hostname: &str,
) -> Result<Process, SpecError> {
    let mut p = Process::default();
    p.set_terminal(Some(run.tty));
    p.set_args(Some(args(image, run)?));
    p.set_env(Some(env(image, run, hostname)?));
    p.set_cwd(cwd(image, run)?.into());
    // The runtime default (`Process::default`) asks for noNewPrivileges; Docker only does when
    // told, since it stops setuid binaries such as `su` and `ping` from working.
    p.set_no_new_privileges(None);
    p.set_capabilities(None);
    p.set_rlimits(None);
    Ok(p)
}

/// Docker's rule: args = entrypoint + cmd. `--entrypoint` replaces the image's entrypoint and
/// drops its cmd (the image's cmd was written as arguments for the image's entrypoint); the
/// image's cmd is used only when the user gave neither a command nor `--entrypoint`.
pub(super) fn args(image: &Config, run: &RunConfig) -> Result<Vec<String>, SpecError> {
    let entrypoint = match &run.entrypoint {
        Some(e) => e.clone(),
        None => image.entrypoint().clone().unwrap_or_default(),
    };
    let cmd = if !run.cmd.is_empty() {
        run.cmd.clone()
    } else if run.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd().clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::invalid(
            "command",
            "",
            "no command specified: the image has no Entrypoint or Cmd and none was given",
        ));
    }
    Ok(args)
}

/// Docker's order: `PATH` (default), `HOSTNAME`, `TERM=xterm` with `-t`, then the image's
/// `Env`, then the user's, each replacing an earlier entry with the same key in place.
/// A user entry without `=` removes the key, as in Docker's merge.
pub(super) fn env(
    image: &Config,
    run: &RunConfig,
    hostname: &str,
) -> Result<Vec<String>, SpecError> {
    let mut env = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if run.tty {
        env.push("TERM=xterm".to_owned());
    }
    for kv in image.env().iter().flatten() {
        merge(&mut env, kv);
    }
    for kv in &run.env {
        if kv.is_empty() || kv.starts_with('=') {
            return Err(SpecError::invalid("--env", kv, "no variable name"));
        }
        merge(&mut env, kv);
    }
    Ok(env)
}

fn key(kv: &str) -> &str {
    kv.split_once('=').map_or(kv, |(k, _)| k)
}

fn merge(env: &mut Vec<String>, kv: &str) {
    let k = key(kv);
    let at = env.iter().position(|e| key(e) == k);
    match (at, kv.contains('=')) {
        (Some(i), true) => env[i] = kv.to_owned(),
        (Some(i), false) => {
            env.remove(i);
        }
        (None, true) => env.push(kv.to_owned()),
        (None, false) => {}
    }
}

/// `-w`, else the image's `WorkingDir`, else `/`. Must be absolute (Docker refuses a relative
/// `-w`; a relative directory would depend on the runtime's own cwd).
fn cwd(image: &Config, run: &RunConfig) -> Result<String, SpecError> {
    let (flag, dir) = match (&run.workdir, image.working_dir()) {
        (Some(w), _) if !w.is_empty() => ("--workdir", w.clone()),
        (_, Some(w)) if !w.is_empty() => ("image WorkingDir", w.clone()),
        _ => return Ok("/".to_owned()),
    };
    if !dir.starts_with('/') {
        return Err(SpecError::invalid(flag, dir, "must be an absolute path"));
    }
    Ok(dir)
}

/// `--hostname`, else Docker's default: the host's name when sharing its network, otherwise
/// the id's first 12 characters (the short id `arca ps` shows).
pub(super) fn hostname(run: &RunConfig, id: &str) -> Result<String, SpecError> {
    let Some(name) = &run.hostname else {
        return Ok(match run.network {
            Network::Host => rustix::system::uname()
                .nodename()
                .to_string_lossy()
                .into_owned(),
            Network::None | Network::Join(_) => id.chars().take(12).collect(),
        });
    };
    // Linux takes any bytes; Docker's rule is kept to what resolvers and shells cope with.
    let valid = !name.is_empty()
        && name.len() <= HOST_NAME_MAX
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
    if !valid {
        return Err(SpecError::invalid(
            "--hostname",
            name,
            "invalid hostname: letters, digits, '-', '_' and '.', at most 64 bytes",
        ));
    }
    Ok(name.clone())
}
