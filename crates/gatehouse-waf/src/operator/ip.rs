//! `@ipMatch` / `@ipMatchFromFile`: the value (an IP in text form) against
//! a set of addresses and CIDRs.

use super::{read_list_file, CompileError};
use gatehouse_access::CidrSet;
use std::net::IpAddr;
use std::path::Path;

/// A compiled address set.
#[derive(Debug, Clone)]
pub struct IpMatch {
    set: CidrSet,
}

impl IpMatch {
    /// Comma-separated addresses and CIDRs.
    pub(crate) fn from_argument(argument: &str) -> Result<IpMatch, CompileError> {
        let mut set = CidrSet::new();
        add_list(&mut set, argument, "@ipMatch")?;
        if set.is_empty() {
            return Err(CompileError("`@ipMatch` needs at least one address".into()));
        }
        Ok(IpMatch { set })
    }

    /// One entry per line (commas also accepted) in each file of a
    /// whitespace-separated list; `#` starts a comment.
    pub(crate) fn from_files(argument: &str, base_dir: &Path) -> Result<IpMatch, CompileError> {
        const OP: &str = "@ipMatchFromFile";
        let mut set = CidrSet::new();
        let mut files = 0;
        for file in argument.split_ascii_whitespace() {
            files += 1;
            let bytes = read_list_file(OP, file, base_dir)?;
            let text = String::from_utf8_lossy(&bytes);
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or_default();
                add_list(&mut set, line, OP)
                    .map_err(|e| CompileError(format!("{file}: {}", e.0)))?;
            }
        }
        if files == 0 {
            return Err(CompileError(format!("`{OP}` needs a file name")));
        }
        Ok(IpMatch { set })
    }

    /// A value that is not an IP address does not match.
    pub(crate) fn matches(&self, value: &[u8]) -> bool {
        std::str::from_utf8(value)
            .ok()
            .and_then(|s| s.trim().parse::<IpAddr>().ok())
            .is_some_and(|ip| self.set.contains(ip))
    }
}

fn add_list(set: &mut CidrSet, list: &str, op: &str) -> Result<(), CompileError> {
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let normalized = normalize(entry).ok_or_else(|| {
            CompileError(format!("`{op}`: `{entry}` is not an IP address or CIDR"))
        })?;
        set.add(&normalized)
            .map_err(|e| CompileError(format!("`{op}`: {e}")))?;
    }
    Ok(())
}

/// Clears host bits (`10.0.0.1/8` → `10.0.0.0/8`): ModSecurity's tree masks
/// them, while `CidrSet` refuses them as a likely typo.
fn normalize(entry: &str) -> Option<String> {
    let Some((addr, len)) = entry.split_once('/') else {
        return entry.parse::<IpAddr>().ok().map(|ip| ip.to_string());
    };
    let addr: IpAddr = addr.trim().parse().ok()?;
    let len: u32 = len.trim().parse().ok()?;
    let masked = match addr {
        IpAddr::V4(v4) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            IpAddr::from((u32::from(v4) & mask).to_be_bytes())
        }
        IpAddr::V6(v6) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            IpAddr::from((u128::from(v6) & mask).to_be_bytes())
        }
        _ => return None,
    };
    Some(format!("{masked}/{len}"))
}
