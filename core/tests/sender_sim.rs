//! Deterministic simulation of the sender state machine: a seeded fake
//! clock and fake network (collectors that die and come back, refuse, never
//! answer, take short writes, lose what they had not read yet), driven the
//! way every transport drives the core.

use alooma_core::{
    Action, Backoff, Config, Instant, NetError, Notification, Ring, Rng, Sender, Strategy,
};
use std::collections::VecDeque;
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
    blocked_until: Option<Instant>,
}

struct World {
    rng: Rng,
    peers: Vec<Peer>,
    conn: Option<Conn>,
    connecting: Option<usize>,
    /// Complete lines the collectors read, per connection.
    delivered: Vec<Vec<u64>>,
    attempts: Vec<(Instant, usize)>,
    peer_buffer: usize,
}

impl World {
    fn finish_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            let mut ids = Vec::new();
            for line in c.read.split(|&b| b == b'\n') {
                // A line cut by the connection's end is not a record.
                if line.last() == Some(&b'}') {
                    let v: serde_json::Value =
                        serde_json::from_slice(line).expect("torn record on the wire");
                    ids.push(v["id"].as_u64().unwrap());
                }
            }
            if !c.read.is_empty() && *c.read.last().unwrap() != b'\n' {
                ids.pop();
            }
            self.delivered.push(ids);
        }
    }
}

struct Sim {
    w: World,
    ring: Ring<Box<[u8]>>,
    sender: Sender,
    now: Instant,
    batch: usize,
}

fn ring(cap: usize) -> Ring<Box<[u8]>> {
    Ring::with_storage(vec![0u8; cap].into_boxed_slice())
}

impl Sim {
    fn new(seed: u64, peers: Vec<Peer>, strategy: Strategy, backoff: Backoff, batch: usize) -> Sim {
        let servers: Vec<&str> = (0..peers.len()).map(|_| "127.0.0.1:1").collect();
        let mut cfg = Config::new("t", &servers);
        cfg.strategy = strategy;
        cfg.backoff = backoff;
        cfg.batch_bytes = batch;
        cfg.connect_timeout = Duration::from_millis(500);
        // What a dead collector can take with it: its unread buffer plus
        // what was in flight.
        cfg.replay_limit = Some(2048 + batch);
        Sim {
            w: World {
                rng: Rng::new(seed),
                peers,
                conn: None,
                connecting: None,
                delivered: Vec::new(),
                attempts: Vec::new(),
                peer_buffer: 2048,
            },
            ring: ring(256 * 1024),
            sender: Sender::new(cfg.sender(), seed),
            now: Instant::ZERO,
            batch,
        }
    }

    fn push(&mut self, id: u64) {
        let pad = "p".repeat((id % 60) as usize);
        let rec = format!("{{\"id\":{id},\"pad\":\"{pad}\"}}\n");
        self.ring
            .push(rec.as_bytes(), false)
            .expect("ring sized to never refuse here");
    }

    fn kill(&mut self, server: usize) {
        self.w.peers[server] = Peer::Down;
        if self.w.conn.as_ref().is_some_and(|c| c.server == server) {
            // The collector dies: what it had not read is gone; we see a reset.
            self.w.conn.as_mut().unwrap().unread.clear();
            self.w.finish_conn();
            self.sender
                .on_closed(self.now, Some(NetError::Reset), &mut self.ring);
        }
    }

