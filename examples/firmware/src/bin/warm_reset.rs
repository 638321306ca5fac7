//! A ring that survives a warm reset: its storage is a `static` in RAM the
//! runtime does not zero at start (cortex-m-rt's `.uninit`), found again
//! with `Ring::recover` after each reset.
//!
//! - Boot 1 (cold: no boot record) formats the ring, reports 10 readings
//!   without sending them, and resets (`SCB::sys_reset`).
//! - Boot 2 recovers them, reports 5 more, and panics; the panic handler
//!   reports a `panic` event into the ring and resets.
//! - Boot 3 recovers all 16 and drains them over UART0 (QEMU's stdout), a
//!   loss marker first telling `recovered`; the exit status (semihosting)
//!   says whether all 16 were recovered, undamaged, and delivered.
//!
//! ```text
//! cargo build --release --bin warm_reset   (in this folder)
//! qemu-system-arm -machine mps2-an386 -nographic \
//!     -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv7em-none-eabihf/release/warm_reset
//! ```
//!
//! (Without `-no-reboot`: QEMU then resets the machine as the hardware
//! does, keeping RAM; cortex-m-rt copies `.data` and zeroes `.bss` again.)
#![no_std]
#![no_main]

use alooma_core::{
    Config, Envelope, EventType, Instant, NetError, Ring, ServerAddr, Stamp, NO_META,
};
use alooma_embedded_io::{Connector, Driver, IrqSlot, Stream};
use core::mem::MaybeUninit;
use core::ptr::addr_of_mut;
use cortex_m::peripheral::SCB;
use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, heprintln};
use serde::Serialize;

const STORE_BYTES: usize = 4096;
const MAGIC: u32 = 0xA100_4A01;
const BOOT1_EVENTS: u32 = 10;
const BOOT2_EVENTS: u32 = 5;

static SERVERS: [&str; 1] = ["collector.local:5001"];
static CONFIG: Config<'static> = {
    let mut c = Config::new("device-token", &SERVERS);
    c.input_label = "warm-reset";
    c.event_type = EventType::Field("type");
    c.envelope = Envelope::Metadata;
    c.max_event_bytes = Some(512);
    c.replay_limit = 0;
    c
};

/// The ring's bytes and the boot record: kept across a warm reset.
#[link_section = ".uninit.ALOOMA_RING"]
static mut STORE: MaybeUninit<[u8; STORE_BYTES]> = MaybeUninit::uninit();
#[link_section = ".uninit.ALOOMA_BOOT"]
static mut BOOT: MaybeUninit<[u32; 2]> = MaybeUninit::uninit();

static RING: IrqSlot<&'static mut [u8]> = IrqSlot::new();

/// `p`, passed through an empty `asm!`: the compiler can assume nothing
/// about what the memory behind it holds (RAM a reset kept, not a value
/// it initialised).
fn launder<T>(mut p: *mut T) -> *mut T {
    // SAFETY: the asm does nothing; it only hides the pointer's origin.
    unsafe { core::arch::asm!("/* {0} */", inout(reg) p, options(nostack, preserves_flags)) };
    p
}

#[derive(Serialize)]
struct Reading {
    #[serde(rename = "type")]
    kind: &'static str,
    boot: u32,
    seq: u32,
}

#[derive(Serialize)]
struct Panicked {
    #[serde(rename = "type")]
    kind: &'static str,
    boot: u32,
}

const UART0: usize = 0x4000_4000;
struct Uart;
impl embedded_io::ErrorType for Uart {
    type Error = core::convert::Infallible;
}
impl embedded_io::Write for Uart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        for &b in buf {
            // SAFETY: UART0's STATE (bit 0: TX full) and DATA registers.
            unsafe {
                while core::ptr::read_volatile((UART0 + 0x4) as *const u32) & 1 != 0 {}
                core::ptr::write_volatile(UART0 as *mut u32, b as u32);
            }
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}
impl Stream for Uart {}

