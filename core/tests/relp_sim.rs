//! Deterministic simulation of the shipped [`Driver`] speaking RELP to a
//! fake collector that checks the protocol strictly (transaction numbers
//! from 1, +1 exactly, `open` first, one record per `syslog` frame) and
//! misbehaves at random: short writes, late replies, resets, refusals
//! (`500`), silence, `serverclose`. Checks: no record is confirmed before
//! the collector acknowledged it, everything arrives in order with
//! duplicates only from replays, the counts add up, sessions are renewed
//! before their transaction numbers run out, and a close ends cleanly.

use alooma_core::relp::RelpConfig;
use alooma_core::{
    Backoff, Config, Driver, Encoder, Failure, Instant, Link, NetError, Notification, Protocol,
    Received, RelpError, Ring, Rng,
};
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

/// What the collector does wrong, at random.
#[derive(Clone, Copy, Default)]
struct Faults {
    /// Per thousand turns: the connection resets (unanswered frames and
    /// replies in flight are lost).
    reset: u64,
    /// Per thousand frames: answered `500`, then the session ends.
    refuse: u64,
    /// Per thousand turns: the collector falls silent on this connection.
    silence: u64,
    /// Per thousand turns: `serverclose`, then the end of stream.
    serverclose: u64,
}

struct Conn {
    /// Bytes from us not yet parsed by the collector.
    inbuf: Vec<u8>,
    /// Replies not yet read by us.
    out: VecDeque<u8>,
    /// Frames parsed, replies not yet sent (late answers).
    pending: VecDeque<Vec<u8>>,
    next_txnr: u64,
    opened: bool,
    reset: bool,
    silent: bool,
    /// The collector ends the stream once `out` is read.
    ending: bool,
    /// Ids acknowledged on this connection.
    acked: Vec<u64>,
    /// The largest transaction number seen.
    max_txnr: u64,
}

struct World {
    rng: Rng,
    now: Instant,
    faults: Faults,
    conn: Option<Conn>,
    /// Every id the collector acknowledged (`200 OK` queued towards us).
    acked_ids: HashSet<u64>,
    /// Ids acknowledged, per connection.
    conns: Vec<Vec<u64>>,
    sessions: usize,
    largest_txnr: u64,
    refusals: usize,
    /// Loss marker records acknowledged.
    markers: usize,
}

fn frame(txnr: u64, cmd: &str, data: &str) -> Vec<u8> {
    if data.is_empty() {
        format!("{txnr} {cmd} 0\n").into_bytes()
    } else {
        format!("{txnr} {cmd} {} {data}\n", data.len()).into_bytes()
    }
}

/// Parses one complete frame from the front of `b`: (txnr, command, data,
/// length consumed).
fn parse(b: &[u8]) -> Option<(u64, String, Vec<u8>, usize)> {
    let sp1 = b.iter().position(|&c| c == b' ')?;
    let sp2 = sp1 + 1 + b[sp1 + 1..].iter().position(|&c| c == b' ')?;
    let len_end = sp2 + 1 + b[sp2 + 1..].iter().position(|&c| c == b' ' || c == b'\n')?;
    let txnr: u64 = std::str::from_utf8(&b[..sp1])
        .unwrap()
        .parse()
        .expect("txnr");
    let cmd = String::from_utf8(b[sp1 + 1..sp2].to_vec()).unwrap();
    let len: usize = std::str::from_utf8(&b[sp2 + 1..len_end])
        .unwrap()
        .parse()
        .expect("datalen");
    if len == 0 {
        assert_eq!(b[len_end], b'\n', "a frame without data ends at once");
        return Some((txnr, cmd, Vec::new(), len_end + 1));
    }
    let end = len_end + 1 + len;
    if b.len() < end + 1 {
        return None;
    }
    assert_eq!(b[end], b'\n', "frame not ended by LF");
    Some((txnr, cmd, b[len_end + 1..end].to_vec(), end + 1))
}

