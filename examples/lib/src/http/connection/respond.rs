//! From a request to its response: which file, which status, which
//! headers, and the body from memory (a cached file, a page) or from the
//! file itself (`send_file`).

use std::borrow::Cow;
use std::fs::File;
use std::time::SystemTime;

use sockloop::Ctx;

use super::{Access, Http, Transfer};
use crate::http::Server;
use crate::http::cache::Entry;
use crate::http::conditional::{self, Answer};
use crate::http::files::{self, Directory, Found, Target};
use crate::http::listing;
use crate::http::path;
use crate::http::representation::{ContentType, Representation};
use crate::http::request::{Refusal, Request};
use crate::http::response::{self, Persist};

/// Where a response's body comes from.
enum Body<'a> {
    /// Bytes in memory (a cached file).
    Memory(&'a [u8]),
    /// The file, sent with `send_file`.
    File(File),
}

impl Http {
    pub(super) fn respond(&mut self, ctx: &mut Ctx<'_, Server>, request: Request<'_>) {
        let persist = if !request.keep_alive || ctx.is_shutting_down() {
            Persist::Close
        } else if request.minor == 0 {
            Persist::KeepAlive
        } else {
            Persist::Implicit
        };
        let head_only = request.method == "HEAD";
        let access = Access {
            method: Cow::Borrowed(request.method),
            target: Cow::Borrowed(request.target),
            status: 0,
            bytes: 0,
            // The turn's time: near enough for a log line, and free.
            started: ctx.now(),
            refused: None,
        };
        if request.method != "GET" && !head_only {
            let allow = [("Allow", "GET, HEAD")];
            return self.send_page(ctx, 405, persist, &allow, head_only, access);
        }
        let path = match path::path_of(request.target) {
            Ok(path) => path,
            Err(refusal) => return self.refuse(ctx, refusal, head_only, access),
        };
        if ctx.shared_ref().status_path.as_deref() == Some(path) {
            return self.send_status(ctx, persist, head_only, access);
        }
        let gzip = request.accept_gzip;
        let now = ctx.now();
        if let Some(entry) = ctx.shared().cache.get(path, gzip, now) {
            return self.send_entry(ctx, &entry, &request, persist, head_only, access);
        }
        let server = ctx.shared();
        match files::resolve(&server.root, request.target, server.options, gzip) {
            Err(refusal) => self.refuse(ctx, refusal, head_only, access),
            Ok(Target::NotFound) => {
                server.cache.remove(path);
                self.send_page(ctx, 404, persist, &[], head_only, access)
            }
            Ok(Target::Redirect(location)) => {
                server.cache.remove(path);
                let location = [("Location", location.as_str())];
                self.send_page(ctx, 301, persist, &location, head_only, access);
            }
            Ok(Target::Directory(dir)) => {
                server.cache.remove(path);
                self.send_listing(ctx, &dir, persist, head_only, access);
            }
            Ok(Target::File(found)) => {
                match server
                    .cache
                    .store(path, gzip, found, now, SystemTime::now())
                {
                    Ok(entry) => self.send_entry(ctx, &entry, &request, persist, head_only, access),
                    Err(found) => {
                        self.send_from_file(ctx, found, &request, persist, head_only, access)
                    }
                }
            }
        }
    }

