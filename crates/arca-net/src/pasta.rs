//! User-mode networking through pasta (Debian's `passt`), Podman 5's default for rootless
//! containers: a process outside the container's namespace gives it a copy of the host's
//! address and routes over a tap device, translating its traffic to ordinary sockets of the
//! host, so it needs no bridge, veth, firewall rule or privilege; published ports are pasta's
//! own listening sockets.
//!
//! pasta daemonizes once the namespace is configured (so a clean exit means ready) and quits
//! when the namespace's file goes; arca also stops it by the pid it wrote.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use crate::error::NetError;
use crate::ports::{self, PortMapping, Protocol};

/// What a running pasta serves, saved beside a container's attachments.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PastaState {
    pub pid: i32,
    pub ports: Vec<PortMapping>,
}

/// `-t`/`-u` specs for `ports` (`[ADDR/]HOST:CONTAINER`), `none` where there are none (pasta's
/// default, `auto`, would forward whatever the container listens on).
fn port_args(ports: &[PortMapping]) -> Result<Vec<String>, NetError> {
    let mut args = Vec::new();
    for (flag, proto) in [("-t", Protocol::Tcp), ("-u", Protocol::Udp)] {
        let mine: Vec<&PortMapping> = ports.iter().filter(|m| m.protocol == proto).collect();
        if mine.is_empty() {
            args.extend([flag.to_owned(), "none".to_owned()]);
        }
        for m in mine {
            let addr = m
                .host_ip
                .map(|ip: IpAddr| format!("{ip}/"))
                .unwrap_or_default();
            args.extend([
                flag.to_owned(),
                format!("{addr}{}:{}", m.host_port, m.container_port),
            ]);
        }
    }
    if let Some(m) = ports.iter().find(|m| m.protocol == Protocol::Sctp) {
        return Err(NetError::invalid(
            format!("-p {}/sctp", m.container_port),
            "pasta forwards tcp and udp only",
        ));
    }
    Ok(args)
}

/// Starts pasta for the namespace at `netns`, forwarding `ports` (host ports drawn where 0),
/// with the user's `extra` options (`--network pasta:OPT,OPT`); returns what it serves. Its
/// pid is written to `pid_file`.
pub fn start(
    netns: &Path,
    ports: &[PortMapping],
    extra: &[String],
    pid_file: &Path,
) -> Result<PastaState, NetError> {
    let mut ports = ports.to_vec();
    ports::assign_free(&mut ports)?;
    let mut cmd = Command::new("pasta");
    cmd.args(["--config-net", "--quiet", "--no-map-gw"])
        // Nothing of the host's loopback is forwarded into the container.
        .args(["-T", "none", "-U", "none"])
        .args(port_args(&ports)?)
        .arg("--pid")
        .arg(pid_file)
        .args(extra);
    // As root, pasta would switch to "nobody", who may not enter the namespace root made.
    if nix::unistd::geteuid().is_root() {
        cmd.args(["--runas", "0"]);
    }
    cmd.arg("--netns")
        .arg(netns)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd.output().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NetError::invalid(
            "--network pasta",
            "pasta is not installed (apt-get install passt)",
        ),
        _ => NetError::io("run", PathBuf::from("pasta"), e),
    })?;
    if !out.status.success() {
        let said: Vec<String> = String::from_utf8_lossy(&out.stderr)
            .lines()
            .chain(String::from_utf8_lossy(&out.stdout).lines())
            .filter(|l| !l.contains("syslog") && !l.trim().is_empty())
            .map(str::to_owned)
            .collect();
        return Err(NetError::invalid(
            "--network pasta",
            format!("pasta failed ({}): {}", out.status, said.join("; ")),
        ));
    }
    let pid = std::fs::read_to_string(pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| NetError::invalid("--network pasta", "pasta wrote no pid file"))?;
    Ok(PastaState { pid, ports })
}

/// Stops the pasta at `pid`, if it is still one (a recycled pid is left alone).
pub fn stop(pid: i32) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    if comm.starts_with("pasta") || comm.starts_with("passt") {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        let mut p = ports::parse_publish("127.0.0.1:8080:80").unwrap();
        p.extend(ports::parse_publish("5353:53/udp").unwrap());
        assert_eq!(
            port_args(&p).unwrap(),
            ["-t", "127.0.0.1/8080:80", "-u", "5353:53"]
        );
        assert_eq!(port_args(&[]).unwrap(), ["-t", "none", "-u", "none"]);
        let sctp = ports::parse_publish("9:9/sctp").unwrap();
        assert!(port_args(&sctp).is_err());
    }
}
