//! The SQL tokenizer: bytes in, one [`Token`] at a time out, no allocation.
//!
//! It reads input the way a lenient SQL engine (MySQL first, with the
//! ANSI, T-SQL and PostgreSQL spellings that matter for injection) would,
//! but only keeps what the decision needs: the token's type, which of a
//! few dozen words it was, and whether a string ran off the end.

use super::words::{classify_word, function_always};

/// A token type; [`Kind::code`] is its letter in the fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `'...'`, `"..."`, `N'...'`, `X'...'`...
    Str,
    /// Decimal, float, hex, binary numbers and the literals NULL/TRUE/FALSE.
    Number,
    /// Any other word: a column, a table, a plain English word.
    Bareword,
    /// `@x`, `@@version`.
    Variable,
    /// A known SQL function name followed by `(`.
    Function,
    /// A SQL keyword that is neither a statement nor a logic operator.
    Keyword,
    /// A word that starts a statement: SELECT, DROP, WAITFOR...
    Statement,
    /// UNION (with ALL/DISTINCT folded in), INTERSECT, EXCEPT.
    Union,
    /// AND, OR, XOR, `&&`, `||`.
    Logic,
    /// Arithmetic, comparison and bitwise operators, LIKE, NOT.
    Operator,
    LParen,
    RParen,
    Comma,
    Semicolon,
    /// `-- `, `#`, `/* */`.
    Comment,
    /// Something no benign value contains: a comment nested in a comment.
    Evil,
}

impl Kind {
    /// The fingerprint letter (libinjection's alphabet, so TX:0 reads the
    /// same to an operator used to it).
    pub(super) fn code(self) -> char {
        match self {
            Kind::Str => 's',
            Kind::Number => '1',
            Kind::Bareword => 'n',
            Kind::Variable => 'v',
            Kind::Function => 'f',
            Kind::Keyword => 'k',
            Kind::Statement => 'E',
            Kind::Union => 'U',
            Kind::Logic => '&',
            Kind::Operator => 'o',
            Kind::LParen => '(',
            Kind::RParen => ')',
            Kind::Comma => ',',
            Kind::Semicolon => ';',
            Kind::Comment => 'c',
            Kind::Evil => 'X',
        }
    }

    /// Whether the token can stand for a value in an expression.
    pub(super) fn is_operand(self) -> bool {
        matches!(
            self,
            Kind::Str | Kind::Number | Kind::Bareword | Kind::Variable
        )
    }

    /// A value the attacker wrote down: a string, a number, a variable.
    pub(super) fn is_literal(self) -> bool {
        matches!(self, Kind::Str | Kind::Number | Kind::Variable)
    }
}

/// Which word or operator a token was, for the few the decision looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Word {
    Other,
    // statements
    Select,
    Insert,
    Delete,
    Update,
    /// DROP, CREATE, ALTER, TRUNCATE: need an object word after them.
    Ddl,
    Exec,
    Declare,
    Waitfor,
    Shutdown,
    // keywords
    All,
    Distinct,
    Top,
    From,
    Into,
    Set,
    By,
    Order,
    Group,
    /// ORDER BY, GROUP BY, HAVING, LIMIT, PROCEDURE, INTO: what may follow
    /// a value at the end of a query.
    Clause,
    /// TABLE, DATABASE, SCHEMA, VIEW...: what DDL acts on.
    Object,
    Exists,
    In,
    Delay,
    Is,
    // functions
    /// A function that only an attack calls: SLEEP, BENCHMARK, LOAD_FILE...
    Strong,
    // operators
    /// `=`, `<`, `<>`, `!=`, `<=>`, LIKE, RLIKE, REGEXP...
    Compare,
    /// `+ - * / % ^ | & << >> DIV MOD`: folded between numbers.
    Arith,
    /// `-`, `~`, `!`: both binary and unary.
    Sign,
    /// `+`: unary, addition, and string concatenation in T-SQL.
    Plus,
    /// `|`, `&`, `^`: bitwise, and how MySQL glues a string to code.
    Bitwise,
    Star,
    Not,
}

/// One token: 3 bytes, copied around freely.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) word: Word,
    /// A string (or backquoted name) that the input ends inside of.
    pub(super) open: bool,
}

impl Token {
    pub(super) const fn new(kind: Kind, word: Word) -> Token {
        Token {
            kind,
            word,
            open: false,
        }
    }
}

/// SQL whitespace. 0xA0 (Latin-1 NBSP) counts as MySQL skips it, but only
/// after an ASCII byte so a UTF-8 letter like `à` (C3 A0) stays whole.
fn is_space(s: &[u8], i: usize) -> bool {
    match s[i] {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0 => true,
        0xa0 => i == 0 || s[i - 1] < 0x80,
        _ => false,
    }
}

/// Bytes that may continue a word; `.` keeps `schema.table` whole.
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.') || b >= 0x80
}

