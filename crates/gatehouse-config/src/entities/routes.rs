//! Routes and consumers.

use super::{check_name, not_supported, Entities};
use crate::auth::{check_secret, JwtSecretConf, PendingSecret};
use crate::diag::suggest;
use crate::model::{ConsumerConf, RouteConf};
use crate::plan::{Consumer, Protocols, Route};
use crate::plugins::{self, Scope};
use crate::raw::Raw;
use gatehouse_router::{RouteSpec, Router};
use std::sync::Arc;

impl Entities<'_> {
    /// A route nested in a service (`Some(index)`; the inner `None` when the
    /// service had errors) or a checked-only route of a broken service (`None`).
    pub(super) fn route(&mut self, raw: &Raw, service: Option<Option<usize>>) {
        let Some(conf) = raw.parse::<RouteConf>(self.report) else {
            return;
        };
        if let Some(s) = &conf.service {
            s.error_at(
                self.report,
                "",
                "a route inside a service cannot name another service",
            );
        }
        self.add_route(conf, raw, service.flatten());
    }

    pub fn top_level_route(&mut self, raw: &Raw) {
        let Some(conf) = raw.parse::<RouteConf>(self.report) else {
            return;
        };
        let service = match &conf.service {
            None => {
                raw.error_at(
                    self.report,
                    "",
                    "missing required key `service` (the service this route sends to)",
                );
                None
            }
            Some(sraw) => {
                let name = sraw.node.as_str().map(str::to_string).or_else(|| {
                    sraw.node
                        .get("name")
                        .and_then(|n| n.as_str())
                        .map(str::to_string)
                });
                match name {
                    None => {
                        sraw.error_at(self.report, "", "expected a service name or `{name: ...}`");
                        None
                    }
                    Some(name) => match self.service_names.get(&name) {
                        Some((index, _)) => *index,
                        None => {
                            let names: Vec<&str> =
                                self.service_names.keys().map(String::as_str).collect();
                            let hint = suggest(&name, &names)
                                .map(|s| format!(", did you mean `{s}`?"))
                                .unwrap_or_default();
                            sraw.error_at(
                                self.report,
                                "",
                                format!("unknown service `{name}`{hint}"),
                            );
                            None
                        }
                    },
                }
            }
        };
        self.add_route(conf, raw, service);
    }

    fn add_route(&mut self, conf: RouteConf, raw: &Raw, service: Option<usize>) {
        let errors = self.report.len();
        let index = self.route_raws.len();
        let name = match &conf.name {
            Some(n) => {
                check_name(self.report, raw, n);
                if let Some(first) = self.route_names.get(n) {
                    raw.error_at(
                        self.report,
                        "name",
                        format!(
                            "duplicate route name `{n}` (first defined at {}:{})",
                            first.file, first.line
                        ),
                    );
                }
                self.route_names.insert(n.clone(), raw.mark().clone());
                n.clone()
            }
            None => {
                let svc = service
                    .and_then(|s| self.services.get(s))
                    .map_or("route", |s| s.name.as_str());
                format!("{svc}#{index}")
            }
        };
        for key in [
            "headers",
            "snis",
            "sources",
            "destinations",
            "https_redirect_status_code",
            "request_buffering",
            "response_buffering",
        ] {
            not_supported(self.report, raw, key);
        }
        let protocols = match &conf.protocols {
            None => Protocols {
                http: true,
                https: true,
            },
            Some(list) => {
                let mut p = Protocols {
                    http: false,
                    https: false,
                };
                for (i, proto) in list.iter().enumerate() {
                    match proto.as_str() {
                        "http" => p.http = true,
                        "https" => p.https = true,
                        "grpc" | "grpcs" | "ws" | "wss" | "tcp" | "tls" | "udp"
                        | "tls_passthrough" => {
                            let (m, path) = raw.at_index("protocols", i);
                            self.report.error(
                                &m,
                                &path,
                                format!("protocol `{proto}` is not supported yet"),
                            );
                        }
                        other => {
                            let (m, path) = raw.at_index("protocols", i);
                            self.report.error(
                                &m,
                                &path,
                                format!("unknown protocol `{other}` (expected `http` or `https`)"),
                            );
                        }
                    }
                }
                if list.is_empty() {
                    raw.error_at(self.report, "protocols", "at least one protocol is needed");
                }
                p
            }
        };
        match conf.path_handling.as_deref() {
            None | Some("v0") => {}
            Some("v1") => raw.error_at(
                self.report,
                "path_handling",
                "`path_handling: v1` is not supported yet",
            ),
            Some(other) => raw.error_at(
                self.report,
                "path_handling",
                format!("unknown path_handling `{other}` (expected `v0`)"),
            ),
        }
        for (i, m) in conf.methods.iter().enumerate() {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                let (mark, path) = raw.at_index("methods", i);
                self.report.error(
                    &mark,
                    &path,
                    format!("method `{m}` must be uppercase letters, such as GET"),
                );
            }
        }
        if conf.paths.is_empty() && conf.hosts.is_empty() && conf.methods.is_empty() {
            raw.error_at(
                self.report,
                "",
                "a route needs at least one of `paths`, `hosts` or `methods`",
            );
        }
        let spec = RouteSpec {
            hosts: conf.hosts,
            paths: conf.paths,
            methods: conf.methods,
            priority: conf.priority.unwrap_or(0),
            regex_priority: conf.regex_priority.unwrap_or(0),
        };
        let live = service.filter(|s| self.service_enabled.get(*s).copied().unwrap_or(false));
        let Some(service) = live.filter(|_| self.report.len() == errors) else {
            // Not routable (broken or disabled service, or errors above):
            // still check its paths and hosts so their mistakes show too.
            if let Err(errs) = Router::new(std::slice::from_ref(&spec)) {
                self.report_route_errors(raw, errs);
            }
            for p in &conf.plugins {
                plugins::check(self.report, p, None);
            }
            return;
        };
        self.specs.push(spec);
        self.route_raws.push(raw.clone());
        self.routes.push(Route {
            name,
            service,
            strip_path: conf.strip_path.unwrap_or(true),
            preserve_host: conf.preserve_host.unwrap_or(false),
            protocols,
            auth: None,
            waf: None,
        });
        let index = self.routes.len() - 1;
        for p in &conf.plugins {
            self.add_plugin(p, Some(Scope::Route(index)));
        }
    }

    pub fn consumer(&mut self, raw: &Raw) {
        let Some(conf) = raw.parse::<ConsumerConf>(self.report) else {
            return;
        };
        if conf.username.is_none() && conf.custom_id.is_none() {
            raw.error_at(
                self.report,
                "",
                "a consumer needs a `username` or a `custom_id`",
            );
        }
        for (key, value) in [("username", &conf.username), ("custom_id", &conf.custom_id)] {
            if let Some(v) = value {
                let id = format!("{key}:{v}");
                if let Some(first) = self.consumer_names.get(&id) {
                    raw.error_at(
                        self.report,
                        key,
                        format!(
                            "duplicate consumer {key} `{v}` (first defined at {}:{})",
                            first.file, first.line
                        ),
                    );
                }
                self.consumer_names.insert(id, raw.mark().clone());
            }
        }
        for p in &conf.plugins {
            plugins::check(self.report, p, Some(Scope::Consumer));
        }
        let id = conf
            .id
            .clone()
            .or_else(|| conf.username.clone())
            .or_else(|| conf.custom_id.clone())
            .unwrap_or_default();
        let consumer = Arc::new(Consumer {
            id,
            username: conf.username,
            custom_id: conf.custom_id,
        });
        for secret_raw in conf.jwt_secrets {
            let Some(secret) = secret_raw.parse::<JwtSecretConf>(self.report) else {
                continue;
            };
            let Some((key, material)) = check_secret(self.report, &secret_raw, &secret) else {
                continue;
            };
            if let Some(first) = self.secret_keys.get(&key) {
                secret_raw.error_at(
                    self.report,
                    "key",
                    format!(
                        "duplicate jwt_secrets key `{key}` (first defined at {}:{})",
                        first.file, first.line
                    ),
                );
                continue;
            }
            self.secret_keys
                .insert(key.clone(), secret_raw.mark().clone());
            self.secrets.push(PendingSecret {
                consumer: consumer.clone(),
                raw: secret_raw,
                key,
                material,
            });
        }
        self.consumers.push(consumer);
    }
}
