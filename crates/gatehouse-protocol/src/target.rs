//! Request-target forms (RFC 9112 3.2) and `uri-host [ ":" port ]`.

use crate::lex::{is_host_byte, is_pchar};
use crate::violation::{self as v, Violation};
use crate::TargetForm;
use std::net::Ipv6Addr;

/// Classifies and validates `target`; returns its form and, for absolute
/// and authority forms, the authority that names the host.
pub(crate) fn classify<'a>(
    method: &[u8],
    target: &'a [u8],
) -> Result<(TargetForm, Option<&'a [u8]>), Violation> {
    if method == b"CONNECT" {
        // CONNECT takes nothing but `host:port` (RFC 9112 3.2.3).
        return if valid_authority(target, true) {
            Ok((TargetForm::Authority, Some(target)))
        } else {
            Err(other_target_error(target))
        };
    }
    match target {
        [b'/', ..] => {
            check_path_and_query(target)?;
            Ok((TargetForm::Origin, None))
        }
        b"*" if method == b"OPTIONS" => Ok((TargetForm::Asterisk, None)),
        b"*" => Err(v::ASTERISK_TARGET_NOT_OPTIONS),
        _ => match strip_http_scheme(target) {
            Some(rest) => {
                let authority = absolute_form(rest)?;
                Ok((TargetForm::Absolute, Some(authority)))
            }
            None if valid_authority(target, true) => Err(v::AUTHORITY_TARGET_NOT_CONNECT),
            None => Err(other_target_error(target)),
        },
    }
}

/// Backslash gets its own code because it is a deliberate path-confusion
/// probe (Windows upstreams treat it as '/'), worth seeing in metrics.
fn other_target_error(target: &[u8]) -> Violation {
    if target.contains(&b'\\') {
        v::BACKSLASH_IN_TARGET
    } else {
        v::INVALID_TARGET
    }
}

/// Returns what follows `http://` or `https://` (scheme is case-insensitive).
fn strip_http_scheme(target: &[u8]) -> Option<&[u8]> {
    [&b"http://"[..], &b"https://"[..]]
        .into_iter()
        .find_map(|prefix| {
            let head = target.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| target.get(prefix.len()..))
                .flatten()
        })
}

/// Validates `authority path-abempty [ "?" query ]` and returns the authority.
fn absolute_form(rest: &[u8]) -> Result<&[u8], Violation> {
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // An empty host is invalid for http(s) URIs (RFC 9110 4.2.1), and
    // userinfo ('@') is refused by the host byte class.
    if !valid_authority(authority, false) {
        return Err(v::INVALID_TARGET);
    }
    check_path_and_query(tail)?;
    Ok(authority)
}

/// Checks `*( pchar / "/" / "?" )` with valid `%XX` escapes. That covers
/// origin-form and the tail of absolute-form: the first '?' only switches
/// from path to query, whose alphabet is a superset.
fn check_path_and_query(s: &[u8]) -> Result<(), Violation> {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if is_pchar(b) || b == b'/' || b == b'?' {
            i += 1;
            continue;
        }
        match b {
            b'%' if is_hex(s.get(i + 1)) && is_hex(s.get(i + 2)) => i += 3,
            b'\\' => return Err(v::BACKSLASH_IN_TARGET),
            b'#' => return Err(v::FRAGMENT_IN_TARGET),
            _ => return Err(v::INVALID_TARGET),
        }
    }
    Ok(())
}

fn is_hex(b: Option<&u8>) -> bool {
    b.is_some_and(u8::is_ascii_hexdigit)
}

/// Validates `uri-host [ ":" port ]` (`port_required`: `uri-host ":" port`).
///
/// Stricter than RFC 3986 on purpose: no empty host, no empty port, port at
/// most 65535, no IPvFuture literal, and a reg-name may not contain
/// percent-escapes or ','. Those are legal URI syntax but let a backend
/// decode or split a host the gateway compared verbatim.
pub(crate) fn valid_authority(value: &[u8], port_required: bool) -> bool {
    let (host_ok, port) = match value {
        [b'[', inner @ ..] => {
            let Some(close) = inner.iter().position(|&b| b == b']') else {
                return false;
            };
            let (literal, after) = inner.split_at(close);
            let port = match after {
                [b']'] => None,
                [b']', b':', port @ ..] => Some(port),
                _ => return false,
            };
            (valid_ipv6(literal), port)
        }
        _ => {
            let (host, port) = match value.iter().position(|&b| b == b':') {
                Some(colon) => (
                    value.get(..colon).unwrap_or_default(),
                    value.get(colon + 1..),
                ),
                None => (value, None),
            };
            (
                !host.is_empty() && host.iter().all(|&b| is_host_byte(b)),
                port,
            )
        }
    };
    host_ok
        && match port {
            Some(port) => valid_port(port),
            None => !port_required,
        }
}

fn valid_ipv6(literal: &[u8]) -> bool {
    std::str::from_utf8(literal)
        .ok()
        .is_some_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

/// 1 to 5 digits, value at most 65535.
fn valid_port(port: &[u8]) -> bool {
    (1..=5).contains(&port.len())
        && port.iter().all(u8::is_ascii_digit)
        && port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65535
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_accepts_names_ipv4_ipv6_and_ports() {
        for ok in [
            &b"example.com"[..],
            b"a",
            b"192.0.2.1:80",
            b"[::1]",
            b"[::1]:8080",
            b"[2001:db8::1]:0",
            b"x_y-z.example:65535",
        ] {
            assert!(valid_authority(ok, false), "{}", ok.escape_ascii());
        }
    }

    #[test]
    fn authority_rejects_ambiguous_or_malformed() {
        for bad in [
            &b""[..],
            b":80",
            b"a:",
            b"a:65536",
            b"a:123456",
            b"a:8a",
            b"a:+80",
            b"a b",
            b"a,b",
            b"ex%61mple.com",
            b"user@host",
            b"a:1:2",
            b"[::1",
            b"[::1]x",
            b"[::1]:",
            b"[zz::1]",
            b"[v1.x]",
            b"::1",
            b"a/b",
            b"a\\b",
            b"\xc3\xa9.example",
        ] {
            assert!(!valid_authority(bad, false), "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn authority_form_requires_port() {
        assert!(valid_authority(b"a:443", true));
        assert!(!valid_authority(b"a", true));
        assert!(!valid_authority(b"[::1]", true));
    }

    #[test]
    fn scheme_is_case_insensitive_and_limited_to_http() {
        assert_eq!(strip_http_scheme(b"HTTP://a/"), Some(&b"a/"[..]));
        assert_eq!(strip_http_scheme(b"hTtPs://a"), Some(&b"a"[..]));
        assert_eq!(strip_http_scheme(b"ftp://a/"), None);
        assert_eq!(strip_http_scheme(b"http:/a"), None);
    }

    #[test]
    fn percent_escapes_need_two_hex_digits() {
        assert!(check_path_and_query(b"/a%2Fb%c3%A9").is_ok());
        assert!(check_path_and_query(b"/a%2").is_err());
        assert!(check_path_and_query(b"/a%zz").is_err());
        assert!(check_path_and_query(b"/a%").is_err());
    }
}