/// Where the word starting at `i` ends (a NBSP that counts as a space
/// ends it too: `union\xa0select` is two words).
fn word_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_word_byte(s[i]) && !is_space(s, i) {
        i += 1;
    }
    i
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

/// The tokenizer. With `quote`, the input is read as if it followed that
/// opening quote: the first token is the string it closes.
pub(super) struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    quote: Option<u8>,
    /// Inside a MySQL `/*! ... */` block: its body is code and its `*/`
    /// is skipped.
    mysql_code: bool,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(s: &'a [u8], quote: Option<u8>) -> Lexer<'a> {
        Lexer {
            s,
            pos: 0,
            quote,
            mysql_code: false,
        }
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn peek(&self, ahead: usize) -> u8 {
        self.s.get(self.pos + ahead).copied().unwrap_or(0)
    }

    /// The next token, or `None` at the end of input.
    pub(super) fn next_token(&mut self) -> Option<Token> {
        if let Some(q) = self.quote.take() {
            return Some(self.string(q));
        }
        while self.pos < self.s.len() {
            let b = self.s[self.pos];
            if is_space(self.s, self.pos) {
                self.pos += 1;
                continue;
            }
            let token = match b {
                b'\'' | b'"' => {
                    self.pos += 1;
                    self.string(b)
                }
                b'`' => {
                    self.pos += 1;
                    let mut t = self.string(b'`');
                    t.kind = Kind::Bareword;
                    t
                }
                b'0'..=b'9' => self.number(),
                b'.' if self.peek(1).is_ascii_digit() => self.number(),
                b'@' => match self.variable() {
                    Some(t) => t,
                    None => continue,
                },
                // MySQL's `#` comment; `#top` (a URL fragment) is not one,
                // so that HTML links in a value do not read as a string
                // closed and the query commented out.
                b'#' if matches!(self.peek(1), 0 | b' ' | b'\t' | b'\r' | b'\n' | b'#' | b'-') => {
                    self.line_comment()
                }
                b'-' if self.peek(1) == b'-' => self.line_comment(),
                b'/' if self.peek(1) == b'*' => match self.block_comment() {
                    Some(t) => t,
                    None => continue,
                },
                b'*' if self.mysql_code && self.peek(1) == b'/' => {
                    self.mysql_code = false;
                    self.pos += 2;
                    continue;
                }
                b'(' => self.single(Kind::LParen),
                b')' => self.single(Kind::RParen),
                b',' => self.single(Kind::Comma),
                b';' => self.single(Kind::Semicolon),
                _ if is_word_start(b) => self.word(),
                _ => match self.operator() {
                    Some(t) => t,
                    None => {
                        // `{`, `[`, `\`, `?`, a lone `:`...: not SQL
                        // structure, read as a separator.
                        self.pos += 1;
                        continue;
                    }
                },
            };
            return Some(token);
        }
        None
    }

    fn single(&mut self, kind: Kind) -> Token {
        self.pos += 1;
        Token::new(kind, Word::Other)
    }

    /// A string whose opening quote `q` was just consumed. A doubled quote
    /// and a backslash-escaped quote both stay inside it.
    fn string(&mut self, q: u8) -> Token {
        let s = self.s;
        let mut i = self.pos;
        loop {
            let Some(off) = s[i.min(s.len())..].iter().position(|&b| b == q) else {
                self.pos = s.len();
                let mut t = Token::new(Kind::Str, Word::Other);
                t.open = true;
                return t;
            };
            let at = i + off;
            let backslashes = s[..at].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 1 && q != b'`' {
                i = at + 1;
            } else if s.get(at + 1) == Some(&q) {
                i = at + 2;
            } else {
                self.pos = at + 1;
                return Token::new(Kind::Str, Word::Other);
            }
        }
    }

    fn number(&mut self) -> Token {
        let s = self.s;
        let mut i = self.pos;
        let radix_digits =
            |i: usize, f: fn(u8) -> bool| s[i..].iter().take_while(|&&b| f(b)).count();
        if s[i] == b'0' && matches!(s.get(i + 1), Some(b'x' | b'X')) {
            let n = radix_digits(i + 2, |b| b.is_ascii_hexdigit());
            if n > 0 {
                self.pos = i + 2 + n;
                return Token::new(Kind::Number, Word::Other);
            }
        }
        if s[i] == b'0' && matches!(s.get(i + 1), Some(b'b' | b'B')) {
            let n = radix_digits(i + 2, |b| b == b'0' || b == b'1');
            if n > 0 {
                self.pos = i + 2 + n;
                return Token::new(Kind::Number, Word::Other);
            }
        }
        i += radix_digits(i, |b| b.is_ascii_digit());
        if s.get(i) == Some(&b'.') {
            i += 1;
            i += radix_digits(i, |b| b.is_ascii_digit());
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(s.get(i + 1), Some(b'+' | b'-')));
            let n = radix_digits((i + 1 + sign).min(s.len()), |b| b.is_ascii_digit());
            if n > 0 {
                i += 1 + sign + n;
            }
        }
        self.pos = i;
        Token::new(Kind::Number, Word::Other)
    }

    /// `@name`, `@@name`, `@'quoted'`; a lone `@` is skipped.
    fn variable(&mut self) -> Option<Token> {
        let s = self.s;
        let mut i = self.pos + 1;
        if s.get(i) == Some(&b'@') {
            i += 1;
        }
        if let Some(&q @ (b'\'' | b'"' | b'`')) = s.get(i) {
            self.pos = i + 1;
            let mut t = self.string(q);
            t.kind = Kind::Variable;
            return Some(t);
        }
        self.pos = word_end(s, i);
        (self.pos > i).then_some(Token::new(Kind::Variable, Word::Other))
    }

    /// `#` and `--` to the end of the line.
    fn line_comment(&mut self) -> Token {
        let rest = &self.s[self.pos..];
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        Token::new(Kind::Comment, Word::Other)
    }

    /// `/* ... */`, or the opening of a MySQL `/*!50000 ... */` (then the
    /// body is read as code and `None` is returned). A `/*` inside a
    /// comment, even one sharing its `*` with the end (`/*/*/`), is read
    /// differently by engines that nest comments (PostgreSQL) and those
    /// that do not: deliberate confusion, reported as [`Kind::Evil`].
    fn block_comment(&mut self) -> Option<Token> {
        let s = self.s;
        if s.get(self.pos + 2) == Some(&b'!') {
            let digits = s[self.pos + 3..]
                .iter()
                .take(5)
                .take_while(|b| b.is_ascii_digit())
                .count();
            self.pos += 3 + digits;
            self.mysql_code = true;
            return None;
        }
        let body = &s[self.pos + 2..];
        let len = body
            .windows(2)
            .position(|w| w == b"*/")
            .unwrap_or(body.len());
        let nested = body[..(len + 1).min(body.len())]
            .windows(2)
            .any(|w| w == b"/*");
        self.pos = (self.pos + 2 + len + 2).min(s.len());
        Some(Token::new(
            if nested { Kind::Evil } else { Kind::Comment },
            Word::Other,
        ))
    }

    fn word(&mut self) -> Token {
        let s = self.s;
        let start = self.pos;
        // N'..', E'..', X'..', B'..': prefixed string literals.
        if matches!(
            s[start],
            b'n' | b'N' | b'e' | b'E' | b'x' | b'X' | b'b' | b'B'
        ) && s.get(start + 1) == Some(&b'\'')
        {
            self.pos += 2;
            return self.string(b'\'');
        }
        self.pos = word_end(s, start);
        let word = &s[start..self.pos];
        let call = self.paren_follows();
        if function_always(word) {
            return Token::new(Kind::Function, Word::Strong);
        }
        classify_word(word, call)
    }

    /// Whether the next thing after blanks and plain comments is `(`.
    fn paren_follows(&self) -> bool {
        let s = self.s;
        let mut i = self.pos;
        while i < s.len() {
            if is_space(s, i) {
                i += 1;
            } else if s[i] == b'/' && s.get(i + 1) == Some(&b'*') && s.get(i + 2) != Some(&b'!') {
                let body = &s[i + 2..];
                match body.windows(2).position(|w| w == b"*/") {
                    Some(len) => i += 2 + len + 2,
                    None => return false,
                }
            } else {
                return s[i] == b'(';
            }
        }
        false
    }

    /// Operators, longest first; `None` for a byte that is not one.
    fn operator(&mut self) -> Option<Token> {
        let s = &self.s[self.pos..];
        let (len, word, kind) = match s {
            [b'<', b'=', b'>', ..] => (3, Word::Compare, Kind::Operator),
            [b'&', b'&', ..] | [b'|', b'|', ..] => (2, Word::Other, Kind::Logic),
            [b'<' | b'>' | b'!' | b'=', b'=', ..] | [b'<', b'>', ..] | [b'!', b'<' | b'>', ..] => {
                (2, Word::Compare, Kind::Operator)
            }
            [b'<', b'<', ..] | [b'>', b'>', ..] => (2, Word::Arith, Kind::Operator),
            [b':', b'=' | b':', ..] => (2, Word::Other, Kind::Operator),
            [b'=' | b'<' | b'>', ..] => (1, Word::Compare, Kind::Operator),
            [b'+', ..] => (1, Word::Plus, Kind::Operator),
            [b'-' | b'~' | b'!', ..] => (1, Word::Sign, Kind::Operator),
            [b'*', ..] => (1, Word::Star, Kind::Operator),
            [b'^' | b'|' | b'&', ..] => (1, Word::Bitwise, Kind::Operator),
            [b'/' | b'%', ..] => (1, Word::Arith, Kind::Operator),
            _ => return None,
        };
        self.pos += len;
        Some(Token::new(kind, word))
    }
}
