//! Targets compiled for evaluation: a typed collection, a lowercase key or
//! compiled regex, and the `!` exclusions of the same rule folded in so the
//! engine never has to look at two entries to decide one value.

use crate::parse::{Selector, Variable};
use regex::bytes::Regex;

macro_rules! vars {
    ($($variant:ident => $name:literal,)*) => {
        /// The collections the engine reads; anything rarer is `Other`.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum Var {
            $($variant,)*
            /// A name the parser accepts but the engine has no typed slot for.
            Other(String),
        }

        impl Var {
            /// `name` is upper case, as the parser produces it.
            pub fn from_name(name: &str) -> Var {
                match name {
                    $($name => Var::$variant,)*
                    other => Var::Other(other.to_string()),
                }
            }

            pub fn name(&self) -> &str {
                match self {
                    $(Var::$variant => $name,)*
                    Var::Other(name) => name,
                }
            }
        }
    };
}

vars! {
    Args => "ARGS",
    ArgsGet => "ARGS_GET",
    ArgsPost => "ARGS_POST",
    ArgsNames => "ARGS_NAMES",
    ArgsGetNames => "ARGS_GET_NAMES",
    ArgsPostNames => "ARGS_POST_NAMES",
    ArgsCombinedSize => "ARGS_COMBINED_SIZE",
    RequestUri => "REQUEST_URI",
    RequestUriRaw => "REQUEST_URI_RAW",
    RequestFilename => "REQUEST_FILENAME",
    RequestBasename => "REQUEST_BASENAME",
    RequestLine => "REQUEST_LINE",
    RequestMethod => "REQUEST_METHOD",
    RequestProtocol => "REQUEST_PROTOCOL",
    QueryString => "QUERY_STRING",
    RequestHeaders => "REQUEST_HEADERS",
    RequestHeadersNames => "REQUEST_HEADERS_NAMES",
    RequestCookies => "REQUEST_COOKIES",
    RequestCookiesNames => "REQUEST_COOKIES_NAMES",
    RequestBody => "REQUEST_BODY",
    RequestBodyLength => "REQUEST_BODY_LENGTH",
    Files => "FILES",
    FilesNames => "FILES_NAMES",
    FilesSizes => "FILES_SIZES",
    FilesCombinedSize => "FILES_COMBINED_SIZE",
    Xml => "XML",
    RemoteAddr => "REMOTE_ADDR",
    RemotePort => "REMOTE_PORT",
    ServerAddr => "SERVER_ADDR",
    ServerName => "SERVER_NAME",
    ServerPort => "SERVER_PORT",
    Tx => "TX",
    Ip => "IP",
    Global => "GLOBAL",
    Session => "SESSION",
    User => "USER",
    Resource => "RESOURCE",
    MatchedVar => "MATCHED_VAR",
    MatchedVars => "MATCHED_VARS",
    MatchedVarName => "MATCHED_VAR_NAME",
    MatchedVarsNames => "MATCHED_VARS_NAMES",
    UniqueId => "UNIQUE_ID",
    ReqbodyError => "REQBODY_ERROR",
    ReqbodyErrorMsg => "REQBODY_ERROR_MSG",
    ReqbodyProcessor => "REQBODY_PROCESSOR",
    ReqbodyProcessorError => "REQBODY_PROCESSOR_ERROR",
    ReqbodyProcessorErrorMsg => "REQBODY_PROCESSOR_ERROR_MSG",
    UrlencodedError => "URLENCODED_ERROR",
    MultipartStrictError => "MULTIPART_STRICT_ERROR",
    MultipartUnmatchedBoundary => "MULTIPART_UNMATCHED_BOUNDARY",
    MultipartBoundaryQuoted => "MULTIPART_BOUNDARY_QUOTED",
    MultipartBoundaryWhitespace => "MULTIPART_BOUNDARY_WHITESPACE",
    MultipartDataBefore => "MULTIPART_DATA_BEFORE",
    MultipartDataAfter => "MULTIPART_DATA_AFTER",
    MultipartHeaderFolding => "MULTIPART_HEADER_FOLDING",
    MultipartLfLine => "MULTIPART_LF_LINE",
    MultipartMissingSemicolon => "MULTIPART_MISSING_SEMICOLON",
    MultipartInvalidQuoting => "MULTIPART_INVALID_QUOTING",
    MultipartInvalidPart => "MULTIPART_INVALID_PART",
    MultipartInvalidHeaderFolding => "MULTIPART_INVALID_HEADER_FOLDING",
    MultipartFileLimitExceeded => "MULTIPART_FILE_LIMIT_EXCEEDED",
    MultipartFilename => "MULTIPART_FILENAME",
    MultipartName => "MULTIPART_NAME",
    MultipartPartHeaders => "MULTIPART_PART_HEADERS",
    ResponseStatus => "RESPONSE_STATUS",
    ResponseProtocol => "RESPONSE_PROTOCOL",
    ResponseHeaders => "RESPONSE_HEADERS",
    ResponseHeadersNames => "RESPONSE_HEADERS_NAMES",
    ResponseBody => "RESPONSE_BODY",
    ResponseContentLength => "RESPONSE_CONTENT_LENGTH",
    ResponseContentType => "RESPONSE_CONTENT_TYPE",
    Duration => "DURATION",
    Time => "TIME",
    TimeDay => "TIME_DAY",
    TimeEpoch => "TIME_EPOCH",
    TimeHour => "TIME_HOUR",
    TimeMin => "TIME_MIN",
    TimeMon => "TIME_MON",
    TimeSec => "TIME_SEC",
    TimeWday => "TIME_WDAY",
    TimeYear => "TIME_YEAR",
    Env => "ENV",
    Rule => "RULE",
    HighestSeverity => "HIGHEST_SEVERITY",
    FullRequest => "FULL_REQUEST",
    FullRequestLength => "FULL_REQUEST_LENGTH",
}

