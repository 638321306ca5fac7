//! Links the core into bare-metal firmware: a `static` ring, serde events
//! encoded without an allocator, and the driver (sender state machine and
//! protocol) over a stand-in stream. There is no `#[global_allocator]`: if anything in the
//! core needed `alloc`, this would not link.
#![no_std]
#![no_main]

use alooma_core::{
    Config, Driver, Envelope, EventType, Failure, Instant, Link, Received, Ring, Stamp, WhenFull, NO_META,
};
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

/// A stand-in stream that takes every byte (the firmware example has a
/// real one over `embedded-io`).
struct Sink {
    written: usize,
}

impl Link for Sink {
    type Detail = &'static str;
    fn connect(&mut self, _: usize) -> Result<(), Failure<&'static str>> {
        Ok(())
    }
    fn poll_connect(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn write(&mut self, bytes: &[u8]) -> Result<usize, Failure<&'static str>> {
        self.written = self.written.wrapping_add(bytes.len());
        Ok(bytes.len())
    }
    fn writable(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn flush(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn read(&mut self, _: &mut [u8]) -> Result<Received, Failure<&'static str>> {
        Ok(Received::Nothing)
    }
    fn shutdown(&mut self) -> Result<bool, Failure<&'static str>> {
        Ok(true)
    }
    fn close(&mut self) {}
}

#[entry]
fn main() -> ! {
    // cortex-m-rt turns this into a `&'static mut` owned by `main`: the ring
    // lives in .bss, no allocator and no unsafe needed.
    static mut RING: Ring<[u8; 4096]> = Ring::new();
    let ring: &'static mut Ring<[u8; 4096]> = RING;
    let enc = CONFIG.encoder();
    let mut driver = Driver::new(CONFIG.sender(), CONFIG.wire(), Sink { written: 0 }, [0u8; 512], 7);
    let mut t = 0u64;
    loop {
        let ev = Reading { kind: "temp", sensor: (t % 4) as u8, value: t as i32 };
        let _ = CONFIG.push(ring, |out| enc.encode_value(&ev, NO_META, &Stamp::default(), out));
        driver.poll(Instant::from_millis(t), &mut *ring);
        t += 1;
        core::hint::black_box(driver.link().written);
    }
}
