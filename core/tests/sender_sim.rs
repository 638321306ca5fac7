//! Deterministic simulation of the driver loop every transport ships
//! ([`Driver`] over a [`Link`]): a seeded fake clock and fake network
//! (collectors that die and come back, refuse, never answer, take short
//! writes, lose what they had not read yet, never close their side).
//! Checks: nothing lost or reordered, no record confirmed before the
//! collector read it, the four-way count adds up, replay after every kind
//! of close, backoff, failover, batching.

use alooma_core::Cursor;
use alooma_core::{
    Backoff, Config, Driver, Failure, Instant, Link, NetError, Notification, Received, Ring, Rng,
    Strategy,
};
use std::cell::RefCell;
use std::collections::{HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Peer {
    Up,
    Down,
    /// Accepts nothing and never answers (connect hangs).
    BlackHole,
}

struct Conn {
    server: usize,
    /// Bytes in the peer's kernel, not yet read by the collector.
    unread: VecDeque<u8>,
    /// What the collector read on this connection.
    read: Vec<u8>,
    /// Bytes the peer's kernel took (and acknowledged).
    acked: u64,
    blocked_until: Option<Instant>,
    /// The collector died: the next operation fails with a reset.
    reset: bool,
    /// The collector closes its side now (end of stream, not asked for).
    eof: bool,
    /// We ended our side.
    shut: bool,
}

struct World {
    rng: Rng,
    now: Instant,
    peers: Vec<Peer>,
    conn: Option<Conn>,
    connecting: Option<usize>,
    /// Complete records the collectors read, per connection.
    delivered: Vec<Vec<u64>>,
    /// Bytes of the current connection's `read` already parsed.
    parsed: usize,
    /// Every id any collector read.
    read_ids: HashSet<u64>,
    /// Per connection, the ids read with loss markers as [`MARKER`].
    with_markers: Vec<Vec<u64>>,
    attempts: Vec<(Instant, usize)>,
    /// Most bytes a collector's kernel holds unread.
    peer_buffer: usize,
    /// The transport reports acknowledged bytes.
    acks: bool,
    /// Collectors close their side after ours (a clean close is possible).
    closes_back: bool,
    /// Most bytes per write.
    batch: usize,
    /// Largest write seen.
    largest_write: usize,
}

fn ids_in(bytes: &[u8]) -> Vec<u64> {
    let mut ids = Vec::new();
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => &bytes[..i + 1],
        None => &[][..],
    };
    for line in complete.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("torn record on the wire");
        match v["id"].as_u64() {
            Some(id) => ids.push(id),
            // A loss marker: recorded in place, with its refused count.
            None => {
                assert_eq!(v["_metadata"]["event_type"], "alooma_loss", "{v}");
                ids.push(MARKER + v["refused"].as_u64().unwrap());
            }
        }
    }
    ids
}

/// Stands for a loss marker (plus its refused count) in the ids read.
const MARKER: u64 = 1 << 62;

impl World {
    /// The collector reads part of what arrived.
    fn collector_reads(&mut self) {
        if let Some(c) = &mut self.conn {
            let k = self.rng.below(c.unread.len() as u64 + 1) as usize;
            c.read.extend(c.unread.drain(..k));
            // Only lines completed since the last look.
            if let Some(end) = c.read.iter().rposition(|&b| b == b'\n') {
                if end + 1 > self.parsed {
                    let ids = ids_in(&c.read[self.parsed..end + 1]);
                    self.read_ids.extend(ids);
                    self.parsed = end + 1;
                }
            }
        }
    }

    fn finish_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            let ids = ids_in(&c.read);
            self.read_ids.extend(ids.iter().copied());
            self.delivered
                .push(ids.into_iter().filter(|&i| i < MARKER).collect());
            self.with_markers.push(ids_in(&c.read));
        }
        self.parsed = 0;
    }
}

/// The fake network as a link.
struct SimLink(Rc<RefCell<World>>);

const RESET: Failure<&str> = Failure {
    kind: NetError::Reset,
    detail: "reset",
};

impl Link for SimLink {
    type Detail = &'static str;

