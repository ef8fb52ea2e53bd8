//! Upstreams: named target pools with weights and active health checks.

use super::{not_supported, Entities};
use crate::address::{self, Scheme};
use crate::model::{ActiveConf, TargetConf, UpstreamConf};
use crate::plan::Upstream;
use crate::raw::Raw;
use gatehouse_router::{ActiveCheck, Pool, TargetSpec};
use std::sync::Arc;
use std::time::Duration;

/// Kong's default port for a target written without one.
const DEFAULT_TARGET_PORT: u16 = 8000;
const DEFAULT_TARGET_WEIGHT: u32 = 100;

impl Entities<'_> {
    pub fn upstream(&mut self, raw: &Raw) {
        let Some(conf) = raw.parse::<UpstreamConf>(self.report) else {
            if let Some(name) = raw.node.get("name").and_then(|n| n.as_str()) {
                self.upstream_names
                    .entry(name.to_string())
                    .or_insert((None, raw.mark().clone()));
            }
            return;
        };
        if !self.unique(
            &self.upstream_names,
            &conf.name,
            raw,
            "upstream",
            |(_, m)| m,
        ) {
            return;
        }
        let errors = self.report.len();
        if let Err(e) = address::split_host_port(&conf.name) {
            raw.error_at(
                self.report,
                "name",
                format!("an upstream name must be a host name: {e}"),
            );
        }
        match conf.algorithm.as_deref() {
            None | Some("round-robin") => {}
            Some(
                a @ ("consistent-hashing" | "least-connections" | "latency" | "sticky-sessions"),
            ) => raw.error_at(
                self.report,
                "algorithm",
                format!("algorithm `{a}` is not supported yet"),
            ),
            Some(a) => raw.error_at(self.report, "algorithm", format!("unknown algorithm `{a}`")),
        }
        for key in ["hash_on", "hash_fallback", "client_certificate"] {
            not_supported(self.report, raw, key);
        }
        let mut targets = Vec::new();
        for (i, traw) in conf.targets.iter().enumerate() {
            let Some(t) = traw.parse::<TargetConf>(self.report) else {
                continue;
            };
            targets.extend(self.target(&t, traw));
            let _ = i;
        }
        let active_check = conf.healthchecks.as_ref().and_then(|h| {
            let hraw = raw.child("healthchecks")?;
            not_supported(self.report, &hraw, "passive");
            if h.threshold.is_some_and(|t| t != 0.0) {
                hraw.error_at(self.report, "threshold", "`threshold` is not supported yet");
            }
            let active = h.active.as_ref()?;
            self.active_check(active, &hraw.child("active")?)
        });
        let name = conf.name.clone();
        if self.report.len() > errors {
            self.upstream_names.insert(name, (None, raw.mark().clone()));
            return;
        }
        self.upstream_names.insert(
            name.clone(),
            (Some(self.upstreams.len()), raw.mark().clone()),
        );
        self.upstreams.push(Upstream {
            name,
            pool: Arc::new(Pool::new(targets)),
            active_check,
        });
    }

    fn target(&self, t: &TargetConf, raw: &Raw) -> Vec<TargetSpec> {
        let (host, port) = match address::split_host_port(&t.target) {
            Ok(hp) => hp,
            Err(e) => {
                raw.error_at(self.report, "target", e);
                return Vec::new();
            }
        };
        let weight = t.weight.unwrap_or(DEFAULT_TARGET_WEIGHT);
        if weight > 65_535 {
            raw.error_at(self.report, "weight", "weight must be between 0 and 65535");
            return Vec::new();
        }
        let port = port.unwrap_or(DEFAULT_TARGET_PORT);
        match address::resolve(&host, port) {
            Ok(addrs) => addrs
                .into_iter()
                .map(|addr| TargetSpec {
                    addr,
                    host: address::host_header(&host, port, Scheme::Http),
                    weight,
                })
                .collect(),
            Err(e) => {
                raw.error_at(self.report, "target", e);
                Vec::new()
            }
        }
    }

    fn active_check(&self, a: &ActiveConf, raw: &Raw) -> Option<ActiveCheck> {
        match a.kind.as_deref() {
            None | Some("http") => {}
            Some(k @ ("https" | "tcp" | "grpc" | "grpcs")) => raw.error_at(
                self.report,
                "type",
                format!("active health checks of type `{k}` are not supported yet"),
            ),
            Some(k) => raw.error_at(
                self.report,
                "type",
                format!("unknown health check type `{k}`"),
            ),
        }
        for key in ["headers", "https_verify_certificate", "https_sni"] {
            not_supported(self.report, raw, key);
        }
        let http_path = a.http_path.clone().unwrap_or_else(|| "/".into());
        if let Err(e) = address::check_path(&http_path) {
            raw.error_at(self.report, "http_path", e);
        }
        let seconds = |v: Option<f64>, key: &str, sub: Option<&Raw>, default: f64| -> Duration {
            let v = v.unwrap_or(default);
            if !(0.0..=65_535.0).contains(&v) || v.is_nan() {
                let r = sub.unwrap_or(raw);
                r.error_at(
                    self.report,
                    key,
                    "must be a number of seconds between 0 and 65535",
                );
                return Duration::ZERO;
            }
            Duration::from_secs_f64(v)
        };
        let healthy_raw = raw.child("healthy");
        let unhealthy_raw = raw.child("unhealthy");
        let h = a.healthy.as_ref();
        let u = a.unhealthy.as_ref();
        let timeout = seconds(a.timeout, "timeout", None, 1.0);
        if timeout.is_zero() {
            raw.error_at(self.report, "timeout", "must be greater than 0");
        }
        Some(ActiveCheck {
            http_path,
            timeout,
            healthy_interval: seconds(
                h.and_then(|h| h.interval),
                "interval",
                healthy_raw.as_ref(),
                0.0,
            ),
            healthy_successes: h.and_then(|h| h.successes).unwrap_or(0),
            healthy_statuses: h
                .and_then(|h| h.http_statuses.clone())
                .unwrap_or_else(|| vec![200, 302]),
            unhealthy_interval: seconds(
                u.and_then(|u| u.interval),
                "interval",
                unhealthy_raw.as_ref(),
                0.0,
            ),
            unhealthy_http_failures: u.and_then(|u| u.http_failures).unwrap_or(0),
            unhealthy_tcp_failures: u.and_then(|u| u.tcp_failures).unwrap_or(0),
            unhealthy_timeouts: u.and_then(|u| u.timeouts).unwrap_or(0),
            unhealthy_statuses: u
                .and_then(|u| u.http_statuses.clone())
                .unwrap_or_else(|| vec![429, 404, 500, 501, 502, 503, 504, 505]),
            host_header: None,
        })
    }
}
