//! OCI hooks: run a host binary with the container state on stdin, its own args and env, and
//! an optional timeout after which it is killed and the hook fails.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::error::{Error, Result};

pub fn run_all(kind: &'static str, hooks: &[Hook], state: &serde_json::Value) -> Result<()> {
    for hook in hooks {
        run(kind, hook, state)?;
    }
    Ok(())
}

pub fn run(kind: &'static str, hook: &Hook, state: &serde_json::Value) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let fail = |msg: String| Error::Hook {
        kind,
        path: hook.path().clone(),
        msg,
    };
    let mut cmd = Command::new(hook.path());
    if let Some(args) = hook.args() {
        if let Some((argv0, rest)) = args.split_first() {
            cmd.arg0(argv0).args(rest);
        }
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    // stdin, stdout and stderr are memory files, not pipes: a hook that neither reads its
    // input nor stops writing can never block us; its process group goes on timeout.
    let input = memfd("arca-hook-state").map_err(|e| fail(e.to_string()))?;
    (&input)
        .write_all(state.to_string().as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    rustix::fs::seek(&input, rustix::fs::SeekFrom::Start(0)).map_err(|e| fail(e.to_string()))?;
    let output = memfd("arca-hook-output").map_err(|e| fail(e.to_string()))?;
    cmd.stdin(Stdio::from(input))
        .stdout(Stdio::from(
            output.try_clone().map_err(|e| fail(e.to_string()))?,
        ))
        .stderr(Stdio::from(
            output.try_clone().map_err(|e| fail(e.to_string()))?,
        ))
        .process_group(0);
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string()))?;
    let group = nix::unistd::Pid::from_raw(-i32::try_from(child.id()).unwrap_or(0));
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t.unsigned_abs()));
    let status = loop {
        match child.try_wait().map_err(|e| fail(e.to_string()))? {
            Some(status) => break status,
            None => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    let _ = nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait();
                    return Err(fail(format!(
                        "timed out after {}s",
                        hook.timeout().unwrap_or_default()
                    )));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut text = String::new();
    let _ = rustix::fs::seek(&output, rustix::fs::SeekFrom::Start(0));
    let _ = std::io::Read::take(&output, 4096).read_to_string(&mut text);
    Err(fail(format!("{status}: {}", text.trim())))
}

fn memfd(name: &str) -> std::io::Result<std::fs::File> {
    let fd = rustix::fs::memfd_create(name, rustix::fs::MemfdFlags::CLOEXEC)?;
    Ok(std::fs::File::from(fd))
}
