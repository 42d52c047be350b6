//! resp: each command gets its own reply, in order, the reply a model of
//! the keyspace predicts (Redis 7's bytes), whatever the network does; a
//! QUIT or a protocol error ends the replies; and the counter every client
//! increments hands out each value exactly once.
//!
//! Each client works on keys of its own (so a model per client predicts
//! every reply) in both request forms, pipelined or one command at a time,
//! and increments one key all clients share.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use super::{Tls, every_fault_struck, join, limits, shown, speak_tls, tight_config};
use crate::resp::{Connection, State};
use sockloop::harness::{Act, Client, Phase, Rng, Sim, View, scenarios};

/// What a command's reply must be.
#[derive(Clone, Debug)]
enum Reply {
    Exactly(Vec<u8>),
    /// The shared counter's next value, whatever it is.
    AnyInteger,
}

/// A command as sent, and its reply; `ends` after a QUIT or an error.
struct Command {
    wire: Vec<u8>,
    reply: Reply,
    ends: bool,
}

const WRONGTYPE: &[u8] = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

fn bulk(v: &[u8]) -> Vec<u8> {
    [format!("${}\r\n", v.len()).as_bytes(), v, b"\r\n"].concat()
}

fn int(n: i64) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

/// A client's keys, as the server must hold them.
#[derive(Default)]
struct Model {
    strings: HashMap<String, Vec<u8>>,
    lists: HashMap<String, Vec<Vec<u8>>>,
}

impl Model {
    fn exists(&self, k: &str) -> bool {
        self.strings.contains_key(k) || self.lists.contains_key(k)
    }

    /// The next command at random, and its reply.
    fn command(&mut self, rng: &mut Rng, peer: usize) -> (Vec<Vec<u8>>, Reply) {
        let key = format!("p{peer}:{}", rng.pick(&["a", "b", "l"]));
        let value = if rng.chance(50) {
            (rng.below(2000) as i64 - 1000).to_string().into_bytes()
        } else {
            let len = rng.range(1..=12);
            rng.bytes(len, b"abcxyz")
        };
        let k = key.clone();
        let args = |words: &[&[u8]]| words.iter().map(|w| w.to_vec()).collect::<Vec<_>>();
        let exact = Reply::Exactly;
        match rng.below(11) {
            0 => {
                self.lists.remove(&k);
                self.strings.insert(k, value.clone());
                (
                    args(&[b"SET", key.as_bytes(), &value]),
                    exact(b"+OK\r\n".to_vec()),
                )
            }
            1 => {
                let reply = match (self.strings.get(&k), self.lists.contains_key(&k)) {
                    (Some(v), _) => bulk(v),
                    (None, true) => WRONGTYPE.to_vec(),
                    (None, false) => b"$-1\r\n".to_vec(),
                };
                (args(&[b"GET", key.as_bytes()]), exact(reply))
            }
            2 => {
                let reply = if self.lists.contains_key(&k) {
                    WRONGTYPE.to_vec()
                } else {
                    let now = self.strings.get(&k).map_or(Some(0), |v| {
                        std::str::from_utf8(v)
                            .ok()
                            .and_then(|s| s.parse::<i64>().ok())
                    });
                    match now {
                        Some(n) => {
                            self.strings.insert(k, (n + 1).to_string().into_bytes());
                            int(n + 1)
                        }
                        None => b"-ERR value is not an integer or out of range\r\n".to_vec(),
                    }
                };
                (args(&[b"INCR", key.as_bytes()]), exact(reply))
            }
            3 => {
                let had = self.exists(&k);
                self.strings.remove(&k);
                self.lists.remove(&k);
                (args(&[b"DEL", key.as_bytes()]), exact(int(i64::from(had))))
            }
            4 => {
                let reply = if self.strings.contains_key(&k) {
                    WRONGTYPE.to_vec()
                } else {
                    let list = self.lists.entry(k).or_default();
                    list.insert(0, value.clone());
                    int(list.len() as i64)
                };
                (args(&[b"LPUSH", key.as_bytes(), &value]), exact(reply))
            }
            5 => {
                let reply = if self.strings.contains_key(&k) {
                    WRONGTYPE.to_vec()
                } else {
                    match self.lists.get_mut(&k).and_then(Vec::pop) {
                        Some(v) => {
                            if self.lists.get(&k).is_some_and(Vec::is_empty) {
                                self.lists.remove(&k);
                            }
                            bulk(&v)
                        }
                        None => b"$-1\r\n".to_vec(),
                    }
                };
                (args(&[b"RPOP", key.as_bytes()]), exact(reply))
            }
            6 => {
                let reply = if self.strings.contains_key(&k) {
                    WRONGTYPE.to_vec()
                } else {
                    let list = self.lists.get(&k).cloned().unwrap_or_default();
                    let mut out = format!("*{}\r\n", list.len()).into_bytes();
                    list.iter().for_each(|v| out.extend(bulk(v)));
                    out
                };
                (
                    args(&[b"LRANGE", key.as_bytes(), b"0", b"-1"]),
                    exact(reply),
                )
            }
            7 => (
                args(&[b"EXISTS", key.as_bytes()]),
                exact(int(i64::from(self.exists(&k)))),
            ),
            8 => (args(&[b"ECHO", &value]), exact(bulk(&value))),
            9 => (args(&[b"PING"]), exact(b"+PONG\r\n".to_vec())),
            _ => (args(&[b"INCR", b"shared"]), Reply::AnyInteger),
        }
    }
}

