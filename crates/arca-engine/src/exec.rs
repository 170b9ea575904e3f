//! `exec`: another process in a running container, as the runtime library's `exec` runs it
//! (it joins the container's namespaces, cgroup and security settings). The process starts
//! from the container's own (env, user, capabilities, cwd, rlimits), with Docker's `exec`
//! flags on top, and its command is looked up in the container first (exit 127 / 126).

use arca_container::container::{self as rt, exec::ExecOutcome, ExecOptions};
use oci_spec::runtime::{Process, Spec};

use crate::console::ConsoleSocket;
use crate::container::Status;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::records::Record;

/// Docker's `exec` flags.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub args: Vec<String>,
    /// `-e K=V`, replacing the container's value of K.
    pub env: Vec<String>,
    /// `-u`: looked up in the container's /etc/passwd like `run -u`.
    pub user: Option<String>,
    /// `-w`
    pub workdir: Option<String>,
    /// `-t`
    pub tty: bool,
    /// `-d`: start it and return.
    pub detach: bool,
}

impl Engine {
    /// Runs `req` in the running container `rec`; returns its exit status (0 when detached).
    pub fn exec(&self, rec: &Record, req: &ExecRequest) -> Result<i32, EngineError> {
        if self.status(rec) != Status::Running {
            return Err(EngineError::BadState {
                name: rec.name.clone(),
                state: "not running".into(),
                hint: "exec needs a running container (arca start it first)",
            });
        }
        let process = self.exec_process(rec, req)?;
        let console = if req.tty {
            Some(ConsoleSocket::bind(&self.console_dir())?)
        } else {
            None
        };
        let opts = ExecOptions {
            process,
            console_socket: console.as_ref().map(|c| c.path.clone()),
            pid_file: None,
            // With a pty we proxy it ourselves, so the library must not wait for the exit.
            detach: req.detach || req.tty,
            preserve_fds: 0,
        };
        let set = if req.tty && !req.detach {
            Some(rt::wait::block_signals()?)
        } else {
            None
        };
        match rt::exec(&self.runtime, &rec.id, &opts)? {
            ExecOutcome::Exited(code) => Ok(code),
            ExecOutcome::Detached(pid) => match (console, set) {
                (Some(c), Some(set)) => {
                    let master = c.receive()?;
                    Ok(rt::console_proxy::proxy_until_exit(pid, master, &set)?)
                }
                _ => Ok(0),
            },
        }
    }

    /// The container's process with `req` applied.
    pub(crate) fn exec_process(
        &self,
        rec: &Record,
        req: &ExecRequest,
    ) -> Result<Process, EngineError> {
        let path = self.dir(&rec.id).join("config.json");
        let text = std::fs::read(&path).map_err(|e| EngineError::io("read", &path, e))?;
        let spec: Spec = serde_json::from_slice(&text)
            .map_err(|e| EngineError::Spec(format!("{}: {e}", path.display())))?;
        let mut p = spec.process().clone().unwrap_or_default();
        if req.args.is_empty() {
            return Err(EngineError::Spec("exec: give a command".into()));
        }
        p.set_args(Some(req.args.clone()));
        p.set_terminal(Some(req.tty));
        let mut env = p.env().clone().unwrap_or_default();
        for e in &req.env {
            let key = e.split('=').next().unwrap_or(e);
            env.retain(|x| x.split('=').next() != Some(key));
            if e.contains('=') {
                env.push(e.clone());
            }
        }
        if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        p.set_env(Some(env));
        if let Some(w) = &req.workdir {
            p.set_cwd(w.into());
        }
        let rootfs = self.rootfs(&rec.id);
        if let Some(u) = &req.user {
            let user = crate::spec::resolve_user(&rootfs, u)
                .map_err(|e| EngineError::Spec(e.to_string()))?;
            p.set_user(user.into_oci());
        }
        crate::command::check(
            &rootfs,
            &req.args,
            p.env().as_deref().unwrap_or_default(),
            p.cwd().to_str().unwrap_or("/"),
        )?;
        Ok(p)
    }
}
