//! A change to a collection as Redis operations, and a Redis hash back
//! into a collection. Pure functions: what the store sends is tested
//! without a server.

use gatehouse_waf::collection::Collection;
use std::collections::HashMap;

/// Field prefix of a variable's expiry (Unix seconds), as ModSecurity v2
/// keeps `expirevar` times inside the collection.
pub const EXPIRE_PREFIX: &str = "__expire_";

/// One change to one variable of a collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// The value was an integer and still is: add the difference, so that
    /// increments made by other nodes meanwhile are kept.
    Incr {
        name: String,
        by: i64,
    },
    Set {
        name: String,
        value: Vec<u8>,
    },
    /// The variable is gone, with its expiry.
    Del {
        name: String,
    },
    /// `expirevar`: gone at `at` (Unix seconds).
    ExpireAt {
        name: String,
        at: u64,
    },
    /// The variable no longer expires.
    Persist {
        name: String,
    },
}

/// The value as an integer when it is one written canonically (what
/// `setvar:x=+1` leaves); `007` or `5abc` are text and are set whole.
pub(crate) fn integer(v: &[u8]) -> Option<i64> {
    let n: i64 = std::str::from_utf8(v).ok()?.parse().ok()?;
    (n.to_string().as_bytes() == v).then_some(n)
}

/// The operations that turn `before` into `after`.
pub fn diff(before: &Collection, after: &Collection) -> Vec<Op> {
    let mut old: HashMap<&str, (&[u8], Option<u64>)> =
        before.entries().map(|(n, v, e)| (n, (v, e))).collect();
    let mut ops = Vec::new();
    for (name, value, expires) in after.entries() {
        let previous = old.remove(name);
        let value_changed = previous.is_none_or(|(v, _)| v != value);
        if value_changed {
            let by = previous
                .and_then(|(v, _)| integer(v))
                .zip(integer(value))
                .and_then(|(a, b)| b.checked_sub(a));
            ops.push(match by {
                Some(by) => Op::Incr {
                    name: name.to_string(),
                    by,
                },
                None => Op::Set {
                    name: name.to_string(),
                    value: value.to_vec(),
                },
            });
        }
        let old_expiry = previous.and_then(|(_, e)| e);
        if old_expiry != expires {
            ops.push(match expires {
                Some(at) => Op::ExpireAt {
                    name: name.to_string(),
                    at,
                },
                None => Op::Persist {
                    name: name.to_string(),
                },
            });
        }
    }
    let mut gone: Vec<&str> = old.into_keys().collect();
    gone.sort_unstable();
    ops.extend(gone.into_iter().map(|n| Op::Del {
        name: n.to_string(),
    }));
    ops
}

/// Writes a value: a variable whose expiry has passed is dropped first
/// (nodes that saw it expire simply left it), so neither the old count nor
/// the old timer leaks into the new value; an increment of a field that is
/// not an integer sets it to the increment (ModSecurity reads text as 0).
/// KEYS[1] the hash; ARGV op (`incr`/`set`), variable, value, now.
pub const WRITE_SCRIPT: &str = r"
local x = '__expire_' .. ARGV[2]
local at = tonumber(redis.call('HGET', KEYS[1], x))
if at and at <= tonumber(ARGV[4]) then redis.call('HDEL', KEYS[1], ARGV[2], x) end
if ARGV[1] == 'incr' then
  local r = redis.pcall('HINCRBY', KEYS[1], ARGV[2], ARGV[3])
  if type(r) == 'table' and r.err then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
else
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
end
return 0
";

/// The commands (arguments, command name first) applying `ops` to the hash
/// `key` at time `now`, then renewing the hash's own expiry to `ttl`.
pub fn commands(key: &str, ops: &[Op], now: u64, ttl: u64) -> Vec<Vec<Vec<u8>>> {
    let b = |s: &str| s.as_bytes().to_vec();
    let expire_field = |name: &str| format!("{EXPIRE_PREFIX}{name}").into_bytes();
    let write = |op: &str, name: &str, value: Vec<u8>| {
        vec![
            b("EVAL"),
            b(WRITE_SCRIPT),
            b("1"),
            b(key),
            b(op),
            b(name),
            value,
            now.to_string().into_bytes(),
        ]
    };
    let mut out: Vec<Vec<Vec<u8>>> = ops
        .iter()
        .map(|op| match op {
            Op::Incr { name, by } => write("incr", name, by.to_string().into_bytes()),
            Op::Set { name, value } => write("set", name, value.clone()),
            Op::Del { name } => vec![b("HDEL"), b(key), b(name), expire_field(name)],
            Op::ExpireAt { name, at } => vec![
                b("HSET"),
                b(key),
                expire_field(name),
                at.to_string().into_bytes(),
            ],
            Op::Persist { name } => vec![b("HDEL"), b(key), expire_field(name)],
        })
        .collect();
    if !out.is_empty() {
        out.push(vec![b("EXPIRE"), b(key), ttl.to_string().into_bytes()]);
    }
    out
}

