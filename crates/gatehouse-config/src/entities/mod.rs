//! Kong's entities (upstreams, services, routes, consumers) checked one by
//! one and compiled into the plan's runtime forms.

mod routes;
mod services;
mod upstreams;

use crate::auth::{compile_jwt, PendingSecret};
use crate::compile::UpstreamDefaults;
use crate::diag::{Mark, Report};
use crate::plan::{Consumer, Route, Service, Upstream};
use crate::plugins::{self, Pending, PluginKind, Scope};
use crate::raw::Raw;
use crate::waf::compile_waf;
use crate::WafPolicy;
use gatehouse_auth::{Jwks, JwtPolicy};
use gatehouse_router::{RouteSpec, RouteSpecError, Router};
use gatehouse_waf::collection::{MemoryStore, PersistentStore};
use gatehouse_waf_redis::RedisStore;
use std::collections::HashMap;
use std::sync::Arc;

/// How specific the entry is, what it compiled to, and the entry.
type Chosen<T> = (u8, T, Raw);

/// Persistent WAF collections (`IP`, `GLOBAL`): idle ones are dropped
/// after an hour, and at most this many are kept per node.
const WAF_COLLECTION_KEYS: usize = 100_000;

pub struct Built {
    pub router: Router,
    pub routes: Vec<Route>,
    pub services: Vec<Service>,
    pub upstreams: Vec<Upstream>,
    pub consumers: Vec<Arc<Consumer>>,
    pub jwks: Vec<Arc<Jwks>>,
}

pub struct Entities<'r> {
    report: &'r Report,
    defaults: UpstreamDefaults,
    upstreams: Vec<Upstream>,
    upstream_names: HashMap<String, (Option<usize>, Mark)>,
    services: Vec<Service>,
    /// `None` for a service whose definition had errors, so routes naming
    /// it are not reported a second time as pointing at nothing.
    service_names: HashMap<String, (Option<usize>, Mark)>,
    service_enabled: Vec<bool>,
    routes: Vec<Route>,
    specs: Vec<RouteSpec>,
    route_raws: Vec<Raw>,
    route_names: HashMap<String, Mark>,
    consumers: Vec<Arc<Consumer>>,
    consumer_names: HashMap<String, Mark>,
    secrets: Vec<PendingSecret>,
    secret_keys: HashMap<String, Mark>,
    plugins: Vec<Pending>,
    /// One per plan: every `waf` entry counts into the same `IP` collection.
    waf_store: Arc<dyn PersistentStore>,
    /// The same store when it is Redis-backed (read ahead per request).
    waf_redis: Option<Arc<RedisStore>>,
}

impl<'r> Entities<'r> {
    pub fn new(
        report: &'r Report,
        defaults: UpstreamDefaults,
        waf_redis: Option<Arc<RedisStore>>,
    ) -> Self {
        Entities {
            report,
            defaults,
            upstreams: Vec::new(),
            upstream_names: HashMap::new(),
            services: Vec::new(),
            service_names: HashMap::new(),
            service_enabled: Vec::new(),
            routes: Vec::new(),
            specs: Vec::new(),
            route_raws: Vec::new(),
            route_names: HashMap::new(),
            consumers: Vec::new(),
            consumer_names: HashMap::new(),
            secrets: Vec::new(),
            secret_keys: HashMap::new(),
            plugins: Vec::new(),
            waf_store: match &waf_redis {
                Some(r) => r.clone(),
                None => Arc::new(MemoryStore::new(3600, WAF_COLLECTION_KEYS)),
            },
            waf_redis,
        }
    }

    /// Records `name` in `names`, reporting a duplicate. Returns false on one.
    fn unique<T>(
        &self,
        names: &HashMap<String, T>,
        name: &str,
        raw: &Raw,
        what: &str,
        first: impl Fn(&T) -> &Mark,
    ) -> bool {
        if let Some(prev) = names.get(name) {
            let m = first(prev);
            raw.error_at(
                self.report,
                "name",
                format!(
                    "duplicate {what} name `{name}` (first defined at {}:{})",
                    m.file, m.line
                ),
            );
            return false;
        }
        true
    }

    /// A top-level plugin entry.
    pub fn plugin(&mut self, raw: &Raw) {
        self.add_plugin(
            raw,
            Some(Scope::TopLevel {
                service: None,
                route: None,
            }),
        );
    }

    fn add_plugin(&mut self, raw: &Raw, scope: Option<Scope>) {
        if let Some(p) = plugins::check(self.report, raw, scope) {
            if p.enabled {
                self.plugins.push(p);
            }
        }
    }