impl World {
    /// The collector parses what arrived and answers some of it.
    fn collector_turn(&mut self) {
        let f = self.faults;
        let Some(c) = self.conn.as_mut() else {
            return;
        };
        if c.reset || c.ending {
            return;
        }
        if self.rng.below(1000) < f.reset {
            c.reset = true;
            return;
        }
        if self.rng.below(1000) < f.silence {
            c.silent = true;
        }
        if c.opened && self.rng.below(1000) < f.serverclose {
            c.out.extend(frame(0, "serverclose", ""));
            c.ending = true;
            return;
        }
        while let Some((txnr, cmd, data, n)) = parse(&c.inbuf) {
            c.inbuf.drain(..n);
            assert_eq!(txnr, c.next_txnr, "transaction numbers must go up by one");
            assert!(txnr <= 999_999_999);
            c.next_txnr += 1;
            c.max_txnr = c.max_txnr.max(txnr);
            self.largest_txnr = self.largest_txnr.max(txnr);
            let reply = match cmd.as_str() {
                "open" => {
                    assert_eq!(txnr, 1, "open first");
                    let offers = std::str::from_utf8(&data).unwrap();
                    assert!(offers.contains("commands=syslog"), "{offers}");
                    c.opened = true;
                    self.sessions += 1;
                    frame(txnr, "rsp", "200 OK\nrelp_version=0\ncommands=syslog")
                }
                "syslog" => {
                    assert!(c.opened, "syslog before open");
                    assert!(!data.contains(&b'\n'), "one record per frame");
                    if self.rng.below(1000) < f.refuse {
                        self.refusals += 1;
                        c.out.extend(frame(txnr, "rsp", "500 queue full"));
                        c.ending = true;
                        return;
                    }
                    let v: serde_json::Value =
                        serde_json::from_slice(&data).expect("a JSON record");
                    match v["id"].as_u64() {
                        Some(id) => {
                            c.acked.push(id);
                            self.acked_ids.insert(id);
                        }
                        None => {
                            assert_eq!(v["_metadata"]["event_type"], "alooma_loss", "{v}");
                            self.markers += 1;
                        }
                    }
                    frame(txnr, "rsp", "200 OK")
                }
                "close" => {
                    let mut r = frame(txnr, "rsp", "");
                    r.extend(frame(0, "serverclose", ""));
                    c.ending = true;
                    c.pending.push_back(r);
                    break;
                }
                other => panic!("unexpected command {other}"),
            };
            c.pending.push_back(reply);
        }
        if !c.silent {
            // Answers leave in order, some of them now.
            let k = self.rng.below(c.pending.len() as u64 + 1) as usize;
            let k = if c.ending { c.pending.len() } else { k };
            for r in c.pending.drain(..k) {
                c.out.extend(r);
            }
        }
    }

    fn finish_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            self.conns.push(c.acked);
        }
    }
}

struct SimLink(Rc<RefCell<World>>);

const RESET: Failure<&str> = Failure {
    kind: NetError::Reset,
    detail: "reset",
};

impl Link for SimLink {
    type Detail = &'static str;

    fn connect(&mut self, _server: usize) -> Result<(), Failure<&'static str>> {
        let mut w = self.0.borrow_mut();
        w.conn = Some(Conn {
            inbuf: Vec::new(),
            out: VecDeque::new(),
            pending: VecDeque::new(),
            next_txnr: 1,
            opened: false,
            reset: false,
            silent: false,
            ending: false,
            acked: Vec::new(),
            max_txnr: 0,
        });
        Ok(())
    }

    fn poll_connect(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(self.0.borrow().conn.is_some())
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure<&'static str>> {
        let w = &mut *self.0.borrow_mut();
        let c = w.conn.as_mut().expect("write without a connection");
        if c.reset {
            return Err(RESET);
        }
        let k = w.rng.below(bytes.len() as u64 + 1) as usize;
        c.inbuf.extend(&bytes[..k]);
        Ok(k)
    }

    fn writable(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }

    fn flush(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<Received, Failure<&'static str>> {
        let w = &mut *self.0.borrow_mut();
        let c = w.conn.as_mut().expect("no connection");
        if c.reset {
            return Err(RESET);
        }
        if c.out.is_empty() {
            return Ok(if c.ending {
                Received::End
            } else {
                Received::Nothing
            });
        }
        // Replies arrive in pieces of any size.
        let n = (1 + w.rng.below(buf.len() as u64) as usize).min(c.out.len());
        for (i, b) in c.out.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(Received::Data(n))
    }

    fn shutdown(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }

    fn close(&mut self) {
        self.0.borrow_mut().finish_conn();
    }
}

