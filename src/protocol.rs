//! The protocol traits: what a connection, a datagram socket or a pipe does
//! when the reactor tells it something happened.

use std::io;

use crate::addr::Addr;
use crate::context::Ctx;

/// A stream protocol: the state machine of one connection, in asyncio's
/// vocabulary.
///
/// The reactor calls it in this order, and never otherwise:
///
/// ```text
/// connection_made -> data_received* -> eof_received? -> connection_lost
/// ```
///
/// with `pause_writing`/`resume_writing` and `timer_fired` possible anywhere
/// between `connection_made` and `connection_lost`. `connection_lost` is
/// called exactly once for every connection that was made. An outgoing
/// connection that cannot be established gets `connection_failed` instead of
/// the whole sequence.
///
/// Flow control: when the bytes queued for the peer go strictly over the high
/// watermark the reactor calls `pause_writing` and stops reading from this
/// peer; when they drain to the low watermark or under it, it calls
/// `resume_writing` and reads again (see [`Config`](crate::Config)).
///
/// A panic inside any callback closes only this connection; it is logged with
/// the peer address and the reactor goes on.
///
/// ```
/// use sockloop::{Ctx, Protocol};
///
/// /// Echo: every byte that arrives goes straight back.
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
///         ctx.write(data);
///         data.len() // consumed everything
///     }
/// }
/// ```
pub trait Protocol<S: 'static = ()>: 'static {
    /// The connection is established. Set up per-connection state, greet the
    /// peer, start timers.
    fn connection_made(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// Bytes arrived. `data` is everything received and not yet consumed;
    /// return how many bytes from its front you consumed. The rest stays
    /// buffered and comes back, followed by newer bytes, on the next call,
    /// so a frame split across reads needs no bookkeeping in the protocol.
    fn data_received(&mut self, ctx: &mut Ctx<'_, S>, data: &[u8]) -> usize;

    /// The peer shut down its writing side (a half-close). The default closes
    /// our side too once queued output is flushed; a protocol that still has
    /// replies to send can send them first and close later.
    fn eof_received(&mut self, ctx: &mut Ctx<'_, S>) {
        ctx.close();
    }

    /// The connection is gone: `None` after an orderly close, the error
    /// otherwise (reset by peer, timed out, an output limit, a panic). Other
    /// connections can still be written to from here.
    fn connection_lost(&mut self, ctx: &mut Ctx<'_, S>, reason: Option<io::Error>) {
        let _ = (ctx, reason);
    }

    /// Output queued for this peer went over the high watermark; reading from
    /// the peer is paused until it drains.
    fn pause_writing(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// Output queued for this peer drained to the low watermark; reading resumed.
    fn resume_writing(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// A timer set with [`Ctx::set_timer`] on this connection fired.
    fn timer_fired(&mut self, ctx: &mut Ctx<'_, S>, id: u64) {
        let _ = (ctx, id);
    }

    /// An outgoing connection (see [`Ctx::connect_tcp`]) could not be established.
    /// No other callback is called for it.
    fn connection_failed(&mut self, ctx: &mut Ctx<'_, S>, error: io::Error) {
        let _ = ctx;
        log::debug!("outgoing connection failed: {error}");
    }

    /// How the reactor's logs name this protocol (the slow-callback
    /// warning, see [`Config::slow_callback`](crate::Config::slow_callback)):
    /// its type's name, unless you say otherwise.
    fn protocol_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}

/// A datagram protocol (UDP or Unix datagram sockets), asyncio's
/// `DatagramProtocol`.
///
/// Reply with [`Ctx::send_to`]; datagrams the socket cannot take right now are
/// queued and sent when it becomes writable.
pub trait DatagramProtocol<S: 'static = ()>: 'static {
    /// The socket is registered and ready.
    fn connection_made(&mut self, ctx: &mut Ctx<'_, S>) {
        let _ = ctx;
    }

    /// One datagram arrived from `from`.
    fn datagram_received(&mut self, ctx: &mut Ctx<'_, S>, data: &[u8], from: &Addr);

    /// A send or receive failed (an ICMP error such as "connection refused",
    /// or a full send queue). The socket stays open.
    fn error_received(&mut self, ctx: &mut Ctx<'_, S>, error: io::Error) {
        let _ = ctx;
        log::debug!("datagram error: {error}");
    }

    /// The socket was closed (reactor shutdown or [`Ctx::close`]).
    fn connection_lost(&mut self, ctx: &mut Ctx<'_, S>, reason: Option<io::Error>) {
        let _ = (ctx, reason);
    }

    /// How the reactor's logs name this protocol (see
    /// [`Protocol::protocol_name`]).
    fn protocol_name(&self) -> &'static str {
        std::any::type_name::<Self>()
    }
}
