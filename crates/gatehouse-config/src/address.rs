//! Service URLs, target addresses and name resolution.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The parts of a service `url` (or of `protocol`/`host`/`port`/`path`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl {
    pub scheme: Scheme,
    pub host: String,
    pub port: Option<u16>,
    pub path: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    Mock,
    Echo,
}

impl Scheme {
    pub fn parse(s: &str) -> Result<Scheme, String> {
        match s {
            "http" => Ok(Scheme::Http),
            "https" => Ok(Scheme::Https),
            "mock" => Ok(Scheme::Mock),
            "echo" => Ok(Scheme::Echo),
            "grpc" | "grpcs" | "tcp" | "tls" | "udp" | "ws" | "wss" | "tls_passthrough" => {
                Err(format!("protocol `{s}` is not supported yet"))
            }
            _ => Err(format!(
                "unknown protocol `{s}` (expected `http`, `https`, `mock` or `echo`)"
            )),
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            _ => 80,
        }
    }
}

/// Parses `scheme://host[:port][/path]`. Userinfo, query and fragment are
/// refused: they would be silently dropped otherwise.
pub fn parse_service_url(url: &str) -> Result<ServiceUrl, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("`{url}` is not a URL (expected scheme://host[:port][/path])"))?;
    let scheme = Scheme::parse(&scheme.to_ascii_lowercase())?;
    if rest.contains(['?', '#']) {
        return Err("a service URL cannot have a query string or fragment".into());
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    if authority.contains('@') {
        return Err(
            "credentials in a service URL are not supported; use a plugin or header".into(),
        );
    }
    if matches!(scheme, Scheme::Mock | Scheme::Echo) {
        return Ok(ServiceUrl {
            scheme,
            host: authority.to_string(),
            port: None,
            path: path.map(str::to_string),
        });
    }
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() {
        return Err("the service URL has no host".into());
    }
    if let Some(p) = path {
        check_path(p)?;
    }
    Ok(ServiceUrl {
        scheme,
        host,
        port,
        path: path.map(str::to_string),
    })
}

/// A service or upstream path: starts with `/`, no spaces, query or fragment.
pub fn check_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err("path must start with `/`".into());
    }
    if p.bytes()
        .any(|b| b <= b' ' || b == 0x7f || b == b'?' || b == b'#')
    {
        return Err("path must not contain spaces, control characters, `?` or `#`".into());
    }
    Ok(())
}

/// Splits `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare IPv6 address.
pub fn split_host_port(s: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: missing `]` after IPv6 address"))?;
        host.parse::<IpAddr>()
            .map_err(|_| format!("`{host}` is not an IPv6 address"))?;
        let port = match after {
            "" => None,
            p => {
                Some(parse_port(p.strip_prefix(':').ok_or_else(|| {
                    format!("`{s}`: expected `:port` after `]`")
                })?)?)
            }
        };
        return Ok((host.to_string(), port));
    }
    if s.parse::<IpAddr>().is_ok() {
        return Ok((s.to_string(), None));
    }
    let (host, port) = match s.rsplit_once(':') {
        Some((h, p)) => (h, Some(parse_port(p)?)),
        None => (s, None),
    };
    check_hostname(host)?;
    Ok((host.to_ascii_lowercase(), port))
}

fn parse_port(p: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("`{p}` is not a valid port (1-65535)")),
        Ok(n) => Ok(n),
    }
}

fn check_hostname(h: &str) -> Result<(), String> {
    let ok = !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(format!("`{h}` is not a valid host name"))
    }
}

/// Resolves a host once, at load time; IPv4 addresses first so a `localhost`
/// service reaches an IPv4-only listener on the first try.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let mut addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve host `{host}`: {e}"))?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    addrs.dedup();
    if addrs.is_empty() {
        return Err(format!("host `{host}` resolved to no address"));
    }
    Ok(addrs)
}

/// `host:port` for a Host header, leaving out the scheme's default port.
pub fn host_header(host: &str, port: u16, scheme: Scheme) -> String {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    if port == scheme.default_port() {
        host
    } else {
        format!("{host}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_service_url("http://api.internal:8080/v1").unwrap();
        assert_eq!(u.scheme, Scheme::Http);
        assert_eq!(u.host, "api.internal");
        assert_eq!(u.port, Some(8080));
        assert_eq!(u.path.as_deref(), Some("/v1"));
        let u = parse_service_url("https://[::1]:9443").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path), ("::1", Some(9443), None));
        let u = parse_service_url("mock://").unwrap();
        assert_eq!(u.scheme, Scheme::Mock);
    }

    #[test]
    fn bad_urls() {
        assert!(parse_service_url("api.internal")
            .unwrap_err()
            .contains("not a URL"));
        assert!(parse_service_url("ftp://x")
            .unwrap_err()
            .contains("unknown protocol"));
        assert!(parse_service_url("grpc://x")
            .unwrap_err()
            .contains("not supported yet"));
        assert!(parse_service_url("http://u:p@x")
            .unwrap_err()
            .contains("credentials"));
        assert!(parse_service_url("http://x/?a=1")
            .unwrap_err()
            .contains("query"));
        assert!(parse_service_url("http://x:99999")
            .unwrap_err()
            .contains("port"));
        assert!(parse_service_url("http://bad host")
            .unwrap_err()
            .contains("host name"));
        assert!(parse_service_url("http://:80").is_err());
    }

    #[test]
    fn host_ports() {
        assert_eq!(split_host_port("a.b:80").unwrap(), ("a.b".into(), Some(80)));
        assert_eq!(split_host_port("A.B").unwrap(), ("a.b".into(), None));
        assert_eq!(split_host_port("::1").unwrap(), ("::1".into(), None));
        assert_eq!(
            split_host_port("[::1]:81").unwrap(),
            ("::1".into(), Some(81))
        );
        assert!(split_host_port("[::1").is_err());
        assert!(split_host_port("a:0").is_err());
    }

    #[test]
    fn resolution_and_host_header() {
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap(),
            vec!["127.0.0.1:80".parse().unwrap()]
        );
        let local = resolve("localhost", 80).unwrap();
        assert!(!local.is_empty());
        assert!(resolve("name.invalid", 80).is_err());
        assert_eq!(host_header("a", 80, Scheme::Http), "a");
        assert_eq!(host_header("a", 8080, Scheme::Http), "a:8080");
        assert_eq!(host_header("a", 443, Scheme::Https), "a");
        assert_eq!(host_header("::1", 81, Scheme::Http), "[::1]:81");
    }
}