    fn connect(&mut self, server: usize) -> Result<(), Failure<&'static str>> {
        let mut w = self.0.borrow_mut();
        let now = w.now;
        w.attempts.push((now, server));
        match w.peers[server] {
            Peer::Up => {
                w.conn = Some(Conn {
                    server,
                    unread: VecDeque::new(),
                    read: Vec::new(),
                    acked: 0,
                    blocked_until: None,
                    reset: false,
                    eof: false,
                    shut: false,
                });
                Ok(())
            }
            Peer::Down => Err(Failure::new(NetError::Refused, "refused")),
            Peer::BlackHole => {
                w.connecting = Some(server);
                Ok(())
            }
        }
    }

    fn poll_connect(&mut self) -> Result<bool, Failure<&'static str>> {
        let w = self.0.borrow();
        match &w.conn {
            Some(c) if c.reset => Err(RESET),
            Some(_) => Ok(true),
            None => Ok(false),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure<&'static str>> {
        let w = &mut *self.0.borrow_mut();
        let c = w.conn.as_mut().expect("write without a connection");
        if c.reset {
            return Err(RESET);
        }
        assert!(!c.shut, "write after our side ended");
        assert!(
            bytes.len() <= w.batch,
            "a write of {} bytes, over the batch",
            bytes.len()
        );
        w.largest_write = w.largest_write.max(bytes.len());
        if c.blocked_until.is_some_and(|t| t > w.now) {
            return Ok(0);
        }
        c.blocked_until = None;
        let room = w.peer_buffer.saturating_sub(c.unread.len());
        let k = (w.rng.below(bytes.len() as u64 + 1) as usize).min(room);
        c.unread.extend(&bytes[..k]);
        c.acked += k as u64;
        if k < bytes.len() {
            c.blocked_until = Some(w.now + Duration::from_millis(1 + w.rng.below(5)));
        }
        Ok(k)
    }

    fn writable(&mut self) -> Result<bool, Failure<&'static str>> {
        let w = self.0.borrow();
        let c = w.conn.as_ref().expect("no connection");
        if c.reset {
            return Err(RESET);
        }
        Ok(c.blocked_until.is_none_or(|t| t <= w.now))
    }

    fn flush(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }

    fn read(&mut self, _buf: &mut [u8]) -> Result<Received, Failure<&'static str>> {
        let w = self.0.borrow();
        let c = w.conn.as_ref().expect("no connection");
        if c.reset {
            return Err(RESET);
        }
        // A collector closes its side once it has read our end of stream.
        Ok(
            if c.eof || (c.shut && c.unread.is_empty() && w.closes_back) {
                Received::End
            } else {
                Received::Nothing
            },
        )
    }

    fn shutdown(&mut self) -> Result<bool, Failure<&'static str>> {
        let mut w = self.0.borrow_mut();
        let c = w.conn.as_mut().expect("no connection");
        if c.reset {
            return Err(RESET);
        }
        c.shut = true;
        Ok(true)
    }

    fn acked(&mut self) -> Option<u64> {
        let w = self.0.borrow();
        if !w.acks {
            return None;
        }
        w.conn.as_ref().filter(|c| !c.reset).map(|c| c.acked)
    }

    fn close(&mut self) {
        let mut w = self.0.borrow_mut();
        w.connecting = None;
        w.finish_conn();
    }
}

struct Sim {
    w: Rc<RefCell<World>>,
    ring: Ring<Box<[u8]>>,
    driver: Driver<SimLink, Box<[u8]>>,
    /// End position of every record pushed, by id (no drops in these runs).
    ends: Vec<u64>,
    /// Records already checked to be read before their confirmation.
    checked: std::cell::Cell<usize>,
    pushed_bytes: u64,
    batch: usize,
}

fn ring(cap: usize) -> Ring<Box<[u8]>> {
    Ring::with_storage(vec![0u8; cap].into_boxed_slice())
}

const PEER_BUFFER: usize = 2048;

impl Sim {
    fn new(seed: u64, peers: Vec<Peer>, strategy: Strategy, backoff: Backoff, batch: usize) -> Sim {
        Sim::with(
            seed,
            peers,
            strategy,
            backoff,
            batch,
            seed.is_multiple_of(2),
        )
    }

    fn with(
        seed: u64,
        peers: Vec<Peer>,
        strategy: Strategy,
        backoff: Backoff,
        batch: usize,
        acks: bool,
    ) -> Sim {
        let servers: Vec<&str> = (0..peers.len()).map(|_| "127.0.0.1:1").collect();
        let mut cfg = Config::new("t", &servers);
        cfg.strategy = strategy;
        cfg.backoff = backoff;
        cfg.batch_bytes = batch;
        cfg.connect_timeout = Duration::from_millis(500);
        // What a dead collector can take with it: its unread buffer. With
        // acknowledgements, what its kernel acknowledged plus that; without,
        // that many bytes written after a record prove it was read.
        cfg.replay_limit = PEER_BUFFER;
        cfg.peer_buffer = acks.then_some(PEER_BUFFER);
        cfg.validate(256 * 1024).unwrap();
        let w = Rc::new(RefCell::new(World {
            rng: Rng::new(seed),
            now: Instant::ZERO,
            peers,
            conn: None,
            connecting: None,
            delivered: Vec::new(),
            parsed: 0,
            read_ids: HashSet::new(),
            with_markers: Vec::new(),
            attempts: Vec::new(),
            peer_buffer: PEER_BUFFER,
            acks,
            closes_back: true,
            batch,
            largest_write: 0,
        }));
        let scratch = vec![0u8; batch].into_boxed_slice();
        Sim {
            driver: Driver::new(cfg.sender(), cfg.wire(), SimLink(w.clone()), scratch, seed),
            w,
            ring: ring(256 * 1024),
            ends: Vec::new(),
            checked: std::cell::Cell::new(0),
            pushed_bytes: 0,
            batch,
        }
    }

