//! Configuration: every setting with its default, and validation that
//! reports every problem at once.

use crate::api::error::{ConfigError, ConfigProblem, EncodeError, ReportError, ServerError};
use crate::buffer::ring::{Pushed, Ring, Storage};
pub use crate::send::backoff::Backoff;
use crate::send::server_choice::Strategy;
use crate::wire::envelope::{Encoder, Envelope};
use crate::wire::event_type::EventType;
use crate::wire::out::Out;
use core::time::Duration;

/// The collector port used when a server string has none.
pub const DEFAULT_PORT: u16 = 5001;
/// The default input label (also the fallback event type).
pub const DEFAULT_INPUT_LABEL: &str = "Rust SDK";
/// Most servers one configuration may list.
pub const MAX_SERVERS: usize = 64;
/// Default `replay_limit` of [`Config::new`] (devices): 64 KiB, the most a
/// small TCP stack's send buffer plus a collector's receive window is
/// assumed to hold. The Wasm SDK sets its own (12 MiB).
pub const DEFAULT_REPLAY_LIMIT: usize = 64 << 10;
/// Default `peer_buffer` where the OS reports acknowledged bytes (the
/// native SDK): 6 MiB, Linux's default `tcp_rmem` maximum, the most a
/// collector's kernel holds unread unless its owner raised it.
pub const DEFAULT_PEER_BUFFER: usize = 6 << 20;
/// Default largest record: 64 KiB (or the whole buffer if smaller).
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024;

/// What to do with a new event when the buffer is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WhenFull {
    /// Refuse the new event (`BufferFull`); the default. While the buffer
    /// has no room for the event refused last, the SDKs refuse the next
    /// ones before encoding them (see
    /// [`Ring::refuse_while_full`](crate::Ring::refuse_while_full)).
    #[default]
    DropNewest,
    /// Make room by dropping the oldest unsent events.
    DropOldest,
    /// Wait for room (host drivers with threads only; elsewhere as `DropNewest`).
    Block,
    /// Wait for room at most this long, then refuse (host drivers only).
    BlockFor(Duration),
}

/// The wire protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// Newline-delimited JSON over TCP (or TLS). Confirmation comes from
    /// the kernel's acknowledgements or bytes written after a record (see
    /// [`Config::replay_limit`], [`Config::peer_buffer`]) and a clean close.
    #[default]
    Tcp,
    /// RELP (rsyslog's `imrelp`, Logstash's RELP input): one record per
    /// frame, and a record is confirmed when the collector answers `200 OK`
    /// for it (queued by the collector). Over TLS too, from the first byte.
    /// The default [`Config::max_event_bytes`] is then rsyslog's default
    /// frame limit ([`RSYSLOG_DEFAULT_MAX_DATA`](crate::RSYSLOG_DEFAULT_MAX_DATA)).
    Relp,
}

/// A parsed `host:port` server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerAddr<'a> {
    /// Host name or IP address (IPv6 without brackets).
    pub host: &'a str,
    /// TCP port.
    pub port: u16,
}

/// Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address;
/// the port defaults to [`DEFAULT_PORT`].
pub fn parse_server(s: &str) -> Result<ServerAddr<'_>, ServerError> {
    // Byte positions of ASCII marks, and `str::get` (no panic path):
    // `find`/`split_once` with a char pattern and `parse` cost a device
    // about a kilobyte of flash.
    let s = s.trim_ascii();
    let b = s.as_bytes();
    let colons = b.iter().filter(|&&c| c == b':').count();
    let (host, port) = if b.first() == Some(&b'[') {
        let end = b
            .iter()
            .position(|&c| c == b']')
            .ok_or(ServerError::BadHost)?;
        let host = s.get(1..end).ok_or(ServerError::BadHost)?;
        match b.get(end + 1..).unwrap_or_default() {
            [] => (host, None),
            [b':', p @ ..] => (host, Some(p)),
            _ => return Err(ServerError::BadPort),
        }
    } else if colons == 1 {
        let at = b.iter().position(|&c| c == b':').unwrap_or(b.len());
        (s.get(..at).unwrap_or_default(), b.get(at + 1..))
    } else {
        (s, None) // no port, or a bare IPv6 address
    };
    if host.is_empty() {
        return Err(ServerError::EmptyHost);
    }
    if host.len() > 253 || host.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'/') {
        return Err(ServerError::BadHost);
    }
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => parse_port(p).ok_or(ServerError::BadPort)?,
    };
    Ok(ServerAddr { host, port })
}

