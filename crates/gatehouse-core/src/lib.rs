//! Types shared by every Gatehouse policy crate.
//!
//! A policy never writes to the socket: it returns a [`Rejection`] and the
//! binary renders it in the one error format clients see, so every 4xx/5xx
//! the gateway produces itself looks the same and never leaks internals.

mod rejection;
mod request_id;
mod secret;

pub use rejection::{error_body, Rejection, ERROR_CONTENT_TYPE};
pub use request_id::{generate_request_id, is_acceptable_request_id, REQUEST_ID_HEADER};
pub use secret::Secret;
