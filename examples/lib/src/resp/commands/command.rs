//! COMMAND: what the server knows, for tools — COUNT, INFO (arity, flags,
//! key positions), LIST, and DOCS (summaries and argument trees, from
//! `docs.rs`), which redis-cli reads for its hints.

use crate::resp::commands::connection::{help, subcommand};
use crate::resp::commands::docs::{self, Arg};
use crate::resp::commands::{ALL, Call, Command, flag, lookup};
use crate::resp::reply::Reply;

const SUBCOMMANDS: &[(&str, i32)] = &[
    ("count", 2),
    ("docs", -2),
    ("info", -2),
    ("list", -2),
    ("help", 2),
];

pub fn command(c: &mut Call) {
    if c.args.len() == 1 {
        c.out.array(ALL.len());
        for command in ALL {
            info(c.out, command);
        }
        return;
    }
    let Some(sub) = subcommand(c, "command", SUBCOMMANDS) else {
        return;
    };
    match sub {
        "count" => c.out.int(ALL.len() as i64),
        "list" => {
            c.out.array(ALL.len());
            for command in ALL {
                c.out.bulk(command.name.as_bytes());
            }
        }
        "info" if c.args.len() == 2 => {
            c.out.array(ALL.len());
            for command in ALL {
                info(c.out, command);
            }
        }
        "info" => {
            c.out.array(c.args.len() - 2);
            for i in 2..c.args.len() {
                match lookup(c.args.get(i)) {
                    Some(command) => info(c.out, command),
                    None => c.out.null(),
                }
            }
        }
        "docs" => {
            let names: Vec<&'static str> = if c.args.len() == 2 {
                ALL.iter().map(|command| command.name).collect()
            } else {
                (2..c.args.len())
                    .filter_map(|i| lookup(c.args.get(i)).map(|command| command.name))
                    .collect()
            };
            c.out.map(names.len());
            for name in names {
                c.out.bulk(name.as_bytes());
                doc(c.out, name);
            }
        }
        _ => help(
            c.out,
            &[
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "(no subcommand)",
                "    Return details about all commands.",
                "COUNT",
                "    Return the total number of commands in this server.",
                "LIST",
                "    Return a list of all commands in this server.",
                "INFO [<command-name> ...]",
                "    Return details about the given commands, or all of them.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about the given commands, or all of them.",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

/// A command's COMMAND INFO entry: name, arity, flags, first key, last
/// key, step, ACL categories, tips, key specs, subcommands (the last four
/// empty: this server has no ACLs, cluster or key specs).
fn info(out: &mut Reply, command: &Command) {
    out.array(10);
    out.bulk(command.name.as_bytes());
    out.int(i64::from(command.arity));
    let names: Vec<&str> = flag::NAMES
        .iter()
        .filter(|(bit, _)| command.flags & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    out.set(names.len());
    for name in names {
        out.simple(name);
    }
    let (first, last, step) = command.keys;
    out.int(i64::from(first));
    out.int(i64::from(last));
    out.int(i64::from(step));
    out.set(0);
    out.array(0);
    out.array(0);
    out.array(0);
}

/// A command's COMMAND DOCS entry.
fn doc(out: &mut Reply, name: &str) {
    let Some(&(_, group, summary, syntax)) = docs::find(name) else {
        return out.map(0);
    };
    let args = docs::arguments(syntax);
    let subs: Vec<_> = docs::subcommands(name).collect();
    out.map(2 + usize::from(!args.is_empty()) + usize::from(!subs.is_empty()));
    out.bulk(b"summary");
    out.bulk(summary.as_bytes());
    out.bulk(b"group");
    out.bulk(group.as_bytes());
    if !args.is_empty() {
        out.bulk(b"arguments");
        write_args(out, &args);
    }
    if !subs.is_empty() {
        out.bulk(b"subcommands");
        out.map(subs.len());
        for sub in subs {
            out.bulk(sub.0.as_bytes());
            doc(out, sub.0);
        }
    }
}

fn write_args(out: &mut Reply, args: &[Arg]) {
    out.array(args.len());
    for arg in args {
        let flags: Vec<&str> = [(arg.optional, "optional"), (arg.multiple, "multiple")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect();
        let fields = 2
            + usize::from(arg.token.is_some())
            + usize::from(!flags.is_empty())
            + usize::from(!arg.children.is_empty());
        out.map(fields);
        out.bulk(b"name");
        out.bulk(arg.name.as_bytes());
        out.bulk(b"type");
        out.bulk(arg.kind.as_bytes());
        if let Some(token) = &arg.token {
            out.bulk(b"token");
            out.bulk(token.as_bytes());
        }
        if !flags.is_empty() {
            out.bulk(b"flags");
            out.set(flags.len());
            for f in flags {
                out.simple(f);
            }
        }
        if !arg.children.is_empty() {
            out.bulk(b"arguments");
            write_args(out, &arg.children);
        }
    }
}
