//! Upstream target pools with lock-free smooth weighted round robin.
//!
//! The nginx smooth-WRR order is computed once per pool over a full cycle, so
//! picking is one atomic increment plus a short walk that skips ineligible
//! targets; worker threads never contend on a lock.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

/// Longest precomputed cycle; larger weight sums are scaled down to fit.
const MAX_CYCLE: usize = 65536;

/// A target as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub addr: SocketAddr,
    /// Name as configured, for the Host header, SNI and metric labels.
    pub host: String,
    /// Relative share of requests; 0 disables the target.
    pub weight: u32,
}

/// A target with its health state, shared by all workers.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    pub host: String,
    pub weight: u32,
    healthy: AtomicBool,
    /// Consecutive outcomes, maintained by the active health checker.
    pub(crate) counters: HealthCounters,
}

/// Consecutive probe outcomes; a success clears the failures and vice versa.
#[derive(Debug, Default)]
pub(crate) struct HealthCounters {
    pub(crate) successes: AtomicU32,
    pub(crate) http_failures: AtomicU32,
    pub(crate) tcp_failures: AtomicU32,
    pub(crate) timeouts: AtomicU32,
}

impl HealthCounters {
    pub(crate) fn reset(&self) {
        for c in [
            &self.successes,
            &self.http_failures,
            &self.tcp_failures,
            &self.timeouts,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

impl Target {
    fn new(spec: TargetSpec) -> Target {
        Target {
            addr: spec.addr,
            host: spec.host,
            weight: spec.weight,
            healthy: AtomicBool::new(true),
            counters: HealthCounters::default(),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Sets the health state; on a change the consecutive counters restart so
    /// the next flip needs a full threshold of fresh outcomes.
    pub fn set_healthy(&self, healthy: bool) {
        if self.healthy.swap(healthy, Ordering::Relaxed) != healthy {
            self.counters.reset();
        }
    }
}

/// The targets of one upstream and its precomputed pick order.
#[derive(Debug)]
pub struct Pool {
    targets: Vec<Target>,
    /// Target indexes in smooth-WRR order over one cycle.
    sequence: Vec<usize>,
    cursor: AtomicUsize,
}

impl Pool {
    pub fn new(targets: Vec<TargetSpec>) -> Pool {
        let weights: Vec<u32> = targets.iter().map(|t| t.weight).collect();
        Pool {
            sequence: smooth_wrr_cycle(&weights),
            targets: targets.into_iter().map(Target::new).collect(),
            cursor: AtomicUsize::new(0),
        }
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Picks the next healthy target in smooth-WRR order, skipping indexes in
    /// `exclude` (already tried by this request) and unhealthy targets.
    /// `None` when no target is eligible.
    pub fn pick(&self, exclude: &[usize]) -> Option<usize> {
        let len = self.sequence.len();
        if len == 0 {
            return None;
        }
        // A retry (something excluded) looks from the current position
        // without taking a turn: otherwise a dead target would be first in
        // line for every request, its retry having consumed the live turn.
        let first_try = exclude.is_empty();
        let start = if first_try {
            self.cursor.fetch_add(1, Ordering::Relaxed)
        } else {
            self.cursor.load(Ordering::Relaxed)
        };
        for offset in 0..len {
            let idx = self.sequence[start.wrapping_add(offset) % len];
            let eligible =
                !exclude.contains(&idx) && self.targets.get(idx).is_some_and(Target::is_healthy);
            if eligible {
                if offset > 0 && first_try {
                    // Move the shared cursor past the skipped slots too, so the
                    // share of an ineligible target is spread over the others
                    // instead of all going to its successor in the sequence.
                    self.cursor.fetch_add(offset, Ordering::Relaxed);
                }
                return Some(idx);
            }
        }
        None
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Reduces weights by their gcd and, if the cycle would still exceed
/// [`MAX_CYCLE`], scales them down proportionally keeping each non-zero >= 1.
fn cycle_weights(weights: &[u32]) -> Vec<u64> {
    let mut w: Vec<u64> = weights.iter().map(|&w| u64::from(w)).collect();
    let g = w.iter().fold(0, |g, &x| gcd(g, x));
    if g == 0 {
        return w;
    }
    w.iter_mut().for_each(|x| *x /= g);
    let total: u64 = w.iter().sum();
    if total <= MAX_CYCLE as u64 {
        return w;
    }
    let nonzero = w.iter().filter(|&&x| x > 0).count() as u64;
    // Leave room for rounding each non-zero weight up to 1.
    let budget = (MAX_CYCLE as u64).saturating_sub(nonzero).max(1);
    for x in w.iter_mut().filter(|x| **x > 0) {
        let scaled = u128::from(*x) * u128::from(budget) / u128::from(total);
        *x = u64::try_from(scaled).unwrap_or(u64::MAX).max(1);
    }
    let g = w.iter().fold(0, |g, &x| gcd(g, x));
    if g > 1 {
        w.iter_mut().for_each(|x| *x /= g);
    }
    w
}

/// One full cycle of nginx's smooth weighted round robin: every step adds each
/// weight to its running score, picks the highest (first on ties) and
/// subtracts the total from the winner.
fn smooth_wrr_cycle(weights: &[u32]) -> Vec<usize> {
    let w = cycle_weights(weights);
    let total: u64 = w.iter().sum();
    let Ok(total_i) = i64::try_from(total) else {
        return Vec::new();
    };
    let len = usize::try_from(total).unwrap_or(0);
    let mut current = vec![0i64; w.len()];
    let mut sequence = Vec::with_capacity(len);
    for _ in 0..len {
        let mut best: Option<(usize, i64)> = None;
        for (i, (cur, &wi)) in current.iter_mut().zip(&w).enumerate() {
            if wi == 0 {
                continue;
            }
            *cur += wi as i64;
            if best.is_none_or(|(_, score)| *cur > score) {
                best = Some((i, *cur));
            }
        }
        if let Some((b, _)) = best {
            current[b] -= total_i;
            sequence.push(b);
        }
    }
    sequence
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn pool(weights: &[u32]) -> Pool {
        Pool::new(
            weights
                .iter()
                .enumerate()
                .map(|(i, &weight)| TargetSpec {
                    addr: SocketAddr::from(([127, 0, 0, 1], 8000 + i as u16)),
                    host: format!("t{i}"),
                    weight,
                })
                .collect(),
        )
    }

    fn picks(p: &Pool, n: usize, exclude: &[usize]) -> Vec<Option<usize>> {
        (0..n).map(|_| p.pick(exclude)).collect()
    }

    fn counts(p: &Pool, n: usize) -> Vec<usize> {
        let mut c = vec![0; p.targets().len()];
        for i in picks(p, n, &[]) {
            c[i.unwrap()] += 1;
        }
        c
    }

    #[test]
    fn nginx_smooth_sequence_for_5_1_1() {
        let p = pool(&[5, 1, 1]);
        let expected = [0, 0, 1, 0, 2, 0, 0];
        let got: Vec<usize> = picks(&p, 14, &[]).into_iter().flatten().collect();
        assert_eq!(got[..7], expected);
        assert_eq!(got[7..], expected);
    }

    #[test]
    fn equal_weights_alternate() {
        let p = pool(&[3, 3]);
        assert_eq!(p.sequence, vec![0, 1]);
        let got: Vec<_> = picks(&p, 4, &[]);
        assert_eq!(got, vec![Some(0), Some(1), Some(0), Some(1)]);
    }

    #[test]
    fn cycle_is_reduced_by_gcd() {
        assert_eq!(smooth_wrr_cycle(&[10, 20]).len(), 3);
        assert_eq!(smooth_wrr_cycle(&[4, 0, 6]), vec![2, 0, 2, 0, 2]);
    }

    #[test]
    fn large_weights_are_scaled_to_the_cycle_limit() {
        let seq = smooth_wrr_cycle(&[100_000, 1]);
        assert!(seq.len() <= MAX_CYCLE, "{}", seq.len());
        assert_eq!(seq.iter().filter(|&&i| i == 1).count(), 1);
        let seq = smooth_wrr_cycle(&[u32::MAX, u32::MAX - 1, 1, 0]);
        assert!(seq.len() <= MAX_CYCLE);
        assert!(seq.contains(&2));
        assert!(!seq.contains(&3));
        let ratio = seq.iter().filter(|&&i| i == 0).count() as f64
            / seq.iter().filter(|&&i| i == 1).count() as f64;
        assert!((ratio - 1.0).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn unhealthy_target_is_skipped_and_its_share_spread() {
        let p = pool(&[1, 1, 1]);
        p.targets()[0].set_healthy(false);
        assert_eq!(counts(&p, 100), vec![0, 50, 50]);
        p.targets()[0].set_healthy(true);
        assert!(picks(&p, 3, &[]).contains(&Some(0)));
    }

    #[test]
    fn all_unhealthy_gives_none() {
        let p = pool(&[2, 1]);
        for t in p.targets() {
            t.set_healthy(false);
        }
        assert_eq!(p.pick(&[]), None);
    }

    #[test]
    fn exclude_is_respected() {
        let p = pool(&[5, 1, 1]);
        for r in picks(&p, 50, &[0]) {
            assert!(matches!(r, Some(1 | 2)), "{r:?}");
        }
        assert_eq!(p.pick(&[0, 1, 2]), None);
        // Out-of-range indexes in exclude are harmless.
        assert!(p.pick(&[7]).is_some());
    }

    #[test]
    fn retries_do_not_take_a_turn() {
        // A request that fails on target 0 retries on 1; the next request
        // must start at 1's turn, not at 0's again.
        let p = pool(&[1, 1]);
        let mut firsts = Vec::new();
        for _ in 0..10 {
            let first = p.pick(&[]).unwrap();
            firsts.push(first);
            if first == 0 {
                assert_eq!(p.pick(&[0]), Some(1));
            }
        }
        assert_eq!(firsts.iter().filter(|&&t| t == 0).count(), 5, "{firsts:?}");
    }

    #[test]
    fn zero_weight_never_picked() {
        let p = pool(&[0, 1, 2]);
        assert_eq!(counts(&p, 30), vec![0, 10, 20]);
        assert_eq!(pool(&[0, 0]).pick(&[]), None);
        assert_eq!(pool(&[]).pick(&[]), None);
        // Disabled targets are still listed.
        assert_eq!(pool(&[0, 0]).targets().len(), 2);
    }

    #[test]
    fn set_healthy_resets_counters_only_on_change() {
        let p = pool(&[1]);
        let t = &p.targets()[0];
        t.counters.http_failures.store(2, Ordering::Relaxed);
        t.set_healthy(true);
        assert_eq!(t.counters.http_failures.load(Ordering::Relaxed), 2);
        t.set_healthy(false);
        assert!(!t.is_healthy());
        assert_eq!(t.counters.http_failures.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn concurrent_picks_are_valid_and_exactly_weighted() {
        let p = Arc::new(pool(&[5, 1, 1]));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = Arc::clone(&p);
                std::thread::spawn(move || {
                    let mut c = [0usize; 3];
                    for _ in 0..700 {
                        c[p.pick(&[]).unwrap()] += 1;
                    }
                    c
                })
            })
            .collect();
        let mut total = [0usize; 3];
        for t in threads {
            for (sum, n) in total.iter_mut().zip(t.join().unwrap()) {
                *sum += n;
            }
        }
        // Every cursor value is taken exactly once: 400 whole cycles.
        assert_eq!(total, [2000, 400, 400]);
    }

    #[test]
    fn pool_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Pool>();
    }
}