    fn now(&self) -> Instant {
        self.w.borrow().now
    }

    fn push(&mut self, id: u64) {
        let pad = "p".repeat((id % 60) as usize);
        let rec = format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n");
        self.ring
            .push(rec.as_bytes(), false)
            .expect("ring sized to never refuse here");
        assert_eq!(self.ends.len() as u64, id);
        self.pushed_bytes += rec.len() as u64;
        self.ends.push(self.pushed_bytes);
    }

    fn kill(&mut self, server: usize) {
        let mut w = self.w.borrow_mut();
        w.peers[server] = Peer::Down;
        if let Some(c) = w.conn.as_mut().filter(|c| c.server == server) {
            // The collector dies: what it had not read is gone; we see a reset.
            c.unread.clear();
            c.reset = true;
        }
    }

    /// One turn: the collector reads, the driver runs until it waits;
    /// returns when it wants to run again.
    fn step(&mut self) -> Option<Instant> {
        self.w.borrow_mut().collector_reads();
        let now = self.now();
        let wait = self.driver.poll(now, &mut self.ring);
        self.check_confirmed();
        let blocked = self.w.borrow().conn.as_ref().and_then(|c| c.blocked_until);
        match (wait, blocked) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// No record is confirmed before a collector read it, and the counts
    /// add up.
    fn check_confirmed(&self) {
        let confirmed = self.ring.confirmed_position();
        let w = self.w.borrow();
        let n = self.ends.partition_point(|&e| e <= confirmed);
        for id in self.checked.replace(n) as u64..n as u64 {
            assert!(
                w.read_ids.contains(&id),
                "record {id} confirmed (position {confirmed}) but never read"
            );
        }
        let st = self.ring.stats();
        assert_eq!(
            st.delivered + st.discarded + st.window + st.rewound + st.unsent + st.dropped_oldest,
            st.accepted
        );
        assert_eq!(st.delivered as usize, n);
    }

    fn advance(&mut self, wait: Option<Instant>, step: Duration) {
        let mut w = self.w.borrow_mut();
        let next = w.now + step;
        w.now = match wait {
            Some(t) if t < next => t.max(w.now),
            _ => next,
        };
    }

    /// Runs `n` turns, at most a millisecond apart.
    fn run(&mut self, n: usize) {
        for _ in 0..n {
            let w = self.step();
            self.advance(w, Duration::from_millis(1));
        }
    }

    /// Runs until the driver's close has ended, `n` turns at most.
    fn run_until_closed(&mut self, n: usize) {
        for _ in 0..n {
            if self.driver.is_closed() {
                return;
            }
            let w = self.step();
            self.advance(w, Duration::from_millis(1));
        }
    }

    fn notes(&mut self) -> Vec<Notification> {
        let mut v = Vec::new();
        while let Some((n, _)) = self.driver.poll_notification() {
            v.push(n);
        }
        v
    }
}

fn check_delivery(delivered: &[Vec<u64>], total: u64) -> u64 {
    let mut seen = vec![false; total as usize];
    let mut first_order = Vec::new();
    let mut dups = 0;
    for conn in delivered {
        assert!(
            conn.windows(2).all(|w| w[0] < w[1]),
            "reordered within a connection: {conn:?}"
        );
        for &id in conn {
            if seen[id as usize] {
                dups += 1;
            } else {
                seen[id as usize] = true;
                first_order.push(id);
            }
        }
    }
    let missing: Vec<usize> = seen
        .iter()
        .enumerate()
        .filter(|(_, s)| !**s)
        .map(|(i, _)| i)
        .collect();
    assert!(
        missing.is_empty(),
        "lost {} records, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    assert!(
        first_order.windows(2).all(|w| w[0] < w[1]),
        "order lost across connections"
    );
    dups
}

/// Collectors die and come back at random; producers keep reporting.
/// Everything arrives, in order, duplicates only from replays; no record is
/// confirmed before it was read; a clean close confirms everything.
/// Even seeds confirm by acknowledgements, odd ones by bytes written after.
#[test]
fn nothing_lost_across_failures() {
    let seeds = if cfg!(miri) { 2 } else { 40 };
    for seed in 1..=seeds {
        let n_servers = 1 + (seed % 3) as usize;
        let strategy = [
            Strategy::Random,
            Strategy::RoundRobin,
            Strategy::PreferFirst,
        ][(seed % 3) as usize];
        let backoff = Backoff {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(200),
            jitter_percent: 30,
        };
        let mut sim = Sim::new(
            seed,
            vec![Peer::Up; n_servers],
            strategy,
            backoff,
            512 + (seed as usize * 97) % 4096,
        );
        let total = if cfg!(miri) { 100 } else { 2000u64 };
        let mut produced = 0u64;
        let mut chaos = Rng::new(seed ^ 0xabcdef);
        for _ in 0..200_000 {
            if produced < total {
                for _ in 0..chaos.below(4) {
                    if produced < total {
                        sim.push(produced);
                        produced += 1;
                    }
                }
            }
            // Chaos: kill a live collector, revive a dead one.
            if chaos.below(100) < 2 {
                let s = chaos.below(n_servers as u64) as usize;
                if sim.w.borrow().peers[s] == Peer::Up {
                    sim.kill(s);
                } else {
                    sim.w.borrow_mut().peers[s] = Peer::Up;
                }
            }
            // Never leave every collector dead for good.
            if produced == total && sim.w.borrow().peers.iter().all(|p| *p != Peer::Up) {
                sim.w.borrow_mut().peers[0] = Peer::Up;
            }
            let wait = sim.step();
            if produced == total && sim.ring.unsent_records() == 0 {
                break;
            }
            sim.advance(wait, Duration::from_millis(1));
        }
        assert_eq!(
            sim.ring.unsent_records(),
            0,
            "seed {seed}: not drained: {:?} {:?}",
            sim.driver,
            sim.ring,
        );
        // Close gracefully: the last connection delivers everything.
        sim.driver.close();
        for _ in 0..10_000 {
            if sim.driver.is_closed() {
                break;
            }
            let w = sim.step();
            sim.advance(w, Duration::from_millis(1));
        }
        assert!(
            sim.driver.closed_clean(),
            "seed {seed}: close did not finish cleanly"
        );
        sim.w.borrow_mut().finish_conn();
        let dups = check_delivery(&sim.w.borrow().delivered, total);
        let st = sim.ring.stats();
        assert_eq!(st.accepted, total);
        assert_eq!(
            st.delivered, total,
            "seed {seed}: a clean close confirms all"
        );
        assert_eq!(st.dropped_newest + st.dropped_oldest + st.discarded, 0);
        assert!(
            dups <= st.replayed,
            "seed {seed}: {dups} duplicates, {} replayed",
            st.replayed
        );
        assert_eq!(
            st.sent,
            total + st.replayed,
            "seed {seed}: sent = first sends + replays"
        );
    }
}

/// The window is confirmed as it goes, not only at the close: under
/// sustained traffic with acknowledgements, and with bytes written after.
#[test]
fn window_confirmed_while_streaming() {
    for acks in [true, false] {
        let mut sim = Sim::with(
            7,
            vec![Peer::Up],
            Strategy::Random,
            Backoff::default(),
            1024,
            acks,
        );
        let n = if cfg!(miri) { 300 } else { 3000 };
        for id in 0..n {
            sim.push(id);
            if id % 5 == 0 {
                let w = sim.step();
                sim.advance(w, Duration::from_millis(1));
            }
        }
        sim.run(if cfg!(miri) { 300 } else { 2000 });
        let st = sim.ring.stats();
        assert_eq!(st.unsent, 0);
        assert!(st.delivered > n * 5 / 6, "acks {acks}: {st:?}");
        // What stays in the window is at most the peer's buffer's worth
        // (plus one batch not yet acknowledged).
        assert!(
            sim.ring.window_bytes() <= PEER_BUFFER + 1024,
            "acks {acks}: window {} bytes",
            sim.ring.window_bytes()
        );
    }
}

/// A connection reset replays the whole window, counted and notified.
#[test]
fn replay_after_reset_is_counted() {
    for acks in [true, false] {
        let mut sim = Sim::with(
            2,
            vec![Peer::Up],
            Strategy::Random,
            Backoff::default(),
            1 << 16,
            acks,
        );
        for id in 0..50 {
            sim.push(id);
        }
        sim.run(1000);
        assert_eq!(sim.ring.unsent_records(), 0);
        let window = sim.ring.window_records();
        assert!(
            window > 0,
            "the last bytes are never confirmed by acknowledgements alone"
        );
        sim.kill(0);
        sim.step();
        let replayed = sim.notes().into_iter().find_map(|n| match n {
            Notification::SendFailed { replayed, .. } => Some(replayed),
            _ => None,
        });
        assert_eq!(replayed, Some(window));
        assert_eq!(sim.ring.stats().replayed, window as u64);
        assert_eq!(sim.ring.unsent_records(), window);
    }
}

/// A collector that never closes its side after ours: the close ends by
/// its deadline, not clean, the window counted unconfirmed and notified.
#[test]
fn close_without_the_collectors_end_is_unconfirmed() {
    let mut sim = Sim::with(
        3,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        4096,
        true,
    );
    sim.w.borrow_mut().closes_back = false;
    for id in 0..100 {
        sim.push(id);
    }
    sim.driver.close();
    sim.run_until_closed(2000);
    assert!(sim.driver.is_closed() && !sim.driver.closed_clean());
    // The shutdown waited the connect timeout (500 ms), no longer.
    assert!(sim.now() <= Instant::from_millis(520), "{:?}", sim.now());
    let st = sim.ring.stats();
    assert_eq!(st.unsent, 0);
    assert!(st.window > 0);
    assert_eq!(st.delivered + st.window, 100);
    let r = alooma_core::CloseReport::new(st, 0, false, true);
    assert_eq!(r.unconfirmed, st.window);
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
    assert!(sim.notes().iter().any(|n| matches!(
        n,
        Notification::CloseUnconfirmed { unconfirmed, .. } if *unconfirmed as u64 == st.window
    )));
}

/// A reset while closing is a loss like any other: the window is replayed on
/// a new connection and the close then ends cleanly.
#[test]
fn reset_during_close_replays() {
    let mut sim = Sim::with(
        4,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        4096,
        true,
    );
    sim.w.borrow_mut().closes_back = false;
    for id in 0..100 {
        sim.push(id);
    }
    sim.driver.close();
    sim.run(20);
    assert!(!sim.driver.is_closed());
    // The collector dies instead of closing; it comes back, and closes.
    sim.kill(0);
    sim.w.borrow_mut().peers[0] = Peer::Up;
    sim.w.borrow_mut().closes_back = true;
    sim.run_until_closed(2000);
    assert!(sim.driver.closed_clean());
    sim.w.borrow_mut().finish_conn();
    check_delivery(&sim.w.borrow().delivered, 100);
    let st = sim.ring.stats();
    assert_eq!(st.delivered, 100);
    assert!(st.replayed > 0);
}

/// Every server refuses: rounds try each server once, delays double up to
/// the cap, and each delay is a real wait (no spinning).
#[test]
fn backoff_grows_capped_and_servers_rotate() {
    for strategy in [
        Strategy::Random,
        Strategy::RoundRobin,
        Strategy::PreferFirst,
    ] {
        let backoff = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(3),
            jitter_percent: 0,
        };
        let mut sim = Sim::new(9, vec![Peer::Down; 3], strategy, backoff, 1024);
        sim.push(0);
        for _ in 0..200 {
            let w = sim.step().expect("a refused sender waits with a deadline");
            assert!(w > sim.now(), "wait must be in the future");
            sim.w.borrow_mut().now = w;
        }
        let w = sim.w.borrow();
        let a = &w.attempts;
        assert!(a.len() >= 60);
        // Rounds of 3 attempts at one instant, each round every server once.
        for round in a.chunks(3).take(60) {
            assert!(
                round.iter().all(|(t, _)| *t == round[0].0),
                "a round happens at once: {round:?}"
            );
            let mut s: Vec<usize> = round.iter().map(|(_, s)| *s).collect();
            s.sort();
            assert_eq!(s, vec![0, 1, 2], "{strategy:?}: round {round:?}");
        }
        let gaps: Vec<u64> = a
            .chunks(3)
            .map(|r| r[0].0.as_millis())
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect();
        assert_eq!(&gaps[..6], &[100, 200, 400, 800, 1600, 3000]);
        assert!(gaps[6..].iter().all(|&g| g == 3000), "capped: {gaps:?}");
        if strategy == Strategy::PreferFirst {
            assert!(a
                .chunks(3)
                .all(|r| r[0].1 == 0 && r[1].1 == 1 && r[2].1 == 2));
        }
    }
}

