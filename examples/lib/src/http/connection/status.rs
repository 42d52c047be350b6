//! The status page (`--status-path`, off by default), as nginx's
//! `stub_status`: the reactor's statistics as plain text, one `name: value`
//! line each, the names `sockloop_examples::stats` gives them. Answered
//! like any other small page: on a keep-alive connection, from the same
//! loop, so it shows the loop as it is while it serves.

use sockloop::Ctx;

use super::{Access, Http};
use crate::http::Server;
use crate::http::response::Persist;
use crate::stats;

impl Http {
    /// Sends the status page.
    pub(super) fn send_status(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        persist: Persist,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let body = stats::render(&ctx.stats(), ": ", "\n");
        Self::write_head(ctx, 200, persist, |head| {
            head.header("Content-Type", "text/plain; charset=utf-8")
                .header("Content-Length", body.len())
                .header("Cache-Control", "no-store")
                .finish();
        });
        if !head_only {
            ctx.write(body.as_bytes());
            access.bytes = body.len() as u64;
        }
        access.status = 200;
        self.complete(ctx, access, persist);
    }
}
