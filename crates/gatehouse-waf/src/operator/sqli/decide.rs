//! The decision: does a folded token stream read as SQL injection?
//!
//! Instead of a table of known fingerprints, a small grammar. An injected
//! value has two parts: a *value* the query expected (a number, a word, or
//! the string the attacker closes with a quote, maybe with closing
//! parentheses), then a *head* that turns the rest into code: UNION
//! SELECT, `;` and a new statement, AND/OR with a tautology or a function
//! call, an appended clause, a trailing comment after a break-out. Prose
//! has values and the odd keyword but not a valid head after a value, and
//! a path or a list that starts with an operator is no value at all (CRS
//! expects `/foo/24 union all select 1` in a path to pass).

use super::token::{Kind, Token, Word};

/// Whether `t` is an injection. `quoted`: the input was read as if after
/// an opening quote, so `t[0]` is the string the attacker's quote closes.
pub(super) fn is_injection(t: &[Token], quoted: bool, truncated: bool) -> bool {
    if t.iter().any(|x| x.kind == Kind::Evil) {
        return true;
    }
    if !quoted && starts_with_code(t) {
        return true;
    }
    let Some(h) = value_end(t) else {
        return false;
    };
    // The value was only the break-out string and closing parentheses.
    let bare_breakout = quoted && t[1..h].iter().all(|x| x.kind == Kind::RParen);
    let numeric = t.first().is_some_and(|x| x.kind == Kind::Number) || quoted;
    if let Some(head) = t.get(h) {
        let hit = match head.kind {
            Kind::Union => union_select(t, h + 1),
            Kind::Semicolon => stacked(t, h + 1, bare_breakout),
            Kind::Logic => logic(t, h + 1, quoted, quoted || single_value(t, h)),
            Kind::Statement => head.word != Word::Select && statement(t, h, false),
            Kind::Keyword => {
                numeric && matches!(head.word, Word::Clause | Word::Into) && clause(t, h + 1)
            }
            Kind::Operator => operator(t, h + 1, quoted),
            Kind::Comment => bare_breakout && h + 1 == t.len(),
            Kind::Function => bare_breakout && head.word == Word::Strong,
            _ => false,
        };
        if hit {
            return true;
        }
    }
    quoted && !truncated && splice(t)
}

/// A whole value that is code: a statement or an attack-only function.
fn starts_with_code(t: &[Token]) -> bool {
    let i = t.iter().take_while(|x| x.kind == Kind::LParen).count();
    match t.get(i) {
        Some(x) if x.kind == Kind::Statement => statement(t, i, true),
        Some(x) if x.kind == Kind::Function && x.word == Word::Strong => {
            kind_at(t, i + 1) == Some(Kind::LParen) || kind_at(t, i + 1).is_none_or(is_literal_kind)
        }
        _ => false,
    }
}

fn is_literal_kind(k: Kind) -> bool {
    k.is_literal()
}

fn kind_at(t: &[Token], i: usize) -> Option<Kind> {
    t.get(i).map(|x| x.kind)
}

fn word_at(t: &[Token], i: usize) -> Option<Word> {
    t.get(i).map(|x| x.word)
}

/// Where the leading value ends: `(`* operand ((operator | `,`) operand)*
/// `)`*. `None` when the input does not start with a value.
fn value_end(t: &[Token]) -> Option<usize> {
    let mut i = t.iter().take_while(|x| x.kind == Kind::LParen).count();
    if !t.get(i)?.kind.is_operand() {
        return None;
    }
    i += 1;
    while let (Some(op), Some(next)) = (t.get(i), t.get(i + 1)) {
        let joins = op.kind == Kind::Comma || (op.kind == Kind::Operator && op.word != Word::Not);
        if !(joins && next.kind.is_operand()) {
            break;
        }
        i += 2;
    }
    Some(i + t[i..].iter().take_while(|x| x.kind == Kind::RParen).count())
}

/// Whether the value ending at `h` is one operand in parentheses.
fn single_value(t: &[Token], h: usize) -> bool {
    t[..h]
        .iter()
        .filter(|x| !matches!(x.kind, Kind::LParen | Kind::RParen))
        .count()
        == 1
}