/// Jittered delays stay within [delay, delay*(1+j)], and within
/// [max*(1-j), max] at the cap.
#[test]
fn jitter_bounds() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
        jitter_percent: 50,
    };
    let mut sim = Sim::new(3, vec![Peer::Down], Strategy::Random, backoff, 1024);
    sim.push(0);
    let mut last = sim.now();
    let mut gaps = Vec::new();
    for _ in 0..40 {
        let w = sim.step().unwrap();
        gaps.push(w.saturating_since(last).as_millis() as u64);
        last = w;
        sim.w.borrow_mut().now = w;
    }
    for (i, g) in gaps.iter().enumerate() {
        let base = (100u64 << i.min(20)).min(2000);
        let (lo, hi) = if base * 3 / 2 <= 2000 {
            (base, base * 3 / 2)
        } else {
            (base / 2, 2000)
        };
        assert!(*g >= lo && *g <= hi, "gap {i}: {g} not in [{lo}, {hi}]");
    }
}

/// Failover: one server is dead, the other takes everything.
#[test]
fn failover_to_live_server() {
    let mut sim = Sim::new(
        5,
        vec![Peer::Down, Peer::Up],
        Strategy::PreferFirst,
        Backoff::default(),
        4096,
    );
    for id in 0..100 {
        sim.push(id);
    }
    sim.run(100);
    assert_eq!(sim.ring.unsent_records(), 0);
    let w = sim.w.borrow();
    assert_eq!(w.attempts[0].1, 0);
    assert_eq!(w.attempts[1].1, 1);
    assert_eq!(w.attempts[1].0, w.attempts[0].0, "failover is immediate");
    drop(w);
    sim.w.borrow_mut().finish_conn();
    check_delivery(&sim.w.borrow().delivered, 100);
}

