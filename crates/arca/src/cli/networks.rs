//! Docker's `network` verbs.

use clap::Subcommand;

use super::Format;

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum NetworkCommand {
    /// Create a bridge network (NAT, published ports; its containers reach each other by name)
    Create {
        name: String,
        /// Subnet in CIDR form (default: a free 10.89.N.0/24)
        #[arg(long)]
        subnet: Option<String>,
        /// Gateway address (default: the subnet's first)
        #[arg(long)]
        gateway: Option<String>,
        /// No NAT and no default route: containers reach only each other
        #[arg(long)]
        internal: bool,
        /// Driver: bridge (the only one; other CNI plugins: drop a .conflist in the networks directory)
        #[arg(short, long, default_value = "bridge", value_parser = ["bridge"])]
        driver: String,
        /// Set metadata (KEY=VALUE)
        #[arg(long = "label")]
        label: Vec<String>,
    },
    /// List networks
    #[command(visible_alias = "list")]
    Ls {
        /// Print only network names
        #[arg(short, long)]
        quiet: bool,
        /// table (default) or json
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Remove networks (refused while a container is on one)
    #[command(visible_alias = "remove")]
    Rm {
        /// Ignore networks that do not exist
        #[arg(short, long)]
        force: bool,
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Show networks as JSON, with their containers and CNI configuration
    Inspect {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Connect a container to a network (at once if it runs)
    Connect { network: String, container: String },
    /// Disconnect a container from a network
    Disconnect {
        /// Docker's flag; accepted
        #[arg(short, long)]
        force: bool,
        network: String,
        container: String,
    },
    /// Remove every network no container uses (not the default one)
    Prune {
        /// Do not ask (arca never asks)
        #[arg(short, long)]
        force: bool,
    },
}
