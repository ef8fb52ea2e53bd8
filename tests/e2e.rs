//! End-to-end tests of the gatehouse binary (one integration-test target).

mod harness;
mod harness_selftest;

mod auth;
mod cli;
mod lifecycle;
mod protocol;
mod proxy;
mod routing;
mod waf;
mod waf_redis;
