//! Docker's `volume` verbs.

use clap::Subcommand;

use super::Format;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum VolumeCommand {
    /// Create a volume (a random name when none is given); an existing one is kept as it is
    Create {
        name: Option<String>,
        /// Set metadata (KEY=VALUE)
        #[arg(short, long = "label")]
        label: Vec<String>,
    },
    /// List volumes
    Ls {
        /// Print only volume names
        #[arg(short, long)]
        quiet: bool,
        /// table (default) or json
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove volumes (refused while a container uses one, unless forced)
    Rm {
        /// Remove even a volume in use, and ignore missing ones
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Show volumes as JSON (Docker's field names)
    Inspect {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove every volume no container uses
    Prune {
        /// Do not ask (arca never asks)
        #[arg(short, long)]
        force: bool,
    },
}
