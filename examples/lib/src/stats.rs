//! The reactor's statistics as named fields, for the servers' reports:
//! http_server's status page (`--status-path`) and resp_server's INFO list
//! the same names in the same order.
//!
//! ```
//! let reactor = sockloop::Reactor::new()?;
//! let page = sockloop_examples::stats::render(&reactor.stats(), ": ", "\n");
//! assert!(page.starts_with("uptime_seconds: 0\n"));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt::Write as _;

use sockloop::Stats;

/// Every figure of `stats` as `(name, value)`, names in Redis's INFO style.
/// The time in poll and at work, and the share of it busy, are there only
/// when the reactor is timed (`SOCKLOOP_TIMING=1`, see
/// [`crate::server::from_env`]).
pub fn fields(stats: &Stats) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("uptime_seconds", stats.uptime.as_secs().to_string()),
        ("connections", stats.connections.to_string()),
        ("accepted", stats.accepted.to_string()),
        ("closed", stats.closed.to_string()),
        ("turns", stats.turns.to_string()),
        ("events", stats.events.to_string()),
        (
            "events_per_turn",
            format!("{:.2}", stats.mean_events_per_turn()),
        ),
        ("events_per_turn_histogram", histogram(stats)),
    ];
    if let (Some(poll), Some(work), Some(busy)) = (stats.poll_time, stats.work_time, stats.busy()) {
        fields.push(("poll_time_ms", poll.as_millis().to_string()));
        fields.push(("work_time_ms", work.as_millis().to_string()));
        fields.push(("busy_percent", format!("{:.1}", busy * 100.0)));
    }
    fields.extend([
        ("callbacks", stats.callbacks.to_string()),
        ("slow_callbacks", stats.slow_callbacks.to_string()),
        ("bytes_read", stats.bytes_read.to_string()),
        ("bytes_written", stats.bytes_written.to_string()),
        ("output_queued", stats.queued.to_string()),
        ("output_queued_peak", stats.queued_peak.to_string()),
        ("timers", stats.timers.to_string()),
    ]);
    fields
}

/// The fields as text: `name`, `separator`, value and `end` for each.
pub fn render(stats: &Stats, separator: &str, end: &str) -> String {
    let mut text = String::new();
    for (name, value) in fields(stats) {
        let _ = write!(text, "{name}{separator}{value}{end}");
    }
    text
}

/// The histogram of events per turn as `low-high=turns` pairs, empty
/// buckets left out: `1=40,2-3=22,4-7=3`.
fn histogram(stats: &Stats) -> String {
    let mut text = String::new();
    for (i, &turns) in stats.events_per_turn.iter().enumerate() {
        if turns == 0 {
            continue;
        }
        if !text.is_empty() {
            text.push(',');
        }
        let _ = match Stats::bucket_range(i) {
            (low, high) if low == high => write!(text, "{low}={turns}"),
            (low, usize::MAX) => write!(text, "{low}+={turns}"),
            (low, high) => write!(text, "{low}-{high}={turns}"),
        };
    }
    text
}

/// The statistics of a reactor with `config` after one turn with nothing
/// to do (for the reports' tests).
#[cfg(test)]
pub(crate) fn after_one_turn(config: sockloop::Config) -> Stats {
    let mut reactor = sockloop::Reactor::with_config((), config).unwrap();
    reactor.run_once(Some(std::time::Duration::ZERO)).unwrap();
    reactor.stats()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockloop::Config;

    #[test]
    fn every_figure_is_named_once_and_timing_only_when_timed() {
        let stats = after_one_turn(Config::default());
        let names: Vec<_> = fields(&stats).into_iter().map(|f| f.0).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(!names.contains(&"busy_percent"));
        let text = render(&stats, ":", "\r\n");
        assert!(text.contains("\r\nturns:1\r\n"), "{text}");
        assert!(text.contains("events_per_turn_histogram:0=1\r\n"), "{text}");

        let config = Config {
            timing: true,
            ..Config::default()
        };
        let text = render(&after_one_turn(config), ": ", "\n");
        assert!(text.contains("\nbusy_percent: "), "{text}");
    }
}
