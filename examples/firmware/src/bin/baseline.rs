//! The SDK firmware (`src/main.rs`) with its SDK calls removed: the same
//! board set-up, tick interrupt, readings and door events (each handed to
//! `black_box` instead of reported), a line on the UART and the summary.
//! `scripts/test.sh` builds both; the difference of their flash is what the
//! SDK costs a device.
#![no_std]
#![no_main]

#[path = "../board.rs"]
mod board;

use core::hint::black_box;
use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m_rt::{entry, exception, ExceptionFrame};

const MAIN_EVENTS: u32 = 60;
const IRQ_EVENTS: u32 = 20;
static TICKS: AtomicU32 = AtomicU32::new(0);
static IRQ_SENT: AtomicU32 = AtomicU32::new(0);

/// The firmware's reading, unreported.
#[allow(dead_code)]
struct Reading {
    kind: &'static str,
    seq: u32,
    sensor: u8,
    centi: i32,
}

/// The firmware's door event, unreported.
#[allow(dead_code)]
struct Door {
    kind: &'static str,
    irq_seq: u32,
    open: bool,
    tick: u32,
}

#[entry]
fn main() -> ! {
    board::paint_stack();
    board::enable_uart();
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        board::exit(false)
    };
    board::start_ticks(&mut cp.SYST);
    for &b in b"baseline\n" {
        board::put(b);
    }
    let mut seq = 0u32;
    while seq < MAIN_EVENTS || IRQ_SENT.load(Ordering::Relaxed) < IRQ_EVENTS {
        if seq < MAIN_EVENTS {
            black_box(&Reading {
                kind: ["temperature", "humidity", "pressure"][(seq % 3) as usize],
                seq,
                sensor: (seq % 4) as u8,
                centi: 2000 + seq as i32 * 7,
            });
            seq += 1;
        }
        if TICKS.load(Ordering::Relaxed) > 60_000 {
            board::exit(false);
        }
    }
    cp.SYST.disable_interrupt();
    board::summary(&[
        ("baseline: readings ", seq),
        (" irq ", IRQ_SENT.load(Ordering::Relaxed)),
        (" stack ", board::stack_used()),
    ]);
    board::exit(true)
}

#[exception]
fn SysTick() {
    let t = TICKS.load(Ordering::Relaxed) + 1;
    TICKS.store(t, Ordering::Relaxed);
    let sent = IRQ_SENT.load(Ordering::Relaxed);
    if t.is_multiple_of(20) && sent < IRQ_EVENTS {
        black_box(&Door {
            kind: "door",
            irq_seq: sent,
            open: sent.is_multiple_of(2),
            tick: t,
        });
        IRQ_SENT.store(sent + 1, Ordering::Relaxed);
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
