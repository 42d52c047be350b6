//! What INFO reports of the reactor: Redis's own fields that the reactor's
//! statistics answer (`connected_clients`, `total_connections_received`,
//! `total_net_input_bytes`, `total_net_output_bytes`), and a `Reactor`
//! section with the rest, under the names http_server's status page uses
//! (`sockloop_examples::stats`).

use sockloop::Stats;

use crate::stats;

/// The fields of INFO's `Clients` and `Stats` sections that the reactor
/// counts, by Redis's names.
pub fn redis_fields(stats: &Stats) -> [(&'static str, u64); 4] {
    [
        ("connected_clients", stats.connections as u64),
        ("total_connections_received", stats.accepted),
        ("total_net_input_bytes", stats.bytes_read),
        ("total_net_output_bytes", stats.bytes_written),
    ]
}

/// INFO's `Reactor` section: its header and a `name:value` line per figure,
/// each ending in CRLF as INFO's lines do.
pub fn reactor_section(stats: &Stats) -> String {
    format!("# Reactor\r\n{}", stats::render(stats, ":", "\r\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::after_one_turn;

    #[test]
    fn the_section_is_info_lines_and_the_redis_fields_match_the_stats() {
        let stats = after_one_turn(sockloop::Config::default());
        let section = reactor_section(&stats);
        assert!(
            section.starts_with("# Reactor\r\nuptime_seconds:"),
            "{section}"
        );
        let lines = section.strip_suffix("\r\n").expect("CRLF at the end");
        for line in lines.split("\r\n").skip(1) {
            assert!(!line.contains('\n'), "{line:?}");
            let (name, value) = line.split_once(':').expect("name:value");
            assert!(!name.is_empty() && !value.is_empty(), "{line}");
        }
        assert!(section.contains("\r\nturns:1\r\n"), "{section}");
        let fields = redis_fields(&stats);
        assert_eq!(fields[0], ("connected_clients", 0));
        assert_eq!(fields[1].0, "total_connections_received");
    }
}
