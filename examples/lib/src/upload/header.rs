//! Reading an upload's header: `NAME|SIZE` in either form, and the
//! pause rules that keep the tutorial's form from being misread (see the
//! module above).

use super::*;

/// Which form a header came in, and so how its upload is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Form {
    /// `NAME|SIZE\n`: answered `true\n` or `false REASON\n`.
    Newline,
    /// `NAME|SIZE` and the bytes: answered `true` or `false: REASON`.
    Tutorial,
}

impl Form {
    /// The answer to a file stored.
    pub(super) fn stored(self) -> &'static [u8] {
        match self {
            Form::Newline => b"true\n",
            Form::Tutorial => b"true",
        }
    }

    /// The answer to a file refused.
    pub(super) fn refused(self, reason: &str) -> String {
        match self {
            Form::Newline => format!("false {reason}\n"),
            Form::Tutorial => format!("false: {reason}"),
        }
    }
}

/// What a file that starts with a digit or a newline should be sent as.
pub(super) const USE_NEWLINE_FORM: &str = "send the newline form, NAME|SIZE\\n then the file";

/// Why a header was refused; `Display` is the reason in the answer.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    BadHeader,
    BadName,
    TooLarge,
    /// The tutorial's form with a size over the limit, which may be a
    /// smaller size followed by a file that starts with digits.
    TooLargeOrDigits,
    /// The client fell silent right after the size's digits.
    NothingAfterSize,
    /// At a pause, the bytes fit a shorter reading of the size as well.
    AmbiguousSize {
        shorter: u64,
        longer: String,
    },
    /// At a pause, the bytes fit a file that starts with the newline.
    LeadingNewline,
    /// The tutorial's form ends the name at the first `|`; the newline
    /// form's header a newline later ends it at a later one.
    AmbiguousName,
    /// Bytes came after a complete tutorial-form file, before the pause:
    /// that client sends one file and waits, so the header was misread.
    AfterFile,
}

impl Refusal {
    /// The ambiguity when the first `k` of `digits` fit the bytes as a size.
    pub(super) fn ambiguous(digits: &[u8], k: usize, shorter: u64) -> Refusal {
        if k == digits.len() {
            return Refusal::LeadingNewline;
        }
        let mut longer = String::from_utf8_lossy(&digits[..digits.len().min(MAX_DIGITS)]);
        if digits.len() > MAX_DIGITS {
            longer.to_mut().push_str("...");
        }
        Refusal::AmbiguousSize {
            shorter,
            longer: longer.into_owned(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BadHeader => f.write_str("bad header"),
            Refusal::BadName => f.write_str("bad name"),
            Refusal::TooLarge => f.write_str("too large"),
            Refusal::TooLargeOrDigits => write!(
                f,
                "too large (if the file starts with a digit, {USE_NEWLINE_FORM})"
            ),
            Refusal::NothingAfterSize => write!(
                f,
                "nothing after the size (if the file starts with a digit, {USE_NEWLINE_FORM})"
            ),
            Refusal::AmbiguousSize { shorter, longer } => write!(
                f,
                "ambiguous size: {shorter} or {longer} bytes, the file may start with digits; \
                 {USE_NEWLINE_FORM}"
            ),
            Refusal::LeadingNewline => write!(
                f,
                "ambiguous header: the file may start with a newline; {USE_NEWLINE_FORM}"
            ),
            Refusal::AmbiguousName => write!(
                f,
                "ambiguous header: the name may end at its first | or at a later one; \
                 {USE_NEWLINE_FORM}, with no | followed by a digit in NAME"
            ),
            Refusal::AfterFile => f.write_str(
                "more bytes than the size: send one file, then wait for its answer, \
                 with no | followed by a digit in NAME",
            ),
        }
    }
}

/// The value of a size's digits; `None` past `u64::MAX` or [`MAX_DIGITS`].
pub(super) fn parse_size(digits: &[u8]) -> Option<u64> {
    if digits.len() > MAX_DIGITS {
        return None;
    }
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Checks a newline-form header's name and size digits; returns the size.
///
/// The size must be 1 to 20 decimal digits: 20 digits may still exceed
/// `u64::MAX`, which counts as too large rather than as a malformed header.
pub(super) fn check_header(name: &[u8], digits: &[u8], max_size: u64) -> Result<u64, Refusal> {
    if digits.is_empty() || digits.len() > MAX_DIGITS || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::BadHeader);
    }
    if !is_plain_file_name(name) {
        return Err(Refusal::BadName);
    }
    match parse_size(digits) {
        Some(size) if size <= max_size => Ok(size),
        _ => Err(Refusal::TooLarge),
    }
}

/// Whether `name` names a file directly inside the upload directory and
/// nothing else: no path separators (either kind), no `.` or `..`, no NUL,
/// and no name of the form our own temporary files use, so one upload can
/// never replace another's file in progress.
pub fn is_plain_file_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name != b"."
        && name != b".."
        && !name.iter().any(|&b| matches!(b, b'/' | b'\\' | 0))
        && !(name.starts_with(b".") && name.ends_with(b".part"))
}

/// The reading of a tutorial-form header that a silent client's bytes fit:
/// `after_bar` bytes followed the `|`, and the first k `digits` read as a
/// size S account for exactly them (S + k == `after_bar`). Returns k and S.
/// At most one k fits, since S + k grows with k.
pub(super) fn silent_reading(digits: &[u8], after_bar: u64) -> Option<(usize, u64)> {
    let mut size = 0u64;
    for (i, d) in digits.iter().take(MAX_DIGITS).enumerate() {
        size = size.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        let k = i + 1;
        let end = size.checked_add(k as u64)?;
        if end >= after_bar {
            return (end == after_bar).then_some((k, size));
        }
    }
    None
}

