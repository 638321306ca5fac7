//! The device driver over simulated flaky links: short writes, write
//! errors mid-stream, refused connects, peers that close. Nothing is lost
//! or reordered; the ring can be fed from "interrupts" (another thread
//! under the critical section) while the main loop drains it.

use alooma_core::{Backoff, Config, Instant, NetError, Ring, Rng, ServerAddr, Stamp, NO_META};
use alooma_embedded_io::{Connector, Driver, IrqRing, PeerState, Stream};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

#[derive(Debug)]
struct LinkError(embedded_io::ErrorKind);
impl embedded_io::Error for LinkError {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.0
    }
}

/// Everything a collector received, per connection.
#[derive(Default)]
struct Peer {
    conns: Vec<Vec<u8>>,
}

struct Flaky {
    peer: Rc<RefCell<Peer>>,
    rng: Rc<RefCell<Rng>>,
    closed: bool,
}

impl embedded_io::ErrorType for Flaky {
    type Error = LinkError;
}

impl embedded_io::Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> Result<usize, LinkError> {
        let mut rng = self.rng.borrow_mut();
        if rng.below(100) < 3 {
            return Err(LinkError(embedded_io::ErrorKind::ConnectionReset));
        }
        let n = 1 + rng.below(buf.len() as u64) as usize;
        self.peer
            .borrow_mut()
            .conns
            .last_mut()
            .unwrap()
            .extend_from_slice(&buf[..n]);
        if rng.below(100) < 2 {
            self.closed = true; // the peer will close after this
        }
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), LinkError> {
        Ok(())
    }
}

impl Stream for Flaky {
    fn peer_state(&mut self, _buf: &mut [u8]) -> PeerState {
        if self.closed {
            PeerState::Ended
        } else {
            PeerState::Open
        }
    }
}

struct Dialer {
    peer: Rc<RefCell<Peer>>,
    rng: Rc<RefCell<Rng>>,
}

impl Connector for Dialer {
    type Stream = Flaky;
    fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Flaky, NetError> {
        if self.rng.borrow_mut().below(100) < 20 {
            return Err(NetError::Refused);
        }
        self.peer.borrow_mut().conns.push(Vec::new());
        Ok(Flaky {
            peer: self.peer.clone(),
            rng: self.rng.clone(),
            closed: false,
        })
    }
}

static SERVERS: [&str; 2] = ["a.example:5001", "b.example:5001"];

fn config() -> Config<'static> {
    let mut c = Config::new("tok", &SERVERS);
    c.backoff = Backoff {
        initial: Duration::from_millis(10),
        max: Duration::from_millis(80),
        jitter_percent: 10,
    };
    // A byte stream that errors loses nothing it took: replay only the
    // record a failure cut.
    c.replay_limit = 0;
    c
}

