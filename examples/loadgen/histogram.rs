//! The latency histogram: log-linear buckets, fixed size, so recording a
//! round trip never allocates.

use std::time::Duration;

/// Latencies in log-linear buckets: exact below 128 ns, then 64 buckets per
/// power of two (under 1.6 % error), up to about 18 minutes. Fixed size, so
/// recording never allocates.
pub(crate) struct Histogram {
    pub(crate) counts: Box<[u64]>,
    pub(crate) total: u64,
    pub(crate) sum_ns: u128,
    pub(crate) max_ns: u64,
}

pub(crate) const LINEAR: u64 = 128;
pub(crate) const SUB_BITS: u32 = 6;
pub(crate) const SUB: u64 = 1 << SUB_BITS;
pub(crate) const MAX_EXP: u32 = 40;
pub(crate) const BUCKETS: usize = (LINEAR + (MAX_EXP as u64 - 6) * SUB) as usize;

impl Histogram {
    pub(crate) fn new() -> Histogram {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            total: 0,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    pub(crate) fn index(ns: u64) -> usize {
        if ns < LINEAR {
            return ns as usize;
        }
        let exp = 63 - ns.leading_zeros(); // 7 and up
        let sub = (ns >> (exp - SUB_BITS)) & (SUB - 1);
        let i = LINEAR + u64::from(exp - 7) * SUB + sub;
        (i as usize).min(BUCKETS - 1)
    }

    /// The middle of bucket `i`.
    pub(crate) fn value(i: usize) -> u64 {
        let i = i as u64;
        if i < LINEAR {
            return i;
        }
        let exp = 7 + (i - LINEAR) / SUB;
        let sub = (i - LINEAR) % SUB;
        let width = 1u64 << (exp - u64::from(SUB_BITS));
        (SUB + sub) * width + width / 2
    }

    pub(crate) fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::index(ns)] += 1;
        self.total += 1;
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    pub(crate) fn clear(&mut self) {
        self.counts.fill(0);
        self.total = 0;
        self.sum_ns = 0;
        self.max_ns = 0;
    }

    /// The latency under which a fraction `q` of the messages came back, in µs.
    pub(crate) fn quantile_us(&self, q: f64) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::value(i).min(self.max_ns) as f64 / 1000.0;
            }
        }
        self.max_ns as f64 / 1000.0
    }

    pub(crate) fn mean_us(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        self.sum_ns as f64 / self.total as f64 / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in (0..5_000_000u64).step_by(997).chain([u64::MAX / 4]) {
            let i = Histogram::index(ns);
            assert!(i >= last, "bucket order at {ns}");
            last = i;
            let v = Histogram::value(i);
            if i + 1 < BUCKETS {
                let err = (v as f64 - ns as f64).abs() / (ns.max(1) as f64);
                assert!(err <= 1.0 / 64.0, "{ns} ns reads back as {v}");
            }
        }
    }

    #[test]
    fn histogram_quantiles() {
        let mut h = Histogram::new();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        let close = |got: f64, want: f64| (got - want).abs() / want < 0.02;
        assert!(close(h.quantile_us(0.5), 500.0), "{}", h.quantile_us(0.5));
        assert!(close(h.quantile_us(0.99), 990.0), "{}", h.quantile_us(0.99));
        assert_eq!(h.max_ns, 1_000_000);
        assert!(close(h.mean_us(), 500.5));
        h.clear();
        assert_eq!(h.quantile_us(0.99), 0.0);
    }
}