/// A key inside a collection. Names are lowercased because ModSecurity
/// compares keys without case (XML keeps its XPath as written).
#[derive(Debug, Clone)]
pub enum Key {
    Name(String),
    Regex(KeyRegex),
}

/// A `/regex/` selector with the literals one of which every selected key
/// must hold (as the prefilter finds them): `TX:/^header_name_920450_/` is
/// tested against every TX key of the request, and a byte comparison
/// settles nearly all of them.
#[derive(Debug, Clone)]
pub struct KeyRegex {
    re: Regex,
    /// Lowercase.
    required: Option<Vec<Vec<u8>>>,
    /// Lowercase, when the pattern is `^` and a plain word
    /// (`^header_name_920450_`): an ASCII key is then decided by its
    /// opening bytes alone.
    prefix: Option<Vec<u8>>,
}

impl KeyRegex {
    pub fn new(pattern: &str) -> Result<KeyRegex, regex::Error> {
        let re = regex::bytes::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .build()?;
        let prefix = pattern
            .strip_prefix('^')
            .filter(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
            .map(|w| w.to_ascii_lowercase().into_bytes());
        Ok(KeyRegex {
            re,
            required: crate::engine::required_literals(pattern),
            prefix,
        })
    }

    /// The word a `^word` pattern opens with, lowercase.
    pub fn literal_prefix(&self) -> Option<&[u8]> {
        self.prefix.as_deref()
    }

    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    pub fn is_match(&self, key: &[u8]) -> bool {
        if let Some(p) = &self.prefix {
            if key
                .get(..p.len())
                .is_some_and(|k| k.eq_ignore_ascii_case(p))
            {
                return true;
            }
            // (Unicode case folding may still match a non-ASCII key.)
            if key.is_ascii() {
                return false;
            }
        }
        let holds = self.required.as_ref().is_none_or(|literals| {
            !key.is_ascii()
                || literals
                    .iter()
                    .any(|lit| contains_ignore_ascii_case(key, lit))
        });
        holds && self.re.is_match(key)
    }
}

/// Whether `hay` holds `needle` (lowercase), ignoring ASCII case.
fn contains_ignore_ascii_case(hay: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    let Some(last_start) = hay.len().checked_sub(needle.len()) else {
        return false;
    };
    hay.iter().take(last_start + 1).enumerate().any(|(i, b)| {
        b.to_ascii_lowercase() == first
            && hay
                .get(i + 1..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(rest))
    })
}

impl Key {
    /// Whether a key of the collection (any case) is selected.
    pub fn matches(&self, key: &str) -> bool {
        self.matches_bytes(key.as_bytes())
    }

    /// [`Key::matches`] for keys that may not be UTF-8 (argument names).
    pub fn matches_bytes(&self, key: &[u8]) -> bool {
        match self {
            Key::Name(name) => name.as_bytes().eq_ignore_ascii_case(key),
            Key::Regex(re) => re.is_match(key),
        }
    }

