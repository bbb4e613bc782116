//! A latency histogram on atomics: fixed buckets, no lock and no allocation per observation,
//! so it can sit on the decode path and in the journal writer. Read at scrape time and
//! encoded as a Prometheus histogram (cumulative buckets, `_sum`, `_count`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds in seconds, shared by every latency histogram here: 10 µs to 10 s, roughly
/// 1-2.5-5 per decade (decoding a burst takes microseconds, an fsync milliseconds).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 1.0, 10.0,
];

/// Observations per bucket (not cumulative; the last is +Inf), their sum in nanoseconds and
/// their count.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_nanos: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Count one observation.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// (sum in seconds, count, cumulative buckets `(upper bound, count)` with +Inf last).
    /// Read bucket by bucket without a lock: a scrape during an observation may be one off
    /// between the parts, which Prometheus tolerates.
    pub fn read(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let mut cumulative = 0;
        let mut out = Vec::with_capacity(self.buckets.len());
        for (i, b) in self.buckets.iter().enumerate() {
            cumulative += b.load(Ordering::Relaxed);
            let bound = LATENCY_BUCKETS.get(i).copied().unwrap_or(f64::INFINITY);
            out.push((bound, cumulative));
        }
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        (sum, cumulative, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_cumulative_buckets() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(5));
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_secs(60));
        let (sum, count, buckets) = h.read();
        assert_eq!(count, 3);
        assert!((sum - 60.003_005).abs() < 1e-9, "{sum}");
        assert_eq!(buckets[0], (0.000_01, 1));
        // 3 ms falls in the 5 ms bucket.
        let five_ms = buckets.iter().find(|(b, _)| *b == 0.005).unwrap();
        assert_eq!(five_ms.1, 2);
        assert_eq!(buckets[buckets.len() - 2], (10.0, 2));
        assert_eq!(*buckets.last().unwrap(), (f64::INFINITY, 3));
    }
}
