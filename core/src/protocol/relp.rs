//! The RELP client: the Reliable Event Logging Protocol of rsyslog's
//! `imrelp` (and Logstash's RELP input), without I/O. The collector answers
//! every `syslog` frame with `200 OK` once it has queued the record, so the
//! confirmed cursor moves with the collector's own word instead of a guess
//! about its buffers.
//!
//! ```text
//! frame = TXNR SP COMMAND SP DATALEN [SP DATA] LF
//! C: 1 open 64 relp_version=0\nrelp_software=alooma-rust-sdk,0.1.0\ncommands=syslog\n
//! S: 1 rsp 93 200 OK\nrelp_version=0\n...\ncommands=syslog\n
//! C: 2 syslog 120 {"user":"ann",...}\n      (one record per frame)
//! S: 2 rsp 6 200 OK\n
//! C: 3 close 0\n
//! S: 3 rsp 0\n   0 serverclose 0\n   <end of stream>
//! ```
//!
//! [`Relp`] writes frames into the caller's bytes and reads the collector's
//! replies with a strict, bounded parser ([`Parser`]): a malformed or hostile
//! reply is a [`RelpError`], never a panic or unbounded memory. Transaction
//! numbers start at 1 on every connection and go up by exactly one; a
//! session ends before 999,999,999 (librelp cannot go past it). As a
//! [`Protocol`] it frames one record (or loss marker) per `syslog` frame and
//! yields what each answer confirms; the [`Driver`](crate::Driver) moves the
//! bytes, confirms the answered records in the ring and replays the others
//! after a lost connection.

use super::{Answers, Close, ConfirmedBy, Failed, Frame, Header, Protocol};
use crate::api::notify::{NetError, Notification};
use crate::send::time::Instant;
use core::time::Duration;

/// Unacknowledged frames allowed by default (measured with `throughput`
/// against rsyslog 8.2302: see README).
pub const DEFAULT_RELP_WINDOW: usize = 4096;

/// How long the collector may leave frames unanswered by default before the
/// connection is dropped and the frames replayed (a frame the collector
/// silently discards gets no reply at all).
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest transaction number librelp accepts (9 digits).
pub const MAX_TXNR: u32 = 999_999_999;

/// The frame data rsyslog 8.2302 accepts by default: imrelp's `maxDataSize`
/// follows the global `maxMessageSize`, whose default ("8k") is 8,096 bytes
/// (measured: a frame of 8,097 bytes is written cut to 8,096 *and still
/// acknowledged* `200 OK`). With RELP the SDK's default `max_event_bytes` is
/// this, so a record's frame data (the record less its newline) stays at
/// least one byte under the limit.
pub const RSYSLOG_DEFAULT_MAX_DATA: usize = 8096;

/// Longest frame header this client writes: `999999999 syslog 999999999 `.
pub const HEADER_MAX: usize = 27;

/// The smallest buffer frames are written into: the `open` frame (80
/// bytes), or a header and some of a record. Configurations with RELP need
/// `batch_bytes` at least this large.
pub const MIN_BUFFER: usize = 128;

/// Longest reply data accepted; longer is malformed (an `open` reply is
/// about 100 bytes, an acknowledgement 6).
pub const MAX_REPLY_DATA: u32 = 4096;

/// Bytes of a refusal's text kept for the notification.
pub const TEXT_MAX: usize = 64;

/// Runs of consecutive records tracked between acknowledgements; a loss
/// marker or a gap starts a new run. When full, sending waits for replies.
const MAX_RUNS: usize = 32;

const OFFERS: &[u8] = b"relp_version=0\nrelp_software=alooma-rust-sdk,0.1.0\ncommands=syslog";

/// The RELP settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelpConfig {
    /// Frames sent and not yet answered, at most.
    pub window: usize,
    /// Longest wait for a reply while frames are unanswered.
    pub ack_timeout: Duration,
    /// Commands per session (the `open` and the `close` included) before
    /// the client closes it and opens a new one; at most [`MAX_TXNR`].
    pub session_txnrs: u32,
}

impl Default for RelpConfig {
    fn default() -> Self {
        RelpConfig {
            window: DEFAULT_RELP_WINDOW,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            session_txnrs: MAX_TXNR,
        }
    }
}

/// The collector's words in a refusal (`500 ...`), cut to [`TEXT_MAX`]
/// bytes; bytes that are not printable ASCII are shown as `?`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct ReplyText {
    buf: [u8; TEXT_MAX],
    len: u8,
}

