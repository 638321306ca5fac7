//! The sustained-load fault family on the device driver, over a simulated
//! link to a simulated collector: 30,000 events of ~300 bytes into a
//! 16 KiB ring (9 MB reported), the producer never pausing, while the
//! collector resets after every 1,000 lines (ten times), is killed with
//! unread data and restarted, or stays down between connections. The
//! collector holds at most `UNREAD` bytes unread in its "kernel" plus
//! `READ_BUF` in its own read buffer, so a record is confirmed once
//! `replay_limit = UNREAD + READ_BUF` more bytes were written after it. (A
//! first run with `UNREAD` alone lost events it had counted delivered: what
//! a collector can lose includes its own buffer.)
//! `Block` loses nothing; under every policy the counts are true and add up.

use alooma_core::{Backoff, Config, Instant, NetError, ReportError, Ring, Rng, ServerAddr};
use alooma_core::{Stamp, WhenFull, NO_META};
use alooma_embedded_io::{Connector, Driver, PeerState, Stream};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

const N: u64 = 30_000;
const RING: usize = 16 * 1024;
/// Most bytes the simulated collector's kernel holds unread.
const UNREAD: usize = 2048;
/// The simulated collector's own read buffer (lines not yet processed).
const READ_BUF: usize = 512;

#[derive(Debug)]
struct LinkError(embedded_io::ErrorKind);
impl embedded_io::Error for LinkError {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.0
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    /// Reset after every 1,000 lines, ten times.
    Resets,
    /// Stop reading, then die with unread data, three times; back at once.
    Killed,
    /// Reset after every 3,000 lines, three times, then down for 500 ms.
    Down,
}

/// The simulated collector.
struct Collector {
    rng: Rng,
    fault: Fault,
    now: u64,
    /// Current connection: its generation, unread bytes, bytes read.
    conn: Option<(u64, VecDeque<u8>, Vec<u8>)>,
    generation: u64,
    /// Lines read, per connection.
    lines: Vec<Vec<u64>>,
    lines_on_conn: usize,
    faults: usize,
    down_until: u64,
    paused_until: u64,
    /// Our side ended: the collector closes its own once it read all.
    shut: bool,
    /// It stopped reading and dies at this time.
    kill_at: Option<u64>,
    /// Loss markers read.
    markers: Vec<serde_json::Value>,
}

impl Collector {
    /// The collector reads part of what arrived, and injects its faults.
    fn step(&mut self) {
        if self.now < self.paused_until {
            return;
        }
        self.read_some();
    }

    /// Reads at least one byte of what arrived (if any), and injects its
    /// faults.
    fn read_some(&mut self) {
        let Some((_, unread, read)) = self.conn.as_mut() else {
            return;
        };
        let room = READ_BUF - read.len();
        let k = (1 + self.rng.below(unread.len() as u64 + 1) as usize)
            .min(unread.len())
            .min(room);
        read.extend(unread.drain(..k));
        while let Some(i) = read.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = read.drain(..=i).collect();
            let v: serde_json::Value = serde_json::from_slice(&line[..i]).unwrap();
            if v["_metadata"]["event_type"] == "alooma_loss" {
                self.markers.push(v);
                continue;
            }
            self.lines
                .last_mut()
                .unwrap()
                .push(v["i"].as_u64().unwrap());
            self.lines_on_conn += 1;
            let (every, times) = match self.fault {
                Fault::Resets => (1_000, 10),
                Fault::Killed => (5_000, 3),
                Fault::Down => (3_000, 3),
            };
            if self.lines_on_conn >= every && self.faults < times {
                self.faults += 1;
                match self.fault {
                    Fault::Resets => self.die(0),
                    Fault::Down => self.die(500),
                    Fault::Killed => {
                        // Stops reading for a while (unread data piles up),
                        // then dies.
                        self.lines_on_conn = 0;
                        self.paused_until = self.now + 50;
                        self.kill_at = Some(self.now + 50);
                    }
                }
                return;
            }
        }
    }

    fn die(&mut self, down_ms: u64) {
        // What it had not read is gone with it; the sender sees a reset.
        self.conn = None;
        self.lines_on_conn = 0;
        self.down_until = self.now + down_ms;
    }
}

struct Link {
    world: Rc<RefCell<World>>,
    generation: u64,
}

struct World {
    c: Collector,
}

impl embedded_io::ErrorType for Link {
    type Error = LinkError;
}

impl Link {
    fn alive(&self, w: &World) -> bool {
        w.c.conn
            .as_ref()
            .is_some_and(|(g, _, _)| *g == self.generation)
    }
}

