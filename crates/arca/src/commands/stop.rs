//! `arca stop`, `kill` and `wait`.

use std::time::Duration;

use anyhow::Result;
use arca_engine::Engine;

/// Each container: its stop signal, then SIGKILL after the timeout; prints what it was given.
pub fn stop(engine: &Engine, time: Option<u64>, containers: &[String]) -> Result<i32> {
    each(containers, |what| {
        let rec = engine.find(what)?;
        engine.stop(&rec, super::run::stop_timeout(&rec, time))?;
        Ok(())
    })
}

pub fn kill(engine: &Engine, signal: &str, containers: &[String]) -> Result<i32> {
    let sig = arca_container::signal::parse(signal)?;
    each(containers, |what| {
        let rec = engine.find(what)?;
        engine.kill(&rec, sig)?;
        Ok(())
    })
}

/// Blocks until each container has exited; prints its exit code (Docker's `wait`).
pub fn wait(engine: &Engine, containers: &[String]) -> Result<i32> {
    let mut failed = false;
    for what in containers {
        let r = engine.find(what).and_then(|rec| {
            engine
                .wait_exited(&rec.id, Duration::from_secs(u64::from(u32::MAX)))
                .map(|r| r.and_then(|r| r.exit_code))
        });
        match r {
            Ok(code) => println!("{}", code.unwrap_or(-1)),
            Err(e) => {
                eprintln!("arca: wait {what}: {e}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// Runs `f` for each, printing the name on success and the error otherwise (Docker's way
/// for the multi-container verbs); 1 if any failed.
pub(super) fn each(
    containers: &[String],
    f: impl Fn(&str) -> std::result::Result<(), anyhow::Error>,
) -> Result<i32> {
    let mut failed = false;
    for what in containers {
        match f(what) {
            Ok(()) => println!("{what}"),
            Err(e) => {
                eprintln!("arca: {what}: {e:#}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}