struct Sim {
    w: Rc<RefCell<World>>,
    ring: Ring<Box<[u8]>>,
    driver: Driver<SimLink, Box<[u8]>, Encoder<'static>>,
    next_id: u64,
    checked: u64,
    /// Records may be dropped (`DropOldest`): confirmed records are then
    /// not the first ids.
    drops: bool,
    /// Bytes of padding added to each record.
    pad: usize,
}

static SERVERS: [&str; 1] = ["127.0.0.1:1"];

impl Sim {
    fn new(seed: u64, faults: Faults, relp: RelpConfig, batch: usize) -> Sim {
        Sim::with_buffer(seed, faults, relp, batch, 64 * 1024)
    }

    fn with_buffer(
        seed: u64,
        faults: Faults,
        relp: RelpConfig,
        batch: usize,
        buffer: usize,
    ) -> Sim {
        let mut cfg = Config::new("t", &SERVERS);
        cfg.protocol = Protocol::Relp;
        cfg.batch_bytes = batch;
        cfg.connect_timeout = Duration::from_millis(500);
        cfg.backoff = Backoff {
            initial: Duration::from_millis(1),
            max: Duration::from_millis(20),
            jitter_percent: 20,
        };
        cfg.validate(buffer).unwrap();
        let sender = cfg.sender();
        let wire = alooma_core::Wire::Relp(alooma_core::relp::Relp::new(relp));
        let w = Rc::new(RefCell::new(World {
            rng: Rng::new(seed),
            now: Instant::ZERO,
            faults,
            conn: None,
            acked_ids: HashSet::new(),
            conns: Vec::new(),
            sessions: 0,
            largest_txnr: 0,
            refusals: 0,
            markers: 0,
        }));
        Sim {
            driver: Driver::with_marker(
                sender,
                wire,
                SimLink(w.clone()),
                vec![0u8; batch].into_boxed_slice(),
                seed,
                Some(cfg.encoder()),
            ),
            w,
            ring: Ring::with_storage(vec![0u8; buffer].into_boxed_slice()),
            next_id: 0,
            checked: 0,
            pad: 0,
            drops: false,
        }
    }

    /// Reports one record if there is room (the producer never pauses
    /// otherwise); returns whether it did.
    fn report(&mut self) -> bool {
        let id = self.next_id;
        let pad = "p".repeat((id % 50) as usize + self.pad);
        let rec = format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n");
        if self.ring.try_push(rec.as_bytes()).is_ok() {
            self.next_id += 1;
            true
        } else {
            false
        }
    }

    /// Reports one record, dropping the oldest for room (`DropOldest`).
    fn report_dropping(&mut self) {
        let id = self.next_id;
        let pad = "p".repeat((id % 50) as usize);
        let rec = format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n");
        self.ring.push(rec.as_bytes(), true).unwrap();
        self.next_id += 1;
        self.drops = true;
    }

    fn turn(&mut self) {
        self.w.borrow_mut().collector_turn();
        let now = self.w.borrow().now;
        let wait = self.driver.poll(now, &mut self.ring);
        self.check();
        let mut w = self.w.borrow_mut();
        let next = w.now + Duration::from_micros(200);
        w.now = match wait {
            Some(t) if t < next => t.max(w.now),
            _ => next,
        };
    }

