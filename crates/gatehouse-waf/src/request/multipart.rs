//! The multipart/form-data body processor, line by line as libmodsecurity
//! v3's `Multipart::process` reads it, with the same `MULTIPART_*` flags.
//!
//! Deviations from v3, each so that rules see more, never less:
//! - every parse error stops the parse and raises `strict_error` (v3 goes
//!   on after a bad part header and raises it for boundary errors only);
//! - parts completed before an error are kept (v3 drops them all);
//! - a repeated part header is an error (v3 keeps the first silently);
//! - a multi-line field keeps its line breaks (v3 loses them);
//! - `unmatched_boundary` stays 1 once set (v3 overwrites it with 2 at the
//!   next real boundary);
//! - parts, and headers per part, are capped.

use aho_corasick::AhoCorasick;

use super::disposition::{find, parse_boundary, parse_disposition};
use super::uri::is_c_space;
use super::{Limits, Pairs};

/// The `MULTIPART_*` variables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MultipartFlags {
    /// Any of the flags below except `unmatched_boundary`, or a parse error.
    pub strict_error: bool,
    /// 0; 1 when a line looked like a boundary but was not ours; 2 (v3's
    /// "a matching boundary closed a part") after the second real boundary.
    pub unmatched_boundary: u8,
    pub boundary_quoted: bool,
    /// Whitespace around the `=` of the boundary parameter.
    pub boundary_whitespace: bool,
    pub data_before: bool,
    pub data_after: bool,
    pub header_folding: bool,
    /// A line ended in a bare LF (headers, boundaries, or the line before a
    /// boundary).
    pub lf_line: bool,
    /// Both CRLF and bare-LF lines were seen.
    pub crlf_lf_lines: bool,
    /// No `;` between the media type and `boundary`.
    pub missing_semicolon: bool,
    pub invalid_quoting: bool,
    /// A boundary where part data should start, or a part without a name.
    pub invalid_part: bool,
    /// Folding with whitespace other than space or tab.
    pub invalid_header_folding: bool,
    pub file_limit_exceeded: bool,
}

/// One uploaded file: its content is counted, not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FilePart {
    pub name: Vec<u8>,
    pub filename: Vec<u8>,
    pub size: usize,
}

/// What the processor found.
#[derive(Debug, Default)]
pub(super) struct Output {
    pub fields: Pairs,
    pub files: Vec<FilePart>,
    pub part_headers: Pairs,
    pub flags: MultipartFlags,
    /// The first error, as v3 words it (`Multipart: ...`).
    pub error: Option<String>,
    /// Header and field bytes, for `SecRequestBodyNoFilesLimit`.
    pub no_files_length: usize,
}

/// v3's `MULTIPART_BUF_SIZE`: part header lines must be shorter.
const LINE_MAX: usize = 4096;
/// Headers one part may have (v3 has no cap).
const MAX_PART_HEADERS: usize = 64;

#[derive(Default)]
struct Part {
    headers: Pairs,
    /// Completed header lines, EOL removed (MULTIPART_PART_HEADERS).
    lines: Vec<Vec<u8>>,
    /// The header line being built (folding extends it).
    last_line: Vec<u8>,
    last_header: Option<usize>,
    name: Vec<u8>,
    filename: Vec<u8>,
    is_file: bool,
    value: Vec<u8>,
    size: usize,
    /// The line end held back: it is part of the data unless a boundary
    /// follows.
    reserve: &'static [u8],
}

impl Part {
    fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn flush_line(&mut self) {
        if !self.last_line.is_empty() {
            self.lines.push(std::mem::take(&mut self.last_line));
        }
    }
}

/// Marks a stopped parse; the message is already in `Output::error`.
struct Stop;

struct Parser<'a> {
    boundary: &'a [u8],
    finder: Option<AhoCorasick>,
    limits: &'a Limits,
    out: Output,
    /// v3's `m_flag_error`.
    failed: bool,
    crlf_line: bool,
    part: Option<Part>,
    /// Reading data (after the part's empty header line).
    in_data: bool,
    /// A data line of the current part was read.
    data_read: bool,
    boundary_count: usize,
    parts: usize,
    files: usize,
    complete: bool,
    /// The previous line ended in a bare LF.
    prev_lf: bool,
}

