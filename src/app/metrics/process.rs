//! The standard process metrics (`process_resident_memory_bytes`, `process_open_fds`,
//! `process_max_fds`, `process_cpu_seconds_total`, `process_start_time_seconds`), read from
//! /proc and the C library at scrape time: prometheus-client has no process collector.
//! Linux only; elsewhere a series whose source is missing is left out.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// See the module doc.
#[derive(Debug)]
pub(super) struct ProcessCollector {
    started: SystemTime,
}

impl ProcessCollector {
    pub(super) fn new(started: SystemTime) -> ProcessCollector {
        ProcessCollector { started }
    }
}

/// Resident set size in bytes: `VmRSS` of /proc/self/status (kB).
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Open file descriptors: the entries of /proc/self/fd (the directory handle itself
/// included, as Prometheus's own client counts).
fn open_fds() -> Option<u64> {
    Some(std::fs::read_dir("/proc/self/fd").ok()?.count() as u64)
}

/// User plus system CPU time of the whole process, in seconds (getrusage).
fn cpu_seconds() -> Option<f64> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `struct rusage` into the pointer it is given, which points
    // at memory of that type; RUSAGE_SELF is a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: getrusage returned 0, so it filled the struct (and it was zeroed before).
    let u = unsafe { usage.assume_init() };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(u.ru_utime) + secs(u.ru_stime))
}

impl Collector for ProcessCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(v) = resident_bytes() {
            let m = enc.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(m)?;
        }
        if let Some(v) = open_fds() {
            let m = enc.encode_descriptor(
                "process_open_fds",
                "Number of open file descriptors.",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(m)?;
        }
        if let Ok((soft, _)) = rlimit::Resource::NOFILE.get() {
            let m = enc.encode_descriptor(
                "process_max_fds",
                "Maximum number of open file descriptors (the soft limit).",
                None,
                MetricType::Gauge,
            )?;
            ConstGauge::new(i64::try_from(soft).unwrap_or(i64::MAX)).encode(m)?;
        }
        if let Some(v) = cpu_seconds() {
            let m = enc.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(v).encode(m)?;
        }
        let start = self
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let m = enc.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch in seconds.",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(start).encode(m)
    }
}
