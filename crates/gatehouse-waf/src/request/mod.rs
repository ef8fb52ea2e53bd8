//! The request as libmodsecurity v3 variables see it: the request line,
//! headers, cookies, query and body arguments, files and the body-processor
//! state (`REQBODY_*`, `MULTIPART_*`), with no Pingora types.
//!
//! Parsing follows libmodsecurity v3.0.x (`transaction.cc` and the
//! `request_body_processor/` sources) because the Core Rule Set was tuned
//! against what it produces. Where v3 has a plain bug that hides data from
//! the rules, this module inspects more, never less; each such place says so.
//! Every loop is bounded by the input or by [`Limits`], and no input panics.

mod disposition;
mod json;
mod multipart;
mod uri;
mod xml;

pub use xml::XmlValues;

pub use multipart::MultipartFlags;

/// What the gateway hands the WAF: raw bytes as received; the WAF decodes.
#[derive(Debug, Clone, Copy)]
pub struct RequestInput<'a> {
    pub method: &'a str,
    /// The request-target as sent, e.g. `b"/a/b.php?x=1&y=%27"`.
    pub uri: &'a [u8],
    /// `"HTTP/1.1"`, `"HTTP/2"`, ...
    pub protocol: &'a str,
    /// Every header in order, the name as sent.
    pub headers: &'a [(&'a [u8], &'a [u8])],
    pub remote_addr: &'a str,
    pub remote_port: u16,
    pub body: Option<&'a [u8]>,
}

/// Bounds on the work and memory one request may cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `SecArgumentsLimit`: arguments past this many are dropped and
    /// `args_overflow` is set (CRS 920380 counts `&ARGS`).
    pub max_args: usize,
    /// `SecRequestBodyJsonDepthLimit`: nesting past this is a body error.
    pub json_depth: usize,
    /// `SecRequestBodyLimit`: bytes of body kept (ProcessPartial); more sets
    /// `inbound_data_error`. Rejecting is the gateway's decision.
    pub max_body: usize,
    /// `SecRequestBodyNoFilesLimit`: body bytes excluding files.
    pub max_body_no_files: usize,
    /// `SecUploadFileLimit`: files past this set `file_limit_exceeded`.
    pub max_files: usize,
    /// Multipart parts parsed at most; past it the body is an error.
    pub max_parts: usize,
    /// Bytes of argument names plus values kept (`ARGS_COMBINED_SIZE`);
    /// JSON names repeat their whole path, so this bounds that blow-up.
    pub max_args_combined_size: usize,
}

impl Default for Limits {
    /// The values of ModSecurity's `modsecurity.conf-recommended` (the
    /// engine's own JSON default is 10000; the recommended file says 512).
    fn default() -> Limits {
        Limits {
            max_args: 1000,
            json_depth: 512,
            max_body: 13_107_200,
            max_body_no_files: 131_072,
            max_files: 100,
            max_parts: 1000,
            max_args_combined_size: 8 << 20,
        }
    }
}

/// The request body processors of `ctl:requestBodyProcessor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyProcessor {
    UrlEncoded,
    Json,
    Multipart,
    /// Selected but not parsed here: `XML:/*` is reported as not inspected.
    Xml,
    None,
}

impl BodyProcessor {
    /// The `REQBODY_PROCESSOR` value; empty for `None`.
    pub fn name(self) -> &'static str {
        match self {
            BodyProcessor::UrlEncoded => "URLENCODED",
            BodyProcessor::Json => "JSON",
            BodyProcessor::Multipart => "MULTIPART",
            BodyProcessor::Xml => "XML",
            BodyProcessor::None => "",
        }
    }

    /// Parses a `ctl:requestBodyProcessor=` value, ignoring case.
    pub fn from_name(name: &str) -> Option<BodyProcessor> {
        [
            BodyProcessor::UrlEncoded,
            BodyProcessor::Json,
            BodyProcessor::Multipart,
            BodyProcessor::Xml,
        ]
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// The processor a Content-Type selects under libmodsecurity's built-in
/// choice (form and multipart prefixes) plus `modsecurity.conf-recommended`
/// rules 200000 (XML), 200001 (`^application/json`) and 200006 (`+json`
/// subtypes), all matched on the lowercased value, unanchored at the end.
pub fn processor_for(content_type: &[u8]) -> BodyProcessor {
    let ct = content_type.to_ascii_lowercase();
    let starts = |p: &[u8]| ct.starts_with(p);
    if starts(b"multipart/form-data") {
        BodyProcessor::Multipart
    } else if starts(b"application/x-www-form-urlencoded") {
        BodyProcessor::UrlEncoded
    } else if starts(b"text/xml") || starts(b"application/xml") || starts(b"application/soap+xml") {
        BodyProcessor::Xml
    } else if starts(b"application/json") || is_plus_json(&ct) {
        BodyProcessor::Json
    } else {
        BodyProcessor::None
    }
}

/// `^application/[a-z0-9.-]+[+]json` (rule 200006).
fn is_plus_json(ct: &[u8]) -> bool {
    let Some(sub) = ct.strip_prefix(b"application/") else {
        return false;
    };
    let n = sub
        .iter()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || **c == b'.' || **c == b'-')
        .count();
    n > 0 && sub[n..].starts_with(b"+json")
}

