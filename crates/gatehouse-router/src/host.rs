//! Host patterns of routes: parsing, validation and allocation-free matching.

/// A validated `hosts` entry, lowercased at construction so matching can use
/// ASCII case-insensitive comparison without allocating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPattern {
    kind: HostKind,
    /// When set, the request must carry exactly this port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostKind {
    Exact(String),
    /// `*.example.com`, stored as `.example.com`.
    Suffix(String),
    /// `example.*`, stored as `example.`.
    Prefix(String),
}

impl HostPattern {
    pub(crate) fn parse(pattern: &str) -> Result<HostPattern, String> {
        if pattern.is_empty() {
            return Err("host must not be empty".to_string());
        }
        let (name, port) = split_host_port(pattern);
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n != 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
                _ => return Err(format!("invalid port {p:?} in host")),
            },
        };
        if name.is_empty() {
            return Err("host name must not be empty".to_string());
        }
        let name = name.to_ascii_lowercase();
        if name.starts_with('[') {
            validate_ipv6_literal(&name)?;
            return Ok(HostPattern {
                kind: HostKind::Exact(name),
                port,
            });
        }
        let kind = match name.matches('*').count() {
            0 => {
                validate_labels(&name)?;
                HostKind::Exact(name)
            }
            1 if name == "*" => {
                return Err(
                    "'*' alone is not a host pattern, leave hosts empty to match any host".into(),
                )
            }
            1 if name.starts_with("*.") => {
                validate_labels(&name[2..])?;
                HostKind::Suffix(name[1..].to_string())
            }
            1 if name.ends_with(".*") => {
                let prefix = &name[..name.len() - 2];
                validate_labels(prefix)?;
                HostKind::Prefix(name[..name.len() - 1].to_string())
            }
            _ => return Err("host wildcard must be leftmost or rightmost label only".into()),
        };
        Ok(HostPattern { kind, port })
    }

    pub(crate) fn is_wildcard(&self) -> bool {
        !matches!(self.kind, HostKind::Exact(_))
    }

    /// `name` and `port` come from [`split_request_host`].
    pub(crate) fn matches(&self, name: &str, port: Option<u16>) -> bool {
        if self.port.is_some() && self.port != port {
            return false;
        }
        let name = name.as_bytes();
        match &self.kind {
            HostKind::Exact(h) => name.eq_ignore_ascii_case(h.as_bytes()),
            HostKind::Suffix(s) => {
                name.len() > s.len()
                    && name[name.len() - s.len()..].eq_ignore_ascii_case(s.as_bytes())
            }
            HostKind::Prefix(p) => {
                name.len() > p.len() && name[..p.len()].eq_ignore_ascii_case(p.as_bytes())
            }
        }
    }
}

/// Splits `host[:port]` or `[v6][:port]`; a bare IPv6 address has no port.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if s.starts_with('[') {
        return match s.find(']') {
            Some(end) => match s[end + 1..].strip_prefix(':') {
                Some(port) => (&s[..=end], Some(port)),
                None if end + 1 == s.len() => (s, None),
                // Junk after the bracket: keep it in the name so it cannot match.
                None => (s, None),
            },
            None => (s, None),
        };
    }
    match s.split_once(':') {
        Some((name, port)) if !port.contains(':') => (name, Some(port)),
        _ => (s, None),
    }
}

/// Splits a Host header value; an unparsable port becomes `None`, so only
/// patterns without a port can match it.
pub(crate) fn split_request_host(host: &str) -> (&str, Option<u16>) {
    let (name, port) = split_host_port(host);
    (name, port.and_then(|p| p.parse().ok()))
}

fn validate_labels(name: &str) -> Result<(), String> {
    for label in name.split('.') {
        if label.is_empty() {
            return Err("host has an empty label".to_string());
        }
        if label.contains('*') {
            return Err("host wildcard must be leftmost or rightmost label only".to_string());
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("invalid character {c:?} in host"));
        }
    }
    Ok(())
}

fn validate_ipv6_literal(name: &str) -> Result<(), String> {
    let inner = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .ok_or_else(|| "unterminated IPv6 literal in host".to_string())?;
    if inner.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("invalid IPv6 address {inner:?} in host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, host: &str) -> bool {
        let (name, port) = split_request_host(host);
        HostPattern::parse(pattern).unwrap().matches(name, port)
    }

    #[test]
    fn exact_is_case_insensitive_and_ignores_request_port() {
        assert!(matches("api.example.com", "api.example.com"));
        assert!(matches("API.Example.com", "api.EXAMPLE.com:8443"));
        assert!(!matches("api.example.com", "api.example.org"));
        assert!(!matches("api.example.com", "xapi.example.com"));
    }

    #[test]
    fn port_in_pattern_must_match() {
        assert!(matches("api.example.com:8000", "api.example.com:8000"));
        assert!(!matches("api.example.com:8000", "api.example.com:8001"));
        assert!(!matches("api.example.com:8000", "api.example.com"));
        assert!(!matches("api.example.com:8000", "api.example.com:x"));
        assert!(matches("*.example.com:8000", "a.example.com:8000"));
    }

    #[test]
    fn leftmost_wildcard() {
        assert!(matches("*.example.com", "a.example.com"));
        assert!(matches("*.example.com", "x.y.EXAMPLE.com:80"));
        assert!(!matches("*.example.com", "example.com"));
        assert!(!matches("*.example.com", ".example.com"));
        assert!(!matches("*.example.com", "aexample.com"));
    }

    #[test]
    fn rightmost_wildcard() {
        assert!(matches("example.*", "example.com"));
        assert!(matches("example.*", "EXAMPLE.co.uk:443"));
        assert!(!matches("example.*", "example."));
        assert!(!matches("example.*", "example"));
        assert!(!matches("example.*", "www.example.com"));
    }

    #[test]
    fn ipv6_literals() {
        assert!(matches("[::1]", "[::1]:8080"));
        assert!(matches("[::1]:8080", "[::1]:8080"));
        assert!(!matches("[::1]:8080", "[::1]"));
        assert!(HostPattern::parse("[zz]").is_err());
    }

    #[test]
    fn invalid_patterns() {
        for (p, msg) in [
            ("", "must not be empty"),
            ("*", "'*' alone"),
            ("a.*.com", "leftmost or rightmost"),
            ("*.example.*", "leftmost or rightmost"),
            ("a*.example.com", "leftmost or rightmost"),
            ("example.c*", "leftmost or rightmost"),
            ("a..b", "empty label"),
            (".a", "empty label"),
            ("a b", "invalid character"),
            ("a/b", "invalid character"),
            ("a:0", "invalid port"),
            ("a:99999", "invalid port"),
            ("a:+80", "invalid port"),
            (":80", "host name must not be empty"),
        ] {
            let err = HostPattern::parse(p).unwrap_err();
            assert!(err.contains(msg), "{p:?}: {err}");
        }
    }
}