/// Parses `body` under the boundary of the Content-Type `ct`.
pub(super) fn parse(ct: Option<&[u8]>, body: &[u8], limits: &Limits) -> Output {
    let mut flags = MultipartFlags::default();
    let boundary = match parse_boundary(ct.unwrap_or_default(), &mut flags) {
        Ok(b) => b,
        Err(e) => {
            flags.strict_error = true;
            return Output {
                flags,
                error: Some(e.to_owned()),
                ..Output::default()
            };
        }
    };
    let mut marker = b"--".to_vec();
    marker.extend_from_slice(&boundary);
    let mut p = Parser {
        boundary: &boundary,
        finder: AhoCorasick::new([&marker]).ok(),
        limits,
        out: Output {
            flags,
            ..Output::default()
        },
        failed: false,
        crlf_line: false,
        part: None,
        in_data: false,
        data_read: false,
        boundary_count: 0,
        parts: 0,
        files: 0,
        complete: false,
        prev_lf: false,
    };
    if !body.is_empty() {
        let _ = p.run(body, &marker);
    }
    p.finish()
}

impl Parser<'_> {
    fn fail<T>(&mut self, msg: impl Into<String>) -> Result<T, Stop> {
        self.failed = true;
        self.out.error.get_or_insert_with(|| msg.into());
        Err(Stop)
    }

    fn flags(&mut self) -> &mut MultipartFlags {
        &mut self.out.flags
    }

    fn run(&mut self, body: &[u8], marker: &[u8]) -> Result<(), Stop> {
        let mut pos = 0;
        while let Some(nl) = body[pos..].iter().position(|&c| c == b'\n') {
            let line = &body[pos..=pos + nl];
            pos += nl + 1;
            self.line(line, marker)?;
            if self.complete {
                if pos < body.len() {
                    self.flags().data_after = true;
                }
                return Ok(());
            }
        }
        self.end(&body[pos..], marker)
    }

    /// v3's `multipart_complete`: an unterminated last line may still be
    /// the final boundary.
    fn end(&mut self, leftover: &[u8], marker: &[u8]) -> Result<(), Stop> {
        if self.boundary_count == 0 {
            return self.fail("Multipart: No boundaries found in payload.");
        }
        let is_final = leftover.len() == marker.len() + 2
            && leftover.starts_with(marker)
            && leftover.ends_with(b"--");
        if !is_final {
            return self.fail("Multipart: Final boundary missing.");
        }
        if self.prev_lf {
            self.flags().lf_line = true;
        }
        if !self.data_read {
            self.flags().invalid_part = true;
        }
        self.finish_part(true)?;
        self.complete = true;
        Ok(())
    }

    fn line(&mut self, line: &[u8], marker: &[u8]) -> Result<(), Stop> {
        // v3 compares C strings: a NUL ends what it sees of the line.
        let c = &line[..line.iter().position(|&b| b == 0).unwrap_or(line.len())];
        let blen = self.boundary.len();
        let mut as_boundary = false;
        if c.len() > 3 && c.starts_with(b"--") {
            if c.len() >= blen + 2 && &c[2..2 + blen] == self.boundary {
                if self.prev_lf {
                    self.flags().lf_line = true;
                }
                if !self.data_read && self.boundary_count > 0 {
                    self.flags().invalid_part = true;
                } else {
                    self.boundary_line(line, c)?;
                    as_boundary = true;
                }
            } else {
                let quoted = self.out.flags.boundary_quoted
                    && c.len() >= blen + 3
                    && c[2] == b'"'
                    && &c[3..3 + blen] == self.boundary;
                if quoted {
                    return self.fail("Multipart: Invalid boundary (quotes).");
                }
                let ws = c[2..].iter().take_while(|&&b| is_c_space(b)).count();
                if ws > 0 && c[2 + ws..].starts_with(self.boundary) {
                    return self.fail("Multipart: Invalid boundary (whitespace).");
                }
                self.flags().unmatched_boundary = 1;
            }
        } else if self.contains_marker(line, marker) {
            self.flags().unmatched_boundary = 1;
        }
        if !as_boundary {
            if self.part.is_none() {
                self.flags().data_before = true;
            } else if self.in_data {
                self.data_line(line);
            } else {
                self.header_line(line)?;
            }
        }
        self.prev_lf = !line.ends_with(b"\r\n");
        Ok(())
    }

    fn contains_marker(&self, line: &[u8], marker: &[u8]) -> bool {
        match &self.finder {
            Some(ac) => ac.is_match(line),
            None => find(line, marker).is_some(),
        }
    }

    /// A line that is our boundary: it must end right after it (and `--`).
    fn boundary_line(&mut self, line: &[u8], c: &[u8]) -> Result<(), Stop> {
        if self.boundary_count > 0 && self.out.flags.unmatched_boundary != 1 {
            self.flags().unmatched_boundary = 2;
        }
        let mut end = 2 + self.boundary.len();
        let is_final = c[end..].starts_with(b"--");
        if is_final {
            end += 2;
        }
        match &line[end..] {
            b"\n" => self.flags().lf_line = true,
            b"\r\n" => self.crlf_line = true,
            _ => return self.fail("Multipart: Invalid boundary (trailing characters)."),
        }
        self.finish_part(is_final)?;
        self.complete = is_final;
        self.boundary_count += 1;
        Ok(())
    }

    /// v3's `process_boundary`: records the part, starts the next one.
    fn finish_part(&mut self, is_final: bool) -> Result<(), Stop> {
        if let Some(part) = self.part.take() {
            for line in part.lines {
                self.out.part_headers.push((part.name.clone(), line));
            }
            if part.name.is_empty() {
                self.flags().invalid_part = true;
            } else if part.is_file {
                self.out.files.push(FilePart {
                    name: part.name,
                    filename: part.filename,
                    size: part.size,
                });
            } else {
                self.out.fields.push((part.name, part.value));
            }
        }
        if !is_final {
            self.parts += 1;
            if self.parts > self.limits.max_parts {
                return self.fail("Multipart: Too many parts.");
            }
            self.part = Some(Part::default());
            self.in_data = false;
            self.data_read = false;
        }
        Ok(())
    }

    fn data_line(&mut self, line: &[u8]) {
        self.data_read = true;
        let (content, eol): (&[u8], &'static [u8]) = match line.strip_suffix(b"\r\n") {
            Some(c) => (c, b"\r\n"),
            None => (line.strip_suffix(b"\n").unwrap_or(line), b"\n"),
        };
        let Some(part) = self.part.as_mut() else {
            return;
        };
        let held = std::mem::replace(&mut part.reserve, eol);
        if part.is_file {
            part.size += held.len() + content.len();
        } else {
            part.value.extend_from_slice(held);
            part.value.extend_from_slice(content);
            self.out.no_files_length += held.len() + content.len();
        }
    }

    /// v3's `process_part_header`, for one full line.
    fn header_line(&mut self, line: &[u8]) -> Result<(), Stop> {
        if line.len() >= LINE_MAX {
            return self.fail("Multipart: Part header line over 4096 bytes.");
        }
        if line.contains(&0) {
            return self.fail("Multipart: Nul byte in part headers.");
        }
        self.out.no_files_length += line.len();
        let len = line.len();
        let crlf = len > 1 && line[len - 2] == b'\r';
        if crlf {
            self.crlf_line = true;
        } else {
            self.flags().lf_line = true;
        }
        if line == b"\r\n" || line == b"\n" {
            return self.end_of_headers();
        }
        let Some(mut part) = self.part.take() else {
            return Ok(());
        };
        let r = if is_c_space(line[0]) {
            self.folded_line(&mut part, line)
        } else {
            let end = len - 1 - usize::from(crlf);
            self.new_header(&mut part, line, &line[..end])
        };
        self.part = Some(part);
        r
    }

    fn folded_line(&mut self, part: &mut Part, line: &[u8]) -> Result<(), Stop> {
        self.flags().header_folding = true;
        let ws = line.iter().take_while(|&&b| is_c_space(b)).count();
        if line[..ws].iter().any(|&b| b != b' ' && b != b'\t') {
            self.flags().invalid_header_folding = true;
        }
        let Some(idx) = part.last_header else {
            return self.fail("Multipart: Invalid part header (folding error).");
        };
        let Some((name, value)) = part.headers.get_mut(idx) else {
            return Ok(());
        };
        value.push(b' ');
        value.extend_from_slice(chomp(&line[ws..]));
        if value.len() > LINE_MAX {
            return self.fail("Multipart: Part header too long.");
        }
        let mut full = name.clone();
        full.extend_from_slice(b": ");
        full.extend_from_slice(value);
        part.last_line = full;
        Ok(())
    }

    fn new_header(&mut self, part: &mut Part, line: &[u8], no_eol: &[u8]) -> Result<(), Stop> {
        part.flush_line();
        let Some(colon) = line.iter().position(|&c| c == b':') else {
            return self.fail("Multipart: Invalid part header (colon missing).");
        };
        let name = &line[..colon];
        if name.is_empty() {
            return self.fail("Multipart: Invalid part header (header name missing).");
        }
        if name.iter().any(|&c| !(33..=126).contains(&c)) {
            return self.fail("Multipart: Invalid part header (contains invalid character).");
        }
        if part.header(name).is_some() {
            let name = String::from_utf8_lossy(name).into_owned();
            return self.fail(format!("Multipart: Duplicate part header: {name}."));
        }
        if part.headers.len() >= MAX_PART_HEADERS {
            return self.fail("Multipart: Too many part headers.");
        }
        let mut v = &line[colon + 1..];
        while let [b' ' | b'\t', rest @ ..] = v {
            v = rest;
        }
        part.headers.push((name.to_vec(), chomp(v).to_vec()));
        part.last_header = Some(part.headers.len() - 1);
        part.last_line = no_eol.to_vec();
        Ok(())
    }

    /// The empty line after a part's headers: Content-Disposition decides
    /// the part's name and whether it is a file.
    fn end_of_headers(&mut self) -> Result<(), Stop> {
        let Some(mut part) = self.part.take() else {
            return Ok(());
        };
        part.flush_line();
        let r = self.disposition(&mut part);
        part.last_header = None;
        self.part = Some(part);
        if r.is_ok() {
            self.in_data = true;
            self.data_read = false;
        }
        r
    }

    fn disposition(&mut self, part: &mut Part) -> Result<(), Stop> {
        let Some(cd) = part.header(b"content-disposition").map(<[u8]>::to_vec) else {
            return self.fail("Multipart: Part missing Content-Disposition header.");
        };
        let d = match parse_disposition(&cd, &mut self.out.flags) {
            Ok(d) => d,
            Err(code) => {
                return self.fail(format!(
                    "Multipart: Invalid Content-Disposition header ({code})."
                ))
            }
        };
        if d.name.is_empty() {
            return self.fail("Multipart: Content-Disposition header missing name field.");
        }
        if !d.filename.is_empty() {
            // A crude parser downstream may not see the filename we saw.
            if find(&cd, b"filename=").is_none() {
                return self.fail("Multipart: Invalid Content-Disposition header (filename).");
            }
            part.is_file = true;
            if self.files >= self.limits.max_files {
                self.flags().file_limit_exceeded = true;
                let msg = format!(
                    "Multipart: Upload file limit exceeded {}",
                    self.limits.max_files
                );
                self.out.error.get_or_insert(msg);
            } else {
                self.files += 1;
            }
        }
        part.name = d.name;
        // Whitespace around a file name is dropped by the systems that
        // store the file (`shell.php  ` is saved as `shell.php`), so the
        // rules see it without (the CRS regression tests expect this).
        part.filename = d.filename.trim_ascii().to_vec();
        Ok(())
    }

    fn finish(mut self) -> Output {
        let f = &mut self.out.flags;
        f.crlf_lf_lines = self.crlf_line && f.lf_line;
        f.strict_error = self.failed
            || f.boundary_quoted
            || f.boundary_whitespace
            || f.data_before
            || f.data_after
            || f.header_folding
            || f.lf_line
            || f.missing_semicolon
            || f.invalid_quoting
            || f.invalid_part
            || f.invalid_header_folding
            || f.file_limit_exceeded;
        self.out
    }
}

/// C++ `chomp`: drops every trailing CR and LF.
fn chomp(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = s {
        s = rest;
    }
    s
}
