//! Which persistent collections a request will open, known before it runs:
//! a shared store (Redis) reads them ahead, asynchronously, so the engine
//! itself stays synchronous. Only what the request alone decides is
//! listed: the automatic `IP` and `GLOBAL`, and `initcol` keys made of
//! literals, `REMOTE_ADDR` and request headers. A key built from anything
//! else (`TX`, matched values) is not known ahead; the store then answers
//! from its node-local view.

use super::Engine;
use crate::collection::{expand, has_macros, Macro};
use crate::request::RequestInput;
use std::borrow::Cow;

/// One collection to read ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ahead {
    /// `IP` by client address (what `open_collection` keys it by).
    Ip,
    /// `GLOBAL`, one per fleet: key `global`.
    Global,
    /// `initcol:name=template`, `name` lowercase.
    Initcol { name: String, template: String },
}

/// The collections an engine's rules open, computed once per engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CollectionsAhead {
    items: Vec<Ahead>,
}

impl Engine {
    /// What [`CollectionsAhead::collections_for`] reads from; computed by
    /// whoever shares collections (nothing is kept in the engine, so a
    /// node without a shared store pays nothing per request).
    pub fn collections_ahead(&self) -> CollectionsAhead {
        let mut items = Vec::new();
        for name in &self.auto_collections {
            match *name {
                "ip" => items.push(Ahead::Ip),
                "global" => items.push(Ahead::Global),
                _ => {}
            }
        }
        for link in self.rules.phases.iter().flatten().flat_map(|r| &r.links) {
            for (name, template) in &link.initcols {
                let item = Ahead::Initcol {
                    name: name.to_ascii_lowercase(),
                    template: template.clone(),
                };
                if !items.contains(&item) && request_only(template) {
                    items.push(item);
                }
            }
        }
        CollectionsAhead { items }
    }
}

/// Whether every macro of `template` can be expanded from the request
/// line and headers alone.
fn request_only(template: &str) -> bool {
    let mut ok = true;
    expand(template, &mut |m: &Macro<'_>| {
        ok &= matches!(
            (m.collection.as_ref(), m.key),
            ("REMOTE_ADDR", None) | ("REQUEST_HEADERS", Some(_))
        );
        None
    });
    ok
}

impl CollectionsAhead {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// `(collection, key)` pairs, collection names lowercase, keys as the
    /// engine will expand them for this request.
    pub fn collections_for(&self, input: &RequestInput<'_>) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(self.items.len());
        for item in &self.items {
            let pair = match item {
                Ahead::Ip => ("ip".to_string(), input.remote_addr.to_string()),
                Ahead::Global => ("global".to_string(), "global".to_string()),
                Ahead::Initcol { name, template } => (name.clone(), key_for(template, input)),
            };
            if !out.contains(&pair) {
                out.push(pair);
            }
        }
        out
    }
}