/// A connect that never completes is aborted at the connect timeout and the
/// next server is tried.
#[test]
fn connect_timeout() {
    let mut sim = Sim::new(
        5,
        vec![Peer::BlackHole, Peer::Up],
        Strategy::PreferFirst,
        Backoff::default(),
        4096,
    );
    sim.push(0);
    let w = sim.step();
    assert_eq!(w, Some(Instant::from_millis(500)));
    sim.w.borrow_mut().now = w.unwrap();
    sim.step();
    assert_eq!(sim.w.borrow().connecting, None);
    assert_eq!(
        sim.w.borrow().attempts,
        vec![(Instant::ZERO, 0), (Instant::from_millis(500), 1)]
    );
    let notes = sim.notes();
    assert!(notes.contains(&Notification::ConnectFailed {
        server: 0,
        error: NetError::TimedOut
    }));
    assert!(notes.contains(&Notification::Connected { server: 1 }));
}

/// Idle: connected with nothing to send, every poll is a wait without a
/// deadline (no timer wake-ups at all), acknowledgements or not.
#[test]
fn idle_never_wakes() {
    for acks in [true, false] {
        let mut sim = Sim::with(
            1,
            vec![Peer::Up],
            Strategy::Random,
            Backoff::default(),
            4096,
            acks,
        );
        assert_eq!(sim.step(), None);
        assert!(sim.driver.is_connected());
        // Traffic, then idle: once nothing more can be confirmed, no timer.
        for id in 0..20 {
            sim.push(id);
        }
        sim.run(100);
        for _ in 0..if cfg!(miri) { 50 } else { 1000 } {
            assert_eq!(sim.step(), None);
            sim.advance(None, Duration::from_secs(1));
        }
    }
}

