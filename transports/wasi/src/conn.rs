//! One connection over WASI Preview 2 sockets, never blocking: name lookup,
//! connect to each address in turn, then writes on the output stream and
//! end-of-stream seen on the input stream.

use alooma_core::{parse_ip, IpLiteral, NetError};
use std::collections::VecDeque;
use wasi::io::poll::Pollable;
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::ip_name_lookup::{resolve_addresses, ResolveAddressStream};
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
    Network,
};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};
use wasi::sockets::tcp_create_socket::create_tcp_socket;

/// Why a connection failed: the kind the sender understands, and the
/// runtime's own words for the user (with a hint where one helps). The
/// core's failure as it is: handed to the sender without a conversion.
pub type Failure = alooma_core::Failure<String>;

/// What failed, as the detail names it (an enum, not text: the hints
/// below match on it without comparing strings).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Lookup,
    Socket,
    Connect,
    Shutdown,
}

/// A socket error code of operation `op`.
fn code(e: ErrorCode, op: Op) -> Failure {
    let kind = match e {
        ErrorCode::AccessDenied => NetError::Denied,
        ErrorCode::ConnectionRefused => NetError::Refused,
        ErrorCode::ConnectionReset | ErrorCode::ConnectionAborted => NetError::Reset,
        ErrorCode::Timeout => NetError::TimedOut,
        ErrorCode::RemoteUnreachable => NetError::Unreachable,
        ErrorCode::NameUnresolvable
        | ErrorCode::TemporaryResolverFailure
        | ErrorCode::PermanentResolverFailure => NetError::NameLookup,
        _ => NetError::Other,
    };
    let hint = match (e, op) {
        (ErrorCode::AccessDenied, Op::Lookup) => {
            " (the runtime denies name lookup: wasmtime needs -S allow-ip-name-lookup=y)"
        }
        // wasmtime answers a lookup it does not allow this way.
        (ErrorCode::PermanentResolverFailure, _) => {
            " (wasmtime reports a denied lookup this way: it needs -S allow-ip-name-lookup=y)"
        }
        (ErrorCode::AccessDenied, _) => {
            " (the runtime denies sockets: wasmtime needs -S inherit-network=y)"
        }
        _ => "",
    };
    let what = match op {
        Op::Lookup => "name lookup",
        Op::Socket => "socket",
        Op::Connect => "connect",
        Op::Shutdown => "shutdown",
    };
    // Pieces pushed, not `format!`: a guest's size counts.
    let name = e.name();
    let mut detail = String::with_capacity(what.len() + 2 + name.len() + hint.len());
    for piece in [what, ": ", name, hint] {
        detail.push_str(piece);
    }
    Failure { kind, detail }
}

/// An error of kind [`NetError::Other`] with this detail.
pub(crate) fn other(detail: &str) -> Failure {
    Failure {
        kind: NetError::Other,
        detail: detail.into(),
    }
}

/// A stream error (end of stream included).
fn stream_failure(e: StreamError) -> Failure {
    match e {
        StreamError::Closed => Failure {
            kind: NetError::PeerClosed,
            detail: "closed by the peer".into(),
        },
        StreamError::LastOperationFailed(err) => {
            // The runtime's debug text; wasmtime appends a backtrace
            // when RUST_BACKTRACE is set: the first line says it all.
            let mut text = err.to_debug_string();
            if let Some(end) = text.bytes().position(|b| b == b'\n') {
                text.truncate(end);
            }
            if text.ends_with('\r') {
                text.pop();
            }
            if text.is_empty() {
                text.push_str("stream error");
            }
            // WASI 0.2 gives streams' errors as text only.
            let has = |w: &str| {
                text.as_bytes()
                    .windows(w.len())
                    .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
            };
            let kind = if has("reset") || has("broken pipe") {
                NetError::Reset
            } else if has("timed out") {
                NetError::TimedOut
            } else {
                NetError::Other
            };
            Failure { kind, detail: text }
        }
    }
}

