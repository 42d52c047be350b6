//! The request parser: RESP2 multibulk (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`)
//! and inline (`GET k\r\n`) commands, pipelined and split at any byte, with
//! Redis's limits.
//!
//! Arguments are normally *not copied*: the parser records where each one
//! lies in the reactor's input buffer and the command runs on those slices.
//! A command that is still incomplete stays in that buffer (the reactor hands
//! it back with the newer bytes appended), and the parser remembers how far
//! it got, so each byte is looked at once however the command is split.
//! Only a partial command larger than `STREAM_AFTER` (a big value on its
//! way) is copied out as it arrives and consumed, so the reactor's buffer
//! stays small and a value's storage grows only as its bytes come in, never
//! to a length the peer merely claims.

use crate::resp::int::parse_i64;
use crate::resp::reply::Reply;

/// Largest bulk argument (Redis's `proto-max-bulk-len`).
pub const MAX_BULK: i64 = 512 * 1024 * 1024;
/// Largest argument count of one multibulk command.
pub const MAX_MULTIBULK: i64 = 1024 * 1024;
/// Longest inline command line, and longest `*`/`$` header line.
pub const MAX_INLINE: usize = 64 * 1024;
/// A partial command this big leaves the reactor's buffer (Redis's
/// `PROTO_MBULK_BIG_ARG`).
const STREAM_AFTER: usize = 32 * 1024;

/// Why a request cannot be parsed; the reply is sent and the connection
/// closed, as Redis does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolError {
    TooBigInline,
    UnbalancedQuotes,
    TooBigMbulkCount,
    InvalidMultibulkLength,
    TooBigBulkCount,
    InvalidBulkLength,
    ExpectedDollar(u8),
}

impl ProtocolError {
    pub fn reply(self, out: &mut Reply) {
        let msg = match self {
            ProtocolError::TooBigInline => "too big inline request",
            ProtocolError::UnbalancedQuotes => "unbalanced quotes in request",
            ProtocolError::TooBigMbulkCount => "too big mbulk count string",
            ProtocolError::InvalidMultibulkLength => "invalid multibulk length",
            ProtocolError::TooBigBulkCount => "too big bulk count string",
            ProtocolError::InvalidBulkLength => "invalid bulk length",
            ProtocolError::ExpectedDollar(got) => {
                return out.error_quoting(&[
                    b"ERR Protocol error: expected '$', got '",
                    &[got],
                    b"'",
                ]);
            }
        };
        out.error(&format!("ERR Protocol error: {msg}"));
    }
}

/// What [`Parser::parse`] found at the front of the buffer it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// A command is ready (see [`Parser::args`]); it took this many bytes.
    Command(usize),
    /// An empty command (`*0`, a blank line) took this many bytes.
    Empty(usize),
    /// The rest is an incomplete command; this many bytes were consumed
    /// (copied out) already, the others must be offered again with more.
    Partial(usize),
    Error(ProtocolError),
}

/// Where the arguments of the ready (or partial) command are.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `spans` index the caller's buffer, from the command's first byte.
    #[default]
    Multibulk,
    /// `spans` index `arena` (inline arguments are unquoted into it).
    Inline,
    /// The arguments were copied into `owned` as they arrived.
    Streaming,
}

/// The parser of one connection. Its buffers are reused from command to
/// command, so steady-state parsing allocates nothing.
#[derive(Default)]
pub struct Parser {
    mode: Mode,
    /// (start, len) of each argument parsed so far.
    spans: Vec<(usize, usize)>,
    /// Arguments the multibulk command announced; 0 when none is under way.
    expected: usize,
    /// Where parsing resumes, from the partial command's first byte.
    cursor: usize,
    arena: Vec<u8>,
    owned: Vec<Vec<u8>>,
    /// Streaming: the bulk argument being received.
    pending: Option<Pending>,
}

struct Pending {
    data: Vec<u8>,
    len: usize,
    /// Bytes of the CRLF after the payload still to skip.
    crlf: usize,
}