    /// No record is confirmed before the collector acknowledged it (with
    /// no drops, the confirmed records are the first `delivered` ids), and
    /// the counts add up.
    fn check(&mut self) {
        let st = self.ring.stats();
        let w = self.w.borrow();
        if self.drops {
            // Each record confirmed was acknowledged: no more confirmed
            // than distinct records acknowledged.
            assert!(
                st.delivered <= w.acked_ids.len() as u64,
                "{} confirmed, {} acknowledged",
                st.delivered,
                w.acked_ids.len()
            );
        }
        for id in self.checked..st.delivered {
            if self.drops {
                break;
            }
            assert!(
                w.acked_ids.contains(&id),
                "record {id} confirmed but never acknowledged"
            );
        }
        self.checked = st.delivered;
        assert_eq!(
            st.delivered + st.discarded + st.window + st.rewound + st.unsent + st.dropped_oldest,
            st.accepted
        );
    }

    fn notes(&mut self) -> Vec<Notification> {
        let mut v = Vec::new();
        while let Some((n, _)) = self.driver.poll_notification() {
            v.push(n);
        }
        v
    }

    /// Reports `n` records under load, then closes: everything arrives in
    /// order; returns the notifications.
    fn run(&mut self, n: u64) -> Vec<Notification> {
        let mut notes = Vec::new();
        let mut turns = 0;
        while self.next_id < n {
            for _ in 0..3 {
                if self.next_id < n {
                    self.report();
                }
            }
            self.turn();
            notes.extend(self.notes());
            turns += 1;
            assert!(turns < 2_000_000, "no progress: {:?}", self.ring.stats());
        }
        // The faults stop; the close must end cleanly.
        self.w.borrow_mut().faults = Faults::default();
        if let Some(c) = self.w.borrow_mut().conn.as_mut() {
            c.silent = false;
        }
        self.driver.close();
        for _ in 0..2_000_000 {
            if self.driver.is_closed() {
                break;
            }
            self.turn();
            notes.extend(self.notes());
        }
        assert!(
            self.driver.closed_clean(),
            "{:?} {:?}",
            self.ring.stats(),
            notes
        );
        let st = self.ring.stats();
        assert_eq!(st.delivered, n, "{st:?}");
        self.w.borrow_mut().finish_conn();
        let dups = check_delivery(&self.w.borrow().conns, n);
        assert!(
            dups <= st.replayed,
            "{dups} duplicates, {} replayed",
            st.replayed
        );
        notes
    }
}

/// Ids acknowledged per connection: in order within each, every id once at
/// least, first arrivals in order. Returns the duplicates.
fn check_delivery(conns: &[Vec<u64>], total: u64) -> u64 {
    let mut seen = vec![false; total as usize];
    let mut last_first = None;
    let mut dups = 0;
    for c in conns {
        assert!(c.windows(2).all(|w| w[0] < w[1]), "reordered: {c:?}");
        for &id in c {
            if seen[id as usize] {
                dups += 1;
            } else {
                seen[id as usize] = true;
                assert!(
                    last_first.is_none_or(|l| id > l),
                    "first arrivals out of order"
                );
                last_first = Some(id);
            }
        }
    }
    let missing = seen.iter().filter(|s| !**s).count();
    assert_eq!(missing, 0, "{missing} records lost");
    dups
}

/// Miri interprets: fewer seeds and records there (the same checks).
const MIRI: bool = cfg!(miri);

fn relp(window: usize) -> RelpConfig {
    RelpConfig {
        window,
        ack_timeout: Duration::from_millis(50),
        ..RelpConfig::default()
    }
}

#[test]
fn healthy_collector_everything_confirmed_once() {
    for seed in 0..if MIRI { 1 } else { 4 } {
        let mut sim = Sim::new(seed, Faults::default(), relp(16), 1024);
        let notes = sim.run(if MIRI { 100 } else { 3_000 });
        assert_eq!(sim.ring.stats().replayed, 0);
        assert_eq!(sim.w.borrow().sessions, 1, "{notes:?}");
    }
}