/// The key as `Transaction::expand_text` makes it: an unknown header is
/// empty, a header's first value counts, bytes are read as UTF-8 lossily.
fn key_for(template: &str, input: &RequestInput<'_>) -> String {
    if !has_macros(template) {
        return template.to_string();
    }
    let bytes = expand(
        template,
        &mut |m: &Macro<'_>| match (m.collection.as_ref(), m.key) {
            ("REMOTE_ADDR", None) => Some(Cow::Borrowed(input.remote_addr.as_bytes())),
            ("REQUEST_HEADERS", Some(name)) => input
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
                .map(|(_, v)| Cow::Borrowed(*v)),
            _ => None,
        },
    );
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use crate::collection::{Collection, MemoryStore, PersistentStore};
    use crate::compile::compile;
    use crate::engine::Engine;
    use crate::parse::parse_str;
    use crate::request::RequestInput;
    use std::path::Path;
    use std::sync::{Arc, Mutex};

    /// Records what the engine really opens.
    #[derive(Default)]
    struct Recording(Mutex<Vec<(String, String)>>);

    impl PersistentStore for Recording {
        fn load(&self, name: &str, key: &str, _now: u64) -> Collection {
            if let Ok(mut seen) = self.0.lock() {
                seen.push((name.to_ascii_lowercase(), key.to_string()));
            }
            Collection::new()
        }
        fn update(&self, _: &str, _: &str, _: u64, _: &mut dyn FnMut(&mut Collection)) {}
    }

    fn engine_with(rules: &str, store: Arc<dyn PersistentStore>) -> Arc<Engine> {
        let Ok(directives) = parse_str(rules, "test.conf") else {
            panic!("rules do not parse");
        };
        let Ok(set) = compile(directives, Path::new(".")) else {
            panic!("rules do not compile");
        };
        Arc::new(Engine::new(set, store))
    }

    fn engine(rules: &str) -> Arc<Engine> {
        engine_with(rules, Arc::new(MemoryStore::new(3600, 100)))
    }

    fn input<'a>(headers: &'a [(&'a [u8], &'a [u8])]) -> RequestInput<'a> {
        RequestInput {
            method: "GET",
            uri: b"/",
            protocol: "HTTP/1.1",
            headers,
            remote_addr: "10.1.2.3",
            remote_port: 5555,
            body: None,
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    /// What a transaction on `input` loads from the store, in order.
    fn opened(rules: &str, input: &RequestInput<'_>) -> Vec<(String, String)> {
        let store = Arc::new(Recording::default());
        let e = engine_with(rules, store.clone());
        let mut t = e.transaction(input, "id");
        // The request-free prefix runs on a fake request first.
        if let Ok(mut seen) = store.0.lock() {
            seen.clear();
        }
        drop(t);
        t = e.transaction(input, "id");
        t.request_headers();
        t.request_body(None);
        let seen = store.0.lock().map(|s| s.clone()).unwrap_or_default();
        seen
    }

    #[test]
    fn automatic_collections_are_keyed_as_the_engine_opens_them() {
        let rules = "SecRule IP:LOGIN_ATTEMPT \"@gt 5\" \"id:1,deny\"\n\
                     SecAction \"id:2,pass,setvar:global.seen=+1\"\n";
        let ahead = engine(rules).collections_ahead();
        assert_eq!(
            ahead.collections_for(&input(&[])),
            pairs(&[("global", "global"), ("ip", "10.1.2.3")])
        );
        assert_eq!(
            ahead.collections_for(&input(&[])),
            opened(rules, &input(&[]))
        );
        assert!(engine("SecAction \"id:1,pass,setvar:tx.a=1\"\n")
            .collections_ahead()
            .is_empty());
    }

    #[test]
    fn initcol_keys_from_the_request_alone_are_expanded_others_left_out() {
        let rules =
            "SecAction \"id:1,pass,initcol:IP=%{REMOTE_ADDR}_%{request_headers.user-agent},\
                     initcol:user=%{REQUEST_HEADERS.X-User},initcol:global=global,\
                     initcol:resource=%{tx.ua_hash},setvar:ip.n=+1\"\n";
        let e = engine(rules);
        let headers: [(&[u8], &[u8]); 2] = [(b"User-Agent", b"curl/8"), (b"x-user", b"ann")];
        let ahead = e.collections_ahead().collections_for(&input(&headers));
        assert_eq!(
            ahead,
            pairs(&[
                ("ip", "10.1.2.3_curl/8"),
                ("user", "ann"),
                ("global", "global")
            ]),
            "IP is opened by initcol only, and the TX-keyed one is not known ahead"
        );
        let mut real = opened(rules, &input(&headers));
        assert_eq!(real.pop(), Some(("resource".into(), String::new())));
        assert_eq!(ahead, real, "the keys are the ones the engine opens");
        assert_eq!(
            e.collections_ahead().collections_for(&input(&[])),
            pairs(&[("ip", "10.1.2.3_"), ("user", ""), ("global", "global")]),
            "a missing header expands to nothing, as in the engine"
        );
    }
}