/// Where an argument came from: ARGS_GET, ARGS_POST, or the JSON body (v3
/// keeps JSON out of ARGS_POST on purpose, ModSecurity PR #2058).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArgSource {
    Get,
    Post,
    Json,
}

/// One name/value collection in order; ModSecurity collections are ordered
/// multi-maps, so names repeat.
pub type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Every request variable. Byte values are as ModSecurity sets them; an
/// empty value stands for a variable v3 leaves unset.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestVars {
    pub request_method: Vec<u8>,
    pub request_protocol: Vec<u8>,
    /// `method uri protocol`, the URI raw (fragment included).
    pub request_line: Vec<u8>,
    /// Percent-decoded (not `+`), fragment dropped, query kept; for an
    /// absolute-form target, from the path on.
    pub request_uri: Vec<u8>,
    /// The request-target exactly as sent.
    pub request_uri_raw: Vec<u8>,
    /// The path, percent-decoded, without query or fragment.
    pub request_filename: Vec<u8>,
    /// What follows the last `/` or `\` of `request_filename`.
    pub request_basename: Vec<u8>,
    /// Raw, after the first `?`, fragment dropped.
    pub query_string: Vec<u8>,
    /// Names and values url-decoded (`+` is space, bad `%` kept).
    pub args_get: Pairs,
    /// From the urlencoded or multipart body.
    pub args_post: Pairs,
    /// From the JSON body: in ARGS, not in ARGS_POST (as in v3).
    pub args_json: Pairs,
    /// Sum of the lengths of every kept argument's name and value.
    pub args_combined_size: usize,
    /// An argument was dropped by `max_args` or `max_args_combined_size`.
    pub args_overflow: bool,
    /// `URLENCODED_ERROR`: an invalid `%` escape in the query or form body.
    pub urlencoded_error: bool,
    /// Every header, the name as sent.
    pub request_headers: Pairs,
    pub request_cookies: Pairs,
    /// The body as inspected (cut at `max_body`), whatever the processor.
    pub request_body: Vec<u8>,
    pub request_body_length: usize,
    /// FILES: field name to file name.
    pub files: Pairs,
    /// FILES_SIZES: field name to size in bytes.
    pub files_sizes: Vec<(Vec<u8>, usize)>,
    pub files_combined_size: usize,
    /// MULTIPART_PART_HEADERS: part name to each header line, EOL removed.
    pub multipart_part_headers: Pairs,
    pub multipart: MultipartFlags,
    /// `REQBODY_PROCESSOR`: set from Content-Type as v3 does (URLENCODED,
    /// MULTIPART), then to the processor the body was run with.
    pub reqbody_processor: &'static str,
    pub reqbody_error: bool,
    pub reqbody_error_msg: String,
    pub reqbody_processor_error: bool,
    pub reqbody_processor_error_msg: String,
    /// The body went over `max_body` or `max_body_no_files`.
    pub inbound_data_error: bool,
    /// `XML:/*` and `XML://@*` of an XML body.
    pub xml: Option<XmlValues>,
    pub remote_addr: String,
    pub remote_port: u16,
}

impl RequestVars {
    /// Every variable, the body run through `processor`.
    pub fn build(input: &RequestInput, processor: BodyProcessor, limits: &Limits) -> RequestVars {
        let mut vars = RequestVars::new(input, limits);
        vars.process_body(input.body, processor, limits);
        vars
    }

    /// Everything phase 1 sees: line, URI, query arguments, headers,
    /// cookies. Phase 1 rules may then pick the body processor (ctl).
    pub fn new(input: &RequestInput, limits: &Limits) -> RequestVars {
        let mut vars = RequestVars {
            remote_addr: input.remote_addr.to_owned(),
            remote_port: input.remote_port,
            ..RequestVars::default()
        };
        vars.set_request_line(input.method, input.uri, input.protocol, limits);
        for &(name, value) in input.headers {
            vars.add_header(name, value);
        }
        vars
    }