/// A collection as `HGETALL` returned it, at time `now`: expired variables
/// are left out, the others keep their expiry.
pub fn collection_from(fields: &HashMap<Vec<u8>, Vec<u8>>, now: u64) -> Collection {
    let mut c = Collection::with_capacity(fields.len());
    for (name, value) in fields {
        if name.starts_with(EXPIRE_PREFIX.as_bytes()) {
            continue;
        }
        let mut expire_field = EXPIRE_PREFIX.as_bytes().to_vec();
        expire_field.extend_from_slice(name);
        let at = fields
            .get(&expire_field)
            .and_then(|v| std::str::from_utf8(v).ok()?.parse::<u64>().ok());
        if at.is_some_and(|at| at <= now) {
            continue;
        }
        let name = String::from_utf8_lossy(name);
        c.set(&name, value.clone());
        if let Some(at) = at {
            c.expire(&name, at - now, now);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coll(entries: &[(&str, &str, Option<u64>)]) -> Collection {
        let mut c = Collection::new();
        for (n, v, e) in entries {
            c.set(n, v.as_bytes().to_vec());
            if let Some(at) = e {
                c.expire(n, *at, 0);
            }
        }
        c
    }

    fn name(n: &str) -> String {
        n.to_string()
    }

    #[test]
    fn integers_become_increments_by_the_difference() {
        let ops = diff(&coll(&[("n", "5", None)]), &coll(&[("n", "6", None)]));
        assert_eq!(
            ops,
            [Op::Incr {
                name: name("n"),
                by: 1
            }]
        );
        let ops = diff(&coll(&[("n", "5", None)]), &coll(&[("n", "-3", None)]));
        assert_eq!(
            ops,
            [Op::Incr {
                name: name("n"),
                by: -8
            }]
        );
        assert!(diff(&coll(&[("n", "5", None)]), &coll(&[("n", "5", None)])).is_empty());
    }

    #[test]
    fn new_text_and_non_canonical_values_are_set_whole() {
        let set = |v: &str| Op::Set {
            name: name("n"),
            value: v.as_bytes().to_vec(),
        };
        assert_eq!(diff(&coll(&[]), &coll(&[("n", "1", None)])), [set("1")]);
        assert_eq!(
            diff(&coll(&[("n", "abc", None)]), &coll(&[("n", "2", None)])),
            [set("2")]
        );
        assert_eq!(
            diff(&coll(&[("n", "007", None)]), &coll(&[("n", "8", None)])),
            [set("8")]
        );
        assert_eq!(
            diff(&coll(&[("n", "1", None)]), &coll(&[("n", "x", None)])),
            [set("x")]
        );
    }

    #[test]
    fn removals_and_expiry_changes() {
        let ops = diff(
            &coll(&[("a", "1", None), ("b", "1", Some(50)), ("c", "1", None)]),
            &coll(&[("b", "1", Some(600)), ("c", "2", Some(60))]),
        );
        assert_eq!(
            ops.iter()
                .filter(|o| matches!(o, Op::Del { .. }))
                .collect::<Vec<_>>(),
            [&Op::Del { name: name("a") }]
        );
        assert!(ops.contains(&Op::ExpireAt {
            name: name("b"),
            at: 600
        }));
        assert!(ops.contains(&Op::Incr {
            name: name("c"),
            by: 1
        }));
        assert!(ops.contains(&Op::ExpireAt {
            name: name("c"),
            at: 60
        }));
        assert_eq!(ops.len(), 4, "{ops:?}");
        let mut persisted = coll(&[]);
        persisted.set("b", b"1".to_vec());
        assert_eq!(
            diff(&coll(&[("b", "1", Some(50))]), &persisted),
            [Op::Persist { name: name("b") }]
        );
    }

    fn text(cmds: &[Vec<Vec<u8>>]) -> Vec<Vec<String>> {
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| match String::from_utf8_lossy(a) {
                        s if s == WRITE_SCRIPT => "<script>".to_string(),
                        s => s.into_owned(),
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn operations_as_redis_commands() {
        let ops = [
            Op::Incr {
                name: name("login_attempt"),
                by: 1,
            },
            Op::ExpireAt {
                name: name("login_attempt"),
                at: 1600,
            },
            Op::Set {
                name: name("flag"),
                value: b"on".to_vec(),
            },
            Op::Del { name: name("old") },
            Op::Persist { name: name("kept") },
        ];
        let k = "gatehouse:ip:10.0.0.1";
        let expected: Vec<Vec<&str>> = vec![
            vec![
                "EVAL",
                "<script>",
                "1",
                k,
                "incr",
                "login_attempt",
                "1",
                "1000",
            ],
            vec!["HSET", k, "__expire_login_attempt", "1600"],
            vec!["EVAL", "<script>", "1", k, "set", "flag", "on", "1000"],
            vec!["HDEL", k, "old", "__expire_old"],
            vec!["HDEL", k, "__expire_kept"],
            vec!["EXPIRE", k, "3600"],
        ];
        assert_eq!(text(&commands(k, &ops, 1000, 3600)), expected);
        assert!(
            commands(k, &[], 1000, 3600).is_empty(),
            "no change, no command"
        );
    }

    #[test]
    fn hashes_read_back_with_expiry_honoured() {
        let fields: HashMap<Vec<u8>, Vec<u8>> = [
            ("login_attempt", "4"),
            ("__expire_login_attempt", "1600"),
            ("gone", "1"),
            ("__expire_gone", "1000"),
            ("flag", "on"),
        ]
        .iter()
        .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
        .collect();
        let c = collection_from(&fields, 1000);
        assert_eq!(c.get("login_attempt", 1000), Some(&b"4"[..]));
        assert_eq!(c.get("login_attempt", 1599), Some(&b"4"[..]));
        assert_eq!(c.get("login_attempt", 1600), None, "the expiry came along");
        assert_eq!(c.get("gone", 999), None, "expired at read time: left out");
        assert_eq!(c.get("flag", 99_999), Some(&b"on"[..]));
        assert_eq!(c.len(), 2, "no __expire_ entries as variables");
    }
}