/// What the bytes at the start of the input say about the next upload.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Header<'a> {
    /// Too few bytes to tell, and no pause yet.
    Pending,
    /// A header of `consumed` bytes; the file's bytes follow it. In the
    /// newline form `digits` is what follows the line's last `|`, not yet
    /// checked to be digits.
    Found {
        form: Form,
        name: &'a [u8],
        digits: &'a [u8],
        consumed: usize,
    },
    /// Refused, answered in the way of `Form`.
    Refused(Form, Refusal),
}

/// Reads the header at the start of `input`. `silent`: the client has sent
/// nothing more for a pause, or ended its stream, so this is all a
/// tutorial-form client sends before it waits for the answer.
///
/// Only the first `MAX_HEADER + 1` bytes are looked at, so the answer is the
/// same however the input was cut into reads; with more than `MAX_HEADER`
/// bytes, or `silent`, it is never `Pending`.
pub(super) fn read_header(input: &[u8], silent: bool) -> Header<'_> {
    let view = &input[..input.len().min(MAX_HEADER + 1)];
    let decide = silent || input.len() > MAX_HEADER;
    // A header never spans a newline, whatever its form.
    let first_line = view.split(|&b| b == b'\n').next().unwrap_or(view);
    let Some(bar) = first_line.iter().position(|&b| b == b'|') else {
        return newline_form_only(view, decide, silent);
    };
    let ndigits = view[bar + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if ndigits == 0 {
        // The tutorial's form has the size right after the name's end.
        return newline_form_only(view, decide, silent);
    }
    let name = &view[..bar];
    let digits = &view[bar + 1..bar + 1 + ndigits];
    let end = bar + 1 + ndigits;
    let newline = |consumed| Header::Found {
        form: Form::Newline,
        name,
        digits,
        consumed,
    };
    match &view[end..] {
        [b'\n', ..] => newline(end + 1),
        [b'\r', b'\n', ..] => newline(end + 2),
        [] | [b'\r'] if !decide => Header::Pending,
        [] | [b'\r'] => silent_after_digits(name, digits, view.len() - end, silent),
        _ => tutorial_form(view, bar, name, digits, decide),
    }
}

/// The newline form is the only one left (no `|`, or no digit after the
/// first): a header line, or nothing yet.
pub(super) fn newline_form_only(view: &[u8], decide: bool, silent: bool) -> Header<'_> {
    match next_line(view, MAX_HEADER) {
        // The size is after the line's *last* `|`, so a name may hold `|`;
        // `Upload::start` checks that it is digits.
        Ok(Some((line, consumed))) => match line.iter().rposition(|&b| b == b'|') {
            Some(bar) => Header::Found {
                form: Form::Newline,
                name: &line[..bar],
                digits: &line[bar + 1..],
                consumed,
            },
            None => Header::Refused(Form::Newline, Refusal::BadHeader),
        },
        // A silent client without a newline speaks the tutorial's form.
        Ok(None) if silent => Header::Refused(Form::Tutorial, Refusal::BadHeader),
        Ok(None) if !decide => Header::Pending,
        Ok(None) | Err(_) => Header::Refused(Form::Newline, Refusal::BadHeader),
    }
}

/// The size's digits end what was received (`rest` is 0, or 1 for a `\r`),
/// and the client is silent or the digits fill the header's limit.
pub(super) fn silent_after_digits<'a>(
    name: &'a [u8],
    digits: &'a [u8],
    rest: usize,
    silent: bool,
) -> Header<'a> {
    if !silent {
        return Header::Refused(Form::Tutorial, Refusal::TooLargeOrDigits);
    }
    if rest == 0 && parse_size(digits) == Some(0) {
        return Header::Found {
            form: Form::Tutorial,
            name,
            digits,
            consumed: name.len() + 1 + digits.len(),
        };
    }
    let refusal = match silent_reading(digits, (digits.len() + rest) as u64) {
        Some((k, size)) => Refusal::ambiguous(digits, k, size),
        None => Refusal::NothingAfterSize,
    };
    Header::Refused(Form::Tutorial, refusal)
}

/// The digits are followed by a byte that starts the file, unless a newline
/// within the header's limit ends a newline-form header whose name holds
/// this `|` and digits. `decide`: no more bytes will come before a pause.
pub(super) fn tutorial_form<'a>(
    view: &'a [u8],
    bar: usize,
    name: &'a [u8],
    digits: &'a [u8],
    decide: bool,
) -> Header<'a> {
    let start = bar + 1 + digits.len();
    match view[start..].iter().position(|&b| b == b'\n') {
        Some(at) => {
            let line = &view[..start + at];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let last = line.iter().rposition(|&b| b == b'|').unwrap_or(bar);
            let tail = &line[last + 1..];
            if last > bar && !tail.is_empty() && tail.iter().all(u8::is_ascii_digit) {
                return Header::Refused(Form::Tutorial, Refusal::AmbiguousName);
            }
        }
        None if !decide => return Header::Pending,
        None => {}
    }
    Header::Found {
        form: Form::Tutorial,
        name,
        digits,
        consumed: start,
    }
}

/// A size's digits as they came, at most [`MAX_DIGITS`] of them.
#[derive(Clone, Copy)]
pub(super) struct SizeDigits {
    digits: [u8; MAX_DIGITS],
    len: usize,
}

impl SizeDigits {
    pub(super) fn new(digits: &[u8]) -> SizeDigits {
        let len = digits.len().min(MAX_DIGITS);
        let mut copy = [0; MAX_DIGITS];
        copy[..len].copy_from_slice(&digits[..len]);
        SizeDigits { digits: copy, len }
    }

    pub(super) fn get(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}