/// An IP address literal (see [`parse_ip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpLiteral {
    /// IPv4: the four octets.
    V4([u8; 4]),
    /// IPv6: the eight 16-bit groups.
    V6([u16; 8]),
}

/// `host` as an IP address literal (IPv6 without brackets), by the rules of
/// `std::net::IpAddr`'s parser; `None`: a name. Written by bytes: std's
/// parser costs a Wasm guest about 2.7 KB.
pub fn parse_ip(host: &str) -> Option<IpLiteral> {
    let b = host.as_bytes();
    if let Some(v4) = ipv4(b) {
        return Some(IpLiteral::V4(v4));
    }
    let mut g = [0u16; 8];
    let gap = b.windows(2).position(|w| w == b"::");
    let (head, tail) = match gap {
        Some(at) => (&b[..at], Some(&b[at + 2..])),
        None => (b, None),
    };
    let n = ipv6_groups(head, &mut g, tail.is_none())?;
    match tail {
        None if n == 8 => Some(IpLiteral::V6(g)),
        None => None,
        Some(tail) => {
            // `::` stands for at least one group of zeros.
            let mut t = [0u16; 8];
            let room = 7usize.checked_sub(n)?;
            let m = ipv6_groups(tail, &mut t[..room], true)?;
            g[8 - m..].copy_from_slice(&t[..m]);
            Some(IpLiteral::V6(g))
        }
    }
}

/// Dotted decimal: four octets, no leading zeros.
fn ipv4(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let (mut i, mut n, mut digits) = (0, 0u32, 0);
    for &c in b {
        if c == b'.' {
            if digits == 0 || i == 3 {
                return None;
            }
            out[i] = n as u8;
            (i, n, digits) = (i + 1, 0, 0);
        } else if c.is_ascii_digit() && !(digits > 0 && n == 0) {
            n = n * 10 + (c - b'0') as u32;
            digits += 1;
            if n > 255 {
                return None;
            }
        } else {
            return None;
        }
    }
    if digits == 0 || i != 3 {
        return None;
    }
    out[3] = n as u8;
    Some(out)
}

/// Colon-separated groups of 1 to 4 hex digits into `out` (an empty `b`:
/// none); the last may be an IPv4 address (two groups) when `v4_last`.
/// Returns how many groups; `None` when they do not fit `out`.
fn ipv6_groups(b: &[u8], out: &mut [u16], v4_last: bool) -> Option<usize> {
    if b.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    let parts = b.split(|&c| c == b':');
    let count = b.iter().filter(|&&c| c == b':').count() + 1;
    for (k, part) in parts.enumerate() {
        // (A byte loop: `contains` links `memchr`, 250 bytes in a guest.)
        #[allow(clippy::manual_contains)]
        let dotted = part.iter().any(|&c| c == b'.');
        if k + 1 == count && v4_last && dotted {
            let [a, b2, c, d] = ipv4(part)?;
            let slot = out.get_mut(n..n + 2)?;
            slot[0] = u16::from_be_bytes([a, b2]);
            slot[1] = u16::from_be_bytes([c, d]);
            return Some(n + 2);
        }
        if part.is_empty() || part.len() > 4 {
            return None;
        }
        let mut v = 0u16;
        for &c in part {
            v = v << 4 | (c as char).to_digit(16)? as u16;
        }
        *out.get_mut(n)? = v;
        n += 1;
    }
    Some(n)
}

/// A port number: 1 to 65535, ASCII digits only.
fn parse_port(p: &[u8]) -> Option<u16> {
    if p.is_empty() {
        return None;
    }
    let mut n = 0u32;
    for &c in p {
        if !c.is_ascii_digit() || n > 6553 {
            return None;
        }
        n = n * 10 + (c - b'0') as u32;
    }
    u16::try_from(n).ok().filter(|&n| n != 0)
}

