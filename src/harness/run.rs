//! Running scenarios by the thousand, and replaying one by its seed.

use std::cell::Cell;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Rng;
use super::net::Seen;
use crate::core::panic_message;

/// Replays one seed (hexadecimal with `0x`, or decimal), its every step
/// printed on stderr.
pub const SEED_VAR: &str = "SOCKLOOP_SIM_SEED";
/// Runs this many scenarios instead of the test's own count: a soak.
pub const SCENARIOS_VAR: &str = "SOCKLOOP_SIM_SCENARIOS";
/// Runs scenarios for this many seconds instead: a soak.
pub const SECS_VAR: &str = "SOCKLOOP_SIM_SECS";
/// Where a soak's seeds start (they are new on every soak otherwise).
pub const BASE_VAR: &str = "SOCKLOOP_SIM_BASE";

thread_local! {
    /// A seed is being replayed: the simulation prints every step.
    static VERBOSE: Cell<bool> = const { Cell::new(false) };
    /// The faults of the scenarios run on this thread, added up.
    static SEEN: Cell<Seen> = Cell::new(Seen::default());
}

/// Adds one scenario's faults to the running total (when a `Sim` ends).
pub(super) fn count(seen: Seen) {
    SEEN.with(|total| {
        let mut sum = total.get();
        sum += seen;
        total.set(sum);
    });
}

/// Whether the scenario running on this thread is a replay.
pub(super) fn verbose() -> bool {
    VERBOSE.with(Cell::get)
}

fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn env_number(var: &str) -> Option<u64> {
    let value = std::env::var(var).ok()?;
    match parse_seed(&value) {
        Some(n) => Some(n),
        None => panic!("{var}={value:?} is not a number"),
    }
}

/// Runs `scenario` once per seed, `count` seeds, and panics with the seed
/// of the first one that fails (returns `Err` or panics), saying how to
/// replay it. `name` should be the test's name: the seeds derive from it,
/// so each test explores its own, the same on every run. Returns how often
/// each fault struck, added up over the scenarios (each [`Sim`](super::Sim)
/// counts its own when it ends).
///
/// Environment variables change what runs:
/// - `SOCKLOOP_SIM_SEED=0x...`: that one seed, printing every step;
/// - `SOCKLOOP_SIM_SCENARIOS=N` or `SOCKLOOP_SIM_SECS=S`: a soak of N
///   scenarios, or of S seconds, from seeds new on every run (or from
///   `SOCKLOOP_SIM_BASE`), with a line on stderr when it is over.
pub fn scenarios(
    name: &str,
    count: usize,
    mut scenario: impl FnMut(u64) -> Result<(), String>,
) -> Seen {
    SEEN.with(|total| total.set(Seen::default()));
    if let Some(seed) = env_number(SEED_VAR) {
        VERBOSE.with(|v| v.set(true));
        eprintln!("{name}: replaying seed {seed:#x}");
        let outcome = run_one(&mut scenario, seed);
        VERBOSE.with(|v| v.set(false));
        if let Err(e) = outcome {
            panic!("{name}: seed {seed:#x} fails: {e}");
        }
        eprintln!("{name}: seed {seed:#x} passes: {:?}", SEEN.with(Cell::get));
        return SEEN.with(Cell::get);
    }
    let count_var = env_number(SCENARIOS_VAR);
    let secs = env_number(SECS_VAR);
    let soak = count_var.is_some() || secs.is_some();
    let base = match env_number(BASE_VAR) {
        Some(base) => base,
        None if soak => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
        None => 0,
    };
    let mut hasher = DefaultHasher::new();
    name.hash(&mut hasher);
    let mut seeds = Rng::new(hasher.finish() ^ base);
    let count = count_var.map_or(count, |n| n as usize);
    let until = secs.map(|s| Instant::now() + Duration::from_secs(s));
    let started = Instant::now();
    let mut ran = 0;
    while until.map_or(ran < count, |t| Instant::now() < t) {
        let seed = seeds.next_u64();
        if let Err(e) = run_one(&mut scenario, seed) {
            panic!(
                "{name}: scenario {ran} fails, seed {seed:#x}: {e}\n\
                 replay it: {SEED_VAR}={seed:#x} cargo test {name}"
            );
        }
        ran += 1;
    }
    let seen = SEEN.with(Cell::get);
    if soak {
        eprintln!(
            "{name}: {ran} scenarios passed in {:.1} s (seeds from base {base:#x}); {seen:?}",
            started.elapsed().as_secs_f64()
        );
    }
    seen
}

/// One scenario, a panic in it counting as a failure.
fn run_one(scenario: &mut impl FnMut(u64) -> Result<(), String>, seed: u64) -> Result<(), String> {
    match panic::catch_unwind(AssertUnwindSafe(|| scenario(seed))) {
        Ok(outcome) => outcome,
        Err(payload) => Err(format!("panicked: {}", panic_message(&*payload))),
    }
}
