//! Published ports: Docker's `-p [ip:][hostPort:]containerPort[/proto]` (ranges of equal
//! length allowed, a missing host port drawn at start), `-P` for the image's EXPOSE, and the
//! `portMappings` capability argument the CNI `portmap` plugin takes.

use std::net::{IpAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::error::NetError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// One published port. `host_port` 0: any free port, drawn when the container starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// `None`: every address of the host.
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

fn port(s: &str, spec: &str) -> Result<u16, NetError> {
    s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
        NetError::invalid(
            format!("-p {spec}"),
            format!("{s:?} is not a port (1-65535)"),
        )
    })
}

fn range(s: &str, spec: &str) -> Result<(u16, u16), NetError> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a, spec)?, port(b, spec)?);
            if a > b {
                return Err(NetError::invalid(
                    format!("-p {spec}"),
                    format!("range {s:?} is backwards"),
                ));
            }
            Ok((a, b))
        }
        None => port(s, spec).map(|p| (p, p)),
    }
}

/// Parses one `-p` value into its mappings (one per port of a range).
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetError> {
    let bad = |why: &str| NetError::invalid(format!("-p {spec}"), why.to_owned());
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, "tcp")) => (r, Protocol::Tcp),
        Some((r, "udp")) => (r, Protocol::Udp),
        Some((r, "sctp")) => (r, Protocol::Sctp),
        Some((_, p)) => return Err(bad(&format!("unknown protocol {p:?} (tcp, udp or sctp)"))),
        None => (spec, Protocol::Tcp),
    };
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (ip, ports) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, ports) = r
            .split_once("]:")
            .ok_or_else(|| bad("unclosed '[' around an address"))?;
        (Some(ip), ports)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, rest),
            3 => (Some(parts[0]), &rest[parts[0].len() + 1..]),
            _ => return Err(bad("expected [ip:][hostPort:]containerPort[/protocol]")),
        }
    };
    let host_ip = match ip {
        None | Some("") => None,
        Some(a) => Some(
            a.parse::<IpAddr>()
                .map_err(|_| bad(&format!("{a:?} is not an IP address")))?,
        ),
    };
    let (host, container) = match ports.split_once(':') {
        Some((h, c)) => (Some(h).filter(|h| !h.is_empty()), c),
        None => (None, ports),
    };
    let (c0, c1) = range(container, spec)?;
    let host = host.map(|h| range(h, spec)).transpose()?;
    if let Some((h0, h1)) = host {
        if h1 - h0 != c1 - c0 {
            return Err(bad("the host and container port ranges differ in length"));
        }
    }
    Ok((c0..=c1)
        .map(|c| PortMapping {
            host_ip,
            host_port: host.map_or(0, |(h0, _)| h0 + (c - c0)),
            container_port: c,
            protocol,
        })
        .collect())
}

/// `-P`: every port the image exposes (`80/tcp`, `53/udp`, `8080`) on a free host port.
pub fn parse_exposed(exposed: &[String]) -> Vec<PortMapping> {
    exposed
        .iter()
        .filter_map(|e| {
            let (p, proto) = e.split_once('/').unwrap_or((e, "tcp"));
            let protocol = match proto {
                "udp" => Protocol::Udp,
                "sctp" => Protocol::Sctp,
                _ => Protocol::Tcp,
            };
            Some(PortMapping {
                host_ip: None,
                host_port: 0,
                container_port: p.parse().ok().filter(|p| *p > 0)?,
                protocol,
            })
        })
        .collect()
}

/// Gives each mapping without a host port a free one of this namespace (the kernel's choice
/// for a socket bound to port 0, as Podman does).
pub fn assign_free(ports: &mut [PortMapping]) -> Result<(), NetError> {
    for m in ports.iter_mut().filter(|m| m.host_port == 0) {
        let ip = m.host_ip.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let got = match m.protocol {
            Protocol::Udp => UdpSocket::bind((ip, 0)).and_then(|s| s.local_addr()),
            _ => TcpListener::bind((ip, 0)).and_then(|s| s.local_addr()),
        };
        m.host_port = got
            .map_err(|e| NetError::io("find a free port on", ip.to_string(), e))?
            .port();
    }
    Ok(())
}

/// The `portMappings` capability argument.
pub fn capability_arg(ports: &[PortMapping]) -> Value {
    Value::Array(
        ports
            .iter()
            .map(|m| {
                json!({
                    "hostPort": m.host_port,
                    "containerPort": m.container_port,
                    "protocol": m.protocol.as_str(),
                    "hostIP": m.host_ip.map(|i| i.to_string()).unwrap_or_default(),
                })
            })
            .collect(),
    )
}

/// Docker's `port` line: `80/tcp -> 0.0.0.0:8080`.
pub fn describe(m: &PortMapping) -> String {
    let ip = m.host_ip.map_or("0.0.0.0".to_owned(), |i| match i {
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    });
    format!(
        "{}/{} -> {ip}:{}",
        m.container_port,
        m.protocol.as_str(),
        m.host_port
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> PortMapping {
        let v = parse_publish(s).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v[0].clone()
    }

    #[test]
    fn docker_forms() {
        let m = one("8080:80");
        assert_eq!(
            (m.host_port, m.container_port, m.protocol),
            (8080, 80, Protocol::Tcp)
        );
        assert_eq!(one("80").host_port, 0);
        let m = one("127.0.0.1:8080:80/udp");
        assert_eq!(m.host_ip.unwrap().to_string(), "127.0.0.1");
        assert_eq!(m.protocol, Protocol::Udp);
        let m = one("127.0.0.1::80");
        assert_eq!((m.host_port, m.container_port), (0, 80));
        assert_eq!(one("[::1]:8080:80").host_ip.unwrap().to_string(), "::1");
        let r = parse_publish("8000-8002:9000-9002").unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[2].host_port, r[2].container_port), (8002, 9002));
        assert_eq!(
            describe(&one("127.0.0.1:8080:80")),
            "80/tcp -> 127.0.0.1:8080"
        );
    }

    #[test]
    fn errors_name_the_flag() {
        for bad in [
            "0:80",
            "8080:70000",
            "a:b:c:d",
            "8000-8001:80",
            "80/icmp",
            "x.y:1:2",
        ] {
            let e = parse_publish(bad).unwrap_err().to_string();
            assert!(e.contains(&format!("-p {bad}")), "{e}");
        }
    }

    #[test]
    fn exposed_and_free_ports() {
        let mut p = parse_exposed(&["80/tcp".into(), "53/udp".into(), "x".into()]);
        assert_eq!(p.len(), 2);
        assert_eq!(p[1].protocol, Protocol::Udp);
        assert_free(&mut p);
    }

    fn assert_free(p: &mut [PortMapping]) {
        assign_free(p).unwrap();
        assert!(p.iter().all(|m| m.host_port != 0));
    }
}