/// Default [`Config::coalesce`]: 1 ms (at 500,000 events/s, writes of a
/// whole batch instead of a few events each).
pub const DEFAULT_COALESCE: Duration = Duration::from_millis(1);

/// Everything that shapes the SDK's behaviour. Strings are borrowed, so a
/// configuration can be a `const` on a device.
#[derive(Clone, Copy)]
pub struct Config<'a> {
    /// Input token, sent with every event (secret: never shown by `Debug`).
    pub token: &'a str,
    /// Collectors as `host:port` (port defaults to 5001).
    pub servers: &'a [&'a str],
    /// Name of this input; also the fallback event type.
    pub input_label: &'a str,
    /// How each event's type is chosen.
    pub event_type: EventType<'a>,
    /// Record layout.
    pub envelope: Envelope,
    /// Full-buffer policy, applied by [`Config::push`]
    /// (the SDKs apply their own, with waiting, for `Block`).
    pub when_full: WhenFull,
    /// Largest record accepted; `None`: 64 KiB or the buffer size if
    /// smaller (with [`Protocol::Relp`]: 8,096 bytes, rsyslog's default frame
    /// limit; raise it only together with rsyslog's `maxMessageSize`).
    pub max_event_bytes: Option<usize>,
    /// Most bytes handed to one write.
    pub batch_bytes: usize,
    /// How long to wait for more events before writing less than a batch.
    pub linger: Duration,
    /// Under sustained traffic, the shortest time between two writes of
    /// less than a batch: events arriving meanwhile go out together (one
    /// system call and one wake-up of the collector instead of one per few
    /// events). The first write after a quiet spell is never delayed, so an
    /// isolated event waits for nothing; a ring filling up past a batch is
    /// written at once. Zero: write whatever is there as soon as possible.
    pub coalesce: Duration,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// Server choice.
    pub strategy: Strategy,
    /// Confirmation where the transport cannot see acknowledgements: a
    /// record is confirmed (counted delivered, its room freed) once this many
    /// more bytes were written after it on the same connection. It must be at
    /// least what can sit between us and the collector's process unread
    /// (socket buffers both ends, the runtime's own); until then a record
    /// stays in the replay window and is sent again if the connection is lost.
    pub replay_limit: usize,
    /// Confirmation where the transport sees the bytes the collector's kernel
    /// acknowledged (`Some`: the native SDK on Linux): a record is confirmed
    /// once acknowledged plus this many more bytes, what the collector's
    /// receive buffer (and its own read buffer) can hold unread. `None`: use
    /// `replay_limit`.
    pub peer_buffer: Option<usize>,
    /// After records were dropped, write one loss marker record (event type
    /// `alooma_loss`, counts by cause, time span) before the next records,
    /// so whoever reads the collector's output sees the gap. Default on.
    pub loss_markers: bool,
    /// The wire protocol.
    pub protocol: Protocol,
    /// With [`Protocol::Relp`]: frames sent and not yet answered, at most.
    pub relp_window: usize,
    /// With [`Protocol::Relp`]: how long the collector may leave frames
    /// unanswered before the connection is dropped and they are replayed.
    pub ack_timeout: Duration,
}

impl core::fmt::Debug for Config<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("token", &"<redacted>")
            .field("servers", &self.servers)
            .field("input_label", &self.input_label)
            .field("event_type", &self.event_type)
            .field("envelope", &self.envelope)
            .field("when_full", &self.when_full)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("batch_bytes", &self.batch_bytes)
            .field("linger", &self.linger)
            .field("coalesce", &self.coalesce)
            .field("backoff", &self.backoff)
            .field("connect_timeout", &self.connect_timeout)
            .field("strategy", &self.strategy)
            .field("replay_limit", &self.replay_limit)
            .field("peer_buffer", &self.peer_buffer)
            .field("loss_markers", &self.loss_markers)
            .field("protocol", &self.protocol)
            .field("relp_window", &self.relp_window)
            .field("ack_timeout", &self.ack_timeout)
            .finish()
    }
}