/// UNION [ALL] followed by a real SELECT (maybe parenthesized).
fn union_select(t: &[Token], i: usize) -> bool {
    let i = i + t[i.min(t.len())..]
        .iter()
        .take_while(|x| x.kind == Kind::LParen)
        .count();
    word_at(t, i) == Some(Word::Select) && select(t, i, false)
}

/// After `;`: a new statement. After a bare break-out, `';` with nothing
/// or a comment after it also ends the query on the attacker's terms.
fn stacked(t: &[Token], i: usize, bare_breakout: bool) -> bool {
    match t.get(i) {
        Some(x) if x.kind == Kind::Statement => statement(t, i, false),
        Some(x) if x.kind == Kind::Comment => bare_breakout,
        None => bare_breakout,
        _ => false,
    }
}

/// After AND/OR: a comparison with a literal side (a tautology or a
/// contradiction), a function call, a subquery. After a break-out string,
/// also a bare literal (`' OR 1--`, `' OR 'a`).
/// `lone`: the value before was a single operand; after a condition
/// (`price <= 100 and qty >= 2`) another condition is just a filter, so
/// then both sides of the comparison must be literals.
fn logic(t: &[Token], i: usize, quoted: bool, lone: bool) -> bool {
    let i = i + t[i.min(t.len())..]
        .iter()
        .take_while(|x| x.kind == Kind::LParen)
        .count();
    let Some(a) = t.get(i) else {
        return false;
    };
    match a.kind {
        Kind::Function => return true,
        Kind::Statement => return a.word == Word::Select && select(t, i, false),
        Kind::Keyword if a.word == Word::Exists => return true,
        Kind::Operator if a.word == Word::Not => return logic(t, i + 1, quoted, lone),
        _ => {}
    }
    if !a.kind.is_operand() {
        return false;
    }
    // `x IN (SELECT ...)`.
    if word_at(t, i + 1) == Some(Word::In) && kind_at(t, i + 2) == Some(Kind::LParen) {
        return word_at(t, i + 3) == Some(Word::Select) && select(t, i + 3, false);
    }
    if let (Some(op), Some(b)) = (t.get(i + 1), t.get(i + 2)) {
        let b_kind = if b.kind == Kind::LParen {
            kind_at(t, i + 3)
        } else {
            Some(b.kind)
        };
        if op.kind == Kind::Operator && op.word == Word::Compare {
            match b_kind {
                Some(Kind::Function | Kind::Statement) => return true,
                Some(bk) if bk.is_operand() => {
                    let (la, lb) = (a.kind.is_literal(), bk.is_literal());
                    if (la && lb) || (lone && (la || lb)) {
                        return true;
                    }
                }
                _ => {}
            }
        }
    }
    if quoted && a.kind.is_literal() {
        let after = kind_at(t, i + 1);
        let ends = matches!(
            after,
            None | Some(Kind::Comment | Kind::Logic | Kind::RParen | Kind::Semicolon)
        );
        if a.kind == Kind::Str && !a.open {
            return after == Some(Kind::Comment);
        }
        return ends;
    }
    false
}

/// ORDER BY, GROUP BY, HAVING, LIMIT, PROCEDURE, INTO after a value: a
/// column probe (`1 ORDER BY 5--`) or a file write.
fn clause(t: &[Token], i: usize) -> bool {
    matches!(
        t.get(i).map(|x| (x.kind, x.word)),
        Some((
            Kind::Number | Kind::Variable | Kind::Function | Kind::Str,
            _
        )) | Some((Kind::Keyword, Word::Clause))
    )
}

/// An operator after the value, then a function or a subquery: `'+sleep(5)+'`,
/// `1*(SELECT ...)`. Outside quotes only attack-only functions count.
fn operator(t: &[Token], i: usize, quoted: bool) -> bool {
    match t.get(i) {
        Some(x) if x.kind == Kind::Function => quoted || x.word == Word::Strong,
        Some(x) if x.kind == Kind::LParen => {
            word_at(t, i + 1) == Some(Word::Select) && select(t, i + 1, false)
        }
        _ => false,
    }
}

