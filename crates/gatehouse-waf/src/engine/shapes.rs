//! What earlier requests taught about whole target lists. A group's
//! excluded set (see `Transaction::group_excluded_set`) is made on every
//! request from its variables' values, each one's learnt exclusions
//! intersected, although the data behind most lists rarely changes (a
//! client's headers and cookies, the hot paths). Here a set made from
//! values all remembered is kept, keyed by the request data the group
//! reads, and the next request with the same data takes it whole.
//!
//! The data is known in two steps. Each source (the query's arguments,
//! the headers, the path, ...) is looked up by its content, compared in
//! full, and is given a serial number on its second sighting (one-off
//! data costs a hash, not a copy); a group's set is keyed by the group
//! and the serials of its sources. A collision costs a miss, never a
//! wrong answer. Credentials are left out of the headers' content: a
//! group that reads one has a value not remembered, and is never kept.
//!
//! Exclusions are facts about values that only grow as requests teach
//! more, so a kept set may lack some learnt since: it is made afresh on
//! its 1st, 2nd, 4th, ... 512th use, then every 1024th.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use super::generations::{Generations, Lookup, Shards, Weighed};
use super::recall::MAX_LEN;
use super::targets::credential_header;
use super::Transaction;
use crate::compile::{Var, VariableRef};
use crate::hash::content_hash;
use crate::request::{Pairs, RequestVars};

/// Per shard, the newer generation of sources and that of group sets
/// each hold at most this many entries or bytes (see `Generations`): with
/// the older ones, at most 8 MB in all, and the probation tables' 512 KB.
const GENERATION_SOURCES: usize = 256;
const GENERATION_SOURCE_BYTES: usize = 128 * 1024;
const GENERATION_GROUPS: usize = 1024;
const GENERATION_GROUP_BYTES: usize = 128 * 1024;
/// Hashes of sources seen once, per shard: a table with one hash per
/// slot, a newer one taking the slot (no growth, no rehash, as one-off
/// data comes with every request).
const PROBATION: usize = 4096;
/// A group key holds the group and at most this many serials.
const KEY_SERIALS: usize = SOURCES;

/// Declares [`Source`] with `Source::ALL`, every source in order.
macro_rules! sources {
    ($($source:ident),* $(,)?) => {
        /// Where a variable's values come from: request data that stays
        /// put for the transaction.
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        pub(super) enum Source {
            $($source,)*
        }

        impl Source {
            const ALL: &'static [Source] = &[$(Source::$source,)*];
        }
    };
}

sources!(
    ArgsGet,
    ArgsPost,
    ArgsJson,
    ArgsGetNames,
    ArgsPostNames,
    ArgsJsonNames,
    Headers,
    HeaderNames,
    Cookies,
    CookieNames,
    Files,
    FileNames,
    MultipartHeaders,
    Uri,
    UriRaw,
    Filename,
    Basename,
    Line,
    Method,
    Protocol,
    QueryString,
    RemoteAddr,
    Xml,
    Body,
);

const SOURCES: usize = Source::ALL.len();

