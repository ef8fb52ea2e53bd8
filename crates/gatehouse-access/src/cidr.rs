use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A set of networks, from CIDRs or single addresses.
#[derive(Debug, Clone, Default)]
pub struct CidrSet {
    nets: Vec<IpNet>,
}

/// Why a CIDR entry was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CidrError(pub String);

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl CidrSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `10.0.0.0/8`, `2001:db8::/32`, or a single address.
    ///
    /// A network with host bits set (`10.0.0.1/8`) is refused: it usually
    /// means a typo, and silently widening it would trust more than meant.
    pub fn add(&mut self, entry: &str) -> Result<(), CidrError> {
        let entry = entry.trim();
        let net = if entry.contains('/') {
            let net = IpNet::from_str(entry)
                .map_err(|_| CidrError(format!("`{entry}` is not a valid CIDR")))?;
            if net.trunc() != net {
                return Err(CidrError(format!(
                    "`{entry}` has host bits set; did you mean `{}`?",
                    net.trunc()
                )));
            }
            net
        } else {
            let ip = IpAddr::from_str(entry)
                .map_err(|_| CidrError(format!("`{entry}` is not a valid IP address or CIDR")))?;
            IpNet::from(ip)
        };
        self.nets.push(net);
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn matches_v4_v6_and_single_addresses() {
        let mut s = CidrSet::new();
        s.add("10.0.0.0/8").unwrap();
        s.add("192.168.1.7").unwrap();
        s.add("2001:db8::/32").unwrap();
        assert!(s.contains(ip("10.200.3.4")));
        assert!(!s.contains(ip("11.0.0.1")));
        assert!(s.contains(ip("192.168.1.7")));
        assert!(!s.contains(ip("192.168.1.8")));
        assert!(s.contains(ip("2001:db8::1")));
        assert!(!s.contains(ip("2001:db9::1")));
    }

    #[test]
    fn v4_mapped_v6_peer_matches_v4_network() {
        let mut s = CidrSet::new();
        s.add("127.0.0.0/8").unwrap();
        assert!(s.contains(ip("::ffff:127.0.0.1")));
    }

    #[test]
    fn refuses_garbage_and_host_bits() {
        let mut s = CidrSet::new();
        assert!(s.add("10.0.0.0/33").is_err());
        assert!(s.add("not-an-ip").is_err());
        let e = s.add("10.0.0.1/8").unwrap_err();
        assert!(e.0.contains("10.0.0.0/8"), "{e}");
        assert!(s.is_empty());
    }
}
