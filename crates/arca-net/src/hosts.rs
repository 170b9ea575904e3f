//! A container's `/etc/hosts` and `/etc/resolv.conf`, written by arca into the container's
//! directory and bind-mounted over the image's (as Docker does), so they describe the network
//! the container is actually on.
//!
//! The files are rewritten in place, never replaced: a bind mount holds the inode, so a rename
//! would leave the container reading the old file. That is how the peers of a user network
//! appear in each other's `/etc/hosts` while they run.

use std::io::Write;
use std::net::IpAddr;
use std::path::Path;

use crate::error::NetError;

/// What goes into a container's `/etc/hosts`.
#[derive(Debug, Clone, Default)]
pub struct Hosts {
    /// The container's names (its hostname first) for its own addresses.
    pub names: Vec<String>,
    pub own: Vec<IpAddr>,
    /// `--add-host NAME:IP`.
    pub extra: Vec<(String, IpAddr)>,
    /// Containers on the same user networks: an address and its names.
    pub peers: Vec<(IpAddr, Vec<String>)>,
}

impl Hosts {
    pub fn render(&self) -> String {
        let mut s = String::from(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
             fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
             ff02::2\tip6-allrouters\n",
        );
        for (name, ip) in &self.extra {
            s.push_str(&format!("{ip}\t{name}\n"));
        }
        let names = self.names.join(" ");
        if self.own.is_empty() && !names.is_empty() {
            // No address of its own (--network none): its name still resolves, to loopback.
            s.push_str(&format!("127.0.1.1\t{names}\n"));
        }
        for ip in &self.own {
            s.push_str(&format!("{ip}\t{names}\n"));
        }
        for (ip, names) in &self.peers {
            s.push_str(&format!("{ip}\t{}\n", names.join(" ")));
        }
        s
    }
}

/// `--add-host NAME:IP` (or Docker 25's `NAME=IP`; an IPv6 address may be bracketed).
pub fn parse_add_host(spec: &str) -> Result<(String, IpAddr), NetError> {
    let bad = |why: &str| NetError::invalid(format!("--add-host {spec}"), why.to_owned());
    let (name, ip) = spec
        .split_once('=')
        .or_else(|| spec.split_once(':'))
        .ok_or_else(|| bad("expected NAME:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(bad("the name is empty or has blanks"));
    }
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| bad(&format!("{ip:?} is not an IP address")))?;
    Ok((name.to_owned(), ip))
}

/// DNS settings for `resolv.conf` (`--dns`, `--dns-search`, `--dns-option`).
#[derive(Debug, Clone, Default)]
pub struct Dns {
    pub servers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// Docker's fallback when the host has only loopback resolvers, which a container in its own
/// network namespace cannot reach.
const FALLBACK: [&str; 2] = ["8.8.8.8", "8.8.4.4"];

/// The container's resolv.conf from the host's: the user's DNS settings replace the host's
/// (each kind on its own), and without `--dns` the host's nameservers are kept minus loopback
/// ones, unless `host_network` (then loopback resolvers are reachable and stay).
pub fn resolv_conf(host: &str, dns: &Dns, host_network: bool) -> String {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    let mut other = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                if let Some(ip) = words.next().and_then(|w| w.parse::<IpAddr>().ok()) {
                    if host_network || !ip.is_loopback() {
                        servers.push(ip.to_string());
                    }
                }
            }
            Some("search" | "domain") => search.extend(words.map(str::to_owned)),
            Some("options") => options.extend(words.map(str::to_owned)),
            Some(w) if !w.starts_with('#') && !w.starts_with(';') => other.push(line.to_owned()),
            _ => {}
        }
    }
    if !dns.servers.is_empty() {
        servers = dns.servers.iter().map(ToString::to_string).collect();
    } else if servers.is_empty() {
        servers = FALLBACK.iter().map(|s| (*s).to_owned()).collect();
    }
    if !dns.search.is_empty() {
        search = dns
            .search
            .iter()
            .filter(|s| s.as_str() != ".")
            .cloned()
            .collect();
    }
    if !dns.options.is_empty() {
        options.clone_from(&dns.options);
    }
    let mut s = String::new();
    if !search.is_empty() {
        s.push_str(&format!("search {}\n", search.join(" ")));
    }
    for n in servers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if !options.is_empty() {
        s.push_str(&format!("options {}\n", options.join(" ")));
    }
    for l in other {
        s.push_str(&l);
        s.push('\n');
    }
    s
}

/// Rewrites `path` in place (truncate, write): see the module documentation for why not a
/// rename.
pub fn write_in_place(path: &Path, content: &str) -> Result<(), NetError> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| NetError::io("open", path, e))?;
    f.write_all(content.as_bytes())
        .map_err(|e| NetError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_self_extra_and_peers() {
        let h = Hosts {
            names: vec!["abc123".into(), "web".into()],
            own: vec!["10.88.0.2".parse().unwrap()],
            extra: vec![("db".into(), "192.0.2.1".parse().unwrap())],
            peers: vec![("10.89.0.3".parse().unwrap(), vec!["other".into()])],
        };
        let t = h.render();
        assert!(t.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(t.contains("10.88.0.2\tabc123 web\n"));
        assert!(t.contains("192.0.2.1\tdb\n"));
        assert!(t.contains("10.89.0.3\tother\n"));
        let none = Hosts {
            names: vec!["abc".into()],
            ..Hosts::default()
        }
        .render();
        assert!(none.contains("127.0.1.1\tabc\n"));
    }

    #[test]
    fn add_host_forms() {
        assert_eq!(parse_add_host("db:192.0.2.1").unwrap().0, "db");
        assert_eq!(parse_add_host("db=[::1]").unwrap().1.to_string(), "::1");
        assert!(parse_add_host("db")
            .unwrap_err()
            .to_string()
            .contains("--add-host db"));
        assert!(parse_add_host("db:nope").is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_and_applies_flags() {
        let host = "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.org\noptions edns0\n";
        let t = resolv_conf(host, &Dns::default(), false);
        assert_eq!(
            t,
            "search example.org\nnameserver 192.0.2.53\noptions edns0\n"
        );
        let only_local = resolv_conf("nameserver 127.0.0.53\n", &Dns::default(), false);
        assert!(only_local.contains("nameserver 8.8.8.8\n"));
        assert!(
            resolv_conf("nameserver 127.0.0.53\n", &Dns::default(), true)
                .contains("nameserver 127.0.0.53")
        );
        let dns = Dns {
            servers: vec!["1.1.1.1".parse().unwrap()],
            search: vec!["corp".into()],
            options: vec!["ndots:2".into()],
        };
        assert_eq!(
            resolv_conf(host, &dns, false),
            "search corp\nnameserver 1.1.1.1\noptions ndots:2\n"
        );
    }
}