/// Linger: a small batch waits for the linger time, a full one goes at once.
#[test]
fn linger_batches() {
    let mut cfg = Config::new("t", &["127.0.0.1:1"]);
    cfg.linger = Duration::from_millis(20);
    cfg.batch_bytes = 200;
    let mut sender = alooma_core::Sender::new(cfg.sender(), 1);
    let mut ring = ring(4096);
    assert!(matches!(
        sender.poll(Instant::ZERO, &ring),
        alooma_core::Action::Connect { .. }
    ));
    sender.on_connected(Instant::ZERO);
    ring.push(b"{\"a\":1}\n", false).unwrap();
    let t0 = Instant::from_millis(5);
    assert_eq!(
        sender.poll(t0, &ring),
        alooma_core::Action::Wait {
            until: Some(Instant::from_millis(25))
        }
    );
    assert_eq!(
        sender.poll(Instant::from_millis(25), &ring),
        alooma_core::Action::Transmit { max: 200 }
    );
    let n = ring.transmit(200).len();
    sender.on_sent(Instant::from_millis(25), n, &mut ring);
    for _ in 0..30 {
        ring.push(b"{\"a\":1}\n", false).unwrap();
    }
    assert_eq!(
        sender.poll(Instant::from_millis(26), &ring),
        alooma_core::Action::Transmit { max: 200 }
    );
    let t = ring.transmit(200);
    assert!(t.len() <= 200 && t.len() > 190);
}

/// Batches respect their limit and end on a record boundary.
#[test]
fn batches_respect_their_limit() {
    let mut sim = Sim::new(
        11,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        700,
    );
    for id in 0..500 {
        sim.push(id);
    }
    sim.run(2000);
    assert_eq!(sim.ring.unsent_records(), 0);
    // Writes came in batches of up to 700 bytes (checked on every write),
    // whole records apart from short writes' remainders.
    let largest = sim.w.borrow().largest_write;
    assert!(largest > 600 && largest <= sim.batch, "{largest}");
    let st = sim.driver.stats();
    assert!(st.bytes_sent >= sim.pushed_bytes);
}

