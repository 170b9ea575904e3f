//! `arca cp`'s flags.

#[derive(Debug, clap::Args)]
pub struct CpArgs {
    /// Follow a symlink at SRC itself
    #[arg(short = 'L', long = "follow-link")]
    pub follow: bool,
    /// Archive mode: keep uid/gid of what is copied into the container (else root's)
    #[arg(short, long)]
    pub archive: bool,
    /// CONTAINER:SRC, a host path, or - for a tar stream on stdin
    pub src: String,
    /// CONTAINER:DEST, a host path, or - for a tar stream on stdout
    pub dest: String,
}
