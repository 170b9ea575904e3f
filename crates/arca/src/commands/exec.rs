//! `arca exec`: a command in a running container; its exit status is arca's.

use anyhow::Result;
use arca_engine::exec::ExecRequest;
use arca_engine::Engine;

use crate::cli::ExecArgs;

pub fn exec(engine: &Engine, a: &ExecArgs) -> Result<i32> {
    let rec = engine.find(&a.container)?;
    let req = ExecRequest {
        args: a.command.clone(),
        env: arca_engine::spec::resolve_env(&a.process.env, |k| std::env::var(k).ok()),
        user: a.process.user.clone(),
        workdir: a.process.workdir.clone(),
        tty: a.process.tty,
        detach: a.process.detach,
    };
    if a.process.detach {
        // Its output goes nowhere, as Docker's `exec -d`; arca exits at once.
        if let Ok(null) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
        {
            let _ = rustix::stdio::dup2_stdin(&null);
            let _ = rustix::stdio::dup2_stdout(&null);
        }
    }
    Ok(engine.exec(&rec, &req)?)
}