impl<'a> Config<'a> {
    /// A configuration with every default: 1 MiB buffer, drop newest when
    /// full, 64 KiB batches, no linger, 100 ms–30 s backoff, 10 s connect
    /// timeout, random server choice, metadata envelope.
    pub const fn new(token: &'a str, servers: &'a [&'a str]) -> Self {
        Config {
            token,
            servers,
            input_label: DEFAULT_INPUT_LABEL,
            event_type: EventType::InputLabel,
            envelope: Envelope::Metadata,
            when_full: WhenFull::DropNewest,
            max_event_bytes: None,
            batch_bytes: 64 * 1024,
            linger: Duration::ZERO,
            coalesce: DEFAULT_COALESCE,
            backoff: Backoff::DEFAULT,
            connect_timeout: Duration::from_secs(10),
            strategy: Strategy::Random,
            replay_limit: DEFAULT_REPLAY_LIMIT,
            peer_buffer: None,
            loss_markers: true,
            protocol: Protocol::Tcp,
            relp_window: crate::protocol::relp::DEFAULT_RELP_WINDOW,
            ack_timeout: crate::protocol::relp::DEFAULT_ACK_TIMEOUT,
        }
    }

    /// Bytes the replay window may hold under this configuration's
    /// confirmation rule (plus what the OS has not yet acknowledged).
    pub fn window(&self) -> usize {
        self.peer_buffer.unwrap_or(self.replay_limit)
    }

    /// Encodes and stores one record in `ring` as this configuration says:
    /// at most [`max_event`](Self::max_event) bytes for that ring, and its
    /// full-buffer policy ([`when_full`](Self::when_full)): `DropOldest`
    /// drops the oldest records to make room, `DropNewest` refuses the new
    /// one (both counted in the ring's stats); `Block` and `BlockFor` refuse
    /// it uncounted, for a caller that makes room (drives the connection)
    /// and tries again, calling [`Ring::count_refusal`] if it gives up.
    /// `encode` may be called more than once (see [`Ring::push_with`]).
    pub fn push<S, F>(&self, ring: &mut Ring<S>, encode: F) -> Result<Pushed, ReportError>
    where
        S: Storage,
        F: FnMut(&mut Out<'_>) -> Result<usize, EncodeError>,
    {
        let max = self.max_event(ring.capacity());
        match self.when_full {
            WhenFull::DropOldest => ring.push_with(true, max, encode),
            WhenFull::DropNewest => ring.push_with(false, max, encode),
            WhenFull::Block | WhenFull::BlockFor(_) => ring.try_push_with(max, encode),
        }
    }

    /// The largest record accepted into a buffer of `buffer` bytes: the
    /// configured maximum, else the protocol's default or the buffer if
    /// smaller.
    pub fn max_event(&self, buffer: usize) -> usize {
        let default = match self.protocol {
            Protocol::Tcp => DEFAULT_MAX_EVENT_BYTES,
            Protocol::Relp => crate::protocol::relp::RSYSLOG_DEFAULT_MAX_DATA,
        };
        self.max_event_bytes.unwrap_or(default.min(buffer))
    }

    /// Checks every setting for a buffer (ring) of `buffer` bytes; the
    /// error lists every problem found.
    // The error is a fixed list (no allocator to box it); validation runs
    // once, off any hot path.
    #[allow(clippy::result_large_err)]
    pub fn validate(&self, buffer: usize) -> Result<(), ConfigError> {
        let mut e = ConfigError::default();
        if self.token.is_empty() {
            e.push(ConfigProblem::EmptyToken);
        } else if self.token.len() > 1024 || self.token.chars().any(char::is_control) {
            e.push(ConfigProblem::BadToken);
        }
        if self.servers.is_empty() {
            e.push(ConfigProblem::NoServers);
        } else if self.servers.len() > MAX_SERVERS {
            e.push(ConfigProblem::TooManyServers(self.servers.len()));
        }
        for (index, s) in self.servers.iter().enumerate() {
            if let Err(error) = parse_server(s) {
                e.push(ConfigProblem::BadServer { index, error });
            }
        }
        if self.input_label.chars().all(char::is_whitespace) {
            e.push(ConfigProblem::EmptyInputLabel);
        }
        if let EventType::Field(p) = self.event_type {
            // (By bytes: a `split` costs a guest 300 bytes.)
            let b = p.as_bytes();
            if b.first().is_none_or(|&c| c == b'.')
                || b.last() == Some(&b'.')
                || b.windows(2).any(|w| w == b"..")
            {
                e.push(ConfigProblem::BadEventTypeField);
            }
        }
        #[cfg(not(feature = "read-back"))]
        match self.event_type {
            EventType::With(_) => e.push(ConfigProblem::EventTypeNeedsReadBack),
            EventType::Field(p) if p.bytes().any(|b| b == b'.') => {
                e.push(ConfigProblem::EventTypeNeedsReadBack)
            }
            _ => {}
        }
        if buffer < 256 {
            e.push(ConfigProblem::BufferTooSmall(buffer));
        }
        let max = self.max_event(buffer);
        if max < 64 || max > buffer {
            e.push(ConfigProblem::BadMaxEvent { max, buffer });
        }
        let window = self.window();
        // With RELP the collector's replies confirm records whatever else is
        // written: any buffer works.
        if self.protocol == Protocol::Tcp && buffer >= 256 && window > buffer / 2 {
            e.push(ConfigProblem::WindowTooLarge { window, buffer });
        }
        if self.batch_bytes == 0 {
            e.push(ConfigProblem::ZeroBatch);
        }
        if self.backoff.initial.is_zero() || self.backoff.initial > self.backoff.max {
            e.push(ConfigProblem::BadBackoff);
        }
        if self.backoff.jitter_percent > 100 {
            e.push(ConfigProblem::BadJitter);
        }
        if self.connect_timeout.is_zero() {
            e.push(ConfigProblem::ZeroConnectTimeout);
        }
        if self.protocol == Protocol::Relp && !cfg!(feature = "relp") {
            e.push(ConfigProblem::RelpNotBuilt);
        }
        if self.protocol == Protocol::Relp && self.batch_bytes < crate::protocol::relp::MIN_BUFFER {
            e.push(ConfigProblem::BatchTooSmallForRelp(self.batch_bytes));
        }
        if self.relp_window == 0 {
            e.push(ConfigProblem::ZeroRelpWindow);
        }
        if self.ack_timeout.is_zero() {
            e.push(ConfigProblem::ZeroAckTimeout);
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// The encoder for this configuration.
    pub fn encoder(&self) -> Encoder<'a> {
        Encoder {
            envelope: self.envelope,
            token: self.token,
            input_label: self.input_label,
            event_type: self.event_type,
            fixed: None,
        }
    }

    /// The sender's part of this configuration.
    pub fn sender(&self) -> crate::send::sender::SenderConfig {
        crate::send::sender::SenderConfig {
            servers: self.servers.len(),
            strategy: self.strategy,
            backoff: self.backoff,
            connect_timeout: self.connect_timeout,
            batch_bytes: self.batch_bytes,
            linger: self.linger,
            coalesce: self.coalesce,
            confirm: match (self.protocol, self.peer_buffer) {
                (Protocol::Relp, _) => crate::buffer::confirm::Confirm::Collector,
                (Protocol::Tcp, Some(peer_buffer)) => {
                    crate::buffer::confirm::Confirm::Acked { peer_buffer }
                }
                (Protocol::Tcp, None) => crate::buffer::confirm::Confirm::Written {
                    replay_limit: self.replay_limit,
                },
            },
        }
    }

    /// The protocol this configuration asks for, with its settings (see
    /// [`Protocol`](crate::protocol::Protocol)). [`validate`](Self::validate)
    /// refuses [`Protocol::Relp`] in a build without feature `relp`; given
    /// one anyway, this is plain TCP.
    pub fn wire(&self) -> crate::protocol::Wire {
        match self.protocol {
            #[cfg(feature = "relp")]
            Protocol::Relp => crate::protocol::Wire::Relp(crate::protocol::relp::Relp::new(
                crate::protocol::relp::RelpConfig {
                    window: self.relp_window,
                    ack_timeout: self.ack_timeout,
                    ..crate::protocol::relp::RelpConfig::default()
                },
            )),
            _ => crate::protocol::Wire::Ndjson(crate::protocol::ndjson::Ndjson),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ip_literals_as_std_parses_them() {
        use std::net::IpAddr;
        let ours = |s: &str| parse_ip(s);
        let std = |s: &str| {
            s.parse::<IpAddr>().ok().map(|ip| match ip {
                IpAddr::V4(a) => IpLiteral::V4(a.octets()),
                IpAddr::V6(a) => IpLiteral::V6(a.segments()),
            })
        };
        for s in [
            "127.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.",
            "1..2.3",
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":::",
            "1:::2",
            "::ffff:1.2.3.4",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::1.2.3.4",
            "1.2.3.4::",
            "12345::",
            "fe80::1",
            "FE80::A",
            "",
            ":",
            "localhost",
            "g::1",
            "1:2:3:4:5:6:7",
            ":1::",
            "1::2:",
            "::1.2.3",
        ] {
            assert_eq!(ours(s), std(s), "{s:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: if cfg!(miri) { 16 } else { 256 },
            ..proptest::prelude::ProptestConfig::default()
        })]

        #[test]
        fn ip_literals_match_std(s in "[0-9a-fA-F.:]{0,24}") {
            use std::net::IpAddr;
            let want = s.parse::<IpAddr>().ok().map(|ip| match ip {
                IpAddr::V4(a) => IpLiteral::V4(a.octets()),
                IpAddr::V6(a) => IpLiteral::V6(a.segments()),
            });
            proptest::prop_assert_eq!(parse_ip(&s), want);
        }

        #[test]
        fn ip_addresses_std_writes_parse(a: u128, b: u32, v4: bool) {
            let (s, want) = if v4 {
                let ip = std::net::Ipv4Addr::from(b);
                (std::format!("{ip}"), IpLiteral::V4(ip.octets()))
            } else {
                // Zero runs of every length, so that `::` appears.
                let ip = std::net::Ipv6Addr::from(a & !(u128::from(b) << (b % 96)));
                (std::format!("{ip}"), IpLiteral::V6(ip.segments()))
            };
            proptest::prop_assert_eq!(parse_ip(&s), Some(want));
        }
    }

    use super::*;

    #[test]
    fn servers() {
        assert_eq!(
            parse_server("a.b:80"),
            Ok(ServerAddr {
                host: "a.b",
                port: 80
            })
        );
        assert_eq!(
            parse_server("a.b"),
            Ok(ServerAddr {
                host: "a.b",
                port: 5001
            })
        );
        assert_eq!(
            parse_server("[::1]:7"),
            Ok(ServerAddr {
                host: "::1",
                port: 7
            })
        );
        assert_eq!(
            parse_server("::1"),
            Ok(ServerAddr {
                host: "::1",
                port: 5001
            })
        );
        assert_eq!(parse_server("a:0"), Err(ServerError::BadPort));
        assert_eq!(parse_server("a:+5"), Err(ServerError::BadPort));
        assert_eq!(parse_server("a:"), Err(ServerError::BadPort));
        assert_eq!(parse_server("a:65536"), Err(ServerError::BadPort));
        assert_eq!(parse_server("a:0000065535").map(|a| a.port), Ok(65535));
        assert_eq!(parse_server("[::1]x"), Err(ServerError::BadPort));
        assert_eq!(parse_server("a:70000"), Err(ServerError::BadPort));
        assert_eq!(parse_server(":5"), Err(ServerError::EmptyHost));
        assert_eq!(parse_server("a b:5"), Err(ServerError::BadHost));
    }

    #[test]
    fn every_problem_listed() {
        let mut c = Config::new("", &[]);
        c.batch_bytes = 0;
        let e = c.validate(0).unwrap_err();
        assert_eq!(e.problems().len(), 5, "{e}");
        let s = alloc_free_display(&e);
        assert!(
            s.contains("token is empty") && s.contains("no servers"),
            "{s}"
        );
    }

    fn alloc_free_display(e: &ConfigError) -> heapless::String<1024> {
        use core::fmt::Write;
        let mut s = heapless::String::new();
        write!(s, "{e}").unwrap();
        s
    }

    #[test]
    fn token_hidden() {
        use core::fmt::Write;
        let c = Config::new("s3cret", &["x"]);
        let mut s: heapless::String<1024> = heapless::String::new();
        write!(s, "{c:?}").unwrap();
        assert!(!s.contains("s3cret"));
    }
}
