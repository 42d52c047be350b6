//! SIGINT and SIGTERM for the blocking servers of the guide's chapters 1
//! and 2 (`blocking_echo`, `thread_echo`): stop accepting, let every client
//! have its echo, exit 0. (Shared by those examples; not an example.)
//!
//! A thread asleep in `accept` or `read` cannot check a "please stop" flag:
//! nothing wakes it up to look. So another thread waits for the signals
//! (signal-hook's iterator) and wakes the sleepers the one way there is from
//! outside, by shutting down the sockets they sleep on:
//!
//! - `shutdown(2)` of the listening socket makes a blocked `accept` fail
//!   (on Linux; elsewhere the deadline below still ends the process);
//! - `shutdown(2)` of a client's receiving side makes its blocked `read`
//!   return 0, as if the client had finished sending: the echo loop ends the
//!   ordinary way, having written back all it read, and the connection
//!   closes.
//!
//! A client that does not read its echo holds its thread in `write_all`; it
//! gets [`SHUTDOWN_TIMEOUT`], then the process exits anyway, with status 0,
//! as the reactor's graceful shutdown does. A second signal exits at once.
//! The reactor of chapter 5 needs none of this: there a signal is one more
//! event the loop wakes up for (chapter 8).

#![allow(dead_code)] // each example uses the part it needs

use std::collections::HashMap;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use log::{info, warn};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// How long clients get to be answered once a signal came, as the
/// reactor's default `Config::shutdown_timeout`.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// The server's listener and clients, as the signal thread sees them.
pub struct Shutdown {
    /// A second handle on the server's listening socket.
    listener: TcpListener,
    state: Mutex<State>,
    /// Notified when the last client has gone.
    all_gone: Condvar,
}

#[derive(Default)]
struct State {
    /// A signal came: no more clients.
    begun: bool,
    /// The connected clients, to wake their threads from `read`.
    clients: HashMap<u64, Arc<TcpStream>>,
    next_id: u64,
}

impl Shutdown {
    /// Starts the thread that waits for SIGINT and SIGTERM and shuts down
    /// `listener` and the clients [`track`](Shutdown::track)ed by then.
    pub fn on_signals(listener: &TcpListener) -> io::Result<Arc<Shutdown>> {
        let shutdown = Arc::new(Shutdown {
            listener: listener.try_clone()?,
            state: Mutex::default(),
            all_gone: Condvar::new(),
        });
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let waker = shutdown.clone();
        thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                let mut begun = false;
                // Each signal once, in the order they came; two that come
                // together (SIGINT and SIGTERM on two threads at once) are
                // two turns of this loop.
                for signal in signals.forever() {
                    if begun {
                        warn!("second signal {signal}: exiting now");
                        std::process::exit(128 + signal);
                    }
                    begun = true;
                    info!("signal {signal}: shutting down");
                    waker.clone().begin();
                }
            })?;
        Ok(shutdown)
    }

    /// Wakes every sleeper, and starts the clock on the clients.
    fn begin(self: Arc<Self>) {
        let mut state = self.lock();
        state.begun = true;
        if !state.clients.is_empty() {
            info!(
                "waiting up to {SHUTDOWN_TIMEOUT:?} for {} clients to be answered",
                state.clients.len()
            );
        }
        // Errors are ignored: a client may have just closed, and a listener
        // that cannot be shut down leaves the deadline to end the process.
        let _ = socket2::SockRef::from(&self.listener).shutdown(std::net::Shutdown::Read);
        for client in state.clients.values() {
            let _ = client.shutdown(std::net::Shutdown::Read);
        }
        drop(state);
        // On a thread of its own, so that the signal thread stays free for a
        // second signal.
        let deadline = thread::Builder::new()
            .name("shutdown deadline".into())
            .spawn(move || self.exit_at_deadline());
        if let Err(e) = deadline {
            warn!("no shutdown deadline ({e}): a second signal ends the process");
        }
    }

    /// Exits the process (status 0) once [`SHUTDOWN_TIMEOUT`] has passed,
    /// whatever still holds it up: normally the server has long ended by
    /// itself, and this thread with it.
    fn exit_at_deadline(&self) {
        thread::sleep(SHUTDOWN_TIMEOUT);
        warn!(
            "shutdown deadline passed with {} clients still connected; exiting",
            self.lock().clients.len()
        );
        std::process::exit(0);
    }

    /// Whether a signal came: a failed `accept` then means "stop".
    pub fn has_begun(&self) -> bool {
        self.lock().begun
    }

    /// Registers a newly accepted client, so that a signal can wake the
    /// thread reading from it. `None` once a signal came: the client is
    /// closed at once.
    pub fn track(self: &Arc<Self>, stream: TcpStream) -> Option<Client> {
        let mut state = self.lock();
        if state.begun {
            return None;
        }
        let id = state.next_id;
        state.next_id += 1;
        let stream = Arc::new(stream);
        state.clients.insert(id, stream.clone());
        Some(Client {
            id,
            stream,
            shutdown: self.clone(),
        })
    }

    /// Waits until every tracked client has gone (the signal thread ends
    /// the process if that takes longer than [`SHUTDOWN_TIMEOUT`]).
    pub fn wait_for_clients(&self) {
        let state = self.lock();
        let _gone = self
            .all_gone
            .wait_while(state, |s| !s.clients.is_empty())
            .unwrap_or_else(|e| e.into_inner());
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking client thread leaves the map as valid as it found it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A connected client; it leaves the tracked set when dropped, and its
/// connection closes then.
pub struct Client {
    id: u64,
    stream: Arc<TcpStream>,
    shutdown: Arc<Shutdown>,
}

impl Deref for Client {
    type Target = TcpStream;

    fn deref(&self) -> &TcpStream {
        &self.stream
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let mut state = self.shutdown.lock();
        state.clients.remove(&self.id);
        if state.clients.is_empty() {
            self.shutdown.all_gone.notify_all();
        }
    }
}