impl Parser {
    /// Parses the command at the front of `buf`. After `Step::Command`, run
    /// it with [`Parser::args`] and call [`Parser::done`]; after
    /// `Step::Partial(n)`, offer `buf[n..]` again once more bytes arrived.
    pub fn parse(&mut self, buf: &[u8]) -> Step {
        if self.mode == Mode::Streaming {
            return self.stream(buf, 0);
        }
        if self.expected == 0 {
            match buf.first() {
                None => return Step::Partial(0),
                Some(b'*') => {}
                Some(_) => return self.inline(buf),
            }
            let (cr, count) = match header(buf, 0) {
                Ok(Some(found)) => found,
                Ok(None) if buf.len() > MAX_INLINE => {
                    return Step::Error(ProtocolError::TooBigMbulkCount);
                }
                Ok(None) => return Step::Partial(0),
                Err(()) => return Step::Error(ProtocolError::InvalidMultibulkLength),
            };
            if count > MAX_MULTIBULK {
                return Step::Error(ProtocolError::InvalidMultibulkLength);
            }
            if count <= 0 {
                return Step::Empty(cr + 2);
            }
            self.mode = Mode::Multibulk;
            self.expected = count as usize;
            self.cursor = cr + 2;
            self.spans.clear();
        }
        while self.spans.len() < self.expected {
            let at = self.cursor;
            let (body, len) = match bulk_header(buf, at) {
                Ok(Some(found)) => found,
                Ok(None) => return self.incomplete(buf, None),
                Err(e) => return Step::Error(e),
            };
            if buf.len() < body + len + 2 {
                return self.incomplete(buf, Some((body, len)));
            }
            self.spans.push((body, len));
            self.cursor = body + len + 2;
        }
        Step::Command(self.cursor)
    }

    /// The arguments of the command `parse` just reported, `buf` being the
    /// same buffer it was given.
    pub fn args<'a>(&'a mut self, buf: &'a [u8]) -> Args<'a> {
        match self.mode {
            Mode::Multibulk => Args::Spans(buf, &self.spans),
            Mode::Inline => Args::Spans(&self.arena, &self.spans),
            Mode::Streaming => Args::Owned(&mut self.owned),
        }
    }

    /// The command was run: get ready for the next one. Buffers an unusually
    /// big command grew are let go of, so an idle connection stays small.
    #[inline]
    pub fn done(&mut self) {
        let mode = std::mem::take(&mut self.mode);
        self.expected = 0;
        self.cursor = 0;
        self.spans.clear();
        // Only a streamed command, or an unusually big one, leaves anything
        // else to clear or give back.
        if mode == Mode::Streaming || self.spans.capacity() > 64 || self.arena.capacity() > 4096 {
            self.release();
        }
    }

    #[cold]
    fn release(&mut self) {
        self.owned.clear();
        if self.spans.capacity() > 64 {
            self.spans = Vec::new();
        }
        if self.owned.capacity() > 64 {
            self.owned = Vec::new();
        }
        if self.arena.capacity() > 4096 {
            self.arena = Vec::new();
        }
    }

    /// The multibulk command at the front of `buf` is not all here. Small
    /// ones wait in the reactor's buffer; a big one is copied out from here
    /// on. `bulk` is the argument whose header was read but not its payload.
    fn incomplete(&mut self, buf: &[u8], bulk: Option<(usize, usize)>) -> Step {
        if buf.len() < STREAM_AFTER {
            return Step::Partial(0);
        }
        self.owned.clear();
        self.owned.extend(
            self.spans
                .iter()
                .map(|&(at, len)| buf[at..at + len].to_vec()),
        );
        self.spans.clear();
        self.mode = Mode::Streaming;
        let from = match bulk {
            Some((body, len)) => {
                self.pending = Some(Pending {
                    data: Vec::new(),
                    len,
                    crlf: 2,
                });
                body
            }
            None => self.cursor,
        };
        self.stream(buf, from)
    }