enum Phase {
    /// Waiting for the runtime's resolver.
    Resolving(ResolveAddressStream),
    /// Waiting for the socket to connect to the address last taken.
    Connecting(TcpSocket),
    /// Between phases, or after every address failed.
    Gone,
    /// Connected. Fields drop in order: the streams before their socket,
    /// as WASI requires of child resources.
    Open {
        input: InputStream,
        output: OutputStream,
        socket: TcpSocket,
    },
}

/// A connection in progress or open.
pub struct Conn {
    phase: Phase,
    port: u16,
    addrs: VecDeque<IpAddress>,
    last: Option<Failure>,
    send_buffer: u64,
}

fn to_wasi(ip: IpLiteral) -> IpAddress {
    match ip {
        IpLiteral::V4([a, b, c, d]) => IpAddress::Ipv4((a, b, c, d)),
        IpLiteral::V6([a, b, c, d, e, f, g, h]) => IpAddress::Ipv6((a, b, c, d, e, f, g, h)),
    }
}

impl Conn {
    /// Starts connecting to `host:port` (`host` as [`parse_server`](alooma_core::parse_server)
    /// gives it, IPv6 without brackets): an IP literal directly, a name
    /// after the runtime resolved it. `send_buffer`: the socket's send
    /// buffer size to ask for.
    pub fn start(
        network: &Network,
        host: &str,
        port: u16,
        send_buffer: u64,
    ) -> Result<Conn, Failure> {
        if let Some(ip) = parse_ip(host) {
            let mut c = Conn {
                phase: Phase::Gone,
                port,
                addrs: VecDeque::from([to_wasi(ip)]),
                last: None,
                send_buffer,
            };
            c.connect_next(network)?;
            return Ok(c);
        }
        let lookup = resolve_addresses(network, host).map_err(|e| code(e, Op::Lookup))?;
        Ok(Conn {
            phase: Phase::Resolving(lookup),
            port,
            addrs: VecDeque::new(),
            last: None,
            send_buffer,
        })
    }

    fn connect_next(&mut self, network: &Network) -> Result<(), Failure> {
        while let Some(ip) = self.addrs.pop_front() {
            let (family, addr) = match ip {
                IpAddress::Ipv4(address) => (
                    IpAddressFamily::Ipv4,
                    IpSocketAddress::Ipv4(Ipv4SocketAddress {
                        port: self.port,
                        address,
                    }),
                ),
                IpAddress::Ipv6(address) => (
                    IpAddressFamily::Ipv6,
                    IpSocketAddress::Ipv6(Ipv6SocketAddress {
                        port: self.port,
                        flow_info: 0,
                        address,
                        scope_id: 0,
                    }),
                ),
            };
            let socket = match create_tcp_socket(family) {
                Ok(s) => s,
                Err(e) => {
                    self.last = Some(code(e, Op::Socket));
                    continue;
                }
            };
            let _ = socket.set_keep_alive_enabled(true);
            // Bounds what our own kernel holds unsent or unacknowledged
            // (part of what the replay limit must cover).
            let _ = socket.set_send_buffer_size(self.send_buffer);
            match socket.start_connect(network, addr) {
                Ok(()) => {
                    self.phase = Phase::Connecting(socket);
                    return Ok(());
                }
                Err(e) => self.last = Some(code(e, Op::Connect)),
            }
        }
        self.phase = Phase::Gone;
        Err(self.last.clone().unwrap_or(Failure {
            kind: NetError::NameLookup,
            detail: "name lookup: no address".into(),
        }))
    }