/// The quote the attacker closed at the start is reopened at the end for
/// the query's own closing quote, with concatenation or bitwise operators
/// gluing both to the code in between: `" | type x | "`, `' + f(x) + '`.
/// With nothing in between, only a comparison counts (`x'='x`): `'-'`
/// and `%var%` are shell and batch syntax.
fn splice(t: &[Token]) -> bool {
    let n = t.len();
    if n < 3 || !t.last().is_some_and(|l| l.kind == Kind::Str && l.open) {
        return false;
    }
    if n == 3 {
        return t[1].word == Word::Compare;
    }
    let glue = |x: &Token| x.kind == Kind::Logic || matches!(x.word, Word::Plus | Word::Bitwise);
    glue(&t[1]) && glue(&t[n - 2])
}

/// Whether the statement word at `t[i]` is followed by what that
/// statement needs. `strict` (the whole input is the statement) asks for
/// more, so a sentence like "select one from the list" passes.
fn statement(t: &[Token], i: usize, strict: bool) -> bool {
    let next = t.get(i + 1).map(|x| (x.kind, x.word));
    match word_at(t, i) {
        Some(Word::Select) => select(t, i, strict),
        Some(Word::Insert) => matches!(next, Some((_, Word::Into))),
        Some(Word::Delete) => matches!(next, Some((_, Word::From))),
        Some(Word::Update) => {
            matches!(next, Some((Kind::Bareword, _))) && word_at(t, i + 2) == Some(Word::Set)
        }
        // `drop table users`, not the sentence "drop table is risky".
        Some(Word::Ddl) => {
            matches!(next, Some((_, Word::Object)))
                && (!strict || kind_at(t, i + 2) == Some(Kind::Bareword))
        }
        Some(Word::Exec) => match next {
            Some((Kind::Function | Kind::Variable, _)) => true,
            Some((Kind::Bareword, _)) => !strict,
            _ => false,
        },
        Some(Word::Declare) => matches!(next, Some((Kind::Variable, _))),
        Some(Word::Waitfor) => matches!(next, Some((Kind::Str, _))),
        // Alone, "shutdown" is a plain word (an `action=shutdown` value).
        Some(Word::Shutdown) => {
            matches!(next, Some((Kind::Comment | Kind::Semicolon, _)))
                || (next.is_none() && !strict)
        }
        _ => false,
    }
}

/// SELECT followed by a select list: `*`, a literal, a function, a
/// subquery, or a column followed by `,` or FROM.
fn select(t: &[Token], i: usize, strict: bool) -> bool {
    let mut j = i + 1;
    if matches!(word_at(t, j), Some(Word::Distinct | Word::All | Word::Top)) {
        j += 1;
        if word_at(t, j - 1) == Some(Word::Top) && kind_at(t, j) == Some(Kind::Number) {
            j += 1;
        }
    }
    let Some(x) = t.get(j) else {
        return false;
    };
    match x.kind {
        Kind::Number | Kind::Str | Kind::Variable | Kind::Function | Kind::LParen => {
            // A lone `select 2 items` is prose; `select 1,2` or `select
            // 1 from` is not.
            !strict
                || matches!(
                    kind_at(t, j + 1),
                    None | Some(Kind::Comma | Kind::Keyword | Kind::Comment | Kind::Semicolon)
                )
                || x.kind != Kind::Number
        }
        Kind::Operator => x.word == Word::Star,
        Kind::Bareword => match t.get(j + 1) {
            Some(y) if y.kind == Kind::Comma => true,
            Some(y) if y.word == Word::From => {
                // `select name from users` alone reads like a sentence;
                // it needs one more SQL token after the table.
                !strict
                    || matches!(
                        kind_at(t, j + 3),
                        Some(
                            Kind::Keyword
                                | Kind::Logic
                                | Kind::Semicolon
                                | Kind::Comment
                                | Kind::Union
                                | Kind::Operator
                        )
                    )
            }
            _ => false,
        },
        _ => false,
    }
}
