//! Device firmware on a static 4 KiB ring, no allocator.
//!
//! The main loop reports sensor readings; the SysTick interrupt reports
//! door events into the same `static` ring; `alooma-embedded-io` drains
//! it to the collector link, the board's UART (`board.rs`: QEMU's
//! `mps2-an386`, Cortex-M4F, or `microbit`, Cortex-M0), which QEMU forwards
//! to stdout. The link fails once mid-stream (a forced disconnect): the
//! driver reconnects and nothing is lost. The exit status (through
//! semihosting) says whether every event was delivered. `bin/baseline.rs`
//! is the same program without the SDK calls: the difference of their sizes
//! is what the SDK costs (`scripts/test.sh` prints it).
//!
//! ```text
//! cargo build --release   (in this folder; --target thumbv6m-none-eabi for the Cortex-M0)
//! qemu-system-arm -machine mps2-an386 -nographic \
//!     -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv7em-none-eabihf/release/alooma-firmware
//! qemu-system-arm -machine microbit -nographic \
//!     -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv6m-none-eabi/release/alooma-firmware
//! ```
#![no_std]
#![no_main]

mod board;

use alooma_core::{Config, Envelope, EventType, Instant, NetError, ServerAddr, Stamp, NO_META};
use alooma_embedded_io::{Connector, Driver, IrqRing, Stream};
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use cortex_m_rt::{entry, exception, ExceptionFrame};
use serde::Serialize;

/// Readings reported by the main loop.
const MAIN_EVENTS: u32 = 60;
/// Door events reported by the SysTick interrupt.
const IRQ_EVENTS: u32 = 20;

static SERVERS: [&str; 1] = ["collector.local:5001"];
static CONFIG: Config<'static> = {
    let mut c = Config::new("device-token", &SERVERS);
    c.input_label = "thermostat";
    c.event_type = EventType::Field("type");
    c.envelope = Envelope::Metadata;
    c.max_event_bytes = Some(512);
    // A UART loses nothing it took: resend only a record a failure cut.
    c.replay_limit = 0;
    // Feature `relp`: the same firmware speaking RELP (its size is stated
    // in the README; the QEMU run is plain TCP, which the UART carries).
    #[cfg(feature = "relp")]
    {
        c.protocol = alooma_core::Protocol::Relp;
    }
    // The link comes back at once: retry quickly.
    c.backoff = alooma_core::Backoff {
        initial: core::time::Duration::from_millis(5),
        max: core::time::Duration::from_millis(200),
        jitter_percent: 20,
    };
    c
};
static RING: IrqRing<4096> = IrqRing::new();
static TICKS: AtomicU32 = AtomicU32::new(0);
static IRQ_SENT: AtomicU32 = AtomicU32::new(0);
static IRQ_DROPPED: AtomicU32 = AtomicU32::new(0);

#[derive(Serialize)]
struct Reading {
    #[serde(rename = "type")]
    kind: &'static str,
    seq: u32,
    sensor: u8,
    /// Hundredths of a unit: integers keep float formatting out of flash.
    centi: i32,
}

#[derive(Serialize)]
struct Door {
    #[serde(rename = "type")]
    kind: &'static str,
    irq_seq: u32,
    open: bool,
    tick: u32,
}

/// The link: UART0, which fails once, at a record boundary after 1500
/// bytes, as a dropped connection would.
struct Link {
    written: usize,
    last: u8,
}
static FAILED_ONCE: AtomicBool = AtomicBool::new(false);

#[derive(Debug)]
struct LinkDown;
impl embedded_io::Error for LinkDown {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::ConnectionReset
    }
}
impl embedded_io::ErrorType for Link {
    type Error = LinkDown;
}
impl embedded_io::Write for Link {
    fn write(&mut self, buf: &[u8]) -> Result<usize, LinkDown> {
        // (Load and store, not swap: Cortex-M0 has no atomic swap, and
        // only the main loop writes here.)
        if self.written > 1500 && self.last == b'\n' && !FAILED_ONCE.load(Ordering::Relaxed) {
            FAILED_ONCE.store(true, Ordering::Relaxed);
            return Err(LinkDown);
        }
        // Short writes, as real links make: at most 16 bytes per call.
        let n = buf.len().min(16);
        for &b in &buf[..n] {
            board::put(b);
        }
        self.written += n;
        if n > 0 {
            self.last = buf[n - 1];
        }
        Ok(n)
    }
    fn flush(&mut self) -> Result<(), LinkDown> {
        Ok(())
    }
}
impl Stream for Link {}

