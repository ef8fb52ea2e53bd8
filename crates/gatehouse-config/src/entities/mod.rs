//! Kong's entities (upstreams, services, routes, consumers) checked one by
//! one and compiled into the plan's runtime forms.

mod routes;
mod services;
mod upstreams;

use crate::compile::UpstreamDefaults;
use crate::diag::{Mark, Report};
use crate::plan::{Consumer, Route, Service, Upstream};
use crate::plugins;
use crate::raw::Raw;
use gatehouse_router::{RouteSpec, RouteSpecError, Router};
use std::collections::HashMap;

pub struct Built {
    pub router: Router,
    pub routes: Vec<Route>,
    pub services: Vec<Service>,
    pub upstreams: Vec<Upstream>,
    pub consumers: Vec<Consumer>,
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
    consumers: Vec<Consumer>,
    consumer_names: HashMap<String, Mark>,
}

impl<'r> Entities<'r> {
    pub fn new(report: &'r Report, defaults: UpstreamDefaults) -> Self {
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

    pub fn plugin(&mut self, raw: &Raw) {
        plugins::check(self.report, raw);
    }

    pub fn finish(self) -> Option<Built> {
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
