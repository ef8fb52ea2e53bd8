//! SecLang parsing: ModSecurity 3 configuration text (the OWASP CRS, rules
//! users paste) to a typed AST with `file:line` errors, for the engine to
//! compile. Nothing here evaluates anything.
//!
//! Every error is collected rather than stopping at the first, so one run
//! shows everything to fix.

mod actions;
mod ast;
mod directives;
mod driver;
mod include;
mod lexer;
mod operator;
mod rules;
mod variables;

use std::path::Path;

pub(crate) use actions::severity_level;

pub use ast::{
    Action, Directive, EngineMode, IdRange, Operator, ParseError, Rule, Selector, Source, Variable,
};

/// Parses configuration text. `file` names it in `Source`s and errors, and
/// its directory is where relative `Include`s are looked up.
pub fn parse_str(text: &str, file: &str) -> Result<Vec<Directive>, Vec<ParseError>> {
    let mut driver = driver::Driver::default();
    driver.enter(file);
    driver.parse_text(text, file);
    finish(driver)
}

/// Parses a configuration file and everything it includes, in order.
pub fn parse_file(path: &Path) -> Result<Vec<Directive>, Vec<ParseError>> {
    let mut driver = driver::Driver::default();
    if let Err(message) = driver.parse_path(path) {
        driver.errors.push(ParseError {
            file: path.display().to_string(),
            line: 0,
            message,
        });
    }
    finish(driver)
}

fn finish(driver: driver::Driver) -> Result<Vec<Directive>, Vec<ParseError>> {
    if driver.errors.is_empty() {
        Ok(driver.directives)
    } else {
        Err(driver.errors)
    }
}
