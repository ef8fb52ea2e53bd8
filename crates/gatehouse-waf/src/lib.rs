//! A ModSecurity-compatible rule engine for the gateway: SecLang parsing,
//! transformations, operators and the evaluation of the OWASP Core Rule
//! Set. No Pingora types: the binary hands it a request view.

pub mod collection;
pub mod compile;
pub mod engine;
mod hash;
pub mod load;
pub mod operator;
pub mod parse;
pub mod request;
pub mod transform;
