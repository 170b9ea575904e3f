//! `arca login` / `arca logout`, as Podman's: credentials checked against the registry, then
//! kept in Podman's auth.json (see `arca_image::auth`), where Podman, skopeo and buildah find
//! them too; and the lookup pull and push do when no `--creds` is given.

use std::io::Read;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use arca_image::auth;
use arca_image::registry;

use crate::cli::{LoginArgs, LogoutArgs};

pub fn login(a: &LoginArgs) -> Result<i32> {
    let registry = auth::normalize_key(&a.registry);
    // No prompt: arca is scripted far more than typed at, and a hidden prompt needs a tty.
    let user = a
        .username
        .as_deref()
        .ok_or_else(|| anyhow!("login: give -u/--username"))?;
    let password = match (&a.password, a.password_stdin) {
        (Some(p), _) => p.clone(),
        (None, true) => {
            let mut p = String::new();
            std::io::stdin()
                .read_to_string(&mut p)
                .context("login: reading the password from stdin")?;
            // `echo $PW | arca login --password-stdin` adds a newline that is not the password's.
            p.trim_end_matches(['\n', '\r']).to_owned()
        }
        (None, false) => bail!("login: give -p/--password or --password-stdin"),
    };
    if password.is_empty() {
        bail!("login: the password is empty");
    }
    registry::login(&registry, user, &password, &[])?;
    let path = a.authfile.clone().unwrap_or_else(auth::default_path);
    auth::store(&path, &registry, user, &password)?;
    println!("Login Succeeded!");
    Ok(0)
}

pub fn logout(a: &LogoutArgs) -> Result<i32> {
    let registry = auth::normalize_key(&a.registry);
    let path = a.authfile.clone().unwrap_or_else(auth::default_path);
    if !auth::remove(&path, &registry)? {
        bail!("logout: not logged into {registry}");
    }
    println!("Removed login credentials for {registry}");
    Ok(0)
}

/// The credentials for `registry`: `--creds USER:PASSWORD` if given, else the stored login
/// (the `--authfile`, or Podman's file then Docker's), else none (anonymous).
pub fn credentials(
    creds: Option<&str>,
    authfile: Option<&Path>,
    registry: &str,
) -> Result<Option<(String, String)>> {
    if let Some(c) = creds {
        let (u, p) = c
            .split_once(':')
            .ok_or_else(|| anyhow!("--creds: want USER:PASSWORD"))?;
        return Ok(Some((u.to_owned(), p.to_owned())));
    }
    Ok(auth::lookup(&auth::lookup_paths(authfile), registry)?)
}