    /// Runs the driver loop until the sender waits; returns the wait.
    fn step(&mut self) -> Option<Instant> {
        // The collector reads some of what arrived.
        if let Some(c) = &mut self.w.conn {
            let k = self.w.rng.below(c.unread.len() as u64 + 1) as usize;
            c.read.extend(c.unread.drain(..k));
            if c.blocked_until.is_some_and(|t| t <= self.now) {
                c.blocked_until = None;
                self.sender.on_writable();
            }
        }
        let mut actions = 0;
        loop {
            actions += 1;
            assert!(
                actions < 64,
                "sender spins: {actions} actions without waiting"
            );
            match self.sender.poll(self.now, &self.ring) {
                Action::Wait { until } => {
                    let blocked = self.w.conn.as_ref().and_then(|c| c.blocked_until);
                    return match (until, blocked) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                Action::Connect { server } => {
                    self.w.attempts.push((self.now, server));
                    match self.w.peers[server] {
                        Peer::Up => {
                            self.w.conn = Some(Conn {
                                server,
                                unread: VecDeque::new(),
                                read: Vec::new(),
                                blocked_until: None,
                            });
                            self.sender.on_connected(self.now);
                        }
                        Peer::Down => self.sender.on_connect_failed(self.now, NetError::Refused),
                        Peer::BlackHole => self.w.connecting = Some(server),
                    }
                }
                Action::Abort { server } => {
                    assert_eq!(self.w.connecting.take(), Some(server));
                }
                Action::Transmit { max } => {
                    // The batch size, or a quarter of the ring if smaller.
                    assert_eq!(max, self.batch.min(self.ring.capacity() / 4));
                    let t = self.ring.transmit(max);
                    let mut bytes = t.first.to_vec();
                    bytes.extend_from_slice(t.second);
                    let records = bytes.iter().filter(|&&b| b == b'\n').count();
                    assert!(
                        bytes.len() <= max || records == 1,
                        "batch of {} bytes over {max}",
                        bytes.len()
                    );
                    assert_eq!(bytes.last(), Some(&b'\n'));
                    let c = self.w.conn.as_mut().expect("transmit without a connection");
                    let room = self.w.peer_buffer.saturating_sub(c.unread.len());
                    let k = (self.w.rng.below(bytes.len() as u64 + 1) as usize).min(room);
                    c.unread.extend(&bytes[..k]);
                    if k < bytes.len() {
                        c.blocked_until =
                            Some(self.now + Duration::from_millis(1 + self.w.rng.below(5)));
                        self.sender.on_blocked(self.now, k, &mut self.ring);
                    } else {
                        self.sender.on_sent(self.now, k, &mut self.ring);
                    }
                }
                Action::Shutdown => {
                    if let Some(c) = &mut self.w.conn {
                        let rest: Vec<u8> = c.unread.drain(..).collect();
                        c.read.extend(rest);
                    }
                    self.w.finish_conn();
                    self.sender.on_closed(self.now, None, &mut self.ring);
                }
            }
        }
    }

    fn advance(&mut self, wait: Option<Instant>, step: Duration) {
        let next = self.now + step;
        self.now = match wait {
            Some(t) if t < next => t.max(self.now),
            _ => next,
        };
    }
}

fn check_delivery(delivered: &[Vec<u64>], total: u64) {
    let mut seen = vec![false; total as usize];
    let mut first_order = Vec::new();
    for conn in delivered {
        assert!(
            conn.windows(2).all(|w| w[0] < w[1]),
            "reordered within a connection: {conn:?}"
        );
        for &id in conn {
            if !seen[id as usize] {
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
}

/// Collectors die and come back at random; producers keep reporting.
/// Everything arrives, in order, duplicates only from replays.
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
        let mut wait = None;
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
                if sim.w.peers[s] == Peer::Up {
                    sim.kill(s);
                } else {
                    sim.w.peers[s] = Peer::Up;
                }
            }
            // Never leave every collector dead for good.
            if produced == total && sim.w.peers.iter().all(|p| *p != Peer::Up) {
                sim.w.peers[0] = Peer::Up;
            }
            wait = sim.step();
            if produced == total && sim.ring.unsent_records() == 0 {
                break;
            }
            sim.advance(wait, Duration::from_millis(1));
        }
        let _ = wait;
        assert_eq!(
            sim.ring.unsent_records(),
            0,
            "seed {seed}: not drained: {:?} {:?} now {:?} peers {:?} attempts {}",
            sim.sender,
            sim.ring,
            sim.now,
            sim.w.peers,
            sim.w.attempts.len()
        );
        // Close gracefully: the last connection delivers everything.
        sim.sender.close();
        for _ in 0..10_000 {
            if sim.sender.is_closed() {
                break;
            }
            let w = sim.step();
            sim.advance(w, Duration::from_millis(1));
        }
        assert!(sim.sender.is_closed(), "seed {seed}: close did not finish");
        sim.w.finish_conn();
        assert_eq!(sim.ring.stats().dropped_newest, 0);
        check_delivery(&sim.w.delivered, total);
        let st = sim.ring.stats();
        assert_eq!(st.accepted, total);
        assert_eq!(
            st.sent,
            total + st.replayed,
            "seed {seed}: sent = first sends + replays"
        );
    }
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
            assert!(w > sim.now, "wait must be in the future");
            sim.now = w;
        }
        let a = &sim.w.attempts;
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

/// Jittered delays stay within [delay*(1-j), delay] and the cap.
#[test]
fn jitter_bounds() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
        jitter_percent: 50,
    };
    let mut sim = Sim::new(3, vec![Peer::Down], Strategy::Random, backoff, 1024);
    sim.push(0);
    let mut last = sim.now;
    let mut gaps = Vec::new();
    for _ in 0..40 {
        let w = sim.step().unwrap();
        gaps.push(w.saturating_since(last).as_millis() as u64);
        last = w;
        sim.now = w;
    }
    for (i, g) in gaps.iter().enumerate() {
        let full = (100u64 << i.min(20)).min(2000);
        assert!(
            *g <= full && *g >= full / 2,
            "gap {i}: {g} not in [{}, {full}]",
            full / 2
        );
    }
}

