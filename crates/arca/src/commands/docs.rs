//! `arca completion bash|zsh|fish` and `arca man DIR`: shell completions and man pages, both
//! generated from the clap definitions, so they never disagree with the flags.

use std::path::Path;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, Shell};

pub fn completion(shell: Shell) -> Result<i32> {
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "arca", &mut std::io::stdout());
    Ok(0)
}

/// `arca.1` and one `arca-<verb>.1` per subcommand (hidden ones left out).
pub fn man(dir: &Path) -> Result<i32> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let cmd = Cli::command();
    write_page(dir, "arca", cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("arca-{}", sub.get_name());
        write_page(dir, &name, sub.clone())?;
    }
    Ok(0)
}

fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> Result<()> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd).title(name).render(&mut out)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, out).with_context(|| format!("writing {}", path.display()))
}
