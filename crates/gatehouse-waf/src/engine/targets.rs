//! Variables resolved to the values a rule inspects: a collection, its
//! selector, the rule's exclusions and those `ctl` added at run time.

use super::Transaction;
use crate::collection::{Collection, Name};
use crate::compile::{CompiledRule, Key, Var, VariableRef};
use std::borrow::Cow;

/// One value handed to an operator, with what names it in
/// `MATCHED_VAR_NAME` (`ARGS:id`, `REQUEST_URI`).
#[derive(Debug, Clone)]
pub struct Value<'a> {
    pub collection: &'a str,
    pub key: Option<Cow<'a, [u8]>>,
    pub value: Cow<'a, [u8]>,
    /// Borrowed from the request for the whole phase: its transformed
    /// forms may be cached by address.
    pub stable: bool,
}

impl Value<'_> {
    /// `COLLECTION:key` or `COLLECTION`.
    pub fn name(&self) -> String {
        var_name(self.collection, self.key.as_deref())
    }

    /// A credential (`Authorization`, `Proxy-Authorization`): evaluated
    /// like any value, never kept past the request.
    pub(super) fn is_credential(&self) -> bool {
        self.collection == Var::RequestHeaders.name()
            && self.key.as_deref().is_some_and(credential_header)
    }
}

/// Whether a request header of this name carries a credential.
pub(super) fn credential_header(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"authorization") || name.eq_ignore_ascii_case(b"proxy-authorization")
}

/// `COLLECTION:key` or `COLLECTION`: a matched value's name.
pub(super) fn var_name(collection: &str, key: Option<&[u8]>) -> String {
    match key {
        Some(k) => {
            let key = String::from_utf8_lossy(k);
            let mut name = String::with_capacity(collection.len() + 1 + key.len());
            name.push_str(collection);
            name.push(':');
            name.push_str(&key);
            name
        }
        None => collection.to_string(),
    }
}

fn bool_value(b: bool) -> Cow<'static, [u8]> {
    Cow::Borrowed(if b { b"1" } else { b"0" })
}

fn number(n: impl ToString) -> Cow<'static, [u8]> {
    Cow::Owned(n.to_string().into_bytes())
}

/// Whether `key` survives the selector and exclusions.
fn selected(r: &VariableRef, extra: &[&Key], key: &[u8]) -> bool {
    if r.selector.is_none() && r.exclusions.is_empty() && extra.is_empty() {
        return true;
    }
    if let Some(sel) = &r.selector {
        if !sel.matches_bytes(key) {
            return false;
        }
    }
    !r.exclusions
        .iter()
        .chain(extra.iter().copied())
        .any(|e| e.matches_bytes(key))
}

impl Transaction {
    /// Hands each value of `r` for the rule `rule` to `out`, without
    /// collecting them; a counting target (`&ARGS`) yields one value.
    pub(super) fn each_value<'s>(
        &'s self,
        r: &'s VariableRef,
        rule: &CompiledRule,
        out: &mut dyn FnMut(Value<'s>),
    ) {
        if r.count {
            if let Some(n) = self.count(r, rule) {
                out(Value {
                    collection: r.var.name(),
                    key: None,
                    value: number(n),
                    stable: false,
                });
            }
            return;
        }
        if let Some(extra) = self.removals(r, rule) {
            self.collect(r, &extra, out);
        }
    }

    /// The keys `ctl` removed from `r` for the rule `rule`; `None` when it
    /// removed the whole collection, which then has no value at all.
    fn removals(&self, r: &VariableRef, rule: &CompiledRule) -> Option<Vec<&Key>> {
        let extra = self.removed_target_keys(r, rule);
        (!extra
            .iter()
            .any(|k| matches!(k, Key::Name(n) if n.is_empty())))
        .then_some(extra)
    }

    /// How many values `r` has for the rule `rule` (what `&r` counts);
    /// `None` when a `ctl` removed the whole collection from the rule,
    /// which then has no value at all, not even a count.
    pub(super) fn count(&self, r: &VariableRef, rule: &CompiledRule) -> Option<usize> {
        let extra = self.removals(r, rule)?;
        let mut n = 0usize;
        self.collect(r, &extra, &mut |_| n += 1);
        Some(n)
    }