struct Dial;
impl Connector for Dial {
    type Stream = Uart;
    fn connect(&mut self, _to: ServerAddr<'_>) -> Result<Uart, NetError> {
        // SAFETY: UART0's CTRL register; bit 0 enables TX.
        unsafe { core::ptr::write_volatile((UART0 + 0x8) as *mut u32, 1) };
        Ok(Uart)
    }
}

fn report(boot: u32, seq: u32) {
    let enc = CONFIG.encoder();
    let r = Reading {
        kind: ["temperature", "humidity", "pressure"][(seq % 3) as usize],
        boot,
        seq,
    };
    let ok = RING.push(&CONFIG, |out| {
        enc.encode_value(&r, NO_META, &Stamp::default(), out)
    });
    if ok.is_err() {
        heprintln!("boot {}: reading {} refused", boot, seq);
    }
}

#[entry]
fn main() -> ! {
    let boot_rec = launder(addr_of_mut!(BOOT) as *mut [u32; 2]);
    // SAFETY: BOOT is this program's own static, reached only here, before
    // any interrupt is enabled; any bit pattern is a valid [u32; 2].
    let [magic, boots] = unsafe { core::ptr::read_volatile(boot_rec) };
    let boot = if magic == MAGIC { boots + 1 } else { 1 };
    // SAFETY: as above.
    unsafe { core::ptr::write_volatile(boot_rec, [MAGIC, boot]) };
    let store = launder(addr_of_mut!(STORE) as *mut u8);
    // SAFETY: STORE is this program's own static, and this is its only
    // reference, for the program's life; `launder` makes the compiler take
    // its bytes as the RAM holds them (any bit pattern is a valid u8).
    let bytes: &'static mut [u8] = unsafe { core::slice::from_raw_parts_mut(store, STORE_BYTES) };
    let ring = if boot == 1 {
        heprintln!("boot 1: cold start, new ring");
        Ring::format(bytes).ok()
    } else {
        match Ring::recover(bytes) {
            Ok((ring, rec)) => {
                heprintln!(
                    "boot {}: recovered {} damaged {} damaged_bytes {}",
                    boot,
                    rec.records,
                    rec.damaged,
                    rec.damaged_bytes
                );
                Some(ring)
            }
            Err(_) => None,
        }
    };
    let Some(ring) = ring else {
        heprintln!("boot {}: no ring", boot);
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi();
        }
    };
    RING.install(ring);
    match boot {
        1 => {
            for seq in 0..BOOT1_EVENTS {
                report(1, seq);
            }
            heprintln!("boot 1: reported {}, resetting", BOOT1_EVENTS);
            SCB::sys_reset();
        }
        2 => {
            for seq in 0..BOOT2_EVENTS {
                report(2, seq);
            }
            heprintln!("boot 2: reported {}, panicking", BOOT2_EVENTS);
            panic!("sensor fault");
        }
        _ => {}
    }
    // Boot 3: send everything the resets kept.
    let want = (BOOT1_EVENTS + BOOT2_EVENTS + 1) as u64;
    let recovered = RING.with(|r| r.stats().recovered).unwrap_or(0);
    let mut driver = Driver::new(&CONFIG, Dial, 0x5eed);
    let mut t = 0u64;
    while RING.with(|r| r.unsent_records()).unwrap_or(1) > 0 && t < 10_000 {
        driver.poll(Instant::from_millis(t), &RING);
        t += 1;
    }
    let s = RING.with(|r| r.stats()).unwrap_or_default();
    heprintln!(
        "warm_reset: boot {} recovered {} unsent {} sent {}",
        boot,
        recovered,
        s.unsent,
        s.sent
    );
    let ok = boot == 3 && recovered == want && s.unsent == 0 && s.sent == want;
    debug::exit(if ok {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // The last word before the reset, into the ring the reset keeps.
    let enc = CONFIG.encoder();
    let ev = Panicked {
        kind: "panic",
        boot: 2,
    };
    let ok = RING.push(&CONFIG, |out| {
        enc.encode_value(&ev, NO_META, &Stamp::default(), out)
    });
    heprintln!("panic handler: reported {}, resetting", ok.is_ok());
    SCB::sys_reset();
}