struct Dial {
    written: usize,
}
impl Connector for Dial {
    type Stream = Link;
    fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Link, NetError> {
        self.written += 1;
        Ok(Link {
            written: 0,
            last: b'\n',
        })
    }
}

fn now() -> Instant {
    Instant::from_millis(TICKS.load(Ordering::Relaxed) as u64)
}

#[entry]
fn main() -> ! {
    board::paint_stack();
    board::enable_uart();
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        board::exit(false)
    };
    board::start_ticks(&mut cp.SYST);

    let enc = CONFIG.encoder();
    let mut driver = Driver::new(&CONFIG, Dial { written: 0 }, 0x5eed);
    let mut seq = 0u32;
    let mut main_dropped = 0u32;
    loop {
        // Leave room for the interrupt's events: it cannot wait for space.
        let room = RING.with(|r| r.available() >= 1024).unwrap_or(false);
        if seq < MAIN_EVENTS && room {
            let kind = ["temperature", "humidity", "pressure"][(seq % 3) as usize];
            let r = Reading {
                kind,
                seq,
                sensor: (seq % 4) as u8,
                centi: 2000 + seq as i32 * 7,
            };
            match RING.push(&CONFIG, |out| {
                enc.encode_value(&r, NO_META, &Stamp::default(), out)
            }) {
                Ok(_) => seq += 1,
                Err(_) => main_dropped += 1, // full: drain, then retry the same reading
            }
        }
        driver.poll(now(), &RING);
        let irq_done =
            IRQ_SENT.load(Ordering::Relaxed) + IRQ_DROPPED.load(Ordering::Relaxed) >= IRQ_EVENTS;
        let drained = RING.with(|r| r.unsent_records() == 0).unwrap_or(false);
        if seq == MAIN_EVENTS && irq_done && drained {
            break;
        }
        if TICKS.load(Ordering::Relaxed) > 60_000 {
            board::exit(false); // a minute of emulated time: stuck
        }
    }
    cp.SYST.disable_interrupt();
    let stats = RING.with(|r| r.stats()).unwrap();
    let d = driver.stats();
    // Every accepted event was delivered; an interrupt's event dropped for
    // lack of room is counted, never silent.
    let irq_sent = IRQ_SENT.load(Ordering::Relaxed);
    let ok = stats.accepted == (MAIN_EVENTS + irq_sent) as u64
        && stats.dropped_newest == IRQ_DROPPED.load(Ordering::Relaxed) as u64 + main_dropped as u64
        && stats.unsent == 0
        && d.disconnects == 1;
    board::summary(&[
        ("firmware: accepted ", stats.accepted as u32),
        (" irq ", irq_sent),
        (" irq_dropped ", IRQ_DROPPED.load(Ordering::Relaxed)),
        (" unsent ", stats.unsent as u32),
        (" disconnects ", d.disconnects as u32),
        (" stack ", board::stack_used()),
    ]);
    board::exit(ok)
}

#[exception]
fn SysTick() {
    // Load and store, not fetch_add (absent on Cortex-M0): only this
    // handler writes TICKS and IRQ_SENT.
    let t = TICKS.load(Ordering::Relaxed) + 1;
    TICKS.store(t, Ordering::Relaxed);
    let sent = IRQ_SENT.load(Ordering::Relaxed);
    if t.is_multiple_of(20) && sent + IRQ_DROPPED.load(Ordering::Relaxed) < IRQ_EVENTS {
        let enc = CONFIG.encoder();
        let ev = Door {
            kind: "door",
            irq_seq: sent,
            open: sent.is_multiple_of(2),
            tick: t,
        };
        match RING.push(&CONFIG, |out| {
            enc.encode_value(&ev, NO_META, &Stamp::default(), out)
        }) {
            Ok(_) => IRQ_SENT.store(sent + 1, Ordering::Relaxed),
            Err(_) => IRQ_DROPPED.store(IRQ_DROPPED.load(Ordering::Relaxed) + 1, Ordering::Relaxed),
        }
    }
}

#[exception]
unsafe fn HardFault(_ef: &ExceptionFrame) -> ! {
    board::exit(false)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    board::exit(false)
}