    /// Runs the body processor (phase 2). `body` is cut at `max_body`.
    pub fn process_body(&mut self, body: Option<&[u8]>, processor: BodyProcessor, limits: &Limits) {
        let mut body = body.unwrap_or_default();
        if body.len() > limits.max_body {
            self.inbound_data_error = true;
            body = &body[..limits.max_body];
        }
        if processor != BodyProcessor::None {
            self.reqbody_processor = processor.name();
        }
        let no_files = matches!(
            processor,
            BodyProcessor::UrlEncoded | BodyProcessor::Json | BodyProcessor::Xml
        );
        if no_files && body.len() > limits.max_body_no_files {
            self.no_files_limit_error();
        } else {
            match processor {
                BodyProcessor::UrlEncoded => self.extract_args(ArgSource::Post, body, limits),
                BodyProcessor::Json => self.process_json(body, limits),
                BodyProcessor::Multipart => self.process_multipart(body, limits),
                BodyProcessor::Xml => match xml::parse(body, limits.max_args) {
                    Ok(values) => self.xml = Some(values),
                    Err(e) => self.body_error(e),
                },
                BodyProcessor::None => {}
            }
        }
        // As libmodsecurity: a body the XML processor parsed is read
        // through `XML:`, not `REQUEST_BODY` (the CRS regression tests rely
        // on it: a Java class name in an element name is not an attack).
        if processor != BodyProcessor::Xml {
            self.request_body = body.to_vec();
        }
        self.request_body_length = body.len();
    }

    /// Whether the body gave any value a rule can read (arguments, files,
    /// part headers, XML or the raw body).
    pub fn has_body_values(&self) -> bool {
        !(self.args_post.is_empty()
            && self.args_json.is_empty()
            && self.files.is_empty()
            && self.multipart_part_headers.is_empty()
            && self.request_body.is_empty()
            && self.xml.is_none())
    }

    /// ARGS: the query's arguments, then the body's, in order.
    pub fn args(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.args_get
            .iter()
            .chain(&self.args_post)
            .chain(&self.args_json)
            .map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// The first header of that name, ignoring ASCII case.
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.request_headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// Every header of that name, ignoring ASCII case.
    pub fn headers<'s>(&'s self, name: &'s [u8]) -> impl Iterator<Item = &'s [u8]> + 's {
        self.request_headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    /// REQUEST_HEADERS_NAMES.
    pub fn request_headers_names(&self) -> impl Iterator<Item = &[u8]> {
        self.request_headers.iter().map(|(n, _)| n.as_slice())
    }

    /// FULL_REQUEST as v3 builds it: `Name: value\n` per header, two
    /// newlines, the body. Built on demand: it copies the body.
    pub fn full_request(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in &self.request_headers {
            out.extend_from_slice(n);
            out.extend_from_slice(b": ");
            out.extend_from_slice(v);
            out.push(b'\n');
        }
        out.extend_from_slice(b"\n\n");
        out.extend_from_slice(&self.request_body);
        out
    }

    fn add_header(&mut self, name: &[u8], value: &[u8]) {
        self.request_headers.push((name.to_vec(), value.to_vec()));
        if name.eq_ignore_ascii_case(b"cookie") {
            uri::parse_cookies(value, &mut self.request_cookies);
        }
        if name.eq_ignore_ascii_case(b"content-type") {
            // v3 names these two from the header alone (the last one wins).
            let lower = value.to_ascii_lowercase();
            if lower.starts_with(b"multipart/form-data") {
                self.reqbody_processor = "MULTIPART";
            }
            if lower.starts_with(b"application/x-www-form-urlencoded") {
                self.reqbody_processor = "URLENCODED";
            }
        }
    }

    fn arg_count(&self) -> usize {
        self.args_get.len() + self.args_post.len() + self.args_json.len()
    }

    /// v3's `addArgument`: refuses (and says so) once a limit is reached.
    fn add_arg(&mut self, src: ArgSource, name: Vec<u8>, value: Vec<u8>, limits: &Limits) -> bool {
        let size = name.len() + value.len();
        if self.arg_count() >= limits.max_args
            || self.args_combined_size + size > limits.max_args_combined_size
        {
            self.args_overflow = true;
            return false;
        }
        self.args_combined_size += size;
        match src {
            ArgSource::Get => self.args_get.push((name, value)),
            ArgSource::Post => self.args_post.push((name, value)),
            ArgSource::Json => self.args_json.push((name, value)),
        }
        true
    }

    /// v3's `extractArguments`: `&`-separated, split at the first `=`.
    fn extract_args(&mut self, src: ArgSource, buf: &[u8], limits: &Limits) {
        for pair in uri::split_getline(buf, b'&') {
            let (name, value) = match pair.iter().position(|&c| c == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &b""[..]),
            };
            let (name, bad_name) = uri::url_decode_nonstrict(name);
            let (value, bad_value) = uri::url_decode_nonstrict(value);
            self.urlencoded_error |= bad_name || bad_value;
            // Like v3, keep going after a refusal: only the flags change.
            self.add_arg(src, name, value, limits);
        }
    }