    /// Streaming: takes what `buf[at..]` holds of the arguments still due.
    fn stream(&mut self, buf: &[u8], mut at: usize) -> Step {
        loop {
            if let Some(p) = &mut self.pending {
                let take = (p.len - p.data.len()).min(buf.len() - at);
                if take > 0 {
                    reserve_bounded(&mut p.data, take, p.len);
                    p.data.extend_from_slice(&buf[at..at + take]);
                    at += take;
                }
                let skip = p.crlf.min(buf.len() - at);
                p.crlf -= skip;
                at += skip;
                if p.data.len() < p.len || p.crlf > 0 {
                    return Step::Partial(at);
                }
                let done = self.pending.take().expect("checked above");
                self.owned.push(done.data);
            }
            if self.owned.len() == self.expected {
                return Step::Command(at);
            }
            let (body, len) = match bulk_header(buf, at) {
                Ok(Some(found)) => found,
                Ok(None) => return Step::Partial(at),
                Err(e) => return Step::Error(e),
            };
            self.pending = Some(Pending {
                data: Vec::new(),
                len,
                crlf: 2,
            });
            at = body;
        }
    }

    /// An inline command: one line, split on spaces, with Redis's quoting.
    fn inline(&mut self, buf: &[u8]) -> Step {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            if buf.len() > MAX_INLINE {
                return Step::Error(ProtocolError::TooBigInline);
            }
            return Step::Partial(0);
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        self.arena.clear();
        self.spans.clear();
        if split_args(&buf[..end], &mut self.arena, &mut self.spans).is_err() {
            return Step::Error(ProtocolError::UnbalancedQuotes);
        }
        if self.spans.is_empty() {
            return Step::Empty(nl + 1);
        }
        self.mode = Mode::Inline;
        Step::Command(nl + 1)
    }
}

/// Grows `v` to take `add` more bytes: doubling, as a `Vec` does, but never
/// past `total`, the announced length, so a finished argument has no slack.
fn reserve_bounded(v: &mut Vec<u8>, add: usize, total: usize) {
    if v.capacity() - v.len() >= add {
        return;
    }
    let want = (v.len() + add).max(v.capacity() * 2).min(total);
    v.reserve_exact(want - v.len());
}

/// A `*N` or `$N` header line at `buf[at]`: the position of its CR and the
/// number. `Ok(None)` until the line is complete. Like Redis, the line ends
/// at the first CR, and the byte after it (the LF) is skipped unchecked.
fn header(buf: &[u8], at: usize) -> Result<Option<(usize, i64)>, ()> {
    // The usual header is a few digits, no sign, no leading zero: read them
    // in the same pass that finds the CR. Anything else (a sign, a zero, a
    // stray byte, a line not all here) takes the general path below, which
    // gives the same answer for these too.
    let mut n: i64 = 0;
    let mut i = at + 1;
    while let Some(&d) = buf.get(i) {
        if d.is_ascii_digit() && i - at <= 18 && !(n == 0 && d == b'0') {
            n = n * 10 + i64::from(d - b'0');
            i += 1;
        } else {
            if d == b'\r' && i > at + 1 && i + 1 < buf.len() {
                return Ok(Some((i, n)));
            }
            break;
        }
    }
    let Some(cr) = buf[at..].iter().position(|&b| b == b'\r').map(|i| at + i) else {
        return Ok(None);
    };
    if cr + 1 >= buf.len() {
        return Ok(None);
    }
    parse_i64(&buf[at + 1..cr]).map(|n| Some((cr, n))).ok_or(())
}

