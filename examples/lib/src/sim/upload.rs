//! upload: every `true` stands for exactly that file, stored under exactly
//! that name; a refusal only for a file over the limit or one its client
//! stopped sending; and nothing half-received survives its connection.
//!
//! Clients send in both forms: the newline form (`NAME|SIZE\n` and the
//! bytes), pipelined or one file at a time, and the tutorial's form
//! (`NAME|SIZE` and the bytes at once, then silence until the answer, which
//! the server gives at the pause). Tutorial files hold no digit, `|` or
//! newline, which would make their header ambiguous (refused by design,
//! tested in the protocol's own tests).

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fs;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::{every_fault_struck, shown, tight_config};
use crate::upload::{PAUSE, Settings, Upload};
use sockloop::harness::{Act, Client, Phase, Rng, Sim, View, scenarios};

/// The largest file the server takes in these scenarios.
const MAX_SIZE: u64 = 600;

/// One file a client sent.
struct File {
    name: String,
    tutorial: bool,
    content: Vec<u8>,
    /// How many bytes the client had sent once this file was all sent.
    end: usize,
}

impl File {
    fn stored(&self) -> &'static [u8] {
        if self.tutorial { b"true" } else { b"true\n" }
    }

    fn too_large(&self) -> bool {
        self.content.len() as u64 > MAX_SIZE
    }
}

/// Each peer's files, in the order sent.
type Sent = Rc<RefCell<Vec<Vec<File>>>>;

/// A client: its files, sent pipelined or each after the last one's answer.
struct Uploader {
    peer: usize,
    files: VecDeque<File>,
    pipelined: bool,
    sent: Sent,
    /// Bytes sent so far.
    offset: usize,
    /// Answers still awaited before the next file (lock-step only).
    awaiting: Option<usize>,
}

impl Client for Uploader {
    fn act(&mut self, _: &mut Rng, received: &[u8], server_done: bool) -> Act {
        if let Some(until) = self.awaiting {
            // The answer so far must say `true`, whole, to go on.
            if received.len() < until && !server_done {
                return Act::Wait;
            }
            if !received.ends_with(b"true") && !received.ends_with(b"true\n") {
                return Act::Done;
            }
            self.awaiting = None;
        }
        let Some(mut file) = self.files.pop_front() else {
            return Act::Done;
        };
        let mut bytes = format!("{}|{}", file.name, file.content.len()).into_bytes();
        if !file.tutorial {
            bytes.push(b'\n');
        }
        bytes.extend_from_slice(&file.content);
        self.offset += bytes.len();
        file.end = self.offset;
        if !self.pipelined || file.tutorial {
            self.awaiting = Some(received.len() + file.stored().len());
        }
        self.sent.borrow_mut()[self.peer].push(file);
        Act::Send(bytes)
    }
}

/// The answers in `got`, one per file in order: how many said `true`, and
/// what is wrong if anything is.
fn answers(got: &[u8], files: &[File], read: usize, sent_eof: bool) -> Result<usize, String> {
    let mut rest = got;
    let mut stored = 0;
    for file in files {
        if rest.is_empty() {
            break;
        }
        let yes = file.stored();
        if rest.starts_with(yes) {
            if file.too_large() || read < file.end {
                return Err(format!("{} stored before it was all sent", file.name));
            }
            stored += 1;
            rest = &rest[yes.len()..];
            continue;
        }
        if yes.starts_with(rest) {
            return Ok(stored); // the rest of the answer is on its way
        }
        // A refusal ends the connection: it must be the last answer, and
        // the file must have called for it.
        let expected = if file.too_large() {
            Some("false too large\n".as_bytes())
        } else if sent_eof && read < file.end {
            None // "incomplete: N of M bytes received"
        } else {
            return Err(format!("{} refused: {}", file.name, shown(rest)));
        };
        let refusal = rest.starts_with(b"false") || b"false".starts_with(rest);
        if !refusal || expected.is_some_and(|e| !e.starts_with(rest)) {
            return Err(format!("{} answered {}", file.name, shown(rest)));
        }
        return Ok(stored);
    }
    if !rest.is_empty() {
        return Err(format!("answers beyond the files sent: {}", shown(rest)));
    }
    Ok(stored)
}

/// Files on disk: name and contents.
type Stored = Vec<(String, Vec<u8>)>;

