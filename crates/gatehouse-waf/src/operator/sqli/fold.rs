//! Folding: the raw token stream reduced to the shape that matters.
//!
//! Whitespace and comments between tokens carry no meaning (they are how
//! `UNION/**/SELECT` hides); a comment at the very end does (it cuts off
//! the rest of the query). Multi-word keywords become one token, runs of
//! barewords one bareword (prose stays short), and arithmetic between
//! numbers one number, so `2024-01-02`, `1-2` and `2*3` read as a value.

use super::token::{Kind, Lexer, Token, Word};

/// Folded tokens kept; the decision never needs more.
pub(super) const MAX_TOKENS: usize = 24;
/// Raw tokens read at most: bounds the work on huge inputs.
const MAX_RAW: usize = 160;

/// The folded tokens of one reading of the input.
pub(super) struct Folded {
    tokens: [Token; MAX_TOKENS],
    len: usize,
    /// The input went on past what was read.
    pub(super) truncated: bool,
}

impl Folded {
    /// Tokenizes and folds `input`, as if after opening quote `quote`.
    pub(super) fn new(input: &[u8], quote: Option<u8>) -> Folded {
        let mut f = Folded {
            tokens: [Token::new(Kind::Comment, Word::Other); MAX_TOKENS],
            len: 0,
            truncated: false,
        };
        let mut lexer = Lexer::new(input, quote);
        let mut trailing_comment = false;
        let mut raw = 0;
        while let Some(t) = lexer.next_token() {
            if t.kind == Kind::Comment {
                trailing_comment = true;
            } else {
                trailing_comment = false;
                f.push(t);
            }
            raw += 1;
            if raw >= MAX_RAW || f.len >= MAX_TOKENS {
                f.truncated = !lexer.at_end();
                break;
            }
        }
        if trailing_comment && f.len < MAX_TOKENS {
            f.tokens[f.len] = Token::new(Kind::Comment, Word::Other);
            f.len += 1;
        }
        f
    }

    pub(super) fn tokens(&self) -> &[Token] {
        &self.tokens[..self.len]
    }

    /// The libinjection-style fingerprint: the first five token letters.
    pub(super) fn fingerprint(&self) -> String {
        self.tokens()
            .iter()
            .take(5)
            .map(|t| t.kind.code())
            .collect()
    }

    fn top(&self, back: usize) -> Option<Token> {
        self.len.checked_sub(back + 1).map(|i| self.tokens[i])
    }

    fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    fn push(&mut self, t: Token) {
        let top = self.top(0);
        if let Some(top) = top {
            // UNION ALL / UNION DISTINCT are one union.
            if top.kind == Kind::Union && matches!(t.word, Word::All | Word::Distinct) {
                return;
            }
            // ORDER BY / GROUP BY: a clause; alone, ORDER stays a word.
            if t.word == Word::By && matches!(top.word, Word::Order | Word::Group) {
                self.tokens[self.len - 1] = Token::new(Kind::Keyword, Word::Clause);
                return;
            }
            // WAITFOR DELAY / WAITFOR TIME: one statement.
            if top.word == Word::Waitfor && (t.word == Word::Delay || t.kind == Kind::Bareword) {
                return;
            }
            // IS NOT: one operator.
            if top.word == Word::Is && t.word == Word::Not {
                return;
            }
            // Runs of barewords read as one; the last one names it, so
            // `sort order by` still ends in ORDER BY.
            if top.kind == Kind::Bareword && t.kind == Kind::Bareword {
                self.tokens[self.len - 1] = t;
                return;
            }
            if t.kind == Kind::Number && top.kind == Kind::Operator {
                let below = self.top(1);
                let arith = matches!(
                    top.word,
                    Word::Arith | Word::Sign | Word::Plus | Word::Star | Word::Bitwise
                );
                // `1 - 2`, `2 * 3`: still a number.
                if arith && below.is_some_and(|b| b.kind == Kind::Number) {
                    self.pop();
                    return;
                }
                // `-1` after nothing or after an operator: a number.
                let unary_ctx = below.is_none_or(|b| {
                    matches!(
                        b.kind,
                        Kind::LParen
                            | Kind::Comma
                            | Kind::Logic
                            | Kind::Operator
                            | Kind::Semicolon
                            | Kind::Statement
                            | Kind::Union
                            | Kind::Keyword
                    )
                });
                if matches!(top.word, Word::Sign | Word::Plus) && unary_ctx {
                    self.pop();
                }
            }
        }
        if self.len < MAX_TOKENS {
            self.tokens[self.len] = t;
            self.len += 1;
        }
    }
}
