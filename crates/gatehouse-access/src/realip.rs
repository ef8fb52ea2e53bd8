use crate::CidrSet;
use std::net::IpAddr;

/// Which request header carries the original client address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RealIpHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2`
    XForwardedFor,
    /// Any single-address header, such as `X-Real-IP` (lowercase name).
    Single(String),
}

impl RealIpHeader {
    /// Lowercase header name to read.
    pub fn name(&self) -> &str {
        match self {
            RealIpHeader::XForwardedFor => "x-forwarded-for",
            RealIpHeader::Single(n) => n,
        }
    }
}

/// The client as the gateway believes it to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp {
    /// The address policies use.
    pub ip: IpAddr,
    /// The TCP peer.
    pub peer: IpAddr,
    /// Whether the TCP peer is a trusted proxy (so its forwarding headers
    /// may be believed and extended rather than replaced).
    pub peer_trusted: bool,
}

/// nginx's realip module semantics: `set_real_ip_from` (trusted),
/// `real_ip_header` and `real_ip_recursive`.
#[derive(Debug, Clone)]
pub struct RealIpResolver {
    trusted: CidrSet,
    header: RealIpHeader,
    recursive: bool,
}

impl RealIpResolver {
    pub fn new(trusted: CidrSet, header: RealIpHeader, recursive: bool) -> Self {
        RealIpResolver {
            trusted,
            header,
            recursive,
        }
    }

    pub fn header(&self) -> &RealIpHeader {
        &self.header
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted.contains(ip)
    }

    /// Resolves the client address from the peer and the values of the
    /// configured header, in the order they appeared.
    ///
    /// Untrusted peer: the peer. Trusted peer, non-recursive: the last
    /// address of the header. Recursive: walking from the right, the first
    /// address that is not itself a trusted proxy. An unparsable entry stops
    /// the walk at the last good address, as nginx does.
    pub fn resolve<'a, I>(&self, peer: IpAddr, mut values: I) -> ClientIp
    where
        I: DoubleEndedIterator<Item = &'a [u8]>,
    {
        let peer = peer.to_canonical();
        let peer_trusted = !self.trusted.is_empty() && self.trusted.contains(peer);
        let mut client = ClientIp {
            ip: peer,
            peer_trusted,
            peer,
        };
        if !peer_trusted {
            return client;
        }
        match self.header {
            RealIpHeader::Single(_) => {
                if let Some(ip) = values.next_back().and_then(|v| parse_ip(trim_ascii(v))) {
                    client.ip = ip;
                }
            }
            RealIpHeader::XForwardedFor => {
                let entries = values
                    .rev()
                    .flat_map(|v| v.rsplit(|b| *b == b','))
                    .map(trim_ascii)
                    .filter(|e| !e.is_empty());
                for entry in entries {
                    let Some(ip) = parse_ip(entry) else { break };
                    client.ip = ip;
                    if !self.recursive || !self.trusted.contains(ip) {
                        break;
                    }
                }
            }
        }
        client
    }
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(b).ok()?;
    // Some proxies bracket IPv6 entries.
    let s = s
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(s);
    s.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn resolver(trusted: &[&str], recursive: bool) -> RealIpResolver {
        let mut set = CidrSet::new();
        for t in trusted {
            set.add(t).unwrap();
        }
        RealIpResolver::new(set, RealIpHeader::XForwardedFor, recursive)
    }

    fn resolve(r: &RealIpResolver, peer: &str, xff: &[&str]) -> ClientIp {
        r.resolve(ip(peer), xff.iter().map(|s| s.as_bytes()))
    }

    #[test]
    fn untrusted_peer_header_ignored() {
        let r = resolver(&["10.0.0.0/8"], true);
        let c = resolve(&r, "203.0.113.9", &["1.2.3.4"]);
        assert_eq!(c.ip, ip("203.0.113.9"));
        assert!(!c.peer_trusted);
    }

    #[test]
    fn no_trusted_proxies_means_peer() {
        let r = resolver(&[], true);
        assert_eq!(resolve(&r, "10.0.0.1", &["1.2.3.4"]).ip, ip("10.0.0.1"));
    }

    #[test]
    fn non_recursive_takes_last_entry() {
        let r = resolver(&["10.0.0.0/8"], false);
        let c = resolve(&r, "10.0.0.1", &["1.2.3.4, 10.0.0.2"]);
        assert_eq!(c.ip, ip("10.0.0.2"));
        assert!(c.peer_trusted);
    }

    #[test]
    fn recursive_skips_trusted_hops() {
        let r = resolver(&["10.0.0.0/8"], true);
        let c = resolve(&r, "10.0.0.1", &["6.6.6.6, 1.2.3.4, 10.0.0.3", "10.0.0.2"]);
        assert_eq!(c.ip, ip("1.2.3.4"));
    }

    #[test]
    fn recursive_all_trusted_gives_leftmost() {
        let r = resolver(&["10.0.0.0/8"], true);
        assert_eq!(
            resolve(&r, "10.0.0.1", &["10.1.1.1, 10.2.2.2"]).ip,
            ip("10.1.1.1")
        );
    }

    #[test]
    fn garbage_stops_at_last_good_address() {
        let r = resolver(&["10.0.0.0/8"], true);
        assert_eq!(
            resolve(&r, "10.0.0.1", &["1.1.1.1, junk, 10.0.0.9"]).ip,
            ip("10.0.0.9")
        );
        assert_eq!(resolve(&r, "10.0.0.1", &["junk"]).ip, ip("10.0.0.1"));
        assert_eq!(resolve(&r, "10.0.0.1", &[]).ip, ip("10.0.0.1"));
    }

    #[test]
    fn ipv6_entries_and_brackets() {
        let r = resolver(&["::1/128"], true);
        assert_eq!(resolve(&r, "::1", &["[2001:db8::7]"]).ip, ip("2001:db8::7"));
        assert_eq!(resolve(&r, "::1", &["2001:db8::8 "]).ip, ip("2001:db8::8"));
    }

    #[test]
    fn single_value_header() {
        let mut set = CidrSet::new();
        set.add("127.0.0.1").unwrap();
        let r = RealIpResolver::new(set, RealIpHeader::Single("x-real-ip".into()), false);
        let c = r.resolve(ip("127.0.0.1"), [b"198.51.100.4".as_slice()].into_iter());
        assert_eq!(c.ip, ip("198.51.100.4"));
        let c = r.resolve(ip("127.0.0.1"), [b"nonsense".as_slice()].into_iter());
        assert_eq!(c.ip, ip("127.0.0.1"));
    }
}