#[test]
fn faults_lose_nothing_and_confirm_nothing_early() {
    let faults = if MIRI {
        Faults {
            reset: 20,
            refuse: 10,
            silence: 10,
            serverclose: 10,
        }
    } else {
        Faults {
            reset: 2,
            refuse: 1,
            silence: 1,
            serverclose: 1,
        }
    };
    let mut told = [false; 4];
    for seed in 0..if MIRI { 1 } else { 6 } {
        // Small scratch on some seeds: records split across writes.
        let batch = if seed % 2 == 0 { 256 } else { 4096 };
        let mut sim = Sim::new(seed, faults, relp(1 + seed as usize * 20), batch);
        let notes = sim.run(if MIRI { 200 } else { 4_000 });
        assert!(sim.ring.stats().replayed > 0, "no fault hit");
        for n in notes {
            if let Notification::RelpFailed { error, .. } = n {
                match error {
                    RelpError::Refused { code: 500, .. } => told[0] = true,
                    RelpError::NoAnswer => told[1] = true,
                    RelpError::ServerClose => told[2] = true,
                    _ => {}
                }
            }
        }
        told[3] |= sim.w.borrow().refusals > 0;
    }
    if !MIRI {
        assert_eq!(
            told, [true; 4],
            "refusal, silence, serverclose, refusals seen"
        );
    }
}

/// Records larger than the driver's buffer are split across writes; the
/// rest of a split record needs no new frame, so a window of one frame
/// (full while the split one awaits its answer) still finishes it.
#[test]
fn records_larger_than_the_buffer_go_with_a_window_of_one() {
    let mut sim = Sim::new(5, Faults::default(), relp(1), 128);
    sim.pad = 200;
    let notes = sim.run(if MIRI { 20 } else { 500 });
    assert!(
        !notes
            .iter()
            .any(|n| matches!(n, Notification::RelpFailed { .. })),
        "{notes:?}"
    );
    assert_eq!(sim.ring.stats().replayed, 0);
}

#[test]
fn sessions_are_renewed_before_their_numbers_run_out() {
    let mut sim = Sim::new(
        3,
        Faults::default(),
        RelpConfig {
            session_txnrs: 100,
            ..relp(8)
        },
        1024,
    );
    let notes = sim.run(if MIRI { 150 } else { 1_000 });
    let w = sim.w.borrow();
    assert!(
        w.sessions >= if MIRI { 2 } else { 10 },
        "{} sessions",
        w.sessions
    );
    assert!(w.largest_txnr <= 100, "transaction {}", w.largest_txnr);
    assert_eq!(sim.ring.stats().replayed, 0, "a renewal is not a failure");
    assert!(
        !notes
            .iter()
            .any(|n| matches!(n, Notification::RelpFailed { .. })),
        "{notes:?}"
    );
}

/// `DropOldest` under constant pressure (a 4 KiB ring, far less than the
/// traffic; resets): records dropped before they were sent leave gaps in the
/// record indexes and loss markers go between records, so the runs that
/// map answers to records multiply. The driver never spins (a watchdog),
/// never confirms more records than the collector acknowledged, the counts
/// add up, and loss markers arrive.
#[test]
fn drop_oldest_pressure_never_spins_nor_over_confirms() {
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for seed in 0..if MIRI { 1 } else { 4 } {
            let faults = Faults {
                reset: 3,
                ..Faults::default()
            };
            let mut sim = Sim::with_buffer(seed, faults, relp(4096), 512, 4 * 1024);
            for _ in 0..if MIRI { 150 } else { 20_000 } {
                for _ in 0..4 {
                    sim.report_dropping();
                }
                sim.turn();
            }
            let st = sim.ring.stats();
            assert!(st.dropped_oldest + st.discarded > 0, "{st:?}");
            assert!(st.delivered > 0, "{st:?}");
            assert!(sim.w.borrow().markers > 0, "no loss marker arrived");
        }
        done.send(()).unwrap();
    });
    let limit = std::time::Duration::from_secs(if MIRI { 3600 } else { 120 });
    match finished.recv_timeout(limit) {
        Ok(()) => {}
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the driver spun"),
        Err(e) => panic!("the simulation failed: {e}"),
    }
}
