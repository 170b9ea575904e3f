//! `arca __monitor ID [--attached]` (hidden): the body of a detached container's monitor
//! process, started by `run -d` and `start`. Its stdout is the pipe the starting command reads
//! "ok" from; a copy of it is taken first, since fd 1 is about to become the container's
//! stdout. With `--attached` (`start -a`) its stdin is an attach connection, kept the same way.

use std::ffi::OsString;
use std::fs::File;
use std::path::PathBuf;

use anyhow::{Context, Result};
use arca_engine::monitor::{ATTACHED_FLAG, AWAIT_ID, MONITOR_VERB};
use arca_engine::Engine;
use arca_image::snapshot::{Driver, Snapshots};

/// A monitor's command line.
#[derive(Debug, PartialEq, Eq)]
pub struct MonitorArgs {
    pub root: PathBuf,
    pub storage_driver: Option<String>,
    pub cni_plugin_dir: Option<String>,
    pub id: String,
    pub attached: bool,
}

impl MonitorArgs {
    /// The command line `Engine::start_detached` writes (`--root ROOT --cni-plugin-dir DIRS
    /// __monitor ID [--attached]`), recognised without the whole CLI's parser: building it
    /// costs ~0.4 ms, a twentieth of a `run -d`. Anything else is `None`, for clap.
    pub fn recognise(mut args: impl Iterator<Item = OsString>) -> Option<MonitorArgs> {
        let mut root = None;
        let mut cni_plugin_dir = None;
        loop {
            let arg = args.next()?.into_string().ok()?;
            match arg.as_str() {
                "--root" => root = Some(PathBuf::from(args.next()?)),
                "--cni-plugin-dir" => cni_plugin_dir = Some(args.next()?.into_string().ok()?),
                v if v == MONITOR_VERB => break,
                _ => return None,
            }
        }
        let id = args.next()?.into_string().ok()?;
        // `-` is the id a monitor started before its container gets (AWAIT_ID).
        let attached = match args.next() {
            None => false,
            Some(a) if a == ATTACHED_FLAG => true,
            Some(_) => return None,
        };
        if args.next().is_some() || (id.starts_with('-') && id != AWAIT_ID) {
            return None;
        }
        Some(MonitorArgs {
            root: root?,
            storage_driver: None,
            cni_plugin_dir,
            id,
            attached,
        })
    }

    /// Opens what a monitor of an existing container needs: the snapshots and the records, not
    /// the image catalog (one SQLite connection, not two).
    pub fn run(&self) -> Result<i32> {
        let snapshots = Snapshots::open(
            &self.root.join("images"),
            self.storage_driver.as_deref().and_then(Driver::parse),
        )?;
        let mut engine = Engine::open(&self.root, snapshots)?;
        engine.set_cni_plugin_path(arca_net::cni::PluginPath::from_list(
            self.cni_plugin_dir.as_deref(),
        ));
        monitor(&engine, &self.id, self.attached)
    }
}

fn monitor(engine: &Engine, id: &str, attached: bool) -> Result<i32> {
    let ready = rustix::io::fcntl_dupfd_cloexec(std::io::stdout(), 3)
        .context("keeping the monitor's report channel")?;
    // Started before its container was made (`run -d`): the id comes on stdin once it
    // exists; EOF means the create failed, and there is nothing to watch.
    let mut given = String::new();
    let id = if id == AWAIT_ID && !attached {
        engine.warm_up();
        std::io::stdin()
            .read_line(&mut given)
            .context("reading the container's id")?;
        match given.trim() {
            "" => return Ok(0),
            id => id,
        }
    } else {
        id
    };
    let client = if attached {
        Some(
            rustix::io::fcntl_dupfd_cloexec(std::io::stdin(), 3)
                .context("keeping the attach connection")?,
        )
    } else {
        None
    };
    Ok(engine.monitor(id, File::from(ready), client)?)
}

#[cfg(test)]
mod tests {
    use super::MonitorArgs;

    fn parse(args: &[&str]) -> Option<MonitorArgs> {
        MonitorArgs::recognise(args.iter().map(Into::into))
    }

    #[test]
    fn recognises_what_start_detached_writes() {
        let m = parse(&[
            "--root",
            "/r",
            "--cni-plugin-dir",
            "/a:/b",
            "__monitor",
            "abc",
        ])
        .unwrap();
        assert_eq!(m.root, std::path::Path::new("/r"));
        assert_eq!(m.cni_plugin_dir.as_deref(), Some("/a:/b"));
        assert_eq!(m.id, "abc");
        assert!(!m.attached);
        assert!(
            parse(&["--root", "/r", "__monitor", "abc", "--attached"])
                .unwrap()
                .attached
        );
    }

    #[test]
    fn leaves_anything_else_to_clap() {
        for args in [
            &["run", "x"][..],
            &["--root", "/r", "run", "__monitor"],
            &["__monitor", "abc"],
            &["--root", "/r", "__monitor"],
            &["--root", "/r", "__monitor", "abc", "--debug"],
            &["--root", "/r", "__monitor", "abc", "--attached", "x"],
            &["--root", "/r", "--debug", "__monitor", "abc"],
            &["--root", "/r", "__monitor", "--help"],
            &["--root"],
        ] {
            assert_eq!(parse(args), None, "{args:?}");
        }
    }
}
