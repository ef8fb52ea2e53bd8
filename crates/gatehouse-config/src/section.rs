//! The `gatehouse:` section: what Kong keeps in kong.conf and nginx in its
//! directives (listeners, admin, trusted proxies, timeouts, process
//! settings), with nginx's meanings and defaults.

use serde::de::{self, Visitor};
use serde::Deserialize;
use std::fmt;
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatehouseConf {
    /// Proxy listeners; default `0.0.0.0:8000` (Kong's proxy port).
    pub listeners: Option<Vec<ListenerConf>>,
    /// The admin listener (metrics, health); default `127.0.0.1:8100`.
    pub admin: Option<AdminConf>,
    /// Worker threads; default: the number of CPUs.
    pub workers: Option<usize>,
    /// nginx `set_real_ip_from`: peers whose forwarding headers are believed.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// nginx `real_ip_header`; default `X-Forwarded-For`.
    pub real_ip_header: Option<String>,
    /// nginx `real_ip_recursive`; default off, as in nginx.
    pub real_ip_recursive: Option<bool>,
    pub timeouts: Option<TimeoutsConf>,
    pub pid_file: Option<String>,
    pub upgrade_sock: Option<String>,
    pub error_log: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// How long an old process keeps accepting after an upgrade signal.
    pub grace_period: Option<DurationValue>,
    /// How long in-flight requests get to finish on shutdown.
    pub graceful_shutdown_timeout: Option<DurationValue>,
    /// HTTP/1.1 request head limits.
    pub http: Option<HttpConf>,
    /// A Redis the fleet shares; with it the WAF's persistent collections
    /// (`IP`, `GLOBAL`) add up across gateways.
    pub redis: Option<RedisConf>,
}

/// Kong's `redis_host`, `redis_port`, `redis_password`, `redis_database`
/// and `redis_timeout`, plus a key prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConf {
    /// Default `127.0.0.1`.
    pub host: Option<String>,
    /// Default 6379.
    pub port: Option<u16>,
    /// `AUTH` password; none by default. Never logged.
    pub password: Option<gatehouse_core::Secret>,
    /// Default 0.
    pub database: Option<u32>,
    /// How long a request may wait for its WAF collections. Default
    /// `50ms` (Kong's 2 s suits a limiter call, not a wait on every
    /// request); connecting and background writes get at least 1 s.
    pub timeout: Option<DurationValue>,
    /// Prefix of every key. Default `gatehouse:`.
    pub prefix: Option<String>,
}

/// Request head limits, with nginx's meanings and defaults
/// (`large_client_header_buffers 4 8k`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConf {
    /// Longest request line; longer is 414. Default `8k`.
    pub max_request_line: Option<SizeValue>,
    /// Longest single header line; longer is 431. Default `8k`.
    pub max_header_line: Option<SizeValue>,
    /// Largest header section; larger is 431. Default `32k`.
    pub max_header_section: Option<SizeValue>,
    /// Most header lines; more is 431. Default 100.
    pub max_headers: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConf {
    pub address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConf {
    pub address: Option<String>,
    /// `false` runs no admin listener at all.
    pub enabled: Option<bool>,
}

/// Defaults for services, and client-side timeouts.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsConf {
    /// nginx `proxy_connect_timeout`, default 60s.
    pub connect: Option<DurationValue>,
    /// nginx `proxy_read_timeout`, default 60s.
    pub read: Option<DurationValue>,
    /// nginx `proxy_send_timeout`, default 60s.
    pub write: Option<DurationValue>,
    /// nginx `keepalive_timeout` for client connections, default 75s.
    pub keepalive: Option<DurationValue>,
    /// nginx `client_header_timeout`: time to receive a whole request
    /// head, default 60s.
    pub client_header: Option<DurationValue>,
}

/// A duration written nginx-style: `500ms`, `30s`, `5m`, `1h`, `1d`, or a
/// bare integer number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationValue(pub Duration);

impl<'de> Deserialize<'de> for DurationValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as `500ms`, `30s`, `5m` or `1h`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationValue, E> {
                u64::try_from(v)
                    .map(|s| DurationValue(Duration::from_secs(s)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationValue, E> {
                parse_duration(v).map(DurationValue).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A size written nginx-style: `512`, `8k`, `1m` (bytes, KiB, MiB).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeValue(pub usize);

impl<'de> Deserialize<'de> for SizeValue {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as `512`, `8k` or `1m`")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeValue, E> {
                usize::try_from(v)
                    .map(SizeValue)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeValue, E> {
                parse_size(v).map(SizeValue).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

pub fn parse_size(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as `512`, `8k` or `1m`"))?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" => 1,
        "k" => 1024,
        "m" => 1024 * 1024,
        "g" => 1024 * 1024 * 1024,
        _ => return Err(format!("unknown size unit `{unit}` (use k, m or g)")),
    };
    n.checked_mul(factor)
        .ok_or_else(|| format!("size `{s}` is too large"))
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration such as `500ms`, `30s`, `5m` or `1h`"))?;
    let ms = match unit {
        "ms" => Some(n),
        "" | "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        "d" => n.checked_mul(86_400_000),
        _ => {
            return Err(format!(
                "unknown duration unit `{unit}` (use ms, s, m, h or d)"
            ))
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("duration `{s}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512").unwrap(), 512);
        assert_eq!(parse_size("8k").unwrap(), 8192);
        assert_eq!(parse_size("8K").unwrap(), 8192);
        assert_eq!(parse_size("1m").unwrap(), 1 << 20);
        assert!(parse_size("8kb").unwrap_err().contains("unit"));
        assert!(parse_size("k").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert!(parse_duration("5 minutes").unwrap_err().contains("unit"));
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("-1s").is_err());
    }
}