/// A `$len` header at `buf[at]`: where the payload starts and its length.
fn bulk_header(buf: &[u8], at: usize) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(&first) = buf.get(at) else {
        return Ok(None);
    };
    if first != b'$' {
        return Err(ProtocolError::ExpectedDollar(first));
    }
    match header(buf, at) {
        Ok(Some((cr, len))) if (0..=MAX_BULK).contains(&len) => Ok(Some((cr + 2, len as usize))),
        Ok(Some(_)) | Err(()) => Err(ProtocolError::InvalidBulkLength),
        Ok(None) if buf.len() - at > MAX_INLINE => Err(ProtocolError::TooBigBulkCount),
        Ok(None) => Ok(None),
    }
}

/// Redis's `sdssplitargs`: arguments separated by white space, `"..."`
/// with C escapes (`\n`, `\x41`...) and `'...'` with `\'`; a closing quote
/// must be followed by a space or the end. Unquoted arguments go to `arena`
/// byte for byte.
fn split_args(line: &[u8], arena: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) -> Result<(), ()> {
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        // A NUL ends the line, as it ends Redis's C string (an argument
        // stops at one, and starting another there would never advance).
        if i == line.len() || line[i] == 0 {
            return Ok(());
        }
        let start = arena.len();
        let (mut double, mut single) = (false, false);
        loop {
            let c = line.get(i).copied();
            if double {
                match (c, line.get(i + 1).copied()) {
                    (None, _) => return Err(()),
                    (Some(b'\\'), Some(b'x'))
                        if line.len() > i + 3
                            && line[i + 2].is_ascii_hexdigit()
                            && line[i + 3].is_ascii_hexdigit() =>
                    {
                        arena.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                        i += 3;
                    }
                    (Some(b'\\'), Some(e)) => {
                        arena.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                        i += 1;
                    }
                    (Some(b'"'), next) => {
                        if next.is_some_and(|n| !is_space(n)) {
                            return Err(());
                        }
                        i += 1;
                        break;
                    }
                    (Some(c), _) => arena.push(c),
                }
            } else if single {
                match (c, line.get(i + 1).copied()) {
                    (None, _) => return Err(()),
                    (Some(b'\\'), Some(b'\'')) => {
                        arena.push(b'\'');
                        i += 1;
                    }
                    (Some(b'\''), next) => {
                        if next.is_some_and(|n| !is_space(n)) {
                            return Err(());
                        }
                        i += 1;
                        break;
                    }
                    (Some(c), _) => arena.push(c),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => break,
                    Some(b'"') => double = true,
                    Some(b'\'') => single = true,
                    Some(c) => arena.push(c),
                }
            }
            i += 1;
        }
        spans.push((start, arena.len() - start));
    }
}

/// C's `isspace`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex(d: u8) -> u8 {
    match d {
        b'0'..=b'9' => d - b'0',
        b'a'..=b'f' => d - b'a' + 10,
        _ => d - b'A' + 10,
    }
}

/// The arguments of one command, the name first: slices of a buffer, or
/// owned buffers for a command that was streamed.
pub enum Args<'a> {
    Spans(&'a [u8], &'a [(usize, usize)]),
    Owned(&'a mut Vec<Vec<u8>>),
}

