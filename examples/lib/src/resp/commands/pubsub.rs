//! Publish/subscribe: SUBSCRIBE, PSUBSCRIBE, their UN- forms, PUBLISH and
//! PUBSUB.
//!
//! A message is written straight onto each subscriber's connection, as a
//! RESP3 push or a RESP2 array, whichever it speaks. A subscriber that
//! does not read piles the messages up in its connection's output; past
//! the pub/sub limits (see [`PubSubLimits`](crate::resp::state::PubSubLimits))
//! it is cut off, and the publisher and everyone else go on undisturbed.

use std::time::Instant;

use sockloop::Ctx;

use crate::resp::bytes::Bytes;
use crate::resp::commands::connection::{help, subcommand};
use crate::resp::commands::{Call, Shared};
use crate::resp::glob;
use crate::resp::reply::Reply;
use crate::resp::state::{PubSubLimits, State};

/// SUBSCRIBE channel [channel ...] and PSUBSCRIBE pattern [pattern ...].
pub fn subscribe(c: &mut Call, pattern: bool) {
    let slot = c.slot;
    for i in 1..c.args.len() {
        let name = c.args.get(i);
        let state = c.ctx.state();
        let client = &mut state.clients[slot];
        let new = if pattern {
            let new = !client.patterns.iter().any(|p| **p == *name);
            if new {
                client.patterns.push(Bytes::new(name));
            }
            new
        } else {
            client.channels.entry(name, || ()).1
        };
        let count = client.subscriptions();
        if new {
            let registry = if pattern {
                &mut state.pubsub.patterns
            } else {
                &mut state.pubsub.channels
            };
            registry.entry(Bytes::new(name)).or_default().push(slot);
        }
        c.out.push(3);
        c.out
            .bulk(if pattern { b"psubscribe" } else { b"subscribe" });
        c.out.bulk(name);
        c.out.int(count as i64);
    }
}

/// UNSUBSCRIBE [channel ...] and PUNSUBSCRIBE [pattern ...]: from the
/// ones named, or from all.
pub fn unsubscribe(c: &mut Call, pattern: bool) {
    let names: Vec<Bytes> = if c.args.len() > 1 {
        (1..c.args.len())
            .map(|i| Bytes::new(c.args.get(i)))
            .collect()
    } else {
        let client = c.client();
        if pattern {
            client.patterns.clone()
        } else {
            client.channels.keys().cloned().collect()
        }
    };
    let kind: &[u8] = if pattern {
        b"punsubscribe"
    } else {
        b"unsubscribe"
    };
    if names.is_empty() {
        // Subscribed to nothing: still one reply.
        let count = c.client().subscriptions();
        c.out.push(3);
        c.out.bulk(kind);
        c.out.null();
        return c.out.int(count as i64);
    }
    for name in names {
        leave(c.ctx.state(), c.slot, &name, pattern);
        let count = c.client().subscriptions();
        c.out.push(3);
        c.out.bulk(kind);
        c.out.bulk(&name);
        c.out.int(count as i64);
    }
}

/// Takes client `slot` off one channel or pattern.
fn leave(state: &mut State, slot: usize, name: &[u8], pattern: bool) {
    let client = &mut state.clients[slot];
    let was = if pattern {
        let before = client.patterns.len();
        client.patterns.retain(|p| **p != *name);
        before != client.patterns.len()
    } else {
        client.channels.remove(name).is_some()
    };
    if !was {
        return;
    }
    let registry = if pattern {
        &mut state.pubsub.patterns
    } else {
        &mut state.pubsub.channels
    };
    if let Some(slots) = registry.get_mut(name) {
        slots.retain(|&s| s != slot);
        if slots.is_empty() {
            registry.remove(name);
        }
    }
}

/// Every subscription of a client ends, without replies (it left, or
/// RESET).
pub fn unsubscribe_all(state: &mut State, slot: usize) {
    let Some(client) = state.clients.get(slot) else {
        return;
    };
    let channels: Vec<Bytes> = client.channels.keys().cloned().collect();
    let patterns = client.patterns.clone();
    for name in channels {
        leave(state, slot, &name, false);
    }
    for name in patterns {
        leave(state, slot, &name, true);
    }
}

/// PUBLISH channel message: replies how many clients received it.
pub fn publish(c: &mut Call) {
    let (channel, message) = (c.args.get(1), c.args.get(2));
    let received = deliver(c.ctx, c.slot, c.out, channel, message);
    c.out.int(received as i64);
}

