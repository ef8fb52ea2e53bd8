//! The one fast hash the engine uses for bytes it keys tables by: value
//! contents (the scan cache, and with a per-engine seed the recall) and
//! collection names. Neither is attacker-chosen in bulk into one table
//! without a seed or a bound, so SipHash's cost buys nothing there.

/// A hash of `value` from `seed`, eight bytes a step (the last step's
/// word padded with zeros: the length, mixed in first, tells `ab` from
/// `ab\0`).
pub(crate) fn content_hash(seed: u64, value: &[u8]) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mut h: u64 = seed ^ value.len() as u64;
    let mut chunks = value.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}
