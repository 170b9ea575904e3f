//! `arca attach`: this terminal on a running detached container's stdio, through its monitor
//! (see `arca_engine::attach`); arca exits with the container's code, or 0 when detached.

use anyhow::{anyhow, Result};
use arca_engine::attach::{keys, AttachOptions};
use arca_engine::Engine;

use crate::cli::{AttachArgs, AttachFlags};

pub fn attach(engine: &Engine, a: &AttachArgs) -> Result<i32> {
    let rec = engine.find(&a.container)?;
    Ok(engine.attach(&rec, &options(!a.no_stdin, &a.flags)?)?)
}

/// The engine's options from the flags `attach` and `start -a` share.
pub fn options(stdin: bool, flags: &AttachFlags) -> Result<AttachOptions> {
    Ok(AttachOptions {
        stdin,
        sig_proxy: flags.sig_proxy,
        detach_keys: keys::parse(&flags.detach_keys).map_err(|e| anyhow!(e))?,
    })
}