impl ReplyText {
    const EMPTY: ReplyText = ReplyText {
        buf: [0; TEXT_MAX],
        len: 0,
    };

    fn push(&mut self, b: u8) {
        if (self.len as usize) < TEXT_MAX {
            self.buf[self.len as usize] = if (0x20..0x7f).contains(&b) { b } else { b'?' };
            self.len += 1;
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only printable ASCII is stored.
        core::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

impl core::fmt::Debug for ReplyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl core::fmt::Display for ReplyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a RELP session failed. The connection is dropped, everything
/// unacknowledged is replayed on the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelpError {
    /// The collector answered with an error status (`500 ...`).
    Refused {
        /// The status code.
        code: u16,
        /// The collector's text.
        text: ReplyText,
    },
    /// The collector's `open` reply does not offer the `syslog` command.
    NoSyslog,
    /// The collector's bytes are not RELP (what was wrong).
    Malformed(&'static str),
    /// A reply for a transaction that is not the oldest unanswered one.
    OutOfOrder {
        /// The transaction expected.
        expected: u32,
        /// The one answered.
        got: u32,
    },
    /// The collector announced it is closing the session (`serverclose`).
    ServerClose,
    /// No reply within the acknowledgement timeout.
    NoAnswer,
    /// The buffer frames are written into is shorter than [`MIN_BUFFER`]
    /// (the driver's scratch): no session can start.
    BufferTooSmall,
}

impl core::fmt::Display for RelpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RelpError::Refused { code, text } => write!(f, "collector refused: {code} {text}"),
            RelpError::NoSyslog => f.write_str("collector does not offer the syslog command"),
            RelpError::Malformed(why) => write!(f, "malformed reply from the collector: {why}"),
            RelpError::OutOfOrder { expected, got } => {
                write!(f, "reply for transaction {got}, expected {expected}")
            }
            RelpError::ServerClose => f.write_str("collector closed the session (serverclose)"),
            RelpError::NoAnswer => f.write_str("collector did not answer in time"),
            RelpError::BufferTooSmall => write!(f, "buffer smaller than {MIN_BUFFER} bytes"),
        }
    }
}

/// One complete reply from the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `rsp`: the answer to transaction `txnr`.
    Rsp {
        /// The transaction answered.
        txnr: u32,
        /// The status code (`200`: done). A reply without data (the answer
        /// to `close`) has code 200.
        code: u16,
        /// The reply's offers include `commands=...syslog...` (an `open`
        /// reply).
        syslog: bool,
    },
    /// `serverclose`: the collector is ending the session.
    ServerClose,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Txnr,
    Command,
    Len,
    Data,
    /// The LF that ends a frame with data.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    Rsp,
    ServerClose,
}

/// Where in a reply's data the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataPart {
    /// The three status digits.
    Code,
    /// After the code: text until LF.
    Text,
    /// An offer's name until `=`.
    Key,
    /// The `commands` offer's values.
    Commands,
    /// Any other offer's value.
    Skip,
}

/// A strict, bounded parser of the collector's frames, fed any number of
/// bytes at a time. It keeps a few counters and at most [`TEXT_MAX`] bytes.
#[derive(Debug, Clone, Copy)]
pub struct Parser {
    field: Field,
    digits: u8,
    txnr: u32,
    cmd: [u8; 11],
    cmd_len: u8,
    len: u32,
    left: u32,
    part: DataPart,
    code: u16,
    code_digits: u8,
    text: ReplyText,
    key: [u8; 8],
    key_len: u8,
    /// Bytes of the current `commands` value matched against `syslog`
    /// (`u8::MAX`: no match).
    tok: u8,
    syslog: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser::new()
    }
}

impl Parser {
    /// A parser at the start of a frame.
    pub const fn new() -> Self {
        Parser {
            field: Field::Txnr,
            digits: 0,
            txnr: 0,
            cmd: [0; 11],
            cmd_len: 0,
            len: 0,
            left: 0,
            part: DataPart::Code,
            code: 0,
            code_digits: 0,
            text: ReplyText::EMPTY,
            key: [0; 8],
            key_len: 0,
            tok: 0,
            syslog: false,
        }
    }

    /// The text of the last reply's status line (after the code).
    pub fn text(&self) -> ReplyText {
        self.text
    }