/// Loss told in-band, exactly: records refused while the collector was
/// down are told by a marker (event type `alooma_loss`) that goes out first
/// on the next connection, with cumulative totals, the instance id and its
/// own `seq`; a marker whose connection is lost before anything proves it
/// goes out again first, byte-identical; a later loss makes a new marker
/// with the new totals, and a clean close proves it.
#[test]
fn loss_markers_are_cumulative_idempotent_and_go_first() {
    let servers = ["127.0.0.1:1"];
    let mut cfg = Config::new("t", &servers);
    cfg.replay_limit = 1024;
    // Small writes: the marker is not proved by the first write.
    cfg.batch_bytes = 100;
    cfg.linger = Duration::ZERO;
    cfg.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(10),
        jitter_percent: 0,
    };
    let w = Rc::new(RefCell::new(World {
        rng: Rng::new(1),
        now: Instant::ZERO,
        peers: vec![Peer::Down],
        conn: None,
        connecting: None,
        delivered: Vec::new(),
        parsed: 0,
        read_ids: HashSet::new(),
        with_markers: Vec::new(),
        attempts: Vec::new(),
        peer_buffer: 1024,
        acks: false,
        closes_back: true,
        batch: 4096,
        largest_write: 0,
    }));
    let enc = cfg.encoder();
    let mut driver = Driver::with_marker(
        cfg.sender(),
        cfg.wire(),
        SimLink(w.clone()),
        vec![0u8; 4096].into_boxed_slice(),
        1,
        Some(enc),
    );
    let mut ring = ring(4096);
    let rec = |id: u64| format!("{{\"id\":{id},\"pad\":\"{}\"}}\n", "p".repeat(40));
    // The collector is down: the ring fills, then refuses.
    let (mut id, mut refused) = (0u64, 0u64);
    let mut accepted = Vec::new();
    while refused < 10 {
        match ring.push(rec(id).as_bytes(), false) {
            Ok(_) => accepted.push(id),
            Err(_) => refused += 1,
        }
        id += 1;
    }
    let poll = |driver: &mut Driver<SimLink, Box<[u8]>, alooma_core::Encoder<'_>>,
                ring: &mut Ring<Box<[u8]>>| {
        w.borrow_mut().collector_reads();
        let now = w.borrow().now;
        driver.poll(now, &mut *ring);
        let mut ww = w.borrow_mut();
        ww.now = ww.now + Duration::from_millis(1);
    };
    for _ in 0..50 {
        poll(&mut driver, &mut ring);
    }
    assert_eq!(driver.stats().loss_markers, 0);
    // Back up: the marker is written first, then the records. Lose the
    // connection before 1024 more bytes followed it (nothing proves it).
    w.borrow_mut().peers[0] = Peer::Up;
    while driver.stats().loss_markers == 0 {
        poll(&mut driver, &mut ring);
    }
    assert_eq!(driver.loss_markers_made(), 1);
    assert!(!driver.loss_told(&ring.stats()));
    w.borrow_mut().conn.as_mut().unwrap().reset = true;
    for _ in 0..300 {
        poll(&mut driver, &mut ring);
    }
    // Written again, first on the next connection, the same marker.
    assert_eq!(driver.stats().loss_markers, 2);
    assert_eq!(driver.loss_markers_made(), 1);
    // Refuse more at the very end (no record follows that loss), then
    // close cleanly.
    let mut late = 0;
    while late < 3 {
        if ring.push(rec(id).as_bytes(), false).is_ok() {
            accepted.push(id);
        } else {
            late += 1;
        }
        id += 1;
    }
    driver.close();
    for _ in 0..300 {
        poll(&mut driver, &mut ring);
    }
    assert!(driver.closed_clean());
    assert_eq!(driver.loss_markers_made(), 2);
    assert!(driver.loss_told(&ring.stats()));
    let ww = w.borrow();
    // Each connection the collector read from starts with the marker (10
    // refused); the last one carries the cumulative totals (13) too.
    let conns: Vec<&Vec<u64>> = ww.with_markers.iter().filter(|c| !c.is_empty()).collect();
    assert!(!conns.is_empty());
    for c in &conns {
        assert_eq!(c[0], MARKER + refused, "{c:?}");
    }
    let last = conns.last().unwrap();
    let newest = last.iter().rev().find(|&&k| k >= MARKER);
    assert_eq!(newest, Some(&(MARKER + refused + late)), "{last:?}");
    let markers: Vec<u64> = ww
        .with_markers
        .iter()
        .flatten()
        .copied()
        .filter(|&k| k >= MARKER)
        .collect();
    // Written three times (once lost with its connection unread), made twice.
    assert_eq!(driver.stats().loss_markers, 3);
    assert_eq!(markers, [MARKER + refused, MARKER + refused + late]);
    drop(ww);
    let st = ring.stats();
    assert_eq!(st.dropped_newest, refused + late);
    assert_eq!(st.delivered, accepted.len() as u64);
}

/// The collector ends the stream by itself (end of stream while we were
/// still sending): a loss like a reset, the whole window replayed.
#[test]
fn collector_closing_mid_stream_replays_the_window() {
    let mut sim = Sim::with(
        8,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        4096,
        true,
    );
    for id in 0..200 {
        sim.push(id);
    }
    sim.run(50);
    let window = sim.ring.window_records();
    assert!(window > 0);
    sim.w.borrow_mut().conn.as_mut().unwrap().eof = true;
    sim.step();
    let n = sim.notes().into_iter().find_map(|n| match n {
        Notification::Disconnected {
            error: NetError::PeerClosed,
            replayed,
            ..
        } => Some(replayed),
        _ => None,
    });
    assert_eq!(n, Some(window));
    sim.run(200);
    sim.driver.close();
    sim.run_until_closed(2000);
    assert!(sim.driver.closed_clean());
    sim.w.borrow_mut().finish_conn();
    check_delivery(&sim.w.borrow().delivered, 200);
    assert_eq!(sim.ring.stats().delivered, 200);
}

