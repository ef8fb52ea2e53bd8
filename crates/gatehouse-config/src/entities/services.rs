//! Services: where matched requests go, and with which timeouts.

use super::{check_name, not_supported, Entities};
use crate::address::{self, Scheme};
use crate::model::ServiceConf;
use crate::plan::{Backend, HttpBackend, MockResponse, Service};
use crate::plugins::{self, Scope};
use crate::raw::Raw;
use gatehouse_router::{Pool, TargetSpec};
use std::sync::Arc;
use std::time::Duration;

/// Kong's limits on its millisecond timeouts and retries.
const MAX_TIMEOUT_MS: u64 = 2_147_483_646;
const MAX_RETRIES: u32 = 32_767;
const DEFAULT_RETRIES: u32 = 5;

impl Entities<'_> {
    pub fn service(&mut self, raw: &Raw) {
        let conf = match raw.parse_recovered::<ServiceConf>(self.report) {
            Ok(conf) => conf,
            Err(partial) => {
                if let Some(name) = raw.node.get("name").and_then(|n| n.as_str()) {
                    self.service_names
                        .entry(name.to_string())
                        .or_insert((None, raw.mark().clone()));
                }
                // Still check what the broken service contains.
                for r in partial.iter().flat_map(|p| &p.routes) {
                    self.route(r, None);
                }
                for p in partial.iter().flat_map(|p| &p.plugins) {
                    plugins::check(self.report, p, None);
                }
                return;
            }
        };
        if !self.unique(&self.service_names, &conf.name, raw, "service", |(_, m)| m) {
            return;
        }
        let errors = self.report.len();
        check_name(self.report, raw, &conf.name);
        let service = self.compile_service(&conf, raw);
        let index = match service {
            Some(s) if self.report.len() == errors => {
                self.services.push(s);
                self.service_enabled.push(conf.enabled.unwrap_or(true));
                Some(self.services.len() - 1)
            }
            _ => None,
        };
        self.service_names
            .insert(conf.name.clone(), (index, raw.mark().clone()));
        for r in &conf.routes {
            self.route(r, Some(index));
        }
        for p in &conf.plugins {
            self.add_plugin(p, index.map(Scope::Service));
        }
    }

    fn compile_service(&self, conf: &ServiceConf, raw: &Raw) -> Option<Service> {
        for key in [
            "tls_verify",
            "tls_verify_depth",
            "ca_certificates",
            "client_certificate",
        ] {
            not_supported(self.report, raw, key);
        }
        let parts_given = conf.protocol.is_some()
            || conf.host.is_some()
            || conf.port.is_some()
            || conf.path.is_some();
        let url = match (&conf.url, parts_given) {
            (Some(_), true) => {
                let (m, p) = raw.key_at("url");
                self.report.error(
                    &m,
                    &p,
                    "set either `url` or `protocol`/`host`/`port`/`path`, not both",
                );
                return None;
            }
            (Some(url), false) => match address::parse_service_url(url) {
                Ok(u) => u,
                Err(e) => {
                    raw.error_at(self.report, "url", e);
                    return None;
                }
            },
            (None, _) => {
                let scheme = match Scheme::parse(conf.protocol.as_deref().unwrap_or("http")) {
                    Ok(s) => s,
                    Err(e) => {
                        raw.error_at(self.report, "protocol", e);
                        return None;
                    }
                };
                let host = match (&conf.host, scheme) {
                    (Some(h), _) => h.to_ascii_lowercase(),
                    (None, Scheme::Mock | Scheme::Echo) => String::new(),
                    (None, _) => {
                        raw.error_at(
                            self.report,
                            "",
                            "missing `url` (or `host`): where should requests go?",
                        );
                        return None;
                    }
                };
                if let Some(p) = &conf.path {
                    if let Err(e) = address::check_path(p) {
                        raw.error_at(self.report, "path", e);
                    }
                }
                address::ServiceUrl {
                    scheme,
                    host,
                    port: conf.port,
                    path: conf.path.clone(),
                }
            }
        };
        let ms = |v: Option<u64>, key: &str, default: Duration| -> Duration {
            match v {
                None => default,
                Some(0) => {
                    raw.error_at(self.report, key, "must be at least 1 (milliseconds)");
                    default
                }
                Some(n) if n > MAX_TIMEOUT_MS => {
                    raw.error_at(
                        self.report,
                        key,
                        format!("must be at most {MAX_TIMEOUT_MS} (milliseconds)"),
                    );
                    default
                }
                Some(n) => Duration::from_millis(n),
            }
        };
        let retries = conf.retries.unwrap_or(DEFAULT_RETRIES);
        if retries > MAX_RETRIES {
            raw.error_at(
                self.report,
                "retries",
                format!("must be at most {MAX_RETRIES}"),
            );
        }
        if conf.mock.is_some() && url.scheme != Scheme::Mock {
            let (m, p) = raw.key_at("mock");
            self.report
                .error(&m, &p, "`mock` is only meaningful for a `mock://` service");
        }
        let backend = match url.scheme {
            Scheme::Mock => {
                let mock = conf.mock.as_ref();
                let status = mock.and_then(|m| m.status).unwrap_or(200);
                if !(200..=599).contains(&status) {
                    if let Some(mraw) = raw.child("mock") {
                        mraw.error_at(self.report, "status", "status must be between 200 and 599");
                    }
                }
                let headers: Vec<(String, String)> = mock
                    .map(|m| {
                        m.headers
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(mraw) = raw.child("mock").and_then(|m| m.child("headers")) {
                    for (k, v) in &headers {
                        if !crate::compile::is_token(k) || v.bytes().any(|b| b < b' ' && b != b'\t')
                        {
                            mraw.error_at(self.report, k, "not a valid header name and value");
                        }
                    }
                }
                Backend::Mock(MockResponse {
                    status,
                    headers,
                    body: mock
                        .and_then(|m| m.body.clone())
                        .unwrap_or_default()
                        .into_bytes(),
                })
            }
            Scheme::Echo => Backend::Echo,
            Scheme::Http | Scheme::Https => {
                let port = url.port.unwrap_or(url.scheme.default_port());
                let upstream = self.upstream_names.get(&url.host).map(|(i, _)| *i);
                let (pool, upstream_index, host_header) = match upstream {
                    Some(None) => return None,
                    Some(Some(i)) => {
                        let u = &self.upstreams[i];
                        (u.pool.clone(), Some(i), url.host.clone())
                    }
                    None => match address::resolve(&url.host, port) {
                        Ok(addrs) => {
                            let host = address::host_header(&url.host, port, url.scheme);
                            let targets = addrs
                                .into_iter()
                                .map(|addr| TargetSpec {
                                    addr,
                                    host: host.clone(),
                                    weight: 1,
                                })
                                .collect();
                            (Arc::new(Pool::new(targets)), None, host)
                        }
                        Err(e) => {
                            let key = if conf.url.is_some() { "url" } else { "host" };
                            raw.error_at(self.report, key, e);
                            return None;
                        }
                    },
                };
                Backend::Http(HttpBackend {
                    tls: url.scheme == Scheme::Https,
                    sni: url.host.clone(),
                    host_header,
                    pool,
                    upstream: upstream_index,
                })
            }
        };
        Some(Service {
            name: conf.name.clone(),
            backend,
            path: url.path.filter(|p| !p.is_empty()),
            connect_timeout: ms(
                conf.connect_timeout,
                "connect_timeout",
                self.defaults.connect,
            ),
            read_timeout: ms(conf.read_timeout, "read_timeout", self.defaults.read),
            write_timeout: ms(conf.write_timeout, "write_timeout", self.defaults.write),
            retries,
        })
    }
}