    fn frame_done(&mut self) -> Reply {
        let cmd = self.command();
        let reply = match cmd {
            Some(Cmd::ServerClose) => Reply::ServerClose,
            _ => Reply::Rsp {
                txnr: self.txnr,
                code: if self.len == 0 { 200 } else { self.code },
                syslog: self.syslog,
            },
        };
        let text = self.text;
        *self = Parser::new();
        self.text = text;
        reply
    }

    fn command(&self) -> Option<Cmd> {
        match &self.cmd[..self.cmd_len as usize] {
            b"rsp" => Some(Cmd::Rsp),
            b"serverclose" => Some(Cmd::ServerClose),
            _ => None,
        }
    }

    /// Takes one byte of a reply's data.
    fn data_byte(&mut self, b: u8) -> Result<(), RelpError> {
        if self.command() != Some(Cmd::Rsp) {
            return Ok(()); // serverclose data: ignored
        }
        match self.part {
            DataPart::Code => {
                if !b.is_ascii_digit() {
                    return Err(RelpError::Malformed("status code is not 3 digits"));
                }
                self.code = self.code * 10 + (b - b'0') as u16;
                self.code_digits += 1;
                if self.code_digits == 3 {
                    self.part = DataPart::Text;
                    self.text = ReplyText::EMPTY;
                }
            }
            DataPart::Text => match b {
                b'\n' => self.part = DataPart::Key,
                b' ' if self.text.len == 0 => {}
                _ => self.text.push(b),
            },
            DataPart::Key => match b {
                b'=' => {
                    self.part = if &self.key[..self.key_len as usize] == b"commands" {
                        self.tok = 0;
                        DataPart::Commands
                    } else {
                        DataPart::Skip
                    };
                    self.key_len = 0;
                }
                b'\n' => self.key_len = 0,
                _ => {
                    if (self.key_len as usize) < self.key.len() {
                        self.key[self.key_len as usize] = b;
                        self.key_len += 1;
                    } else {
                        self.key_len = 0;
                        self.part = DataPart::Skip;
                    }
                }
            },
            DataPart::Commands => match b {
                b',' | b'\n' => {
                    if self.tok == 6 {
                        self.syslog = true;
                    }
                    self.tok = 0;
                    if b == b'\n' {
                        self.part = DataPart::Key;
                    }
                }
                _ => {
                    self.tok = match b"syslog".get(self.tok as usize) {
                        Some(&c) if c == b => self.tok + 1,
                        _ => u8::MAX,
                    }
                }
            },
            DataPart::Skip => {
                if b == b'\n' {
                    self.part = DataPart::Key;
                }
            }
        }
        Ok(())
    }

    /// Ends a reply's data: the last `commands` value counts too.
    fn data_end(&mut self) -> Result<(), RelpError> {
        if self.command() != Some(Cmd::Rsp) {
            return Ok(());
        }
        if self.part == DataPart::Commands && self.tok == 6 {
            self.syslog = true;
        }
        if self.code_digits < 3 {
            return Err(RelpError::Malformed("status code is not 3 digits"));
        }
        Ok(())
    }

