//! The parts of a CNI result arca uses: the container's addresses (for `/etc/hosts`, `inspect`
//! and the peers of a user network). The whole result is kept as JSON for DEL and CHECK.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An address a plugin gave the container, with its prefix length and gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub ip: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
}

/// A result's addresses (0.3.x to 1.x results all have `ips[].address` as CIDR text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CniResult {
    pub addresses: Vec<Address>,
}

impl CniResult {
    pub fn from_value(v: &Value) -> CniResult {
        let addresses = v
            .get("ips")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|ip| {
                let cidr = ip.get("address")?.as_str()?;
                let (addr, prefix) = cidr.split_once('/')?;
                Some(Address {
                    ip: addr.parse().ok()?,
                    prefix: prefix.parse().ok()?,
                    gateway: ip
                        .get("gateway")
                        .and_then(Value::as_str)
                        .and_then(|g| g.parse().ok()),
                })
            })
            .collect();
        CniResult { addresses }
    }

    /// The first IPv4 address, else the first at all.
    pub fn primary(&self) -> Option<&Address> {
        self.addresses
            .iter()
            .find(|a| a.ip.is_ipv4())
            .or_else(|| self.addresses.first())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_addresses() {
        let v: Value = serde_json::from_str(
            r#"{"cniVersion":"1.0.0","ips":[{"interface":2,"address":"fd00::2/64"},{"interface":2,"address":"10.88.0.2/16","gateway":"10.88.0.1"}]}"#,
        )
        .unwrap();
        let r = CniResult::from_value(&v);
        assert_eq!(r.addresses.len(), 2);
        let p = r.primary().unwrap();
        assert_eq!(p.ip.to_string(), "10.88.0.2");
        assert_eq!(p.prefix, 16);
        assert_eq!(p.gateway.unwrap().to_string(), "10.88.0.1");
    }
}