impl embedded_io::Write for Link {
    /// Blocks as a real stream does while the collector's buffer is full:
    /// the collector reads meanwhile (or, stopped before dying, dies).
    fn write(&mut self, buf: &[u8]) -> Result<usize, LinkError> {
        let w = &mut *self.world.borrow_mut();
        loop {
            if !self.alive(w) {
                return Err(LinkError(embedded_io::ErrorKind::ConnectionReset));
            }
            let room = UNREAD - w.c.conn.as_ref().unwrap().1.len();
            if room > 0 {
                break;
            }
            if w.c.kill_at.take().is_some() {
                w.c.die(0);
            } else {
                w.c.read_some();
            }
        }
        let (_, unread, _) = w.c.conn.as_mut().unwrap();
        let room = UNREAD - unread.len();
        let n = buf
            .len()
            .min(room)
            .min(1 + w.c.rng.below(buf.len() as u64) as usize);
        unread.extend(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
}

impl Stream for Link {
    fn peer_state(&mut self, _buf: &mut [u8]) -> PeerState {
        let w = self.world.borrow();
        if !self.alive(&w) {
            return PeerState::Failed(embedded_io::ErrorKind::ConnectionReset);
        }
        let (_, unread, read) = w.c.conn.as_ref().unwrap();
        if w.c.shut && unread.is_empty() && read.is_empty() {
            PeerState::Ended
        } else {
            PeerState::Open
        }
    }
    fn close_write(&mut self) -> Result<(), LinkError> {
        self.world.borrow_mut().c.shut = true;
        Ok(())
    }
}

struct Dial(Rc<RefCell<World>>);

impl Connector for Dial {
    type Stream = Link;
    fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Link, NetError> {
        let mut w = self.0.borrow_mut();
        if w.c.now < w.c.down_until || w.c.kill_at.is_some() {
            return Err(NetError::Refused);
        }
        w.c.generation += 1;
        let g = w.c.generation;
        w.c.conn = Some((g, VecDeque::new(), Vec::new()));
        w.c.lines.push(Vec::new());
        w.c.shut = false;
        Ok(Link {
            world: self.0.clone(),
            generation: g,
        })
    }
}

static SERVERS: [&str; 1] = ["collector.sim:5001"];

fn run(policy: WhenFull, fault: Fault, seed: u64) {
    let mut cfg = Config::new("tok", &SERVERS);
    cfg.replay_limit = UNREAD + READ_BUF;
    cfg.when_full = policy;
    cfg.connect_timeout = Duration::from_millis(200);
    cfg.backoff = Backoff {
        initial: Duration::from_millis(5),
        max: Duration::from_millis(50),
        jitter_percent: 10,
    };
    cfg.validate(RING).unwrap();
    let world = Rc::new(RefCell::new(World {
        c: Collector {
            rng: Rng::new(seed),
            fault,
            now: 0,
            conn: None,
            generation: 0,
            lines: Vec::new(),
            lines_on_conn: 0,
            faults: 0,
            down_until: 0,
            paused_until: 0,
            shut: false,
            kill_at: None,
            markers: Vec::new(),
        },
    }));
    let enc = cfg.encoder();
    let mut driver = Driver::new(&cfg, Dial(world.clone()), seed);
    let mut ring: Ring<[u8; RING]> = Ring::new();
    let pad = "x".repeat(250);
    let mut t = 0u64;
    let mut refused = 0u64;
    let mut i = 0u64;
    let drop_oldest = policy == WhenFull::DropOldest;
    while i < N {
        assert!(t < 10_000_000, "stuck at event {i}");
        let ev = serde_json::json!({"i": i, "pad": pad});
        let encode =
            |o: &mut alooma_core::Out<'_>| enc.encode_value(&ev, NO_META, &Stamp::default(), o);
        let pushed = if policy == WhenFull::Block {
            // Block: a refusal is not counted; the caller makes room by
            // driving the link, then retries.
            ring.try_push_with(cfg.max_event(RING), encode)
        } else {
            ring.push_with(drop_oldest, cfg.max_event(RING), encode)
        };
        match (policy, pushed) {
            (_, Ok(_)) => i += 1,
            (WhenFull::Block, Err(ReportError::BufferFull { .. })) => {}
            (_, Err(ReportError::BufferFull { .. })) => {
                refused += 1;
                i += 1;
            }
            (_, Err(e)) => panic!("{e:?}"),
        }
        // One turn of the main loop: the link moves, time passes.
        tick(&world, &mut driver, &mut ring, &mut t);
    }
    driver.close();
    while !driver.is_closed() {
        assert!(t < 20_000_000, "close stuck");
        tick(&world, &mut driver, &mut ring, &mut t);
    }
    let st = ring.stats();
    // The report every SDK gives: the four counts add up.
    let r = driver.close_report(st, 0);
    assert_eq!(
        r.delivered + r.unconfirmed + r.unsent + r.dropped,
        r.accepted,
        "{r:?}"
    );
    assert_eq!(r.accepted, N);
    assert_eq!(r.clean, driver.closed_clean());
    let w = world.borrow();
    let dropped = st.dropped_newest;
    assert_eq!(dropped, refused);
    let accepted = st.accepted + dropped;
    let delivered = st.delivered;
    let unconfirmed = st.window + st.rewound + st.discarded;
    let lost = dropped + st.dropped_oldest;
    assert_eq!(accepted, N);
    assert_eq!(
        delivered + unconfirmed + st.unsent + lost,
        accepted,
        "{st:?}"
    );
    let mut seen = vec![false; N as usize];
    let mut dups = 0;
    for conn in &w.c.lines {
        assert!(conn.windows(2).all(|p| p[0] < p[1]), "reordered");
        for &id in conn {
            if std::mem::replace(&mut seen[id as usize], true) {
                dups += 1;
            }
        }
    }
    let arrived = seen.iter().filter(|s| **s).count() as u64;
    let faults = match fault {
        Fault::Resets => 10,
        Fault::Killed | Fault::Down => 3,
    };
    assert!(w.c.faults >= 1, "no fault hit the stream");
    assert!(dups <= st.replayed, "{dups} duplicates, {st:?}");
    assert!(
        N - arrived <= unconfirmed + st.unsent + lost,
        "{policy:?} {fault:?}: {} missing, {st:?}",
        N - arrived
    );
    // The reader's rule: the marker with the highest `seq` has the totals;
    // once the close report says they were told, exactly the SDK's.
    for m in &w.c.markers {
        let n = |k: &str| m[k].as_u64().unwrap();
        assert!(n("refused") + n("dropped_oldest") <= lost, "{m}: {st:?}");
    }
    let newest =
        w.c.markers
            .iter()
            .max_by_key(|m| m["seq"].as_u64().unwrap());
    if let (true, Some(m)) = (r.loss_told, newest) {
        let n = |k: &str| m[k].as_u64().unwrap();
        assert_eq!(
            (n("refused"), n("dropped_oldest"), n("unconfirmed")),
            (st.dropped_newest, st.dropped_oldest, st.discarded),
            "{m}"
        );
    }
    if lost > 0 {
        assert!(!w.c.markers.is_empty(), "{lost} lost and no marker: {st:?}");
        assert_eq!(r.loss_told, r.clean, "{r:?}");
    }
    if policy == WhenFull::Block {
        assert_eq!(w.c.faults, faults);
        assert_eq!(arrived, N, "Block loses nothing: {st:?}");
        assert!(driver.closed_clean());
        assert_eq!(delivered, N);
    }
}

fn tick<C: Connector>(
    world: &Rc<RefCell<World>>,
    driver: &mut Driver<'_, C>,
    ring: &mut Ring<[u8; RING]>,
    t: &mut u64,
) {
    {
        let mut w = world.borrow_mut();
        w.c.now = *t;
        w.c.step();
        if w.c.kill_at.is_some_and(|k| k <= *t) {
            w.c.kill_at = None;
            w.c.die(0);
        }
    }
    driver.poll(Instant::from_millis(*t), &mut *ring);
    *t += 1;
}

#[test]
fn block_resets() {
    run(WhenFull::Block, Fault::Resets, 1);
}
#[test]
fn block_killed_with_unread_data() {
    run(WhenFull::Block, Fault::Killed, 2);
}
#[test]
fn block_down_between_connections() {
    run(WhenFull::Block, Fault::Down, 3);
}
#[test]
fn drop_newest_resets() {
    run(WhenFull::DropNewest, Fault::Resets, 4);
}
#[test]
fn drop_newest_killed_with_unread_data() {
    run(WhenFull::DropNewest, Fault::Killed, 5);
}
#[test]
fn drop_newest_down_between_connections() {
    run(WhenFull::DropNewest, Fault::Down, 6);
}
#[test]
fn drop_oldest_resets() {
    run(WhenFull::DropOldest, Fault::Resets, 7);
}
#[test]
fn drop_oldest_killed_with_unread_data() {
    run(WhenFull::DropOldest, Fault::Killed, 8);
}
#[test]
fn drop_oldest_down_between_connections() {
    run(WhenFull::DropOldest, Fault::Down, 9);
}
