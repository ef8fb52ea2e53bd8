//! Client identity at the network level: CIDR sets and the real client IP.
//!
//! The address a request claims in `X-Forwarded-For` is believed only when
//! the TCP peer is a trusted proxy; otherwise any client could pick the IP
//! that IP rules, rate limits and audit logs see.

mod cidr;
mod realip;

pub use cidr::{CidrError, CidrSet};
pub use realip::{ClientIp, RealIpHeader, RealIpResolver};