/// `args` in either request form.
fn encode(rng: &mut Rng, args: &[Vec<u8>]) -> Vec<u8> {
    if rng.chance(30) {
        let mut line = args.join(&b' ');
        line.extend_from_slice(if rng.chance(50) { b"\r\n" } else { b"\n" });
        return line;
    }
    let mut wire = format!("*{}\r\n", args.len()).into_bytes();
    args.iter().for_each(|a| wire.extend(bulk(a)));
    wire
}

fn session(rng: &mut Rng, peer: usize) -> Vec<Command> {
    let mut model = Model::default();
    let mut commands: Vec<Command> = (0..rng.range(1..=8))
        .map(|_| {
            let (args, reply) = model.command(rng, peer);
            Command {
                wire: encode(rng, &args),
                reply,
                ends: false,
            }
        })
        .collect();
    let end = |wire: &[u8], reply: &[u8]| Command {
        wire: wire.to_vec(),
        reply: Reply::Exactly(reply.to_vec()),
        ends: true,
    };
    match rng.below(20) {
        0 => commands.push(end(b"QUIT\r\n", b"+OK\r\n")),
        1 => commands.push(end(
            b"*1\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        )),
        _ => {}
    }
    commands
}

/// The length of the whole reply at the front of `bytes`, if it is all there.
fn reply_len(bytes: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = bytes.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&bytes[1..end]).map_err(|_| shown(bytes))?;
    let after = end + 2;
    match bytes.first() {
        Some(b'+' | b'-' | b':') => Ok(Some(after)),
        Some(b'$') => match line.parse::<i64>().map_err(|_| shown(bytes))? {
            -1 => Ok(Some(after)),
            n => {
                let total = after + n as usize + 2;
                Ok((bytes.len() >= total).then_some(total))
            }
        },
        Some(b'*') => {
            let mut at = after;
            for _ in 0..line.parse::<usize>().map_err(|_| shown(bytes))? {
                match reply_len(&bytes[at..])? {
                    Some(n) => at += n,
                    None => return Ok(None),
                }
            }
            Ok(Some(at))
        }
        _ => Err(format!("not a reply: {}", shown(bytes))),
    }
}

/// Each peer's commands, and how many it has sent.
type Sessions = Rc<RefCell<Vec<(Vec<Command>, usize)>>>;

/// The replies in `got`, checked against `commands`: how many are whole,
/// and the shared counter's values among them.
fn replies(got: &[u8], commands: &[Command]) -> Result<(usize, Vec<i64>), String> {
    let mut rest = got;
    let (mut whole, mut counted) = (0, Vec::new());
    for command in commands {
        let Some(n) = reply_len(rest)? else {
            // On its way: what is here must start the right reply.
            if let Reply::Exactly(want) = &command.reply
                && !want.starts_with(rest)
            {
                return Err(format!(
                    "reply {whole} {}, expected {}",
                    shown(rest),
                    shown(want)
                ));
            }
            return Ok((whole, counted));
        };
        let reply = &rest[..n];
        match &command.reply {
            Reply::Exactly(want) if want != reply => {
                return Err(format!(
                    "reply {whole} {}, expected {}",
                    shown(reply),
                    shown(want)
                ));
            }
            Reply::Exactly(_) => {}
            Reply::AnyInteger => {
                let text = std::str::from_utf8(&reply[1..n - 2]).unwrap_or("");
                match (reply[0], text.parse::<i64>()) {
                    (b':', Ok(v)) => counted.push(v),
                    _ => return Err(format!("the counter replied {}", shown(reply))),
                }
            }
        }
        rest = &rest[n..];
        whole += 1;
        if command.ends && !rest.is_empty() {
            return Err(format!("replies after the last: {}", shown(rest)));
        }
    }
    if !rest.is_empty() {
        return Err(format!("replies to commands never sent: {}", shown(rest)));
    }
    Ok((whole, counted))
}

fn predicted(sessions: &Sessions, view: &View<'_, State>) -> Result<(), String> {
    let sessions = sessions.borrow();
    let mut values = Vec::new();
    for peer in view.peers() {
        let (commands, sent) = &sessions[peer.index()];
        let (whole, counted) = replies(peer.received(), &commands[..*sent])
            .map_err(|e| format!("peer {}: {e}", peer.index()))?;
        if counted.windows(2).any(|w| w[0] >= w[1]) {
            return Err(format!(
                "peer {}: the counter went {counted:?}",
                peer.index()
            ));
        }
        values.extend(counted);
        let still_there = peer.is_made() && peer.lost().is_none() && !peer.is_reset();
        if view.phase() == Phase::Quiet && still_there && !peer.sent_eof() && whole < *sent {
            return Err(format!("peer {}: {whole} of {sent} replies", peer.index()));
        }
    }
    values.sort_unstable();
    if values.windows(2).any(|w| w[0] == w[1]) || values.last().is_some_and(|&v| v < 1) {
        return Err(format!("the counter gave {values:?}"));
    }
    Ok(())
}

/// A client: its session, pipelined or one command at a time.
struct Redis {
    peer: usize,
    pipelined: bool,
    sessions: Sessions,
}

impl Client for Redis {
    fn act(&mut self, _: &mut Rng, received: &[u8], _: bool) -> Act {
        let mut sessions = self.sessions.borrow_mut();
        let (commands, sent) = &mut sessions[self.peer];
        if *sent == commands.len() || (*sent > 0 && commands[*sent - 1].ends) {
            return Act::Done;
        }
        if !self.pipelined
            && !matches!(replies(received, &commands[..*sent]), Ok((n, _)) if n == *sent)
        {
            return Act::Wait;
        }
        *sent += 1;
        Act::Send(commands[*sent - 1].wire.clone())
    }
}

/// One scenario: a few clients, over TLS or not, each with its session.
pub(super) fn scenario(seed: u64, tls: Option<&Tls>) -> Result<(), String> {
    let config = limits(tight_config(&mut Rng::new(seed)), tls);
    let mut sim =
        Sim::new(seed, State::new(), config, Connection::default).map_err(|e| e.to_string())?;
    speak_tls(&mut sim, tls);
    let sessions: Sessions = Rc::default();
    for peer in 0..sim.rng().range(1..=3) {
        let rng = sim.rng();
        let commands = session(rng, peer);
        let pipelined = rng.chance(50);
        sessions.borrow_mut().push((commands, 0));
        let client = Redis {
            peer,
            pipelined,
            sessions: sessions.clone(),
        };
        join(&mut sim, client, tls)?;
    }
    let shared = sessions.clone();
    sim.check(move |view| predicted(&shared, view));
    let turns = sim.rng().range(5..=60);
    sim.run(turns)?;
    sim.finish()
}

#[test]
fn sim_resp() {
    let seen = scenarios("sim_resp", 1200, |seed| scenario(seed, None));
    every_fault_struck("sim_resp", seen, true);
}
