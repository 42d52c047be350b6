//! Addresses of peers and listeners: an internet socket address or a Unix socket path.

use std::fmt;
use std::net::SocketAddr;
use std::os::unix::net::SocketAddr as UnixSocketAddr;
use std::path::{Path, PathBuf};

/// Where a socket lives: `127.0.0.1:8888` or `unix:/tmp/echo.sock`.
///
/// Displayed the way the examples print it on their `listening on` line, so
/// scripts can parse one format whatever the transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An IPv4 or IPv6 address and port.
    Inet(SocketAddr),
    /// A Unix domain socket; `None` for an unnamed socket (an unbound client).
    Unix(Option<PathBuf>),
}

impl Addr {
    /// The internet address, if this is one.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Addr::Inet(addr) => Some(*addr),
            Addr::Unix(_) => None,
        }
    }

    /// The Unix socket path, if this is a named Unix socket.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            Addr::Unix(Some(path)) => Some(path),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(addr: SocketAddr) -> Self {
        Addr::Inet(addr)
    }
}

impl From<UnixSocketAddr> for Addr {
    fn from(addr: UnixSocketAddr) -> Self {
        Addr::Unix(addr.as_pathname().map(Path::to_path_buf))
    }
}

impl From<&UnixSocketAddr> for Addr {
    fn from(addr: &UnixSocketAddr) -> Self {
        Addr::Unix(addr.as_pathname().map(Path::to_path_buf))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(addr) => write!(f, "{addr}"),
            Addr::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Addr::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_the_listening_line() {
        let inet: Addr = "127.0.0.1:8888".parse::<SocketAddr>().unwrap().into();
        assert_eq!(inet.to_string(), "127.0.0.1:8888");
        let unix = Addr::Unix(Some(PathBuf::from("/tmp/x.sock")));
        assert_eq!(unix.to_string(), "unix:/tmp/x.sock");
        assert_eq!(unix.as_path(), Some(Path::new("/tmp/x.sock")));
        assert_eq!(inet.as_inet().map(|a| a.port()), Some(8888));
    }
}