/// The collector's own acknowledgement (the hook an acknowledged protocol
/// uses) confirms exactly through the position it names, never past what
/// was sent; what it did not acknowledge is replayed after a loss.
#[test]
fn protocol_acknowledgement_confirms_through_a_position() {
    let cfg = Config::new("t", &["127.0.0.1:1"]);
    let mut sender = alooma_core::Sender::new(cfg.sender(), 1);
    let mut ring = ring(4096);
    let mut ends = Vec::new();
    for id in 0..10u64 {
        let rec = format!("{{\"id\":{id}}}\n");
        ring.push(rec.as_bytes(), false).unwrap();
        ends.push(ring.confirmed_position() + ring.len() as u64);
    }
    assert!(matches!(
        sender.poll(Instant::ZERO, &ring),
        alooma_core::Action::Connect { .. }
    ));
    sender.on_connected(Instant::ZERO);
    // Send the first six records only.
    let six = ends[5] as usize;
    assert!(matches!(
        sender.poll(Instant::ZERO, &ring),
        alooma_core::Action::Transmit { .. }
    ));
    let n = ring.transmit(six).len();
    assert_eq!(n, six);
    sender.on_sent(Instant::ZERO, n, &mut ring);
    // An acknowledgement through record 3 confirms records 0..=3.
    assert_eq!(sender.confirm_through(ends[3], &mut ring), 4);
    assert_eq!(ring.stats().delivered, 4);
    // One past what was sent confirms only what was sent.
    assert_eq!(sender.confirm_through(ends[9], &mut ring), 2);
    assert_eq!(ring.stats().delivered, 6);
    assert_eq!(ring.window_records(), 0);
    // Nothing acknowledged is sent again after a loss; the rest is.
    sender.on_closed(Instant::ZERO, Some(NetError::Reset), &mut ring);
    assert_eq!(ring.stats().replayed, 0);
    assert_eq!(ring.unsent_records(), 4);
}

/// Backoff sees the collector's health: a collector that resets after
/// every 2,000 records, 30 times, and is back 0.1 s later is reconnected
/// by the first retry each time (its connections made progress): the
/// reconnect delays the SDK chose add up to under 5 s, with and without
/// kernel acknowledgements.
#[test]
fn backoff_starts_over_after_connections_that_made_progress() {
    // Under Miri (about 1000x slower) fewer, shorter connections.
    let (restarts, lines_each) = if cfg!(miri) { (3, 200) } else { (30, 2000) };
    for acks in [true, false] {
        let mut sim = Sim::with(
            11,
            vec![Peer::Up],
            Strategy::Random,
            Backoff::default(),
            4096,
            acks,
        );
        let (mut next, mut resets) = (0u64, 0);
        let mut down_until: Option<Instant> = None;
        let mut turns = 0u64;
        while resets < restarts {
            turns += 1;
            assert!(turns < 5_000_000, "stuck after {resets} resets");
            while sim.ring.unsent_records() < 200 {
                sim.push(next);
                next += 1;
            }
            let lines = sim
                .w
                .borrow()
                .conn
                .as_ref()
                .map_or(0, |c| c.read.iter().filter(|&&b| b == b'\n').count());
            if lines >= lines_each && down_until.is_none() {
                sim.kill(0);
                down_until = Some(sim.now() + Duration::from_millis(100));
                resets += 1;
            }
            if down_until.is_some_and(|t| sim.now() >= t) {
                sim.w.borrow_mut().peers[0] = Peer::Up;
                down_until = None;
            }
            let w = sim.step();
            sim.advance(w, Duration::from_millis(1));
        }
        let chosen = sim.driver.stats().backoff_micros;
        // Under 5 s for 30 restarts.
        assert!(
            chosen < 5_000_000 / 30 * restarts,
            "acks {acks}: {} ms of backoff over {restarts} restarts",
            chosen / 1000
        );
        assert!(sim.driver.stats().disconnects >= restarts);
    }
}

/// A collector that refuses every connection still gets the full backoff:
/// 100 ms doubling to the 30 s cap.
#[test]
fn refused_connections_get_the_full_backoff() {
    let mut sim = Sim::new(
        4,
        vec![Peer::Down],
        Strategy::Random,
        Backoff::default(),
        1024,
    );
    sim.push(0);
    while sim.driver.stats().connect_failures < 12 {
        let w = sim.step().unwrap();
        sim.w.borrow_mut().now = w;
    }
    // 0.1 + 0.2 + … + 25.6 s, then 30 s (at least: jitter only lengthens
    // below the cap), and one more round in flight at most.
    let chosen = sim.driver.stats().backoff_micros / 1000;
    assert!(chosen >= 81_100, "{chosen} ms");
}

/// A record written at least once and never confirmed counts unconfirmed,
/// never unsent (which means never written): after a lost connection, the
/// records waiting to be written again are `rewound`.
#[test]
fn written_then_lost_is_unconfirmed_not_unsent() {
    let mut sim = Sim::with(
        6,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        4096,
        false,
    );
    for id in 0..100 {
        sim.push(id);
    }
    sim.run(200);
    let before = sim.ring.stats();
    assert!(before.window > 0, "{before:?}");
    sim.kill(0);
    sim.step();
    let st = sim.ring.stats();
    assert_eq!(st.rewound, before.window);
    assert_eq!(st.unsent, 0, "{st:?}");
    let r = alooma_core::CloseReport::new(st, 0, false, true);
    assert_eq!(r.unsent, 0);
    assert_eq!(r.unconfirmed, before.window);
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted
    );
}