    /// Feeds `bytes`; each complete reply goes to `f`, which may stop the
    /// parse with an error. Returns the first error.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        mut f: impl FnMut(Reply, &Parser) -> Result<(), RelpError>,
    ) -> Result<(), RelpError> {
        for &b in bytes {
            match self.field {
                Field::Txnr | Field::Len => {
                    if b.is_ascii_digit() {
                        if self.digits == 9 {
                            return Err(RelpError::Malformed("number longer than 9 digits"));
                        }
                        self.digits += 1;
                        let v = if self.field == Field::Txnr {
                            &mut self.txnr
                        } else {
                            &mut self.len
                        };
                        *v = *v * 10 + (b - b'0') as u32;
                    } else if b == b' ' && self.digits > 0 && self.field == Field::Txnr {
                        self.field = Field::Command;
                        self.digits = 0;
                    } else if self.digits > 0 && self.field == Field::Len {
                        if self.len > MAX_REPLY_DATA {
                            return Err(RelpError::Malformed("reply data too long"));
                        }
                        self.digits = 0;
                        self.sep(b, &mut f)?;
                    } else {
                        return Err(RelpError::Malformed("expected a number"));
                    }
                }
                Field::Command => {
                    if b.is_ascii_alphabetic() {
                        if self.cmd_len as usize == self.cmd.len() {
                            return Err(RelpError::Malformed("unknown command"));
                        }
                        self.cmd[self.cmd_len as usize] = b;
                        self.cmd_len += 1;
                    } else if b == b' ' && self.cmd_len > 0 {
                        if self.command().is_none() {
                            return Err(RelpError::Malformed("unknown command"));
                        }
                        self.field = Field::Len;
                    } else {
                        return Err(RelpError::Malformed("bad command"));
                    }
                }
                Field::Data => {
                    self.data_byte(b)?;
                    self.left -= 1;
                    if self.left == 0 {
                        self.data_end()?;
                        self.field = Field::End;
                    }
                }
                Field::End => {
                    if b != b'\n' {
                        return Err(RelpError::Malformed("frame does not end in LF"));
                    }
                    let r = self.frame_done();
                    f(r, self)?;
                }
            }
        }
        Ok(())
    }

    /// The byte right after DATALEN: LF ends a frame without data, a space
    /// starts the data.
    fn sep(
        &mut self,
        b: u8,
        f: &mut impl FnMut(Reply, &Parser) -> Result<(), RelpError>,
    ) -> Result<(), RelpError> {
        match (b, self.len) {
            (b'\n', 0) => {
                let r = self.frame_done();
                f(r, self)
            }
            (b' ', n) if n > 0 => {
                self.left = n;
                self.field = Field::Data;
                Ok(())
            }
            _ => Err(RelpError::Malformed("bad separator after the data length")),
        }
    }
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No session.
    Idle,
    /// `open` sent, its reply awaited.
    Opening,
    /// Records may be sent.
    Open,
    /// `close` sent, its reply awaited.
    Closing,
    /// The collector answered `close`: every frame before it was answered.
    Closed,
}

/// Consecutive records sent as consecutive transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    txnr: u32,
    record: u64,
    count: u32,
}

/// What a batch of the collector's bytes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Every record with a ring index up to this one is acknowledged
    /// (indexes from [`Ring::sent_record`](crate::Ring::sent_record)).
    pub acked_record: Option<u64>,
    /// Frames answered (records and markers).
    pub answered: u32,
}

/// A RELP client session (see the module docs).
#[derive(Debug, Clone)]
pub struct Relp {
    cfg: RelpConfig,
    phase: Phase,
    /// The next transaction number to use.
    next: u32,
    /// Every transaction up to this one is answered.
    answered: u32,
    close_txnr: u32,
    runs: heapless::Deque<Run, MAX_RUNS>,
    parser: Parser,
    /// Since when a reply is awaited (the last reply, or the first frame
    /// after all were answered).
    waiting_since: Option<Instant>,
}

fn write_num(out: &mut [u8], at: &mut usize, n: u32) {
    let mut b = [0u8; 20];
    let s = crate::wire::num::decimal(n as u64, &mut b);
    out[*at..*at + s.len()].copy_from_slice(s);
    *at += s.len();
}

fn write_bytes(out: &mut [u8], at: &mut usize, s: &[u8]) {
    out[*at..*at + s.len()].copy_from_slice(s);
    *at += s.len();
}

