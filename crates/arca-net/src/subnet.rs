//! IPv4 subnets: parsed from `--subnet`, checked for overlap, and picked for a new network
//! among private ranges that no route of this network namespace and no other arca network
//! already covers (so a new bridge never shadows the host's own networks, as Docker and Podman
//! avoid).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network, its address masked to the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Option<Subnet> {
        (prefix <= 32).then(|| Subnet {
            addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)),
            prefix,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == u32::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        let p = self.prefix.min(other.prefix);
        u32::from(self.addr) & mask(p) == u32::from(other.addr) & mask(p)
    }

    /// The `n`th address (`.1` is the gateway).
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr).wrapping_add(n))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    /// `A.B.C.D/N`; host bits set are refused (as Docker does), since they usually mean a typo.
    fn from_str(s: &str) -> Result<Subnet, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected an IPv4 subnet like 10.90.0.0/24"))?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("{s:?}: {a:?} is not an IPv4 address"))?;
        let prefix: u8 = p
            .parse()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| format!("{s:?}: the prefix length must be 8 to 30"))?;
        let net = Subnet::new(addr, prefix).ok_or_else(|| format!("{s:?}: bad prefix"))?;
        if net.addr != addr {
            return Err(format!("{s:?}: host bits are set (did you mean {net}?)"));
        }
        Ok(net)
    }
}

/// The IPv4 routes of the calling thread's network namespace (`/proc/net/route`), default
/// routes left out: a default route covers everything and would rule out every subnet.
pub fn routes() -> Vec<Subnet> {
    let Ok(text) = std::fs::read_to_string("/proc/thread-self/net/route") else {
        return Vec::new();
    };
    parse_routes(&text)
}

fn parse_routes(text: &str) -> Vec<Subnet> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            // Destination and Mask are little-endian hex.
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?.swap_bytes();
            let m = u32::from_str_radix(f.get(7)?, 16).ok()?.swap_bytes();
            let prefix = u8::try_from(m.count_ones()).ok()?;
            (prefix > 0).then(|| Subnet::new(Ipv4Addr::from(dest), prefix))?
        })
        .collect()
}

/// The first of `candidates` overlapping none of `taken`.
pub fn pick(candidates: impl IntoIterator<Item = Subnet>, taken: &[Subnet]) -> Option<Subnet> {
    candidates
        .into_iter()
        .find(|c| !taken.iter().any(|t| t.overlaps(c)))
}

/// Candidates for the default network: Podman's 10.88.0.0/16 first, then other /16s.
pub fn default_candidates() -> impl Iterator<Item = Subnet> {
    [88u8, 87, 86, 85, 84]
        .into_iter()
        .filter_map(|b| Subnet::new(Ipv4Addr::new(10, b, 0, 0), 16))
}

/// Candidates for user networks: 10.89.N.0/24, as Podman numbers its networks.
pub fn user_candidates() -> impl Iterator<Item = Subnet> {
    (0..=255u8).filter_map(|n| Subnet::new(Ipv4Addr::new(10, 89, n, 0), 24))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: &str) -> Subnet {
        t.parse().unwrap()
    }

    #[test]
    fn parse_and_overlap() {
        assert_eq!(s("10.88.0.0/16").to_string(), "10.88.0.0/16");
        assert!("10.88.0.1/16"
            .parse::<Subnet>()
            .unwrap_err()
            .contains("10.88.0.0/16"));
        assert!("10.88.0.0".parse::<Subnet>().is_err());
        assert!("10.88.0.0/31".parse::<Subnet>().is_err());
        assert!(s("10.88.0.0/16").overlaps(&s("10.88.5.0/24")));
        assert!(s("10.88.5.0/24").overlaps(&s("10.88.0.0/16")));
        assert!(!s("10.88.0.0/16").overlaps(&s("10.89.0.0/24")));
        assert!(s("10.89.3.0/24").contains(Ipv4Addr::new(10, 89, 3, 7)));
        assert_eq!(s("10.89.3.0/24").host(1), Ipv4Addr::new(10, 89, 3, 1));
    }

    #[test]
    fn routes_and_pick() {
        let text =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    br0\t0000580A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_routes(text);
        assert_eq!(r, vec![s("10.88.0.0/16")]);
        assert_eq!(pick(default_candidates(), &r), Some(s("10.87.0.0/16")));
        assert_eq!(
            pick(user_candidates(), &[s("10.89.0.0/24")]),
            Some(s("10.89.1.0/24"))
        );
    }
}