/// Sends `message` to the subscribers of `channel` and of the patterns it
/// matches; returns how many. The publishing client's own copy (a RESP3
/// client may publish to itself) joins `own`, behind its earlier replies.
pub fn deliver(
    ctx: &mut Ctx<'_, State>,
    me: usize,
    own: &mut Reply,
    channel: &[u8],
    message: &[u8],
) -> usize {
    let state = ctx.state();
    // (subscriber, the pattern it matched) for every copy to send.
    let mut targets: Vec<(usize, Option<Bytes>)> = Vec::new();
    if let Some(slots) = state.pubsub.channels.get(channel) {
        targets.extend(slots.iter().map(|&s| (s, None)));
    }
    for (pattern, slots) in &state.pubsub.patterns {
        if glob::matches(pattern, channel) {
            targets.extend(slots.iter().map(|&s| (s, Some(pattern.clone()))));
        }
    }
    let now = Instant::now();
    let mut reply = Reply {
        buf: std::mem::take(&mut state.scratch),
        resp3: false,
    };
    for (slot, pattern) in &targets {
        let state = ctx.state();
        let Some(client) = state.clients.get(*slot) else {
            continue;
        };
        let (token, resp3) = (client.token, client.resp3);
        let out = if *slot == me { &mut *own } else { &mut reply };
        out.resp3 = resp3;
        match pattern {
            None => {
                out.push(3);
                out.bulk(b"message");
            }
            Some(p) => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(p);
            }
        }
        out.bulk(channel);
        out.bulk(message);
        if *slot == me {
            continue;
        }
        ctx.connection(token).write(&reply.buf);
        reply.buf.clear();
        enforce_limits(ctx, *slot, token, now);
    }
    ctx.state().scratch = reply.buf;
    targets.len()
}

/// Cuts off a subscriber whose unread messages passed the hard limit, or
/// stayed over the soft one too long.
fn enforce_limits(ctx: &mut Ctx<'_, State>, slot: usize, token: sockloop::Token, now: Instant) {
    let queued = ctx.connection(token).queued();
    let state = ctx.state();
    let limits = state.limits;
    let Some(client) = state.clients.get_mut(slot) else {
        return;
    };
    if over_limits(queued, &mut client.over_soft_limit_since, now, &limits) {
        log::info!(
            "client {} ({}) closed for overcoming the pub/sub output limits ({queued} bytes unread)",
            client.id,
            client.addr
        );
        ctx.connection(token)
            .abort("pub/sub output buffer limit reached");
    }
}

/// Whether `queued` unread bytes break the limits: over the hard one, or
/// over the soft one since `since` (kept here) for `limits.soft_for`.
fn over_limits(
    queued: usize,
    since: &mut Option<Instant>,
    now: Instant,
    limits: &PubSubLimits,
) -> bool {
    if queued > limits.hard {
        return true;
    }
    if queued <= limits.soft {
        *since = None;
        return false;
    }
    let since = *since.get_or_insert(now);
    now.duration_since(since) >= limits.soft_for
}

const PUBSUB_SUBCOMMANDS: &[(&str, i32)] =
    &[("channels", -2), ("numsub", -2), ("numpat", 2), ("help", 2)];

/// PUBSUB CHANNELS [pattern] | NUMSUB [channel ...] | NUMPAT.
pub fn pubsub(c: &mut Call) {
    let Some(sub) = subcommand(c, "pubsub", PUBSUB_SUBCOMMANDS) else {
        return;
    };
    match sub {
        "channels" => {
            if c.args.len() > 3 {
                return c.out.error_quoting(&[
                    b"ERR unknown subcommand or wrong number of arguments for '",
                    c.args.get(1),
                    b"'. Try PUBSUB HELP.",
                ]);
            }
            let pattern = (c.args.len() == 3).then(|| c.args.get(2));
            let state = c.ctx.state();
            let names: Vec<&Bytes> = state
                .pubsub
                .channels
                .keys()
                .filter(|ch| pattern.is_none_or(|p| glob::matches(p, ch)))
                .collect();
            c.out.array(names.len());
            for name in names {
                c.out.bulk(name);
            }
        }
        "numsub" => {
            c.out.array(2 * (c.args.len() - 2));
            for i in 2..c.args.len() {
                let channel = c.args.get(i);
                let count = c
                    .ctx
                    .state()
                    .pubsub
                    .channels
                    .get(channel)
                    .map_or(0, Vec::len);
                c.out.bulk(channel);
                c.out.int(count as i64);
            }
        }
        "numpat" => {
            let n = c.ctx.state().pubsub.patterns.len();
            c.out.int(n as i64);
        }
        _ => help(
            c.out,
            &[
                "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "HELP",
                "    Print this help.",
            ],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_subscriber_is_cut_off_over_the_hard_limit_or_long_over_the_soft_one() {
        let limits = PubSubLimits::default();
        let start = Instant::now();
        let at = |s: u64| start + Duration::from_secs(s);
        let mut since = None;
        assert!(!over_limits(1024, &mut since, at(0), &limits));
        assert!(over_limits(33 << 20, &mut since, at(0), &limits));
        // Over 8 MiB: tolerated for 60 s...
        assert!(!over_limits(9 << 20, &mut since, at(0), &limits));
        assert!(!over_limits(9 << 20, &mut since, at(59), &limits));
        assert!(over_limits(9 << 20, &mut since, at(60), &limits));
        // ...counted from when it last went over.
        let mut since = None;
        assert!(!over_limits(9 << 20, &mut since, at(0), &limits));
        assert!(!over_limits(1 << 20, &mut since, at(30), &limits));
        assert!(!over_limits(9 << 20, &mut since, at(40), &limits));
        assert!(!over_limits(9 << 20, &mut since, at(99), &limits));
        assert!(over_limits(9 << 20, &mut since, at(100), &limits));
    }
}