    /// Every value of `r` regardless of `ctl` removals: a superset of what
    /// any rule with this target sees (for prefilter unions).
    pub(super) fn all_values<'s>(&'s self, r: &'s VariableRef, out: &mut dyn FnMut(Value<'s>)) {
        self.collect(r, &[], out);
    }

    fn collect<'s>(&'s self, r: &'s VariableRef, extra: &[&Key], out: &mut dyn FnMut(Value<'s>)) {
        let v = &self.vars;
        let name = r.var.name();
        let pairs =
            |list: &'s [(Vec<u8>, Vec<u8>)], names: bool, out: &mut dyn FnMut(Value<'s>)| {
                for (k, val) in list {
                    if selected(r, extra, k) {
                        out(Value {
                            collection: name,
                            key: Some(Cow::Borrowed(k)),
                            value: Cow::Borrowed(if names { k } else { val }),
                            stable: true,
                        });
                    }
                }
            };
        let scalar = |value: Cow<'s, [u8]>, stable: bool, out: &mut dyn FnMut(Value<'s>)| {
            if r.selector.is_none() {
                out(Value {
                    collection: name,
                    key: None,
                    value,
                    stable,
                });
            }
        };
        let body_phase = self.phase >= 2;
        // A value named by its selector (`XML:/*`).
        let scalar_any = |value: Cow<'s, [u8]>, out: &mut dyn FnMut(Value<'s>)| {
            out(Value {
                collection: name,
                key: r.selector.as_ref().map(|_| Cow::Borrowed(&b"/*"[..])),
                value,
                stable: true,
            });
        };
        match &r.var {
            Var::Args => {
                pairs(&v.args_get, false, out);
                pairs(&v.args_post, false, out);
                pairs(&v.args_json, false, out);
            }
            Var::ArgsGet => pairs(&v.args_get, false, out),
            Var::ArgsPost => {
                pairs(&v.args_post, false, out);
                pairs(&v.args_json, false, out);
            }
            Var::ArgsNames => {
                pairs(&v.args_get, true, out);
                pairs(&v.args_post, true, out);
                pairs(&v.args_json, true, out);
            }
            Var::ArgsGetNames => pairs(&v.args_get, true, out),
            Var::ArgsPostNames => {
                pairs(&v.args_post, true, out);
                pairs(&v.args_json, true, out);
            }
            Var::ArgsCombinedSize => scalar(number(v.args_combined_size), false, out),
            Var::RequestHeaders => pairs(&v.request_headers, false, out),
            Var::RequestHeadersNames => pairs(&v.request_headers, true, out),
            Var::RequestCookies => pairs(&v.request_cookies, false, out),
            Var::RequestCookiesNames => pairs(&v.request_cookies, true, out),
            Var::Files => pairs(&v.files, false, out),
            Var::FilesNames => pairs(&v.files, true, out),
            Var::FilesSizes => {
                for (k, size) in &v.files_sizes {
                    if selected(r, extra, k) {
                        out(Value {
                            collection: name,
                            key: Some(Cow::Borrowed(k)),
                            value: number(size),
                            stable: false,
                        });
                    }
                }
            }
            Var::MultipartPartHeaders => pairs(&v.multipart_part_headers, false, out),
            Var::RequestUri => scalar(Cow::Borrowed(&v.request_uri), true, out),
            Var::RequestUriRaw => scalar(Cow::Borrowed(&v.request_uri_raw), true, out),
            Var::RequestFilename => scalar(Cow::Borrowed(&v.request_filename), true, out),
            Var::RequestBasename => scalar(Cow::Borrowed(&v.request_basename), true, out),
            Var::RequestLine => scalar(Cow::Borrowed(&v.request_line), true, out),
            Var::RequestMethod => scalar(Cow::Borrowed(&v.request_method), true, out),
            Var::RequestProtocol => scalar(Cow::Borrowed(&v.request_protocol), true, out),
            Var::QueryString => scalar(Cow::Borrowed(&v.query_string), true, out),
            Var::RemoteAddr => scalar(Cow::Borrowed(v.remote_addr.as_bytes()), true, out),
            Var::RemotePort => scalar(number(v.remote_port), false, out),
            Var::UniqueId => scalar(Cow::Borrowed(self.unique_id.as_bytes()), true, out),
            Var::RequestBody if body_phase => scalar(Cow::Borrowed(&v.request_body), true, out),
            Var::RequestBodyLength if body_phase => {
                scalar(number(v.request_body_length), false, out)
            }
            Var::FilesCombinedSize if body_phase => {
                scalar(number(v.files_combined_size), false, out)
            }
            Var::FullRequest => scalar(Cow::Owned(v.full_request()), false, out),
            Var::FullRequestLength => scalar(number(v.full_request().len()), false, out),
            Var::ReqbodyError if body_phase => scalar(bool_value(v.reqbody_error), false, out),
            Var::ReqbodyErrorMsg if body_phase => {
                scalar(Cow::Borrowed(v.reqbody_error_msg.as_bytes()), false, out)
            }
            Var::ReqbodyProcessorError if body_phase => {
                scalar(bool_value(v.reqbody_processor_error), false, out)
            }
            Var::ReqbodyProcessorErrorMsg if body_phase => scalar(
                Cow::Borrowed(v.reqbody_processor_error_msg.as_bytes()),
                false,
                out,
            ),
            Var::ReqbodyProcessor => {
                let p = self.processor_name();
                if !p.is_empty() {
                    scalar(Cow::Borrowed(p.as_bytes()), false, out);
                }
            }
            Var::UrlencodedError => scalar(bool_value(v.urlencoded_error), false, out),
            Var::MultipartStrictError if body_phase => {
                scalar(bool_value(v.multipart.strict_error), false, out)
            }
            Var::MultipartUnmatchedBoundary if body_phase => {
                scalar(number(v.multipart.unmatched_boundary), false, out)
            }
            Var::MultipartBoundaryQuoted if body_phase => {
                scalar(bool_value(v.multipart.boundary_quoted), false, out)
            }
            Var::MultipartBoundaryWhitespace if body_phase => {
                scalar(bool_value(v.multipart.boundary_whitespace), false, out)
            }
            Var::MultipartDataBefore if body_phase => {
                scalar(bool_value(v.multipart.data_before), false, out)
            }
            Var::MultipartDataAfter if body_phase => {
                scalar(bool_value(v.multipart.data_after), false, out)
            }
            Var::MultipartHeaderFolding if body_phase => {
                scalar(bool_value(v.multipart.header_folding), false, out)
            }
            Var::MultipartLfLine if body_phase => {
                scalar(bool_value(v.multipart.lf_line), false, out)
            }
            Var::MultipartMissingSemicolon if body_phase => {
                scalar(bool_value(v.multipart.missing_semicolon), false, out)
            }
            Var::MultipartInvalidQuoting if body_phase => {
                scalar(bool_value(v.multipart.invalid_quoting), false, out)
            }
            Var::MultipartInvalidPart if body_phase => {
                scalar(bool_value(v.multipart.invalid_part), false, out)
            }
            Var::MultipartInvalidHeaderFolding if body_phase => {
                scalar(bool_value(v.multipart.invalid_header_folding), false, out)
            }
            Var::MultipartFileLimitExceeded if body_phase => {
                scalar(bool_value(v.multipart.file_limit_exceeded), false, out)
            }
            Var::Tx => self.collection_values(&self.tx, r, extra, name, out),
            Var::Ip | Var::Global | Var::Session | Var::User | Var::Resource => {
                if let Some((_, c)) = self.persistent.get(&name.to_ascii_lowercase()) {
                    self.collection_values(c, r, extra, name, out);
                }
            }
            Var::MatchedVar => {
                if let Some((_, value)) = self.matched.last() {
                    scalar(Cow::Borrowed(value), false, out);
                }
            }
            Var::MatchedVarName => {
                if let Some((n, _)) = self.matched.last() {
                    scalar(Cow::Borrowed(n.as_bytes()), false, out);
                }
            }
            Var::MatchedVars | Var::MatchedVarsNames => {
                for (n, value) in &self.matched {
                    if selected(r, extra, n.as_bytes()) {
                        let names = r.var == Var::MatchedVarsNames;
                        out(Value {
                            collection: name,
                            key: Some(Cow::Borrowed(n.as_bytes())),
                            value: Cow::Borrowed(if names { n.as_bytes() } else { value }),
                            stable: false,
                        });
                    }
                }
            }
            Var::ResponseStatus => {
                if let Some(resp) = &self.response {
                    scalar(number(resp.status), false, out);
                }
            }
            Var::ResponseProtocol => {
                if let Some(resp) = &self.response {
                    scalar(Cow::Borrowed(resp.protocol.as_bytes()), false, out);
                }
            }
            Var::ResponseHeaders | Var::ResponseHeadersNames => {
                if let Some(resp) = &self.response {
                    pairs(&resp.headers, r.var == Var::ResponseHeadersNames, out);
                }
            }
            Var::ResponseContentType => {
                if let Some(resp) = &self.response {
                    if let Some((_, ct)) = resp
                        .headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(b"content-type"))
                    {
                        scalar(Cow::Borrowed(ct), false, out);
                    }
                }
            }
            Var::HighestSeverity => scalar(number(self.highest_severity), false, out),
            Var::Duration => scalar(number(self.started.elapsed().as_micros()), false, out),
            Var::TimeEpoch => scalar(number(self.now), false, out),
            // `XML:/*` (or no selector) is the document's text, `XML://@*`
            // its attribute values; other XPath expressions see nothing.
            Var::Xml if body_phase => {
                if let Some(x) = &v.xml {
                    match &r.selector {
                        None => scalar_any(Cow::Borrowed(&x.text), out),
                        Some(Key::Name(p)) if p == "/*" => scalar_any(Cow::Borrowed(&x.text), out),
                        Some(Key::Name(p)) if p == "//@*" => {
                            for a in &x.attributes {
                                out(Value {
                                    collection: name,
                                    key: Some(Cow::Borrowed(b"//@*")),
                                    value: Cow::Borrowed(a),
                                    stable: true,
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            // The remaining variables have no meaning at a gateway.
            _ => {}
        }
    }

    fn collection_values<'s>(
        &'s self,
        c: &'s Collection,
        r: &'s VariableRef,
        extra: &[&Key],
        name: &'s str,
        out: &mut dyn FnMut(Value<'s>),
    ) {
        if let Some(Key::Name(k)) = &r.selector {
            // The common case (`TX:score`): a lookup, not a scan. Selector
            // names are lowercase already.
            if !extra.iter().any(|e| e.matches(k)) {
                if let Some(value) = c.get_lowercase(k, self.now) {
                    out(Value {
                        collection: name,
                        key: Some(Cow::Borrowed(k.as_bytes())),
                        value: Cow::Borrowed(value),
                        stable: false,
                    });
                }
            }
            return;
        }
        // Selected first: a regex selector picks a few of TX's many keys.
        let mut entries: Vec<(&str, &[u8])> = match self.tx_candidates(r) {
            // Only the names it selected in the prefix's TX, and those
            // added since, can be selected.
            Some((base, added)) => base
                .iter()
                .map(String::as_str)
                .chain(added.iter().map(Name::as_str))
                .filter(|k| selected(r, extra, k.as_bytes()))
                .filter_map(|k| Some((k, c.get_lowercase(k, self.now)?)))
                .collect(),
            None => c
                .iter(self.now)
                .filter(|(k, _)| selected(r, extra, k.as_bytes()))
                .collect(),
        };
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // (A name removed and added again is listed twice.)
        entries.dedup_by(|a, b| a.0 == b.0);
        for (k, value) in entries {
            out(Value {
                collection: name,
                key: Some(Cow::Borrowed(k.as_bytes())),
                value: Cow::Borrowed(value),
                stable: false,
            });
        }
    }

    /// For a `TX:/regex/` selector (read from this transaction's TX): the
    /// names it selected in the prefix's TX, and the names added since.
    fn tx_candidates(&self, r: &VariableRef) -> Option<(&[String], &[Name])> {
        let (Var::Tx, Some(Key::Regex(re))) = (&r.var, &r.selector) else {
            return None;
        };
        let added = self.tx.added()?;
        let prefix = self.engine.prefix.get()?.as_ref()?;
        Some((prefix.tx_selected(re.as_str())?, added))
    }

    /// Keys `ctl:ruleRemoveTargetById/ByTag` removed for this rule and
    /// collection; an empty name stands for the whole collection.
    pub(super) fn removed_target_keys<'s>(
        &'s self,
        r: &VariableRef,
        rule: &CompiledRule,
    ) -> Vec<&'s Key> {
        if self.removed_targets.is_empty() {
            return Vec::new();
        }
        self.removed_targets
            .iter()
            .filter(|(scope, t)| t.var == r.var && scope.covers(rule))
            .map(|(_, t)| t.selector.as_ref().unwrap_or(&WHOLE))
            .collect()
    }
}

static WHOLE: Key = Key::Name(String::new());
