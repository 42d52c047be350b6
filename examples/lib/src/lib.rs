//! The protocols of sockloop's example servers, as a library.
//!
//! Each example program under `examples/` is its flags and its wiring; what
//! it speaks lives here, where the tests, the fuzz targets and the fault
//! simulation reach it as ordinary code:
//!
//! | module | example | what it speaks |
//! |---|---|---|
//! | [`echo`] | `echo_server` | every byte back |
//! | [`chat`] | `chat_server` | a chat room, the operator at the server's terminal |
//! | [`stdin_logger`] | `stdin_logger` | clients and the terminal logged to one file |
//! | [`cmd`] | `cmd_server` | remote commands: command, length, acknowledgement, output |
//! | [`upload`] | `upload_server` | file upload with a `NAME\|SIZE` header, in two forms |
//! | [`http`] | `http_server` | a static file server, HTTP/1.1 |
//! | [`resp`] | `resp_server` | a key-value store speaking Redis's protocol |
//! | [`work`] | `work_server` | lines, some answered from worker threads |
//! | [`nested`] | `nest_poll`, `nest_tokio` | an echo server nested in another loop, and the outer program's commands |
//!
//! [`server`] is what every example program does the same way at start-up
//! ([`tls`] its TLS flags);
//! [`blocking`] the signal handling of the guide's two blocking servers.

pub mod blocking;
pub mod chat;
pub mod cmd;
pub mod echo;
pub mod http;
pub mod nested;
pub mod resp;
pub mod server;
pub mod stdin_logger;
pub mod tls;
pub mod upload;
pub mod work;

#[cfg(test)]
mod alloc_count;
