//! A small HTML5-style tokenizer: the states of the WHATWG tokenization
//! algorithm that decide where tags, attributes and comments begin and end,
//! without building anything. Tokens are slices of the input (no copies),
//! text between tags is skipped, and every call moves forward, so a whole
//! run is linear in the input.
//!
//! Deviations from the spec, each on the side of seeing more markup: a
//! backtick opens a quoted attribute value (old Internet Explorer did so),
//! vertical tab counts as whitespace, and attributes of end tags are parsed
//! but not reported (browsers drop them).

/// Where the input is assumed to land in a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Between tags: `<p>HERE</p>`.
    Data,
    /// Inside an unquoted attribute value: `<p title=HERE>`.
    Unquoted,
    /// Inside a value quoted with this byte (`'`, `"` or a backtick).
    Quoted(u8),
}

/// What the tokenizer reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    /// The name of a start tag, as written (`<ScRipt` gives `ScRipt`).
    TagOpen(&'a [u8]),
    /// The name of an end tag.
    TagClose(&'a [u8]),
    /// An attribute name of a start tag.
    AttrName(&'a [u8]),
    /// The value of the attribute just named (empty after `name=>`).
    AttrValue(&'a [u8]),
    /// The `>` closing a tag.
    TagEnd,
    /// The body of `<!-- ... -->`.
    Comment(&'a [u8]),
    /// The body of a bogus comment: `<!x...>` (after `<!`), `<?...>` (from
    /// the `?`) or `</ ...>` (after `</`).
    Bogus(&'a [u8]),
    /// What follows `<!DOCTYPE` up to `>`.
    Doctype(&'a [u8]),
    /// The body of `<![CDATA[ ... ]]>`.
    CData(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    TagOpen,
    EndTagOpen,
    TagName,
    BeforeAttrName,
    AttrName,
    AfterAttrName,
    BeforeAttrValue,
    AttrValueQuoted(u8),
    AttrValueUnquoted,
    SelfClosing,
    MarkupDecl,
    RawText,
    Done,
}

/// Elements whose content the HTML tokenizer reads as text up to the
/// matching end tag (RAWTEXT/RCDATA/PLAINTEXT), plus IE's `<comment>`.
const RAW_TEXT: &[&[u8]] = &[
    b"title",
    b"textarea",
    b"xmp",
    b"noscript",
    b"noembed",
    b"noframes",
    b"plaintext",
    b"style",
    b"script",
    b"iframe",
    b"comment",
];

/// HTML whitespace, plus vertical tab.
pub fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Tokenizes `input` from a starting context.
pub struct Tokenizer<'a> {
    input: &'a [u8],
    pos: usize,
    state: State,
    /// The current tag's name (empty in attribute-value starts).
    tag: &'a [u8],
    end_tag: bool,
    /// Whether raw-text elements switch to text mode, as in a browser with
    /// scripting on; off, their content is read as markup (XML parsers,
    /// sanitizers running with scripting off).
    raw_text: bool,
    /// Set when a start tag of a raw-text element went by.
    pub saw_raw_text: bool,
}

impl<'a> Tokenizer<'a> {
    pub fn new(input: &'a [u8], start: Start, raw_text: bool) -> Tokenizer<'a> {
        let state = match start {
            Start::Data => State::Data,
            Start::Unquoted => State::AttrValueUnquoted,
            Start::Quoted(q) => State::AttrValueQuoted(q),
        };
        Tokenizer {
            input,
            pos: 0,
            state,
            tag: &[],
            end_tag: false,
            raw_text,
            saw_raw_text: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or(&[])
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    /// Consumes bytes while `keep` holds and returns them.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.pos += 1;
        }
        self.input.get(start..self.pos).unwrap_or(&[])
    }

    /// Consumes up to and including the first `>`, returning what precedes
    /// it (everything left when there is none).
    fn until_gt(&mut self) -> &'a [u8] {
        let rest = self.rest();
        match rest.iter().position(|&b| b == b'>') {
            Some(i) => {
                self.pos += i + 1;
                &rest[..i]
            }
            None => {
                self.pos = self.input.len();
                rest
            }
        }
    }

    /// The state after a tag's `>`.
    fn after_tag(&mut self) -> State {
        if self.end_tag || !RAW_TEXT.iter().any(|n| n.eq_ignore_ascii_case(self.tag)) {
            return State::Data;
        }
        self.saw_raw_text = true;
        if !self.raw_text {
            State::Data
        } else if self.tag.eq_ignore_ascii_case(b"plaintext") {
            State::Done
        } else {
            State::RawText
        }
    }

    /// The next token, or `None` at the end of the input.
    pub fn next_token(&mut self) -> Option<Token<'a>> {
        loop {
            match self.state {
                State::Done => return None,
                State::Data => match self.rest().iter().position(|&b| b == b'<') {
                    Some(i) => {
                        self.pos += i + 1;
                        self.state = State::TagOpen;
                    }
                    None => {
                        self.pos = self.input.len();
                        self.state = State::Done;
                    }
                },
                State::TagOpen => match self.peek() {
                    Some(b) if b.is_ascii_alphabetic() => {
                        self.end_tag = false;
                        self.state = State::TagName;
                    }
                    Some(b'!') => {
                        self.pos += 1;
                        self.state = State::MarkupDecl;
                    }
                    Some(b'/') => {
                        self.pos += 1;
                        self.state = State::EndTagOpen;
                    }
                    Some(b'?') => {
                        self.state = State::Data;
                        return Some(Token::Bogus(self.until_gt()));
                    }
                    // `<` not starting a tag is text; leave the byte for
                    // Data so that `<<script>` still finds its tag.
                    Some(_) => self.state = State::Data,
                    None => self.state = State::Done,
                },
                State::EndTagOpen => match self.peek() {
                    Some(b) if b.is_ascii_alphabetic() => {
                        self.end_tag = true;
                        self.state = State::TagName;
                    }
                    Some(b'>') => {
                        self.pos += 1;
                        self.state = State::Data;
                    }
                    Some(_) => {
                        self.state = State::Data;
                        return Some(Token::Bogus(self.until_gt()));
                    }
                    None => self.state = State::Done,
                },
                State::TagName => {
                    let name = self.take_while(|b| !is_space(b) && b != b'/' && b != b'>');
                    self.tag = name;
                    self.state = State::BeforeAttrName;
                    return Some(if self.end_tag {
                        Token::TagClose(name)
                    } else {
                        Token::TagOpen(name)
                    });
                }
                State::BeforeAttrName => {
                    self.skip_space();
                    match self.peek() {
                        None => self.state = State::Done,
                        Some(b'/') => {
                            self.pos += 1;
                            self.state = State::SelfClosing;
                        }
                        Some(b'>') => {
                            self.pos += 1;
                            self.state = self.after_tag();
                            return Some(Token::TagEnd);
                        }
                        // The first byte belongs to the name even when it
                        // is `=` (`<p =x>` names an attribute "=x").
                        Some(_) => {
                            self.pos += 1;
                            self.state = State::AttrName;
                        }
                    }
                }
                State::AttrName => {
                    let start = self.pos.saturating_sub(1);
                    self.take_while(|b| !is_space(b) && !matches!(b, b'/' | b'>' | b'='));
                    self.state = State::AfterAttrName;
                    if !self.end_tag {
                        let name = self.input.get(start..self.pos).unwrap_or(&[]);
                        return Some(Token::AttrName(name));
                    }
                }
                State::AfterAttrName => {
                    self.skip_space();
                    match self.peek() {
                        Some(b'=') => {
                            self.pos += 1;
                            self.state = State::BeforeAttrValue;
                        }
                        None => self.state = State::Done,
                        Some(_) => self.state = State::BeforeAttrName,
                    }
                }
                State::BeforeAttrValue => {
                    self.skip_space();
                    match self.peek() {
                        Some(q @ (b'"' | b'\'' | b'`')) => {
                            self.pos += 1;
                            self.state = State::AttrValueQuoted(q);
                        }
                        Some(b'>') | None => {
                            // `name=>`, or the input ends: an empty value
                            // (what follows in the page would fill it).
                            self.state = if self.pos < self.input.len() {
                                State::BeforeAttrName
                            } else {
                                State::Done
                            };
                            if !self.end_tag {
                                return Some(Token::AttrValue(&[]));
                            }
                        }
                        Some(_) => self.state = State::AttrValueUnquoted,
                    }
                }
                State::AttrValueQuoted(q) => {
                    let rest = self.rest();
                    let value = match rest.iter().position(|&b| b == q) {
                        Some(i) => {
                            self.pos += i + 1;
                            self.state = State::BeforeAttrName;
                            &rest[..i]
                        }
                        None => {
                            self.pos = self.input.len();
                            self.state = State::Done;
                            rest
                        }
                    };
                    if !self.end_tag {
                        return Some(Token::AttrValue(value));
                    }
                }
                State::AttrValueUnquoted => {
                    let value = self.take_while(|b| !is_space(b) && b != b'>');
                    self.state = State::BeforeAttrName;
                    if !self.end_tag {
                        return Some(Token::AttrValue(value));
                    }
                }
                State::SelfClosing => match self.peek() {
                    Some(b'>') => {
                        self.pos += 1;
                        self.state = self.after_tag();
                        return Some(Token::TagEnd);
                    }
                    None => self.state = State::Done,
                    Some(_) => self.state = State::BeforeAttrName,
                },
                State::MarkupDecl => {
                    self.state = State::Data;
                    return Some(self.markup_declaration());
                }
                State::RawText => {
                    self.state = State::Data;
                    match find_end_tag(self.rest(), self.tag) {
                        Some(i) => self.pos += i,
                        None => {
                            self.pos = self.input.len();
                            self.state = State::Done;
                        }
                    }
                }
            }
        }
    }

    /// After `<!`: a comment, a doctype, a CDATA section or a bogus comment.
    fn markup_declaration(&mut self) -> Token<'a> {
        let rest = self.rest();
        if rest.starts_with(b"--") {
            self.pos += 2;
            return Token::Comment(self.comment_body());
        }
        if starts_with_ignore_case(rest, b"doctype") {
            self.pos += 7;
            return Token::Doctype(self.until_gt());
        }
        if starts_with_ignore_case(rest, b"[cdata[") {
            self.pos += 7;
            let rest = self.rest();
            let end = find(rest, b"]]>");
            self.pos += end.map_or(rest.len(), |i| i + 3);
            return Token::CData(&rest[..end.unwrap_or(rest.len())]);
        }
        Token::Bogus(self.until_gt())
    }

    /// After `<!--`: the comment up to `-->` or `--!>`; `<!-->` and
    /// `<!--->` close at once.
    fn comment_body(&mut self) -> &'a [u8] {
        let rest = self.rest();
        if rest.starts_with(b">") {
            self.pos += 1;
            return &[];
        }
        if rest.starts_with(b"->") {
            self.pos += 2;
            return &[];
        }
        let mut i = 0;
        while let Some(d) = rest.get(i..).and_then(|r| find(r, b"--")) {
            let at = i + d;
            let tail = &rest[at + 2..];
            if tail.starts_with(b">") {
                self.pos += at + 3;
                return &rest[..at];
            }
            if tail.starts_with(b"!>") {
                self.pos += at + 4;
                return &rest[..at];
            }
            i = at + 1;
        }
        self.pos = self.input.len();
        rest
    }
}

/// Where `</name` followed by whitespace, `/`, `>` or the end starts.
fn find_end_tag(hay: &[u8], name: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(d) = hay.get(i..).and_then(|r| find(r, b"</")) {
        let at = i + d;
        let after = &hay[at + 2..];
        if starts_with_ignore_case(after, name) {
            match after.get(name.len()) {
                None => return Some(at),
                Some(&b) if is_space(b) || b == b'/' || b == b'>' => return Some(at),
                Some(_) => {}
            }
        }
        i = at + 2;
    }
    None
}

/// The first occurrence of `needle` (2 or 3 bytes here) in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = 0;
    while let Some(d) = hay.get(i..)?.iter().position(|&b| b == first) {
        let at = i + d;
        if hay.get(at..)?.starts_with(needle) {
            return Some(at);
        }
        i = at + 1;
    }
    None
}

/// ASCII case-insensitive prefix test.
pub fn starts_with_ignore_case(hay: &[u8], prefix: &[u8]) -> bool {
    hay.get(..prefix.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(prefix))
}