/// The files in `dir`, and how many temporary ones are beside them.
fn on_disk(dir: &Path) -> Result<(Stored, usize), String> {
    let mut files = Vec::new();
    let mut temporary = 0;
    for entry in fs::read_dir(dir).map_err(|e| e.to_string())? {
        let entry = entry.map_err(|e| e.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".upload-") {
            temporary += 1;
            continue;
        }
        files.push((name, fs::read(entry.path()).map_err(|e| e.to_string())?));
    }
    Ok((files, temporary))
}

fn uploads(sent: &Sent, dir: &Path, view: &View<'_, Settings>) -> Result<(), String> {
    let sent = sent.borrow();
    let mut answered = Vec::new();
    for peer in view.peers() {
        let files = &sent[peer.index()];
        let stored = answers(peer.received(), files, peer.read().len(), peer.sent_eof())
            .map_err(|e| format!("peer {}: {e}", peer.index()))?;
        answered.extend(files[..stored].iter().map(|f| f.name.clone()));
        let still_there = peer.is_made() && peer.lost().is_none() && !peer.is_reset();
        let all = files.iter().take_while(|f| !f.too_large()).count();
        if view.phase() == Phase::Quiet && still_there && !peer.sent_eof() && stored != all {
            return Err(format!(
                "peer {}: {stored} of {all} files stored",
                peer.index()
            ));
        }
    }
    if view.phase() == Phase::Running {
        return Ok(());
    }
    let (files, temporary) = on_disk(dir)?;
    for (name, content) in &files {
        let right = sent
            .iter()
            .flatten()
            .any(|f| f.name == *name && f.content == *content);
        if !right {
            return Err(format!(
                "{name} on disk is no file a client sent: {}",
                shown(content)
            ));
        }
    }
    for name in answered {
        if !files.iter().any(|(n, _)| *n == name) {
            return Err(format!("{name} was answered true and is not on disk"));
        }
    }
    if view.phase() == Phase::Ended && temporary > 0 {
        return Err(format!(
            "{temporary} temporary files survive their connections"
        ));
    }
    Ok(())
}

/// A scratch directory in memory (storing a file calls fsync), removed
/// when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(seed: u64) -> Scratch {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!(
            "sockloop-sim-upload-{}-{seed:x}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("creating a scratch directory");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn file(rng: &mut Rng, peer: usize, k: usize, tutorial: bool) -> File {
    let size = match rng.below(10) {
        0 => 0,
        9 => rng.range(1..=MAX_SIZE as usize + 100),
        _ => rng.size(120),
    };
    let content = if tutorial {
        // Never over the limit: a tutorial header over it is refused
        // without its body being read, and the rest of it misread.
        let size = size.clamp(1, MAX_SIZE as usize);
        rng.bytes(size, b"abcxyz .-_")
    } else {
        rng.bytes(size, b"")
    };
    File {
        name: format!("p{peer}-{k}.dat"),
        tutorial,
        content,
        end: 0,
    }
}

#[test]
fn sim_upload() {
    let seen = scenarios("sim_upload", 1300, |seed| {
        let scratch = Scratch::new(seed);
        let settings = Settings {
            dir: scratch.0.clone(),
            max_size: MAX_SIZE,
            next_temp: 0,
            pause: PAUSE,
        };
        let config = tight_config(&mut Rng::new(seed));
        let mut sim = Sim::new(seed, settings, config, Upload::new).map_err(|e| e.to_string())?;
        let sent: Sent = Rc::default();
        for peer in 0..sim.rng().range(1..=3) {
            let rng = sim.rng();
            let tutorial = rng.chance(35);
            let files = (0..rng.range(1..=3))
                .map(|k| file(rng, peer, k, tutorial))
                .collect();
            let pipelined = rng.chance(50);
            sent.borrow_mut().push(Vec::new());
            sim.connect(Uploader {
                peer,
                files,
                pipelined,
                sent: sent.clone(),
                offset: 0,
                awaiting: None,
            });
        }
        let (shared, dir) = (sent.clone(), scratch.0.clone());
        sim.check(move |view| uploads(&shared, &dir, view));
        let turns = sim.rng().range(5..=60);
        sim.run(turns)?;
        sim.finish()
    });
    every_fault_struck("sim_upload", seen, true);
}