impl Relp {
    /// A client with settings `cfg`, not in a session.
    pub fn new(cfg: RelpConfig) -> Self {
        Relp {
            cfg,
            phase: Phase::Idle,
            next: 1,
            answered: 0,
            close_txnr: 0,
            runs: heapless::Deque::new(),
            parser: Parser::new(),
            waiting_since: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &RelpConfig {
        &self.cfg
    }

    /// Where the session is.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Every transaction up to this number is answered.
    pub fn answered(&self) -> u32 {
        self.answered
    }

    /// The transaction number the next frame gets.
    pub fn next_txnr(&self) -> u32 {
        self.next
    }

    /// Frames sent and not yet answered.
    pub fn unanswered(&self) -> u32 {
        self.next - 1 - self.answered
    }

    /// Forgets the session (the connection is gone).
    pub fn reset(&mut self) {
        *self = Relp::new(self.cfg);
    }

    /// Starts a session on a new connection: writes the `open` frame into
    /// `out` and returns its length (0, and no session, when `out` is
    /// shorter than [`MIN_BUFFER`]).
    pub fn open(&mut self, now: Instant, out: &mut [u8]) -> usize {
        self.reset();
        if out.len() < MIN_BUFFER {
            return 0;
        }
        let mut at = 0;
        write_bytes(out, &mut at, b"1 open ");
        write_num(out, &mut at, OFFERS.len() as u32);
        write_bytes(out, &mut at, b" ");
        write_bytes(out, &mut at, OFFERS);
        write_bytes(out, &mut at, b"\n");
        self.next = 2;
        self.phase = Phase::Opening;
        self.waiting_since = Some(now);
        at
    }

    /// Last transaction number records may use in this session (one is
    /// kept for `close`).
    fn last_record_txnr(&self) -> u32 {
        self.cfg.session_txnrs.clamp(3, MAX_TXNR) - 1
    }

    /// Frames that may be sent now (the window's room, the session's room;
    /// none while the runs that map answers to records are all in use: a
    /// frame may need a new one).
    pub fn room(&self) -> usize {
        if self.phase != Phase::Open || self.runs.is_full() {
            return 0;
        }
        let window =
            self.cfg.window.max(1) - (self.unanswered() as usize).min(self.cfg.window.max(1));
        let session = (self.last_record_txnr() + 1).saturating_sub(self.next) as usize;
        window.min(session)
    }

    /// True once the session used its transaction numbers and everything
    /// was answered: close it and open a new one.
    pub fn session_used(&self) -> bool {
        self.phase == Phase::Open && self.next > self.last_record_txnr() && self.unanswered() == 0
    }

    /// Writes the header of the next `syslog` frame, for `data_len` bytes
    /// of data, into `out` and returns its length; `record` is the ring
    /// index of the record it carries (`None`: a loss marker, not the
    /// ring's). `None` when no frame may be sent now ([`room`](Self::room)
    /// is 0, or too many separate runs await replies).
    pub fn header(
        &mut self,
        now: Instant,
        record: Option<u64>,
        data_len: usize,
        out: &mut [u8; HEADER_MAX],
    ) -> Option<usize> {
        if self.room() == 0 || data_len > 999_999_999 {
            return None;
        }
        let txnr = self.next;
        if let Some(record) = record {
            match self.runs.back_mut() {
                Some(r) if r.txnr + r.count == txnr && r.record + r.count as u64 == record => {
                    r.count += 1;
                }
                _ => self
                    .runs
                    .push_back(Run {
                        txnr,
                        record,
                        count: 1,
                    })
                    .ok()?,
            }
        }
        if self.unanswered() == 0 {
            self.waiting_since = Some(now);
        }
        self.next += 1;
        let mut at = 0;
        write_num(out, &mut at, txnr);
        write_bytes(out, &mut at, b" syslog ");
        write_num(out, &mut at, data_len as u32);
        write_bytes(out, &mut at, if data_len == 0 { b"\n" } else { b" " });
        Some(at)
    }

    /// Ends the session: writes the `close` frame into `out` and returns
    /// its length. Its reply comes after every earlier one.
    pub fn close(&mut self, now: Instant, out: &mut [u8; HEADER_MAX]) -> usize {
        let txnr = self.next;
        if self.unanswered() == 0 {
            self.waiting_since = Some(now);
        }
        self.next += 1;
        self.close_txnr = txnr;
        self.phase = Phase::Closing;
        let mut at = 0;
        write_num(out, &mut at, txnr);
        write_bytes(out, &mut at, b" close 0\n");
        at
    }

    /// When the collector's silence becomes [`RelpError::NoAnswer`].
    pub fn deadline(&self) -> Option<Instant> {
        let waiting =
            self.unanswered() > 0 || matches!(self.phase, Phase::Opening | Phase::Closing);
        match self.waiting_since {
            Some(t) if waiting => Some(t + self.cfg.ack_timeout),
            _ => None,
        }
    }

    /// Checks the acknowledgement timeout at `now`.
    pub fn check_timeout(&self, now: Instant) -> Result<(), RelpError> {
        match self.deadline() {
            Some(d) if now >= d => Err(RelpError::NoAnswer),
            _ => Ok(()),
        }
    }

    /// Takes the collector's bytes. Errors end the session (the caller
    /// drops the connection). What the bytes before an error acknowledged
    /// is lost here: a driver confirming records uses
    /// [`receive_into`](Self::receive_into).
    pub fn receive(&mut self, now: Instant, bytes: &[u8]) -> Result<Progress, RelpError> {
        let mut progress = Progress::default();
        self.receive_into(now, bytes, &mut progress)
            .map(|()| progress)
    }

    /// Takes the collector's bytes, adding what they acknowledged to
    /// `progress`, also when a later reply in the same bytes is an error:
    /// the records acknowledged before it must be confirmed, not replayed.
    pub fn receive_into(
        &mut self,
        now: Instant,
        bytes: &[u8],
        progress: &mut Progress,
    ) -> Result<(), RelpError> {
        let mut parser = self.parser;
        let r = parser.feed(bytes, |reply, p| self.on_reply(now, reply, p, progress));
        self.parser = parser;
        r
    }

    fn on_reply(
        &mut self,
        now: Instant,
        reply: Reply,
        parser: &Parser,
        progress: &mut Progress,
    ) -> Result<(), RelpError> {
        let (txnr, code, syslog) = match reply {
            Reply::ServerClose if self.phase == Phase::Closed => return Ok(()),
            Reply::ServerClose => return Err(RelpError::ServerClose),
            Reply::Rsp { txnr, code, syslog } => (txnr, code, syslog),
        };
        if self.phase == Phase::Closed {
            return Err(RelpError::Malformed("reply after the close"));
        }
        let expected = self.answered + 1;
        if txnr != expected || txnr >= self.next {
            return Err(RelpError::OutOfOrder {
                expected,
                got: txnr,
            });
        }
        if code != 200 {
            return Err(RelpError::Refused {
                code,
                text: parser.text(),
            });
        }
        self.answered = txnr;
        self.waiting_since = Some(now);
        progress.answered += 1;
        match self.phase {
            Phase::Opening if txnr == 1 => {
                if !syslog {
                    return Err(RelpError::NoSyslog);
                }
                self.phase = Phase::Open;
            }
            Phase::Closing if txnr == self.close_txnr => self.phase = Phase::Closed,
            _ => {
                while let Some(run) = self.runs.front_mut() {
                    if txnr < run.txnr {
                        break; // a marker's transaction
                    }
                    if txnr < run.txnr + run.count {
                        progress.acked_record = Some(run.record + (txnr - run.txnr) as u64);
                        if txnr + 1 == run.txnr + run.count {
                            self.runs.pop_front();
                        }
                        break;
                    }
                    self.runs.pop_front();
                }
            }
        }
        Ok(())
    }
}

impl Protocol for Relp {
    type Error = RelpError;

    fn confirmed_by(&self) -> ConfirmedBy {
        ConfirmedBy::Answers
    }

    fn header_max(&self) -> usize {
        HEADER_MAX
    }

    fn connected(&mut self, now: Instant, out: &mut [u8]) -> Result<usize, RelpError> {
        match self.open(now, out) {
            0 => Err(RelpError::BufferTooSmall),
            n => Ok(n),
        }
    }

    fn is_open(&self) -> bool {
        self.phase == Phase::Open
    }

    fn has_room(&self) -> bool {
        self.room() > 0
    }

    fn awaits_answers(&self) -> bool {
        self.unanswered() > 0
    }

    fn frame(&mut self, now: Instant, frame: Frame, len: usize, out: &mut [u8]) -> Option<Header> {
        let out: &mut [u8; HEADER_MAX] = out.get_mut(..HEADER_MAX)?.try_into().ok()?;
        if len == 0 {
            return None;
        }
        let answer = self.next;
        let record = match frame {
            Frame::Record(index) => Some(index),
            Frame::Marker => None,
        };
        // The record's newline ends its frame.
        let n = self.header(now, record, len - 1, out)?;
        Some(Header {
            len: n,
            answer: Some(answer),
        })
    }

    fn handle_input(
        &mut self,
        now: Instant,
        bytes: &[u8],
        answers: &mut Answers,
    ) -> Result<(), RelpError> {
        let mut progress = Progress::default();
        let r = self.receive_into(now, bytes, &mut progress);
        // What was answered before an error is confirmed.
        if progress.acked_record.is_some() {
            answers.record = progress.acked_record;
        }
        if self.answered > 0 {
            answers.frames = Some(self.answered);
        }
        r
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.deadline()
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), RelpError> {
        self.check_timeout(now)
    }

    fn poll_close(&mut self, now: Instant, ending: bool, out: &mut [u8]) -> Close {
        match self.phase {
            Phase::Open if (ending || self.session_used()) && out.len() >= HEADER_MAX => {
                let mut frame = [0u8; HEADER_MAX];
                let n = self.close(now, &mut frame);
                out[..n].copy_from_slice(&frame[..n]);
                Close::Write(n)
            }
            Phase::Closing => Close::Waiting,
            Phase::Opening if ending => Close::Waiting,
            Phase::Closed => Close::Done,
            _ => Close::Nothing,
        }
    }

    fn closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    fn lost(&mut self) {
        self.reset();
    }

    fn failure(&self, e: RelpError, server: Option<usize>) -> Failed {
        let (kind, detail) = match e {
            RelpError::NoAnswer => (NetError::TimedOut, "RELP: no reply in time"),
            RelpError::ServerClose => (NetError::PeerClosed, "RELP: serverclose"),
            RelpError::Refused { .. } => (NetError::Protocol, "RELP: refused"),
            RelpError::NoSyslog => (NetError::Protocol, "RELP: no syslog command"),
            RelpError::Malformed(_) | RelpError::OutOfOrder { .. } => {
                (NetError::Protocol, "RELP: malformed reply")
            }
            // Ours, not the collector's: no RELP notification.
            RelpError::BufferTooSmall => {
                return Failed {
                    kind: NetError::Other,
                    detail: "RELP: buffer too small",
                    note: None,
                }
            }
        };
        Failed {
            kind,
            detail,
            note: server.map(|server| Notification::RelpFailed { server, error: e }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn opened() -> Relp {
        let mut r = Relp::new(RelpConfig::default());
        let mut out = [0u8; 128];
        let n = r.open(t(0), &mut out);
        assert_eq!(
            &out[..n],
            b"1 open 66 relp_version=0\nrelp_software=alooma-rust-sdk,0.1.0\ncommands=syslog\n"
        );
        r.receive(t(1), b"1 rsp 93 200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog\n")
            .unwrap();
        assert_eq!(r.phase(), Phase::Open);
        r
    }

    /// A reply frame with its data length computed.
    fn rsp(txnr: u32, data: &str) -> std::vec::Vec<u8> {
        std::format!("{txnr} rsp {} {data}\n", data.len()).into_bytes()
    }

    fn header(r: &mut Relp, rec: Option<u64>, len: usize) -> std::vec::Vec<u8> {
        let mut h = [0u8; HEADER_MAX];
        let n = r.header(t(2), rec, len, &mut h).unwrap();
        h[..n].to_vec()
    }

    #[test]
    fn frames_and_acks_map_to_records() {
        let mut r = opened();
        assert_eq!(header(&mut r, Some(10), 5), b"2 syslog 5 ");
        assert_eq!(header(&mut r, Some(11), 7), b"3 syslog 7 ");
        assert_eq!(header(&mut r, None, 9), b"4 syslog 9 ");
        assert_eq!(header(&mut r, Some(14), 1), b"5 syslog 1 ");
        assert_eq!(r.unanswered(), 4);
        let p = r.receive(t(3), b"2 rsp 6 200 OK\n3 rsp 6 2").unwrap();
        assert_eq!(p.acked_record, Some(10));
        let p = r.receive(t(3), b"00 OK\n4 rsp 6 200 OK\n").unwrap();
        assert_eq!(p.acked_record, Some(11)); // 4 is the marker's
        assert_eq!(p.answered, 2);
        let p = r.receive(t(3), b"5 rsp 6 200 OK\n").unwrap();
        assert_eq!(p.acked_record, Some(14));
        assert_eq!(r.unanswered(), 0);
        let mut c = [0u8; HEADER_MAX];
        let n = r.close(t(4), &mut c);
        assert_eq!(&c[..n], b"6 close 0\n");
        r.receive(t(5), b"6 rsp 0\n0 serverclose 0\n").unwrap();
        assert_eq!(r.phase(), Phase::Closed);
    }

    #[test]
    fn refusals_and_garbage_are_errors() {
        let mut r = opened();
        header(&mut r, Some(0), 3);
        use std::string::ToString;
        let e = r
            .receive(t(3), &rsp(2, "500 message too long"))
            .unwrap_err();
        assert_eq!(e.to_string(), "collector refused: 500 message too long");
        for bad in [
            &b"x rsp 6 200 OK\n"[..],
            b"2 rsp 6 200 OKX",
            b"2 rsp 9999 ",
            b"2 foo 0\n",
            b"1234567890 rsp",
            b"2 rsp 2 2x\n",
            b"2 rsp 0 ",
        ] {
            let mut r = opened();
            header(&mut r, Some(0), 3);
            assert!(
                matches!(r.receive(t(3), bad), Err(RelpError::Malformed(_))),
                "{:?}",
                core::str::from_utf8(bad)
            );
        }
        let mut r = opened();
        header(&mut r, Some(0), 3);
        assert_eq!(
            r.receive(t(3), b"3 rsp 6 200 OK\n"),
            Err(RelpError::OutOfOrder {
                expected: 2,
                got: 3
            })
        );
        let mut r = opened();
        assert_eq!(
            r.receive(t(3), b"0 serverclose 0\n"),
            Err(RelpError::ServerClose)
        );
    }

    #[test]
    fn no_session_in_a_buffer_too_small() {
        let mut r = Relp::new(RelpConfig::default());
        assert_eq!(r.open(t(0), &mut [0u8; MIN_BUFFER - 1]), 0);
        assert_eq!(r.phase(), Phase::Idle);
        assert!(r.open(t(0), &mut [0u8; MIN_BUFFER]) > 0);
    }

    #[test]
    fn acknowledgements_before_an_error_count() {
        // Found by fuzzing: an answer and an error in the same bytes; the
        // answered record must be confirmed, not replayed.
        let mut r = opened();
        header(&mut r, Some(7), 3);
        header(&mut r, Some(8), 3);
        let mut p = Progress::default();
        assert_eq!(
            r.receive_into(t(3), b"2 rsp 6 200 OK\n0 serverclose 0\n", &mut p),
            Err(RelpError::ServerClose)
        );
        assert_eq!(p.acked_record, Some(7));
    }

    #[test]
    fn open_without_syslog_is_refused() {
        let mut r = Relp::new(RelpConfig::default());
        r.open(t(0), &mut [0u8; 128]);
        assert_eq!(
            r.receive(t(1), &rsp(1, "200 OK\ncommands=syslogx,foo")),
            Err(RelpError::NoSyslog)
        );
        let mut r = Relp::new(RelpConfig::default());
        r.open(t(0), &mut [0u8; 128]);
        r.receive(t(1), &rsp(1, "200 OK\nrelp_version=0\ncommands=foo,syslog"))
            .unwrap();
        assert_eq!(r.phase(), Phase::Open);
    }

    #[test]
    fn window_timeout_and_session_end() {
        let mut r = Relp::new(RelpConfig {
            window: 2,
            ack_timeout: Duration::from_millis(100),
            session_txnrs: 5,
        });
        r.open(t(0), &mut [0u8; 128]);
        assert_eq!(r.deadline(), Some(t(100)));
        r.receive(t(10), &rsp(1, "200 OK\ncommands=syslog"))
            .unwrap();
        assert_eq!(r.deadline(), None);
        assert_eq!(r.room(), 2);
        header(&mut r, Some(0), 1);
        header(&mut r, Some(1), 1);
        assert_eq!(r.room(), 0);
        assert_eq!(r.check_timeout(t(101)), Ok(()));
        assert_eq!(r.check_timeout(t(102)), Err(RelpError::NoAnswer));
        r.receive(t(50), b"2 rsp 6 200 OK\n").unwrap();
        assert_eq!(r.deadline(), Some(t(150)));
        // Transactions 1..=5: open, three records, close.
        assert_eq!(r.room(), 1);
        header(&mut r, Some(2), 1);
        assert_eq!(r.room(), 0);
        assert!(!r.session_used());
        r.receive(t(60), b"3 rsp 6 200 OK\n4 rsp 6 200 OK\n")
            .unwrap();
        assert!(r.session_used());
        let mut c = [0u8; HEADER_MAX];
        let n = r.close(t(61), &mut c);
        assert_eq!(&c[..n], b"5 close 0\n");
    }

    #[test]
    fn parser_survives_any_bytes() {
        // Every prefix of every byte pattern: an error or progress, never
        // a panic (the fuzz target goes further).
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut r = opened();
            for i in 0..20 {
                header(&mut r, Some(i), 3);
            }
            let mut bytes = [0u8; 64];
            for b in bytes.iter_mut() {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                *b = b"0123456789 rspOK\n2"[(seed >> 33) as usize % 18];
            }
            let _ = r.receive(t(3), &bytes);
        }
    }
}