    fn same(&self, other: &Key) -> bool {
        match (self, other) {
            (Key::Name(a), Key::Name(b)) => a == b,
            (Key::Regex(a), Key::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// One target of a link, exclusions included.
#[derive(Debug, Clone)]
pub struct VariableRef {
    pub var: Var,
    pub selector: Option<Key>,
    /// `&`: the number of values instead of the values.
    pub count: bool,
    /// Keys removed by `!VAR:key` in the same rule or by exclusions.
    pub exclusions: Vec<Key>,
}

fn key(var: &Var, selector: &Selector) -> Result<Key, String> {
    Ok(match selector {
        Selector::Name(n) if *var == Var::Xml => Key::Name(n.clone()),
        Selector::Name(n) => Key::Name(n.to_ascii_lowercase()),
        // Keys are case-insensitive in ModSecurity, regex keys included.
        Selector::Regex(r) => {
            Key::Regex(KeyRegex::new(r).map_err(|e| format!("invalid target regex `/{r}/`: {e}"))?)
        }
    })
}

/// Compiles a target list, folding every `!VAR[:key]` into the entries of
/// the same collection; a bare `!VAR` drops those entries altogether.
pub fn compile_variables(vars: &[Variable]) -> Result<Vec<VariableRef>, String> {
    let mut out: Vec<VariableRef> = Vec::new();
    for v in vars.iter().filter(|v| !v.exclude) {
        let var = Var::from_name(&v.name);
        let selector = v.selector.as_ref().map(|s| key(&var, s)).transpose()?;
        out.push(VariableRef {
            var,
            selector,
            count: v.count,
            exclusions: Vec::new(),
        });
    }
    for v in vars.iter().filter(|v| v.exclude) {
        exclude(&mut out, v)?;
    }
    Ok(out)
}

/// Applies one `!VAR[:key]` to already compiled targets.
pub fn exclude(out: &mut Vec<VariableRef>, v: &Variable) -> Result<(), String> {
    let var = Var::from_name(&v.name);
    match &v.selector {
        None => out.retain(|r| r.var != var),
        Some(sel) => {
            let k = key(&var, sel)?;
            for r in out.iter_mut().filter(|r| r.var == var) {
                if !r.exclusions.iter().any(|e| e.same(&k)) {
                    r.exclusions.push(k.clone());
                }
            }
        }
    }
    Ok(())
}

/// Parses a single `ctl` target such as `ARGS:foo` or `REQUEST_COOKIES:/^x/`.
pub fn parse_target(text: &str) -> Result<VariableRef, String> {
    let text = text.trim();
    let (name, sel) = match text.split_once(':') {
        Some((n, s)) => (n, Some(s)),
        None => (text, None),
    };
    let var = Var::from_name(&name.trim().to_ascii_uppercase());
    let selector = match sel {
        Some(s) if s.len() >= 2 && s.starts_with('/') && s.ends_with('/') => {
            Some(key(&var, &Selector::Regex(s[1..s.len() - 1].to_string()))?)
        }
        Some(s) => Some(key(&var, &Selector::Name(s.to_string()))?),
        None => None,
    };
    Ok(VariableRef {
        var,
        selector,
        count: false,
        exclusions: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_regex_selects_as_the_regex_does() {
        let keys: [&[u8]; 16] = [
            // KELVIN SIGN, LATIN SMALL LETTER LONG S: `(?i)ks` under
            // Unicode case folding.
            "\u{212A}\u{017F}_x".as_bytes(),
            b"KS_x",
            b"abcx",
            b"ABBB",
            b"xyz1",
            b"9abc",
            b"heading_x",
            b"ac",
            b"header_name_920450_host",
            b"HEADER_NAME_920450_X",
            b"x_header_name_920450_",
            b"header_name_92045",
            b"paramcounter_a",
            b"a_PARAMCOUNTER_b",
            b"multipart_headers_content_types_1",
            b"",
        ];
        for p in [
            "^header_name_920450_",
            "paramcounter_.*",
            "MULTIPART_HEADERS_CONTENT_TYPES_*",
            "^abc{0,2}x",
            "ab+",
            "^ab?c",
            "^abc|^xyz",
            "(?i)abc",
            "\\d+abc",
            "^head(er|ing)_",
            "^ks_",
        ] {
            let k = KeyRegex::new(p).unwrap_or_else(|e| panic!("{e}"));
            let plain = regex::bytes::RegexBuilder::new(p)
                .case_insensitive(true)
                .build()
                .unwrap_or_else(|e| panic!("{e}"));
            for key in keys {
                assert_eq!(k.is_match(key), plain.is_match(key), "{p} on {key:?}");
            }
        }
        let k = KeyRegex::new("^header_name_920450_").unwrap_or_else(|e| panic!("{e}"));
        assert!(k.is_match(b"Header_Name_920450_accept"));
        assert!(!k.is_match(b"header_name_920451_accept"));
    }
}
