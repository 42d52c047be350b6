//! `State`: everything the connections share (the reactor's shared state):
//! the 16 databases, every client's session, the pub/sub registry, the
//! server's counters, and the periodic work (active expiry, the ops/s
//! sample).

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use slab::Slab;
use sockloop::{Ctx, Token};

use crate::resp::bytes::Bytes;
use crate::resp::client::Client;
use crate::resp::store::Db;

/// Databases, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;

/// How often [`cron`] runs, and how long its expiry may take at most.
pub const CRON_EVERY: Duration = Duration::from_millis(100);
pub const EXPIRE_BUDGET: Duration = Duration::from_millis(5);

/// Output limits for clients with subscriptions (Redis's
/// `client-output-buffer-limit pubsub 32mb 8mb 60`): a subscriber that
/// does not read is cut off once its unread messages pass `hard`, or stay
/// over `soft` for `soft_for`; the publisher and the others go on.
#[derive(Clone, Copy, Debug)]
pub struct PubSubLimits {
    pub hard: usize,
    pub soft: usize,
    pub soft_for: Duration,
}

impl Default for PubSubLimits {
    fn default() -> Self {
        PubSubLimits {
            hard: 32 * 1024 * 1024,
            soft: 8 * 1024 * 1024,
            soft_for: Duration::from_secs(60),
        }
    }
}

/// Who is subscribed to what, by client slot, in subscription order.
#[derive(Default)]
pub struct PubSub {
    pub channels: HashMap<Bytes, Vec<usize>>,
    pub patterns: HashMap<Bytes, Vec<usize>>,
}

/// Counters INFO reports. (Figures about connections themselves, such as
/// bytes in and out, belong to the reactor; these are the server's own.)
pub struct Stats {
    pub started: Instant,
    pub connections_received: u64,
    pub commands_processed: u64,
    /// Commands processed at each of the last samples (one per cron run),
    /// for `instantaneous_ops_per_sec`.
    samples: [(Instant, u64); 16],
    next_sample: usize,
}

impl Stats {
    /// Operations per second over the last samples (Redis: the same, from
    /// 16 samples taken by `serverCron`).
    pub fn ops_per_sec(&self) -> u64 {
        let newest = self.samples[(self.next_sample + 15) % 16];
        let oldest = self.samples[self.next_sample];
        let secs = newest.0.saturating_duration_since(oldest.0).as_secs_f64();
        if secs <= 0.0 {
            return 0;
        }
        ((newest.1 - oldest.1) as f64 / secs).round() as u64
    }

    fn sample(&mut self, now: Instant) {
        self.samples[self.next_sample] = (now, self.commands_processed);
        self.next_sample = (self.next_sample + 1) % 16;
    }
}

/// The server's shared state.
pub struct State {
    pub dbs: Vec<Db>,
    /// Every connected client, by slot (a connection keeps its slot).
    pub clients: Slab<Client>,
    pub pubsub: PubSub,
    pub stats: Stats,
    pub limits: PubSubLimits,
    /// Clients blocked in BLPOP and friends.
    pub blocked: usize,
    /// A buffer commands reuse to encode what goes to other clients.
    pub scratch: Vec<u8>,
    clock: Clock,
    next_id: u64,
}

impl Default for State {
    fn default() -> Self {
        State::new()
    }
}

impl State {
    pub fn new() -> State {
        let now = Instant::now();
        State {
            dbs: (0..DATABASES).map(|_| Db::new()).collect(),
            clients: Slab::new(),
            pubsub: PubSub::default(),
            stats: Stats {
                started: now,
                connections_received: 0,
                commands_processed: 0,
                samples: [(now, 0); 16],
                next_sample: 0,
            },
            limits: PubSubLimits::default(),
            blocked: 0,
            scratch: Vec::new(),
            clock: Clock::new(),
            next_id: 0,
        }
    }

    /// Unix time in milliseconds at `at` (the reactor's turn time).
    pub fn now_ms(&self, at: Instant) -> i64 {
        self.clock.unix_ms(at)
    }

    /// Registers a new connection; returns its client's slot.
    pub fn add_client(&mut self, token: Token, now_ms: i64) -> usize {
        self.next_id += 1;
        self.stats.connections_received += 1;
        self.clients
            .insert(Client::new(self.next_id, token, now_ms))
    }

    /// Forgets a client: its WATCHes, subscriptions and blocking go too.
    pub fn remove_client(&mut self, slot: usize) {
        self.unwatch_all(slot);
        self.unblock(slot);
        crate::resp::commands::pubsub::unsubscribe_all(self, slot);
        self.clients.try_remove(slot);
    }

    /// UNWATCH: forgets every key the client watches.
    pub fn unwatch_all(&mut self, slot: usize) {
        let Some(client) = self.clients.get_mut(slot) else {
            return;
        };
        if let Some(watch) = client.watch.take() {
            for (db, key, _) in &watch.keys {
                self.dbs[*db].unwatch(key, &watch.flag);
            }
        }
    }

    /// Takes a client out of the blocking queues; returns what it waited
    /// for (its timer is the caller's to cancel).
    pub fn unblock(&mut self, slot: usize) -> Option<crate::resp::client::Blocked> {
        let blocked = self.clients.get_mut(slot)?.blocked.take()?;
        let db = &mut self.dbs[blocked.db];
        for key in &blocked.keys {
            if let Some(queue) = db.blocking.get_mut(&**key) {
                queue.retain(|&s| s != slot);
                if queue.is_empty() {
                    db.blocking.remove(&**key);
                }
            }
        }
        self.blocked -= 1;
        Some(blocked)
    }

    /// The client with this id.
    pub fn client_by_id(&self, id: u64) -> Option<usize> {
        self.clients
            .iter()
            .find(|(_, c)| c.id == id)
            .map(|(slot, _)| slot)
    }
}

/// The periodic work (every [`CRON_EVERY`]): each database's active
/// expiry, within [`EXPIRE_BUDGET`] in all, and the ops/s sample.
pub fn cron(ctx: &mut Ctx<'_, State>) {
    let at = ctx.now();
    let state = ctx.shared();
    let now = state.now_ms(at);
    let deadline = Instant::now() + EXPIRE_BUDGET;
    let mut deleted = 0;
    for db in &mut state.dbs {
        if db.volatile_len() > 0 {
            deleted += db.expire_cycle(now, deadline);
        }
    }
    if deleted > 0 {
        log::debug!("expired {deleted} keys");
    }
    state.stats.sample(at);
}

/// Unix milliseconds from the monotonic clock: the wall clock is read once
/// at start-up, so a clock step does not expire keys early or late.
struct Clock {
    start: Instant,
    start_unix_ms: i64,
}

impl Clock {
    fn new() -> Clock {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Clock {
            start: Instant::now(),
            start_unix_ms: since_epoch.as_millis() as i64,
        }
    }

    fn unix_ms(&self, at: Instant) -> i64 {
        self.start_unix_ms + at.saturating_duration_since(self.start).as_millis() as i64
    }
}
