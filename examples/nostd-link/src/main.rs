//! Links the core into bare-metal firmware: a `static` ring, serde events
//! encoded without an allocator, and the sender state machine driving a
//! stand-in stream. There is no `#[global_allocator]`: if anything in the
//! core needed `alloc`, this would not link.
#![no_std]
#![no_main]

use alooma_core::{Action, Config, Envelope, EventType, Instant, Ring, Sender, Stamp, WhenFull, NO_META};
use cortex_m_rt::entry;
use panic_halt as _;
use serde::Serialize;

#[derive(Serialize)]
struct Reading {
    kind: &'static str,
    sensor: u8,
    value: i32,
}

static SERVERS: [&str; 1] = ["collector.example:5001"];
static CONFIG: Config<'static> = {
    let mut c = Config::new("device-token", &SERVERS);
    c.input_label = "thermostat";
    c.event_type = EventType::Field("kind");
    c.envelope = Envelope::Metadata;
    // Set once: `CONFIG.push` applies it.
    c.when_full = WhenFull::DropOldest;
    // The replay window: at most half the 4 KiB ring.
    c.replay_limit = 1024;
    c
};

#[entry]
fn main() -> ! {
    // cortex-m-rt turns this into a `&'static mut` owned by `main`: the ring
    // lives in .bss, no allocator and no unsafe needed.
    static mut RING: Ring<[u8; 4096]> = Ring::new();
    let ring: &'static mut Ring<[u8; 4096]> = RING;
    let enc = CONFIG.encoder();
    let mut sender = Sender::new(CONFIG.sender(), 7);
    let mut sent = 0usize;
    let mut t = 0u64;
    loop {
        let ev = Reading { kind: "temp", sensor: (t % 4) as u8, value: t as i32 };
        let _ = CONFIG.push(ring, |out| enc.encode_value(&ev, NO_META, &Stamp::default(), out));
        match sender.poll(Instant::from_millis(t), ring) {
            Action::Connect { .. } => sender.on_connected(Instant::from_millis(t)),
            Action::Transmit { max } => {
                let n = ring.transmit(max).len();
                sent = sent.wrapping_add(n);
                sender.on_sent(Instant::from_millis(t), n, ring);
            }
            _ => {}
        }
        t += 1;
        core::hint::black_box(sent);
    }
}
