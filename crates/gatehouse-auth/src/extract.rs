//! Where a token is looked for, as Kong's `jwt` plugin does: query
//! parameters, cookies, then headers with the Bearer scheme. The same token
//! found in several places counts once; different tokens are refused.

/// The request parts tokens can come from, borrowed from the request.
pub trait RequestParts {
    fn method(&self) -> &str;
    /// The raw query string, without `?`.
    fn query(&self) -> Option<&str>;
    /// Every value of header `name` (lowercase), in order.
    fn header_values(&self, name: &str) -> Vec<&[u8]>;
}

/// What the request carried.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    None,
    One(String),
    Several,
}

/// Where to look, from the plugin config.
#[derive(Debug, Clone)]
pub struct TokenLocations {
    pub uri_param_names: Vec<String>,
    pub cookie_names: Vec<String>,
    /// Lowercase header names.
    pub header_names: Vec<String>,
}

impl Default for TokenLocations {
    fn default() -> Self {
        TokenLocations {
            uri_param_names: vec!["jwt".into()],
            cookie_names: Vec::new(),
            header_names: vec!["authorization".into()],
        }
    }
}

impl TokenLocations {
    pub fn find(&self, req: &impl RequestParts) -> Found {
        let mut found: Option<String> = None;
        let mut several = false;
        let mut add = |token: &str| {
            if token.is_empty() || several {
                return;
            }
            match &found {
                Some(t) if t != token => several = true,
                Some(_) => {}
                None => found = Some(token.to_string()),
            }
        };
        if let Some(query) = req.query() {
            for (name, value) in query_pairs(query) {
                if self.uri_param_names.contains(&name) {
                    add(&value);
                }
            }
        }
        if !self.cookie_names.is_empty() {
            for header in req.header_values("cookie") {
                for (name, value) in cookie_pairs(header) {
                    if self.cookie_names.iter().any(|n| n.as_bytes() == name) {
                        add(&String::from_utf8_lossy(value));
                    }
                }
            }
        }
        for header in &self.header_names {
            // Kong reads the first value of each header.
            if let Some(value) = req.header_values(header).first() {
                if let Some(token) = bearer(value) {
                    add(token);
                }
            }
        }
        match (found, several) {
            (_, true) => Found::Several,
            (Some(t), false) => Found::One(t),
            (None, false) => Found::None,
        }
    }
}

/// The token after `Bearer ` (scheme case-insensitive on its first letter
/// as Kong's pattern `\s*[Bb]earer\s+(.+)` is; surrounding whitespace
/// allowed).
fn bearer(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim_start();
    let rest = value
        .strip_prefix("Bearer")
        .or_else(|| value.strip_prefix("bearer"))?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}

/// `name=value` pairs of a query string, percent-decoded (`+` is a space).
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(name), percent_decode(value))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `name=value` pairs of a Cookie header (RFC 6265 5.4), values unquoted.
fn cookie_pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let pair = pair.trim_ascii();
        let eq = pair.iter().position(|&b| b == b'=')?;
        let (name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
        let value = value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value);
        Some((name.trim_ascii(), value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Req {
        query: Option<&'static str>,
        headers: Vec<(&'static str, &'static str)>,
    }

    impl RequestParts for Req {
        fn method(&self) -> &str {
            "GET"
        }
        fn query(&self) -> Option<&str> {
            self.query
        }
        fn header_values(&self, name: &str) -> Vec<&[u8]> {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_bytes())
                .collect()
        }
    }

    fn find(
        loc: &TokenLocations,
        query: Option<&'static str>,
        headers: &[(&'static str, &'static str)],
    ) -> Found {
        loc.find(&Req {
            query,
            headers: headers.to_vec(),
        })
    }

    #[test]
    fn bearer_scheme_as_kong_matches_it() {
        assert_eq!(bearer(b"Bearer abc"), Some("abc"));
        assert_eq!(bearer(b"  bearer \t abc  "), Some("abc"));
        assert_eq!(bearer(b"BEARER abc"), None);
        assert_eq!(bearer(b"Bearerabc"), None);
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer "), None);
    }

    #[test]
    fn tokens_from_every_place_and_duplicates() {
        let loc = TokenLocations {
            cookie_names: vec!["session".into()],
            ..TokenLocations::default()
        };
        assert_eq!(find(&loc, None, &[]), Found::None);
        assert_eq!(
            find(&loc, Some("a=1&jwt=t%2Eq"), &[]),
            Found::One("t.q".into())
        );
        assert_eq!(
            find(&loc, None, &[("cookie", "a=b; session=\"tok\"")]),
            Found::One("tok".into())
        );
        assert_eq!(
            find(&loc, None, &[("authorization", "Bearer tok")]),
            Found::One("tok".into())
        );
        // The same token twice is one token.
        assert_eq!(
            find(&loc, Some("jwt=tok"), &[("authorization", "Bearer tok")]),
            Found::One("tok".into())
        );
        assert_eq!(
            find(&loc, Some("jwt=one"), &[("authorization", "Bearer two")]),
            Found::Several
        );
        assert_eq!(find(&loc, Some("jwt=one&jwt=two"), &[]), Found::Several);
        assert_eq!(find(&loc, Some("jwt="), &[]), Found::None);
    }
}