    fn no_files_limit_error(&mut self) {
        self.reqbody_error = true;
        self.reqbody_error_msg =
            "Request body excluding files is bigger than the maximum expected.".to_owned();
        self.inbound_data_error = true;
    }

    fn body_error(&mut self, msg: String) {
        self.reqbody_error = true;
        self.reqbody_processor_error = true;
        self.reqbody_processor_error_msg = msg.clone();
        self.reqbody_error_msg = msg;
    }

    fn process_json(&mut self, body: &[u8], limits: &Limits) {
        let mut emit =
            |name: Vec<u8>, value: Vec<u8>| self.add_arg(ArgSource::Json, name, value, limits);
        let result = json::parse(body, limits.json_depth, &mut emit);
        // v3 reports nothing for an empty body; args found before an error stay.
        if let Err(e) = result {
            if !body.is_empty() {
                self.body_error(format!("JSON parsing error: {e}"));
            }
        }
    }

    /// Fields go through `add_arg`, so unlike v3 they count toward
    /// `max_args` and ARGS_COMBINED_SIZE (v3 skips both for multipart).
    fn process_multipart(&mut self, body: &[u8], limits: &Limits) {
        let ct = self.header(b"content-type").map(<[u8]>::to_vec);
        let out = multipart::parse(ct.as_deref(), body, limits);
        self.multipart = out.flags;
        for (name, value) in out.fields {
            self.add_arg(ArgSource::Post, name, value, limits);
        }
        for f in out.files {
            self.files_combined_size = self.files_combined_size.saturating_add(f.size);
            self.files_sizes.push((f.name.clone(), f.size));
            self.files.push((f.name, f.filename));
        }
        self.multipart_part_headers = out.part_headers;
        if let Some(e) = out.error {
            self.body_error(format!("Multipart parsing error: {e}"));
        } else if out.no_files_length > limits.max_body_no_files {
            self.no_files_limit_error();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processor_selection() {
        use BodyProcessor::{Json, Multipart, UrlEncoded, Xml};
        for (ct, want) in [
            (
                "application/x-www-form-urlencoded; charset=UTF-8",
                UrlEncoded,
            ),
            ("Multipart/Form-Data; boundary=x", Multipart),
            ("application/json", Json),
            ("APPLICATION/JSON; charset=utf-8", Json),
            ("application/vnd.api+json", Json),
            ("application/cloudevents+json", Json),
            ("text/xml", Xml),
            ("application/xml; charset=utf-8", Xml),
            ("application/soap+xml", Xml),
            ("application/xhtml+xml", BodyProcessor::None),
            ("application/atom+xml", BodyProcessor::None),
            ("text/plain", BodyProcessor::None),
            ("", BodyProcessor::None),
            (" application/json", BodyProcessor::None),
        ] {
            assert_eq!(processor_for(ct.as_bytes()), want, "{ct}");
        }
    }

    #[test]
    fn plus_json_subtypes() {
        assert!(is_plus_json(b"application/vnd.api+json"));
        assert!(is_plus_json(b"application/merge-patch+json; charset=utf-8"));
        assert!(!is_plus_json(b"application/+json"));
        assert!(!is_plus_json(b"application/vnd_x+json"));
        assert!(!is_plus_json(b"text/x+json"));
    }

    #[test]
    fn processor_names_round_trip() {
        for p in [
            BodyProcessor::UrlEncoded,
            BodyProcessor::Json,
            BodyProcessor::Multipart,
            BodyProcessor::Xml,
        ] {
            assert_eq!(BodyProcessor::from_name(&p.name().to_lowercase()), Some(p));
        }
        assert_eq!(BodyProcessor::from_name(""), None);
    }
}