/// Failover: one server is dead, the other takes everything.
#[test]
fn failover_to_live_server() {
    let backoff = Backoff::default();
    let mut sim = Sim::new(
        5,
        vec![Peer::Down, Peer::Up],
        Strategy::PreferFirst,
        backoff,
        4096,
    );
    for id in 0..100 {
        sim.push(id);
    }
    for _ in 0..100 {
        let w = sim.step();
        sim.advance(w, Duration::from_millis(1));
    }
    assert_eq!(sim.ring.unsent_records(), 0);
    assert_eq!(sim.w.attempts[0].1, 0);
    assert_eq!(sim.w.attempts[1].1, 1);
    assert_eq!(
        sim.w.attempts[1].0, sim.w.attempts[0].0,
        "failover is immediate"
    );
    sim.w.finish_conn();
    check_delivery(&sim.w.delivered, 100);
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
    sim.now = w.unwrap();
    sim.step();
    assert_eq!(sim.w.connecting, None);
    assert_eq!(
        sim.w.attempts,
        vec![(Instant::ZERO, 0), (Instant::from_millis(500), 1)]
    );
    let mut notes = Vec::new();
    while let Some(n) = sim.sender.poll_notification() {
        notes.push(n);
    }
    assert!(notes.contains(&Notification::ConnectFailed {
        server: 0,
        error: NetError::TimedOut
    }));
    assert!(notes.contains(&Notification::Connected { server: 1 }));
}

/// Idle: connected with nothing to send, every poll is a wait without a
/// deadline (no timer wake-ups at all).
#[test]
fn idle_never_wakes() {
    let mut sim = Sim::new(
        1,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        4096,
    );
    assert_eq!(sim.step(), None);
    assert!(sim.sender.is_connected());
    for _ in 0..1000 {
        assert_eq!(
            sim.sender.poll(sim.now, &sim.ring),
            Action::Wait { until: None }
        );
        sim.now = sim.now + Duration::from_secs(1);
    }
}

/// Linger: a small batch waits for the linger time, a full one goes at once.
#[test]
fn linger_batches() {
    let mut cfg = Config::new("t", &["127.0.0.1:1"]);
    cfg.linger = Duration::from_millis(20);
    cfg.batch_bytes = 200;
    let mut sender = Sender::new(cfg.sender(), 1);
    let mut ring = ring(4096);
    assert!(matches!(
        sender.poll(Instant::ZERO, &ring),
        Action::Connect { .. }
    ));
    sender.on_connected(Instant::ZERO);
    ring.push(b"{\"a\":1}\n", false).unwrap();
    let t0 = Instant::from_millis(5);
    assert_eq!(
        sender.poll(t0, &ring),
        Action::Wait {
            until: Some(Instant::from_millis(25))
        }
    );
    assert_eq!(
        sender.poll(Instant::from_millis(25), &ring),
        Action::Transmit { max: 200 }
    );
    let n = ring.transmit(200).len();
    sender.on_sent(Instant::from_millis(25), n, &mut ring);
    for _ in 0..30 {
        ring.push(b"{\"a\":1}\n", false).unwrap();
    }
    assert_eq!(
        sender.poll(Instant::from_millis(26), &ring),
        Action::Transmit { max: 200 }
    );
    let t = ring.transmit(200);
    assert!(t.len() <= 200 && t.len() > 190);
}

/// A connection reset mid-stream replays what the peer may have lost, and
/// the replay is counted.
#[test]
fn replay_after_reset_is_counted() {
    let mut sim = Sim::new(
        2,
        vec![Peer::Up],
        Strategy::Random,
        Backoff::default(),
        1 << 20,
    );
    sim.w.peer_buffer = 1 << 20;
    for id in 0..50 {
        sim.push(id);
    }
    for _ in 0..1000 {
        let w = sim.step();
        sim.advance(w, Duration::from_millis(1));
    }
    assert_eq!(sim.ring.unsent_records(), 0);
    sim.kill(0);
    assert_eq!(sim.ring.unsent_records(), 50, "everything kept is replayed");
    let mut replayed = None;
    while let Some(n) = sim.sender.poll_notification() {
        if let Notification::SendFailed { replayed: r, .. } = n {
            replayed = Some(r);
        }
    }
    assert_eq!(replayed, Some(50));
    assert_eq!(sim.ring.stats().replayed, 50);
}