impl Args<'_> {
    /// Number of arguments, the command name included.
    pub fn len(&self) -> usize {
        match self {
            Args::Spans(_, spans) => spans.len(),
            Args::Owned(owned) => owned.len(),
        }
    }

    /// Whether there are none (never, for a parsed command).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` (the command name is 0). Panics past `len()`: commands
    /// check their arity first.
    pub fn get(&self, i: usize) -> &[u8] {
        match self {
            Args::Spans(buf, spans) => {
                let (at, len) = spans[i];
                &buf[at..at + len]
            }
            Args::Owned(owned) => &owned[i],
        }
    }

    /// Argument `i` as a big owned buffer, without copying it if it was
    /// streamed (a SET of a huge value keeps the one copy it received).
    pub fn take_big(&mut self, i: usize) -> Option<Vec<u8>> {
        match self {
            Args::Owned(owned) => Some(std::mem::take(&mut owned[i])),
            Args::Spans(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` to a parser in the pieces `cuts` makes, the way the
    /// reactor would (unconsumed bytes offered again with the next piece),
    /// and returns every command's arguments, or the protocol error.
    fn run(input: &[u8], cuts: &[usize]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = Parser::default();
        let mut pending: Vec<u8> = Vec::new();
        let mut commands = Vec::new();
        let mut from = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            pending.extend_from_slice(&input[from..cut]);
            from = cut;
            let mut pos = 0;
            loop {
                match parser.parse(&pending[pos..]) {
                    Step::Command(n) => {
                        let args = parser.args(&pending[pos..]);
                        commands.push((0..args.len()).map(|i| args.get(i).to_vec()).collect());
                        parser.done();
                        pos += n;
                    }
                    Step::Empty(n) => pos += n,
                    Step::Partial(n) => {
                        pos += n;
                        break;
                    }
                    Step::Error(e) => return Err(e),
                }
            }
            pending.drain(..pos);
        }
        Ok(commands)
    }

    fn words(cmds: &[&[&str]]) -> Vec<Vec<Vec<u8>>> {
        cmds.iter()
            .map(|c| c.iter().map(|a| a.as_bytes().to_vec()).collect())
            .collect()
    }

    const PIPELINE: &[u8] = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nva\r\nl\r\n\
        PING\r\nget  k\n*0\r\n\r\n*2\r\n$4\r\nECHO\r\n$0\r\n\r\n\
        echo \"a\\x41\\n\" 'b\\'c'\r\n*1\r\n$4\r\nQUIT\r\n";

    fn pipeline_commands() -> Vec<Vec<Vec<u8>>> {
        let mut want = words(&[
            &["SET", "k", "va\r\nl"],
            &["PING"],
            &["get", "k"],
            &["ECHO", ""],
        ]);
        want.push(vec![b"echo".to_vec(), b"aA\n".to_vec(), b"b'c".to_vec()]);
        want.extend(words(&[&["QUIT"]]));
        want
    }

    #[test]
    fn a_pipelined_mix_parses_the_same_at_every_split() {
        let want = pipeline_commands();
        assert_eq!(run(PIPELINE, &[]).unwrap(), want);
        for cut in 0..=PIPELINE.len() {
            assert_eq!(run(PIPELINE, &[cut]).unwrap(), want, "split at {cut}");
        }
        let bytewise: Vec<usize> = (1..PIPELINE.len()).collect();
        assert_eq!(run(PIPELINE, &bytewise).unwrap(), want);
    }

    #[test]
    fn a_big_argument_is_streamed_and_sized_to_its_length() {
        let value = vec![b'v'; 200_000];
        let mut input = b"*3\r\n$3\r\nset\r\n$3\r\nbig\r\n$200000\r\n".to_vec();
        input.extend_from_slice(&value);
        input.extend_from_slice(b"\r\n*1\r\n$4\r\nping\r\n");
        for step in [1, 7, 4096, 65536] {
            let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
            let got = run(&input, &cuts).unwrap();
            assert_eq!(got.len(), 2, "step {step}");
            assert_eq!(got[0][2], value);
            assert_eq!(got[1], words(&[&["ping"]])[0]);
        }
        // The streamed value's buffer holds exactly the value.
        let mut parser = Parser::default();
        let head = &input[..STREAM_AFTER];
        assert!(matches!(parser.parse(head), Step::Partial(n) if n == head.len()));
        // The command ends 14 bytes before the input does (`*1 $4 ping`).
        let rest = &input[STREAM_AFTER..input.len() - 14];
        assert_eq!(parser.parse(rest), Step::Command(rest.len()));
        let mut args = parser.args(&[]);
        let value = args.take_big(2).unwrap();
        assert_eq!(value.len(), 200_000);
        assert_eq!(value.capacity(), 200_000);
    }

    #[test]
    fn claimed_lengths_allocate_nothing_until_bytes_arrive() {
        let mut parser = Parser::default();
        let mut input = b"*1\r\n$536870912\r\n".to_vec();
        input.resize(STREAM_AFTER + 100, b'x');
        assert_eq!(parser.parse(&input), Step::Partial(input.len()));
        let pending = parser.pending.as_ref().unwrap();
        assert!(
            pending.data.capacity() < 1024 * 1024,
            "{}",
            pending.data.capacity()
        );
    }

    #[test]
    fn protocol_errors_match_redis() {
        use ProtocolError::*;
        let big_count = [b"*".as_slice(), &[b'1'; 70_000]].concat();
        let big_bulk = [b"*1\r\n$".as_slice(), &[b'1'; 70_000]].concat();
        let cases: &[(&[u8], ProtocolError)] = &[
            (b"*1048577\r\n", InvalidMultibulkLength),
            (b"*a\r\n", InvalidMultibulkLength),
            (b"*\r\n", InvalidMultibulkLength),
            (b"*1\n$4\r\nPING\r\n", InvalidMultibulkLength),
            (b"*1\r\n$536870913\r\n", InvalidBulkLength),
            (b"*1\r\n$-1\r\n", InvalidBulkLength),
            (b"*1\r\n$\r\n", InvalidBulkLength),
            (b"*1\r\n+ping\r\n", ExpectedDollar(b'+')),
            (b"set a \"unbalanced\r\n", UnbalancedQuotes),
            (b"echo \"a\"b\r\n", UnbalancedQuotes),
            (b"echo 'a'b\r\n", UnbalancedQuotes),
            (&[b'x'; 70_000], TooBigInline),
            (&big_count, TooBigMbulkCount),
            (&big_bulk, TooBigBulkCount),
        ];
        for (input, want) in cases {
            assert_eq!(
                run(input, &[]),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(&input[..input.len().min(20)])
            );
        }
        // The largest legal sizes are accepted (and wait for their bytes).
        assert_eq!(run(b"*1048576\r\n", &[]), Ok(vec![]));
        assert_eq!(run(b"*1\r\n$536870912\r\n", &[]), Ok(vec![]));
    }

    #[test]
    fn header_lines_parse_as_strictly_as_redis_on_both_paths() {
        type Found = Result<Option<(usize, i64)>, ()>;
        let cases: &[(&str, Found)] = &[
            ("$3\r\n", Ok(Some((2, 3)))),
            ("*16\r\n", Ok(Some((3, 16)))),
            ("$0\r\n", Ok(Some((2, 0)))),
            ("$-1\r\n", Ok(Some((3, -1)))),
            (
                "$123456789012345678\r\n",
                Ok(Some((19, 123_456_789_012_345_678))),
            ),
            ("$9223372036854775807\r\n", Ok(Some((20, i64::MAX)))),
            ("$9223372036854775808\r\n", Err(())),
            ("$01\r\n", Err(())),
            ("$1x\r\n", Err(())),
            ("$\r\n", Err(())),
            ("$12\r", Ok(None)),
            ("$12", Ok(None)),
            ("$", Ok(None)),
        ];
        for (line, want) in cases {
            assert_eq!(header(line.as_bytes(), 0), *want, "{line:?}");
            // The same line further into a buffer.
            let shifted = [b"xx".as_slice(), line.as_bytes()].concat();
            let want = want.map(|found| found.map(|(cr, n)| (cr + 2, n)));
            assert_eq!(header(&shifted, 2), want, "{line:?} at 2");
        }
    }

    #[test]
    fn inline_quoting_follows_sdssplitargs() {
        let got = run(
            b"set  \"a b\" 'c\\'d'\t\"\\x41\\x4g\\t\"\r\n  \r\nx \"\"\n",
            &[],
        )
        .unwrap();
        let mut want = vec![vec![
            b"set".to_vec(),
            b"a b".to_vec(),
            b"c'd".to_vec(),
            b"Ax4g\t".to_vec(),
        ]];
        want.push(vec![b"x".to_vec(), b"".to_vec()]);
        assert_eq!(got, want);
    }
}
