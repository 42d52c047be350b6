//! How a stream connection closes: at once, or lingering first.
//!
//! A connection closed in good order while its peer may still be sending
//! would make the kernel answer that input with a reset, which can destroy
//! the last reply before the peer reads it; so it lingers (nginx's
//! lingering close): the protocol is told the connection is lost, our side
//! is shut down, and what the peer still sends is read and discarded until
//! its EOF or `Config::linger_timeout`. Everything else closes at once.
//! Either way `connection_lost` is called exactly once, and only for a
//! connection that was made.

use std::io;

use mio::Token;

use super::Source;
use crate::core::{Core, Owned, TimerKind};
use crate::protocol::Protocol;
use crate::sys::Io;
use crate::transport::flag;

/// Closes a connection: removes it from the table and the poller and calls
/// `connection_lost` exactly once. A socket closed in good order whose peer
/// may still be sending lingers first (see `Config::linger_timeout`).
pub(crate) fn close_now<S: 'static>(core: &mut Core<S>, token: Token, reason: Option<io::Error>) {
    let Some(s) = core.stream(token) else {
        return;
    };
    let made = s.transport.has(flag::MADE);
    let is_socket = s.transport.is_socket();
    let linger = reason.is_none() && is_socket && !s.transport.has(flag::EOF);
    // Sockets are the news at info level; pipes (stdin, a child's output) are detail.
    let level = if is_socket {
        log::Level::Info
    } else {
        log::Level::Debug
    };
    if log::log_enabled!(level) {
        let describe = core.describe(token);
        match &reason {
            None => log::log!(level, "{describe} closed"),
            Some(e) => log::log!(level, "{describe} closed: {e}"),
        }
    }
    if reason.is_none() {
        // A TLS layer says goodbye (close_notify) before the socket closes,
        // and the socket closes only once that has gone out: if the socket
        // refused part of it, the connection stays closing and comes back
        // here when it drained.
        if let Some(s) = core.stream_mut(token) {
            s.transport.stream.finish();
            if s.transport.queued() > 0 {
                return;
            }
        }
    }
    if linger {
        return start_lingering(core, token, made);
    }
    let Some(Source::Stream(mut s)) = core.remove(token) else {
        return;
    };
    if let Some(id) = s.transport.extra.as_ref().and_then(|x| x.idle_timer) {
        core.cancel_timer(id);
    }
    let protocol = s.protocol.take();
    s.transport.release_buffers(core.pool());
    drop(s);
    if let (true, Some(protocol)) = (made, protocol) {
        lost(core, token, protocol, reason);
    }
}

/// Closing a socket with unread input makes the kernel send a reset, which
/// can destroy our last reply before the peer reads it. So the protocol is
/// told the connection is lost, our side is shut down, and what the peer
/// still sends is read and discarded until its EOF or the linger timeout
/// (nginx's lingering close).
fn start_lingering<S: 'static>(core: &mut Core<S>, token: Token, made: bool) {
    let Some(r) = core.reading(token) else {
        return;
    };
    let t = &mut r.stream.transport;
    t.set(flag::LINGERING);
    let _ = t.stream.shutdown_write();
    t.drop_input(r.pool);
    let protocol = r.stream.protocol.take();
    if let (true, Some(protocol)) = (made, protocol) {
        lost(core, token, protocol, None);
    }
    let deadline = core.linger_deadline(core.config().linger_timeout);
    core.add_timer_at(deadline, TimerKind::Linger(token));
    drain_lingering(core, &mut [0; 4096], token);
}

fn lost<S: 'static>(
    core: &mut Core<S>,
    token: Token,
    protocol: Box<dyn Protocol<S>>,
    reason: Option<io::Error>,
) {
    core.run(token, Owned(protocol), "connection_lost", |p, ctx| {
        p.0.connection_lost(ctx, reason)
    });
}

/// Reads (into `buf`) and discards what a lingering peer still sends;
/// closes for good on its EOF or error.
pub(super) fn drain_lingering<S: 'static>(core: &mut Core<S>, buf: &mut [u8], token: Token) {
    let Some(s) = core.stream_mut(token) else {
        return;
    };
    loop {
        match s.transport.stream.recv(buf) {
            Io::Done(0) | Io::Failed(_) => break,
            Io::Done(n) => s.transport.count_in(n),
            Io::WouldBlock => return,
        }
    }
    core.remove(token);
}

/// The linger timeout passed: close for good.
pub(crate) fn linger_over<S: 'static>(core: &mut Core<S>, token: Token) {
    if core
        .stream(token)
        .is_some_and(|s| s.transport.has(flag::LINGERING))
    {
        core.remove(token);
    }
}
