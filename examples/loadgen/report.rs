//! What a run came to: the CPU it took, the summary for people (stderr) and
//! the one line for scripts (stdout).

use std::time::Duration;

use crate::Bench;

/// What a measured window came to.
pub(crate) struct Report {
    pub(crate) elapsed: Duration,
    pub(crate) msgs: u64,
    pub(crate) bytes: u64,
    pub(crate) cpu: Duration,
}

/// This process's user + system CPU time so far.
pub(crate) fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The human summary on stderr and the one line for scripts on stdout.
pub(crate) fn print_report(bench: &Bench, report: &Report) {
    let plan = &bench.plan;
    let secs = report.elapsed.as_secs_f64();
    let per_sec = |x: u64| if secs > 0.0 { x as f64 / secs } else { 0.0 };
    let msgs_per_sec = per_sec(report.msgs);
    let mbps = per_sec(report.bytes) / 1e6;
    let cpu_pct = if secs > 0.0 {
        report.cpu.as_secs_f64() / secs * 100.0
    } else {
        0.0
    };
    let h = &bench.hist;
    let load = match plan.rate {
        Some(r) => format!("offered {r:.0} msgs/s"),
        None => "closed loop".to_string(),
    };
    eprintln!(
        "loadgen: {} connections x depth {} x {} B to {}, {load}, {:.2} s measured after {:.2} s warm-up",
        bench.established,
        plan.depth,
        plan.size,
        plan.addr,
        secs,
        plan.warmup.as_secs_f64()
    );
    eprintln!(
        "  messages  {} ({msgs_per_sec:.0}/s), {mbps:.2} MB/s echoed; {} in the whole run",
        report.msgs, bench.total_msgs
    );
    eprintln!(
        "  latency   p50 {:.1} us, p90 {:.1}, p99 {:.1}, p99.9 {:.1}, max {:.1}, mean {:.1}",
        h.quantile_us(0.50),
        h.quantile_us(0.90),
        h.quantile_us(0.99),
        h.quantile_us(0.999),
        h.max_ns as f64 / 1000.0,
        h.mean_us()
    );
    let owed: u64 = bench.flows.iter().map(|f| f.owed).sum();
    if plan.rate.is_some() && owed > 0 {
        eprintln!("  backlog   {owed} messages due but not sent (connections at --depth)");
    }
    eprintln!("  errors    {}", bench.errors);
    eprintln!("  loadgen   {cpu_pct:.1} % of one CPU");
    if cpu_pct > 90.0 {
        eprintln!("  warning: the load generator was nearly saturated; it may be the bottleneck");
    }
    println!(
        "msgs_per_sec={msgs_per_sec:.0} MBps={mbps:.2} p50_us={:.1} p99_us={:.1} errors={} \
         loadgen_cpu_pct={cpu_pct:.1} p999_us={:.1} max_us={:.1} total_msgs={} conns={} secs={secs:.2}",
        h.quantile_us(0.50),
        h.quantile_us(0.99),
        bench.errors,
        h.quantile_us(0.999),
        h.max_ns as f64 / 1000.0,
        bench.total_msgs,
        bench.established,
    );
}