    /// Compiles the plugins now that every consumer is known, and gives
    /// each route the one of each kind that applies (route over service
    /// over global).
    fn apply_plugins(&mut self) -> Vec<Arc<Jwks>> {
        let n = self.routes.len();
        let mut jwt: Vec<Option<Chosen<Arc<JwtPolicy>>>> = (0..n).map(|_| None).collect();
        let mut waf: Vec<Option<Chosen<Arc<WafPolicy>>>> = (0..n).map(|_| None).collect();
        let plugins = std::mem::take(&mut self.plugins);
        let mut jwks = Vec::new();
        for p in plugins {
            let Some(targets) = self.plugin_targets(&p) else {
                continue;
            };
            match &p.plugin {
                PluginKind::Jwt(conf) => {
                    let Some(policy) =
                        compile_jwt(self.report, &p.raw, conf, &self.secrets, &self.consumers)
                    else {
                        continue;
                    };
                    if let Some(j) = &policy.jwks {
                        jwks.push(j.clone());
                    }
                    self.assign(&mut jwt, &targets, &policy, &p);
                }
                PluginKind::Waf(conf) => {
                    let store = self.waf_store.clone();
                    let redis = self.waf_redis.as_ref();
                    let Some(policy) = compile_waf(self.report, &p.raw, conf, &store, redis) else {
                        continue;
                    };
                    self.assign(&mut waf, &targets, &policy, &p);
                }
            }
        }
        for ((route, j), w) in self.routes.iter_mut().zip(jwt).zip(waf) {
            route.auth = j.map(|(_, policy, _)| policy);
            route.waf = w.map(|(_, policy, _)| policy);
        }
        jwks
    }

    /// Gives `value` to the `targets` unless a more specific entry of the
    /// same plugin already did; two at one level is an error.
    fn assign<T: Clone>(
        &self,
        chosen: &mut [Option<Chosen<T>>],
        targets: &[(usize, u8)],
        value: &T,
        p: &Pending,
    ) {
        for &(route, level) in targets {
            let Some(slot) = chosen.get_mut(route) else {
                continue;
            };
            match slot {
                Some((l, _, first)) if *l == level => {
                    let m = first.mark();
                    p.raw.error_at(
                        self.report,
                        "name",
                        format!(
                            "plugin `{}` is already set for route `{}` at this level (first at {}:{})",
                            p.plugin.name(),
                            self.routes.get(route).map_or("", |r| r.name.as_str()),
                            m.file,
                            m.line
                        ),
                    );
                }
                Some((l, _, _)) if *l > level => {}
                _ => *slot = Some((level, value.clone(), p.raw.clone())),
            }
        }
    }

    /// The routes a plugin entry applies to, with how specific it is:
    /// 3 route and service, 2 route, 1 service, 0 global.
    fn plugin_targets(&self, p: &Pending) -> Option<Vec<(usize, u8)>> {
        let all = 0..self.routes.len();
        let by_service = |s: usize| -> Vec<usize> {
            all.clone()
                .filter(|r| self.routes[*r].service == s)
                .collect()
        };
        Some(match &p.scope {
            Scope::Route(r) => vec![(*r, 2)],
            Scope::Service(s) => by_service(*s).into_iter().map(|r| (r, 1)).collect(),
            Scope::Consumer => return None,
            Scope::TopLevel { service, route } => {
                let service = match service {
                    None => None,
                    Some(name) => match self.service_names.get(name) {
                        Some((Some(i), _)) => Some(*i),
                        Some((None, _)) => return None,
                        None => {
                            p.raw.error_at(
                                self.report,
                                "service",
                                format!("no service named `{name}`"),
                            );
                            return None;
                        }
                    },
                };
                let route = match route {
                    None => None,
                    Some(name) => match self.routes.iter().position(|r| r.name == *name) {
                        Some(i) => Some(i),
                        None => {
                            p.raw.error_at(
                                self.report,
                                "route",
                                format!("no route named `{name}`"),
                            );
                            return None;
                        }
                    },
                };
                match (route, service) {
                    (Some(r), Some(s)) if self.routes[r].service == s => vec![(r, 3)],
                    (Some(_), Some(_)) => Vec::new(),
                    (Some(r), None) => vec![(r, 2)],
                    (None, Some(s)) => by_service(s).into_iter().map(|r| (r, 1)).collect(),
                    (None, None) => all.map(|r| (r, 0)).collect(),
                }
            }
        })
    }

    pub fn finish(mut self) -> Option<Built> {
        let jwks = self.apply_plugins();
        let router = match Router::new(&self.specs) {
            Ok(r) => Some(r),
            Err(errors) => {
                for e in errors {
                    if let Some(raw) = self.route_raws.get(e.route) {
                        self.report_route_errors(raw, vec![e]);
                    }
                }
                None
            }
        };
        Some(Built {
            router: router?,
            routes: self.routes,
            services: self.services,
            upstreams: self.upstreams,
            consumers: self.consumers,
            jwks,
        })
    }

    fn report_route_errors(&self, raw: &Raw, errors: Vec<RouteSpecError>) {
        for e in errors {
            let (m, p) = raw.at_index(e.field, e.index);
            self.report.error(&m, &p, e.message);
        }
    }
}

/// Kong's rule for entity names; it also keeps names safe as metric labels.
fn check_name(report: &Report, raw: &Raw, name: &str) {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~'));
    if !ok {
        raw.error_at(
            report,
            "name",
            format!(
                "`{name}` is not a valid name (letters, digits, `.`, `-`, `_`, `~`; at most 128)"
            ),
        );
    }
}

/// Reports a Kong key this version accepts in the model but does not implement.
fn not_supported(report: &Report, raw: &Raw, key: &str) {
    if raw.node.get(key).is_some() {
        let (m, p) = raw.key_at(key);
        report.error(&m, &p, format!("`{key}` is not supported yet"));
    }
}