    /// Writes a response head: the status line and the headers every
    /// response carries, then what `rest` adds. Built in the server's one
    /// head buffer (only one callback runs at a time), so no allocation.
    pub(super) fn write_head(
        ctx: &mut Ctx<'_, Server>,
        status: u16,
        persist: Persist,
        rest: impl FnOnce(response::Head<'_>),
    ) {
        let turn = ctx.now();
        let server = ctx.shared();
        let mut buf = std::mem::take(&mut server.head);
        rest(response::Head::new(
            &mut buf,
            status,
            server.clock.now(turn),
            persist,
        ));
        ctx.write(&buf);
        ctx.shared().head = buf;
    }

    /// Sends a status with its small HTML page.
    pub(super) fn send_page(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        status: u16,
        persist: Persist,
        headers: &[(&str, &str)],
        head_only: bool,
        access: Access<'_>,
    ) {
        let detail = access
            .refused
            .map_or_else(|| response::detail(status), Refusal::detail);
        let body = response::page(status, detail);
        self.send_html(ctx, status, persist, headers, &body, head_only, access);
    }

    /// Sends `body`, an HTML page of this server's own.
    #[allow(clippy::too_many_arguments)]
    fn send_html(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        status: u16,
        persist: Persist,
        headers: &[(&str, &str)],
        body: &str,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        Self::write_head(ctx, status, persist, |head| {
            let mut head = head
                .header("Content-Type", ContentType::HTML)
                .header("Content-Length", body.len());
            for (name, value) in headers {
                head = head.header(name, value);
            }
            head.finish();
        });
        if !head_only {
            ctx.write(body.as_bytes());
            access.bytes = body.len() as u64;
        }
        access.status = status;
        self.complete(ctx, access, persist);
    }

    /// Sends the listing of a directory without an index.
    fn send_listing(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        dir: &Directory,
        persist: Persist,
        head_only: bool,
        access: Access<'_>,
    ) {
        let server = ctx.shared_ref();
        match listing::page(&server.root, dir, server.options) {
            Ok(page) => self.send_html(ctx, 200, persist, &[], &page, head_only, access),
            // Unreadable (permissions, removed meanwhile): nothing to serve.
            Err(_) => self.send_page(ctx, 404, persist, &[], head_only, access),
        }
    }

    /// Sends a cached file. A plain GET or HEAD, the common case, gets the
    /// ready-made response; a conditional or range request is decided on
    /// the entry's validators.
    fn send_entry(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        entry: &Entry,
        request: &Request<'_>,
        persist: Persist,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let plain = request.if_none_match.is_none()
            && request.if_modified_since.is_none()
            && request.if_match.is_none()
            && request.if_unmodified_since.is_none()
            && request.range.is_none();
        if !plain {
            let answer = conditional::evaluate(request, &entry.rep, SystemTime::now());
            let body = Body::Memory(entry.body());
            return self.answer(ctx, &entry.rep, body, answer, persist, head_only, access);
        }
        // The entry's part carries the headers of its own and the blank line.
        Self::write_head(ctx, 200, persist, |_| {});
        if head_only {
            ctx.write(entry.head());
        } else {
            ctx.write(entry.full());
            access.bytes = entry.body().len() as u64;
        }
        access.status = 200;
        self.complete(ctx, access, persist);
    }

    /// Sends a file too big to cache, from the file.
    fn send_from_file(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        found: Found,
        request: &Request<'_>,
        persist: Persist,
        head_only: bool,
        access: Access<'_>,
    ) {
        let rep = found.representation();
        let answer = conditional::evaluate(request, &rep, SystemTime::now());
        let body = Body::File(found.file);
        self.answer(ctx, &rep, body, answer, persist, head_only, access);
    }

    /// Sends what `answer` says: 304 with the validators, 412, 416 with
    /// the length, or 200 or 206 with the headers of `rep` and the bytes of
    /// `body` asked for (none for HEAD, whose headers are the same).
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        rep: &Representation,
        body: Body<'_>,
        answer: Answer,
        persist: Persist,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        let (status, first, len) = match answer {
            Answer::NotModified => {
                Self::write_head(ctx, 304, persist, |head| {
                    head.with(|out| rep.write_validators(out)).finish();
                });
                access.status = 304;
                return self.complete(ctx, access, persist);
            }
            Answer::PreconditionFailed => {
                return self.send_page(ctx, 412, persist, &[], head_only, access);
            }
            Answer::Unsatisfiable => {
                let range = format!("bytes */{}", rep.len);
                let headers = [("Content-Range", range.as_str())];
                return self.send_page(ctx, 416, persist, &headers, head_only, access);
            }
            Answer::Full => (200, 0, rep.len),
            Answer::Partial { first, last } => (206, first, last - first + 1),
        };
        Self::write_head(ctx, status, persist, |head| {
            let mut head = head.with(|out| rep.write_fields(out, len));
            if status == 206 {
                let last = first + len - 1;
                head = head.header(
                    "Content-Range",
                    format_args!("bytes {first}-{last}/{}", rep.len),
                );
            }
            head.finish();
        });
        access.status = status;
        if head_only || len == 0 {
            return self.complete(ctx, access, persist);
        }
        access.bytes = len;
        match body {
            Body::Memory(bytes) => {
                // The answer's range lies inside the entry's length.
                let part = usize::try_from(first)
                    .ok()
                    .and_then(|start| bytes.get(start..start.checked_add(len as usize)?));
                ctx.write(part.unwrap_or_default());
                self.complete(ctx, access, persist);
            }
            Body::File(file) => {
                if !ctx.send_file(file, first, len) {
                    // The connection takes no more output (a shutdown began).
                    self.log(&access, Some("the connection takes no more output"));
                    return self.close(ctx);
                }
                self.transfer = Some(Transfer {
                    persist,
                    access: access.into_owned(),
                });
                self.await_transfer(ctx);
            }
        }
    }

    /// Answers a request with the page that says what is wrong with it,
    /// and closes: after a request this malformed the stream cannot be
    /// trusted to be in step.
    pub(super) fn refuse(
        &mut self,
        ctx: &mut Ctx<'_, Server>,
        refusal: Refusal,
        head_only: bool,
        mut access: Access<'_>,
    ) {
        access.refused = Some(refusal);
        self.send_page(
            ctx,
            refusal.status(),
            Persist::Close,
            &[],
            head_only,
            access,
        );
    }
}
