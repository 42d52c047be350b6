//! The echo_server protocol: every byte a client sends comes straight back.

use sockloop::{Ctx, Protocol};

/// The whole protocol: consume everything, write it back.
pub struct Echo;

impl Protocol for Echo {
    fn data_received(&mut self, ctx: &mut Ctx, data: &[u8]) -> usize {
        ctx.write(data);
        data.len()
    }
}