impl Source {
    /// The sources of `var`'s values; `None` when they are not kept
    /// here (anything else: TX, counts, flags, the response).
    fn of(var: &Var) -> Option<&'static [Source]> {
        use Source::*;
        Some(match var {
            Var::Args => &[ArgsGet, ArgsPost, ArgsJson],
            Var::ArgsGet => &[ArgsGet],
            Var::ArgsPost => &[ArgsPost, ArgsJson],
            Var::ArgsNames => &[ArgsGetNames, ArgsPostNames, ArgsJsonNames],
            Var::ArgsGetNames => &[ArgsGetNames],
            Var::ArgsPostNames => &[ArgsPostNames, ArgsJsonNames],
            Var::RequestHeaders => &[Headers],
            Var::RequestHeadersNames => &[HeaderNames],
            Var::RequestCookies => &[Cookies],
            Var::RequestCookiesNames => &[CookieNames],
            Var::Files => &[Files],
            Var::FilesNames => &[FileNames],
            Var::MultipartPartHeaders => &[MultipartHeaders],
            Var::RequestUri => &[Uri],
            Var::RequestUriRaw => &[UriRaw],
            Var::RequestFilename => &[Filename],
            Var::RequestBasename => &[Basename],
            Var::RequestLine => &[Line],
            Var::RequestMethod => &[Method],
            Var::RequestProtocol => &[Protocol],
            Var::QueryString => &[QueryString],
            Var::RemoteAddr => &[RemoteAddr],
            Var::Xml => &[Xml],
            Var::RequestBody => &[Body],
            _ => return None,
        })
    }

    /// Whether reading the body may change it.
    fn read_with_body(self) -> bool {
        use Source::*;
        matches!(
            self,
            ArgsPost
                | ArgsJson
                | ArgsPostNames
                | ArgsJsonNames
                | Files
                | FileNames
                | MultipartHeaders
                | Xml
                | Body
        )
    }

    /// Writes the content the source gives its variables (as
    /// `Transaction::collect` reads it) to `out`, tagged and with each
    /// part's length; `false` when it is not kept (a body too long to be
    /// remembered).
    fn write(self, vars: &RequestVars, body_phase: bool, out: &mut Vec<u8>) -> bool {
        use Source::*;
        out.push(self as u8);
        match self {
            ArgsGet => pairs(&vars.args_get, false, false, out),
            ArgsPost => pairs(&vars.args_post, false, false, out),
            ArgsJson => pairs(&vars.args_json, false, false, out),
            ArgsGetNames => pairs(&vars.args_get, true, false, out),
            ArgsPostNames => pairs(&vars.args_post, true, false, out),
            ArgsJsonNames => pairs(&vars.args_json, true, false, out),
            Headers => pairs(&vars.request_headers, false, true, out),
            HeaderNames => pairs(&vars.request_headers, true, true, out),
            Cookies => pairs(&vars.request_cookies, false, false, out),
            CookieNames => pairs(&vars.request_cookies, true, false, out),
            Files => pairs(&vars.files, false, false, out),
            FileNames => pairs(&vars.files, true, false, out),
            MultipartHeaders => pairs(&vars.multipart_part_headers, false, false, out),
            Uri => part(&vars.request_uri, out),
            UriRaw => part(&vars.request_uri_raw, out),
            Filename => part(&vars.request_filename, out),
            Basename => part(&vars.request_basename, out),
            Line => part(&vars.request_line, out),
            Method => part(&vars.request_method, out),
            Protocol => part(&vars.request_protocol, out),
            QueryString => part(&vars.query_string, out),
            RemoteAddr => part(vars.remote_addr.as_bytes(), out),
            // (Before the body is read, these have no value.)
            Xml => match (&vars.xml, body_phase) {
                (Some(x), true) => {
                    out.push(1);
                    part(&x.text, out);
                    for a in &x.attributes {
                        part(a, out);
                    }
                }
                _ => out.push(0),
            },
            Body if !body_phase => out.push(0),
            Body if vars.request_body.len() > MAX_LEN => return false,
            Body => {
                out.push(1);
                part(&vars.request_body, out);
            }
        }
        true
    }
}

