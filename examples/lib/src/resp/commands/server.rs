//! Server commands: DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, CONFIG.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::resp::commands::connection::{help, subcommand};
use crate::resp::commands::{Call, Shared, is};
use crate::resp::glob;
use crate::resp::reply::SYNTAX;
use crate::resp::state::DATABASES;
use crate::resp::store::Db;

pub fn dbsize(c: &mut Call) {
    let n = c.ctx.db(c.db).len();
    c.out.int(n as i64);
}

/// FLUSHDB and FLUSHALL (`all`) [ASYNC|SYNC]: both free at once.
pub fn flush(c: &mut Call, all: bool) {
    let mode_ok = match c.args.len() {
        1 => true,
        2 => is(c.args.get(1), "async") || is(c.args.get(1), "sync"),
        _ => false,
    };
    if !mode_ok {
        return c.out.error(SYNTAX);
    }
    if all {
        c.ctx.state().dbs.iter_mut().for_each(Db::clear);
    } else {
        c.ctx.db(c.db).clear();
    }
    c.out.ok();
}

pub fn swapdb(c: &mut Call) {
    let mut index = |i: usize, which: &str| match crate::resp::int::parse_i64(c.args.get(i)) {
        Some(n) if i32::try_from(n).is_ok() => Some(n),
        _ => {
            c.out.error(&format!("ERR invalid {which} DB index"));
            None
        }
    };
    let Some(a) = index(1, "first") else {
        return;
    };
    let Some(b) = index(2, "second") else {
        return;
    };
    let range = 0..DATABASES as i64;
    if !range.contains(&a) || !range.contains(&b) {
        return c.out.error("ERR DB index is out of range");
    }
    let (a, b) = (a as usize, b as usize);
    if a != b {
        let dbs = &mut c.ctx.state().dbs;
        let (low, high) = dbs.split_at_mut(a.max(b));
        Db::swap_data(&mut low[a.min(b)], &mut high[0]);
    }
    c.out.ok();
}

pub fn time(c: &mut Call) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    c.out.array(2);
    c.out.bulk_int(now.as_secs() as i64);
    c.out.bulk_int(i64::from(now.subsec_micros()));
}

const CONFIG_SUBCOMMANDS: &[(&str, i32)] = &[("get", -3), ("help", 2)];

/// `CONFIG GET` of the few settings tools read (redis-benchmark asks for
/// `save` and `appendonly` at start-up); nothing is settable.
pub fn config(c: &mut Call) {
    let Some(sub) = subcommand(c, "config", CONFIG_SUBCOMMANDS) else {
        return;
    };
    if sub == "help" {
        return help(
            c.out,
            &[
                "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "HELP",
                "    Print this help.",
            ],
        );
    }
    let databases = DATABASES.to_string();
    let settings: [(&str, &str); 4] = [
        ("save", ""),
        ("appendonly", "no"),
        ("databases", &databases),
        ("maxmemory", "0"),
    ];
    let found: Vec<&(&str, &str)> = settings
        .iter()
        .filter(|(name, _)| {
            (2..c.args.len()).any(|i| {
                let pattern = c.args.get(i).to_ascii_lowercase();
                glob::matches(&pattern, name.as_bytes())
            })
        })
        .collect();
    c.out.map(found.len());
    for (name, value) in found {
        c.out.bulk(name.as_bytes());
        c.out.bulk(value.as_bytes());
    }
}