    /// Moves the attempt forward without blocking. `Ok(true)` once open;
    /// an error when every address failed.
    pub fn advance(&mut self, network: &Network) -> Result<bool, Failure> {
        loop {
            match &self.phase {
                Phase::Open { .. } => return Ok(true),
                Phase::Gone => return Err(self.last.clone().unwrap_or(other("no connection"))),
                Phase::Resolving(lookup) => match lookup.resolve_next_address() {
                    Ok(Some(ip)) => self.addrs.push_back(ip),
                    Ok(None) => {
                        self.connect_next(network)?;
                    }
                    Err(ErrorCode::WouldBlock) => return Ok(false),
                    Err(e) => return Err(code(e, Op::Lookup)),
                },
                Phase::Connecting(socket) => match socket.finish_connect() {
                    Ok((input, output)) => {
                        if let Phase::Connecting(socket) =
                            std::mem::replace(&mut self.phase, Phase::Gone)
                        {
                            self.phase = Phase::Open {
                                input,
                                output,
                                socket,
                            };
                        }
                        return Ok(true);
                    }
                    Err(ErrorCode::WouldBlock) => return Ok(false),
                    Err(e) => {
                        self.last = Some(code(e, Op::Connect));
                        self.connect_next(network)?;
                    }
                },
            }
        }
    }
}

impl Conn {
    fn open(&self) -> Result<(&InputStream, &OutputStream), Failure> {
        match &self.phase {
            Phase::Open { input, output, .. } => Ok((input, output)),
            _ => Err(other("not connected")),
        }
    }

    /// The pollables worth waiting on: the resolver or the connect while
    /// opening; once open, the input stream (data, end of stream) and, when
    /// `output` is asked for, the output stream (room to write, flush done).
    pub fn pollables(&self, output: bool) -> [Option<Pollable>; 2] {
        match &self.phase {
            Phase::Resolving(lookup) => [Some(lookup.subscribe()), None],
            Phase::Connecting(socket) => [Some(socket.subscribe()), None],
            Phase::Open {
                input, output: out, ..
            } => [Some(input.subscribe()), output.then(|| out.subscribe())],
            Phase::Gone => [None, None],
        }
    }

    /// Reads what arrived into `buf` without blocking: `Ok(Some(0))` when
    /// nothing did, `Ok(None)` at end of stream.
    pub fn read(&self, buf: &mut [u8]) -> Result<Option<usize>, Failure> {
        let (input, _) = self.open()?;
        match input.read(buf.len() as u64) {
            Ok(b) => {
                let n = b.len().min(buf.len());
                buf[..n].copy_from_slice(&b[..n]);
                Ok(Some(n))
            }
            Err(StreamError::Closed) => Ok(None),
            Err(e) => Err(stream_failure(e)),
        }
    }

    /// Writes as much of `first` then `second` as the stream takes now
    /// without blocking; returns how much (0: no room now).
    pub fn write(&self, first: &[u8], second: &[u8]) -> Result<usize, Failure> {
        let (_, output) = self.open()?;
        let room = output.check_write().map_err(stream_failure)?;
        let room = usize::try_from(room).unwrap_or(usize::MAX);
        let a = first.len().min(room);
        if a > 0 {
            output.write(&first[..a]).map_err(stream_failure)?;
        }
        let b = second.len().min(room - a);
        if b > 0 {
            output.write(&second[..b]).map_err(stream_failure)?;
        }
        Ok(a + b)
    }

    /// True when the output stream takes bytes now (and so any flush asked
    /// for has completed).
    pub fn writable(&self) -> Result<bool, Failure> {
        let (_, output) = self.open()?;
        output.check_write().map(|n| n > 0).map_err(stream_failure)
    }

    /// Asks the runtime to hand everything written to the OS; done when
    /// [`writable`](Self::writable) says so.
    pub fn start_flush(&self) -> Result<(), Failure> {
        let (_, output) = self.open()?;
        output.flush().map_err(stream_failure)
    }

    /// Ends our side for writing (the peer reads end of stream); reading
    /// goes on, to see the peer end its side.
    pub fn shutdown_send(&self) -> Result<(), Failure> {
        match &self.phase {
            Phase::Open { socket, .. } => socket
                .shutdown(ShutdownType::Send)
                .map_err(|e| code(e, Op::Shutdown)),
            _ => Err(other("not connected")),
        }
    }
}