fn part(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// A list's names, or names and values; with `credentials` (the
/// headers), a credential's value is left out (marked, so that no other
/// content reads the same).
fn pairs(list: &Pairs, names: bool, credentials: bool, out: &mut Vec<u8>) {
    for (k, v) in list {
        part(k, out);
        if names {
            continue;
        }
        match credentials && credential_header(k) {
            true => out.extend_from_slice(&u64::MAX.to_le_bytes()),
            false => part(v, out),
        }
    }
}

/// The sources of a target list's variables, a bit each (`None`: one
/// reads data not kept here), worked out once per group.
pub(super) fn sources_of(variables: &[VariableRef]) -> Option<u32> {
    variables.iter().try_fold(0, |mask, v| {
        let sources = Source::of(&v.var)?;
        Some(mask | sources.iter().fold(0, |m, s| m | 1 << *s as u32))
    })
}

/// A transaction's serials of its sources, worked out when first needed.
#[derive(Default)]
pub(super) struct Serials {
    /// Per source: `None` not yet worked out, `Some(None)` not kept.
    serials: [Option<Option<u64>>; SOURCES],
    /// The sources found not kept, a bit each.
    missing: u32,
    content: Vec<u8>,
}

impl Serials {
    /// Forgets the sources the body may change (made again as a phase
    /// starts).
    pub fn forget_body(&mut self) {
        for (s, &source) in self.serials.iter_mut().zip(Source::ALL) {
            if source.read_with_body() {
                *s = None;
                self.missing &= !(1 << source as u32);
            }
        }
    }
}

/// A group's key: the group, then the serials of its variables' sources.
pub(super) struct ShapeKey {
    words: [u64; KEY_SERIALS + 1],
    len: usize,
}

impl ShapeKey {
    fn as_slice(&self) -> &[u64] {
        self.words.get(..self.len).unwrap_or_default()
    }
}

/// What the shapes hold for a group key.
pub(super) enum Kept {
    /// The group's excluded set.
    Set(Arc<GroupEntry>),
    /// A set to make afresh (see the module's comment), then to keep
    /// with the uses it had.
    Due(u32),
}

pub(super) struct GroupEntry {
    key: Box<[u64]>,
    pub bits: Box<[u64]>,
    uses: AtomicU32,
}

/// Whether a kept set is made afresh on its `uses`-th use.
fn due(uses: u32) -> bool {
    (uses.is_power_of_two() && uses <= 512) || uses % 1024 == 0
}

struct SourceEntry {
    content: Box<[u8]>,
    serial: u64,
}

impl Weighed for SourceEntry {
    fn size(&self) -> usize {
        self.content.len() + 64
    }
    const LIMITS: (usize, usize) = (GENERATION_SOURCES, GENERATION_SOURCE_BYTES);
}

impl Weighed for GroupEntry {
    fn size(&self) -> usize {
        (self.key.len() + self.bits.len()) * 8 + 64
    }
    const LIMITS: (usize, usize) = (GENERATION_GROUPS, GENERATION_GROUP_BYTES);
}

#[derive(Default)]
struct Shard {
    sources: Generations<SourceEntry>,
    seen_once: Vec<u64>,
    groups: Generations<GroupEntry>,
}

/// The engine's memory of target lists (see the module's comment).
pub(super) struct Shapes {
    shards: Shards<Shard>,
    next_serial: AtomicU64,
}

impl Shapes {
    pub fn new() -> Shapes {
        Shapes {
            shards: Shards::new(0x7368_6170_6573),
            next_serial: AtomicU64::new(1),
        }
    }

    /// The serial of a source's content; `None` on its first sighting.
    fn serial(&self, content: &[u8]) -> Option<u64> {
        let hash = content_hash(self.shards.seed, content);
        let mut shard = self.shards.lock(hash)?;
        match shard.sources.get(hash, |e| *e.content == *content) {
            Lookup::Found(e) => return Some(e.serial),
            Lookup::Other => return None,
            Lookup::Absent => {}
        }
        let slot = (hash >> 32) as usize % PROBATION;
        if shard.seen_once.is_empty() {
            shard.seen_once.resize(PROBATION, 0);
        }
        if shard.seen_once.get(slot) == Some(&hash) {
            if let Some(seen) = shard.seen_once.get_mut(slot) {
                *seen = 0;
            }
            let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
            let entry = SourceEntry {
                content: content.into(),
                serial,
            };
            shard.sources.insert(hash, Arc::new(entry));
            return Some(serial);
        }
        if let Some(seen) = shard.seen_once.get_mut(slot) {
            *seen = hash;
        }
        None
    }

    fn key_hash(&self, key: &[u64]) -> u64 {
        key.iter().fold(self.shards.seed, |h, w| {
            (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95)
        })
    }

    /// What is kept for group key `key`, if anything.
    pub fn group(&self, key: &ShapeKey) -> Option<Kept> {
        let key = key.as_slice();
        let hash = self.key_hash(key);
        let Lookup::Found(entry) = self.shards.lock(hash)?.groups.get(hash, |e| *e.key == *key)
        else {
            return None;
        };
        let uses = entry.uses.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        Some(match due(uses) {
            true => Kept::Due(uses),
            false => Kept::Set(entry),
        })
    }

    /// How many group sets are kept.
    pub fn len(&self) -> usize {
        self.shards.sum(|s| s.groups.len())
    }

    /// Keeps group key `key`'s excluded set `bits`, used `uses` times.
    pub fn put_group(&self, key: &ShapeKey, bits: &[u64], uses: u32) {
        let key = key.as_slice();
        let hash = self.key_hash(key);
        let entry = GroupEntry {
            key: key.into(),
            bits: bits.into(),
            uses: AtomicU32::new(uses),
        };
        if let Some(mut shard) = self.shards.lock(hash) {
            shard.groups.insert(hash, Arc::new(entry));
        }
    }
}

impl Transaction {
    /// Group `g`'s key, from `sources` (see [`sources_of`]): `None` when
    /// some of that data is not kept, or seen for the first time.
    pub(super) fn shape_key(
        &mut self,
        shapes: &Shapes,
        g: usize,
        sources: u32,
    ) -> Option<ShapeKey> {
        if sources & self.serials.missing != 0 {
            return None;
        }
        let mut key = ShapeKey {
            words: [0; KEY_SERIALS + 1],
            len: 1,
        };
        *key.words.first_mut()? = g as u64;
        let mut rest = sources;
        while rest != 0 {
            let source = *Source::ALL.get(rest.trailing_zeros() as usize)?;
            rest &= rest - 1;
            let serial = self.source_serial(shapes, source)?;
            *key.words.get_mut(key.len)? = serial;
            key.len += 1;
        }
        Some(key)
    }

    fn source_serial(&mut self, shapes: &Shapes, source: Source) -> Option<u64> {
        let at = source as usize;
        if let Some(known) = self.serials.serials.get(at).copied().flatten() {
            return known;
        }
        let mut content = std::mem::take(&mut self.serials.content);
        content.clear();
        let serial = match source.write(&self.vars, self.phase >= 2, &mut content) {
            true => shapes.serial(&content),
            false => None,
        };
        self.serials.content = content;
        if let Some(s) = self.serials.serials.get_mut(at) {
            *s = Some(serial);
        }
        if serial.is_none() {
            self.serials.missing |= 1 << at;
        }
        serial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_gets_a_serial_on_its_second_sighting_by_content() {
        let s = Shapes::new();
        assert_eq!(s.serial(b"a"), None);
        let a = s.serial(b"a").expect("second sighting");
        assert_eq!(s.serial(b"a"), Some(a));
        assert_eq!(s.serial(b"b"), None);
        let b = s.serial(b"b").expect("second sighting");
        assert_ne!(a, b);
    }

    #[test]
    fn a_kept_set_is_made_afresh_on_a_schedule() {
        let s = Shapes::new();
        let key = |g: u64, serial: u64| {
            let mut k = ShapeKey {
                words: [0; KEY_SERIALS + 1],
                len: 2,
            };
            k.words[0] = g;
            k.words[1] = serial;
            k
        };
        assert!(s.group(&key(1, 7)).is_none());
        s.put_group(&key(1, 7), &[5], 0);
        assert!(s.group(&key(2, 7)).is_none());
        assert!(s.group(&key(1, 8)).is_none());
        let mut made = Vec::new();
        for _ in 0..2100 {
            match s.group(&key(1, 7)) {
                Some(Kept::Set(e)) => assert_eq!(*e.bits, [5]),
                Some(Kept::Due(uses)) => {
                    made.push(uses);
                    s.put_group(&key(1, 7), &[5], uses);
                }
                None => panic!("lost"),
            }
        }
        assert_eq!(made, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]);
    }

    #[test]
    fn memory_is_bounded_and_keeps_what_is_used() {
        let s = Shapes::new();
        let key = |g: u64| {
            let mut k = ShapeKey {
                words: [0; KEY_SERIALS + 1],
                len: 2,
            };
            k.words[0] = g;
            k.words[1] = 1;
            k
        };
        let bits = [0u64; 16];
        s.put_group(&key(0), &bits, 3);
        for g in 1..40_000 {
            s.put_group(&key(g), &bits, 3);
            // A set in use keeps moving back to the newer generation.
            if g % 64 == 0 {
                assert!(s.group(&key(0)).is_some(), "lost after {g}");
            }
        }
        let size = (2 + bits.len()) * 8 + 64;
        let per_generation = GENERATION_GROUPS.min(GENERATION_GROUP_BYTES / size + 1);
        assert!(
            s.len() <= 2 * super::super::generations::SHARDS * per_generation,
            "{}",
            s.len()
        );
        assert!(s.group(&key(1)).is_none());
    }

    #[test]
    fn credentials_are_not_in_a_sources_content() {
        let mut vars = RequestVars {
            request_headers: vec![
                (b"Authorization".to_vec(), b"Bearer secret".to_vec()),
                (b"Accept".to_vec(), b"*/*".to_vec()),
            ],
            ..RequestVars::default()
        };
        let mut out = Vec::new();
        assert!(Source::Headers.write(&vars, false, &mut out));
        assert!(!out.windows(6).any(|w| w == b"secret"));
        let with_other = {
            vars.request_headers[0].1 = b"Bearer other".to_vec();
            let mut o = Vec::new();
            Source::Headers.write(&vars, false, &mut o);
            o
        };
        assert_eq!(out, with_other);
        vars.request_headers[1].1 = b"text/html".to_vec();
        let mut changed = Vec::new();
        Source::Headers.write(&vars, false, &mut changed);
        assert_ne!(out, changed);
    }
}
