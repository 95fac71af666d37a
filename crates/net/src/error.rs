//! Network errors: a kind to branch on, a stable code for logs and APIs, and a detail for logs.

use std::fmt;

/// What went wrong, coarsely: enough for a caller to decide whether to retry or to blame
/// configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetErrorKind {
    /// The TCP connection could not be opened, or an open connection was lost.
    Connect,
    /// The TLS handshake failed or the peer's certificate was refused (by either side).
    Tls,
    /// The call did not complete within its time limit. The peer may or may not have
    /// handled the request.
    Timeout,
    /// The peer broke the HTTP/2 protocol or the response could not be read.
    Protocol,
    /// The peer answered with this HTTP status instead of 200.
    Status(u16),
    /// A local I/O operation failed (reading or writing files, socket options).
    Io,
    /// A certificate or key could not be generated, parsed or used.
    Pki,
    /// The configuration is unusable (for example an invalid node name or address).
    Config,
}

impl NetErrorKind {
    /// A stable snake_case code for logs and API errors.
    pub fn code(&self) -> &'static str {
        match self {
            NetErrorKind::Connect => "connect_failed",
            NetErrorKind::Tls => "tls_failed",
            NetErrorKind::Timeout => "timeout",
            NetErrorKind::Protocol => "protocol_error",
            NetErrorKind::Status(_) => "http_status",
            NetErrorKind::Io => "io",
            NetErrorKind::Pki => "pki",
            NetErrorKind::Config => "config",
        }
    }
}

impl fmt::Display for NetErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetErrorKind::Connect => f.write_str("connection failed"),
            NetErrorKind::Tls => f.write_str("tls failed"),
            NetErrorKind::Timeout => f.write_str("timed out"),
            NetErrorKind::Protocol => f.write_str("protocol error"),
            NetErrorKind::Status(_) => f.write_str("unexpected http status"),
            NetErrorKind::Io => f.write_str("i/o error"),
            NetErrorKind::Pki => f.write_str("certificate error"),
            NetErrorKind::Config => f.write_str("invalid network configuration"),
        }
    }
}

/// A network, TLS or PKI failure. `detail` is meant for logs: it names files and addresses
/// but never holds key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {detail}")]
pub struct NetError {
    /// What kind of failure this is.
    pub kind: NetErrorKind,
    /// What happened, for logs.
    pub detail: String,
}

impl NetError {
    /// An error of `kind` with `detail`.
    pub fn new(kind: NetErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// A stable snake_case code for logs and API errors (see [`NetErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub(crate) fn connect(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Connect, detail)
    }

    pub(crate) fn tls(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Tls, detail)
    }

    pub(crate) fn protocol(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Protocol, detail)
    }

    pub(crate) fn io(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Io, detail)
    }

    pub(crate) fn pki(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Pki, detail)
    }

    pub(crate) fn config(detail: impl Into<String>) -> Self {
        Self::new(NetErrorKind::Config, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::{NetError, NetErrorKind};

    const ALL: [NetErrorKind; 8] = [
        NetErrorKind::Connect,
        NetErrorKind::Tls,
        NetErrorKind::Timeout,
        NetErrorKind::Protocol,
        NetErrorKind::Status(413),
        NetErrorKind::Io,
        NetErrorKind::Pki,
        NetErrorKind::Config,
    ];

    #[test]
    fn codes_are_stable_and_distinct() {
        let codes: Vec<&str> = ALL.iter().map(NetErrorKind::code).collect();
        assert_eq!(
            codes,
            [
                "connect_failed",
                "tls_failed",
                "timeout",
                "protocol_error",
                "http_status",
                "io",
                "pki",
                "config"
            ]
        );
    }

    #[test]
    fn messages_are_lowercase_without_final_period() {
        for kind in ALL {
            let e = NetError::new(kind, "could not read `ca.pem`");
            let text = e.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert!(!text.starts_with(|c: char| c.is_uppercase()), "{text}");
        }
        let e = NetError::new(NetErrorKind::Status(404), "`127.0.0.1:1` answered 404");
        assert_eq!(
            e.to_string(),
            "unexpected http status: `127.0.0.1:1` answered 404"
        );
        assert_eq!(e.code(), "http_status");
    }
}