/// Complete records of every connection, in order (a record cut by a
/// failure is incomplete and does not count).
fn received(peer: &Peer) -> Vec<Vec<u64>> {
    peer.conns
        .iter()
        .map(|c| {
            c.split(|&b| b == b'\n')
                .take(c.split(|&b| b == b'\n').count() - 1)
                .map(|l| serde_json::from_slice::<serde_json::Value>(l).unwrap())
                // Loss markers (after refusals) are not events.
                .filter(|v| v["_metadata"]["event_type"] != "alooma_loss")
                .map(|v| v["seq"].as_u64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn flaky_link_loses_nothing() {
    for seed in 1..=30u64 {
        let cfg = config();
        let enc = cfg.encoder();
        let peer = Rc::new(RefCell::new(Peer::default()));
        let rng = Rc::new(RefCell::new(Rng::new(seed)));
        let mut driver = Driver::new(
            &cfg,
            Dialer {
                peer: peer.clone(),
                rng: rng.clone(),
            },
            seed,
        );
        let mut ring: Ring<[u8; 8192]> = Ring::new();
        let total = 2000u64;
        let mut next = 0u64;
        let mut t = 0u64;
        while (next < total || ring.unsent_records() > 0) && t < 1_000_000 {
            for _ in 0..3 {
                if next < total {
                    let ev =
                        serde_json::json!({"seq": next, "v": "x".repeat((next % 50) as usize)});
                    if cfg
                        .push(&mut ring, |o| {
                            enc.encode_value(&ev, NO_META, &Stamp::default(), o)
                        })
                        .is_ok()
                    {
                        next += 1;
                    }
                }
            }
            let wake = driver.poll(Instant::from_millis(t), &mut ring);
            t = match wake {
                Some(w) if w.as_millis() > t => w.as_millis(),
                _ => t + 1,
            };
        }
        assert_eq!(ring.unsent_records(), 0, "seed {seed}: not drained");
        let mut all: Vec<u64> = received(&peer.borrow()).into_iter().flatten().collect();
        let n = all.len();
        all.dedup();
        assert_eq!(
            all,
            (0..total).collect::<Vec<_>>(),
            "seed {seed}: lost or reordered"
        );
        assert_eq!(
            n,
            all.len(),
            "replay limit 0: a cut record is resent, never a whole one twice"
        );
        assert!(
            driver.stats().disconnects > 0 && driver.stats().connect_failures > 0,
            "seed {seed}: faults happened"
        );
    }
}

/// "Interrupts" (another thread, under the critical section) report while
/// the main loop drains: nothing reported and accepted is lost.
#[test]
fn interrupt_reports_and_main_loop_drains() {
    static RING: IrqRing<2048> = IrqRing::new();
    static CFG: Config<'static> = {
        let mut c = Config::new("tok", &SERVERS);
        // A perfect link loses nothing it took.
        c.replay_limit = 0;
        c
    };
    let irq = std::thread::spawn(|| {
        let enc = CFG.encoder();
        let mut accepted = Vec::new();
        for seq in 0..20_000u64 {
            let ev = serde_json::json!({"seq": seq});
            if RING
                .push(&CFG, |o| {
                    enc.encode_value(&ev, NO_META, &Stamp::default(), o)
                })
                .is_ok()
            {
                accepted.push(seq);
            }
            if seq % 64 == 0 {
                std::thread::yield_now();
            }
        }
        accepted
    });
    let peer = Rc::new(RefCell::new(Peer::default()));
    let rng = Rc::new(RefCell::new(Rng::new(99)));
    // A perfect link: short writes only.
    struct Good(Rc<RefCell<Peer>>);
    impl embedded_io::ErrorType for Good {
        type Error = LinkError;
    }
    impl embedded_io::Write for Good {
        fn write(&mut self, buf: &[u8]) -> Result<usize, LinkError> {
            let n = buf.len().min(7);
            self.0
                .borrow_mut()
                .conns
                .last_mut()
                .unwrap()
                .extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> Result<(), LinkError> {
            Ok(())
        }
    }
    impl Stream for Good {}
    struct Once(Rc<RefCell<Peer>>);
    impl Connector for Once {
        type Stream = Good;
        fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Good, NetError> {
            self.0.borrow_mut().conns.push(Vec::new());
            Ok(Good(self.0.clone()))
        }
    }
    let _ = rng;
    let mut driver = Driver::new(&CFG, Once(peer.clone()), 5);
    let mut t = 0;
    while !irq.is_finished() {
        driver.poll(Instant::from_millis(t), &RING);
        t += 1;
    }
    let accepted = irq.join().unwrap();
    driver.poll(Instant::from_millis(t), &RING);
    assert_eq!(RING.with(|r| r.unsent_records()), Some(0));
    let got: Vec<u64> = received(&peer.borrow()).into_iter().flatten().collect();
    assert_eq!(got, accepted);
    let dropped = RING.with(|r| r.stats().dropped_newest).unwrap();
    assert_eq!(accepted.len() as u64 + dropped, 20_000);
}
