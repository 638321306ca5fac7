//! The board under the firmware: its UART (the collector link) and its
//! 1 ms tick, for the two machines QEMU emulates that we run on. `build.rs`
//! picks the board from the target: `thumbv7em-none-eabihf` is the
//! `mps2-an386` (Cortex-M4F), `thumbv6m-none-eabi` the BBC `microbit`
//! (nRF51822, Cortex-M0).
//!
//! The SDK firmware (`main.rs`) and its baseline (`bin/baseline.rs`, the
//! same program without the SDK calls) share this file, so the flash the
//! SDK costs is the difference of the two.

use cortex_m::peripheral::syst::SystClkSource;

/// The core clock, Hz.
#[cfg(board = "mps2")]
const CORE_HZ: u32 = 25_000_000;
#[cfg(board = "microbit")]
const CORE_HZ: u32 = 16_000_000;

/// Writes one byte to the UART, waiting while it is busy.
#[cfg(board = "mps2")]
pub fn put(b: u8) {
    // CMSDK APB UART0.
    const UART0: usize = 0x4000_4000;
    // SAFETY: UART0's STATE (bit 0: TX full) and DATA registers.
    unsafe {
        while core::ptr::read_volatile((UART0 + 0x4) as *const u32) & 1 != 0 {}
        core::ptr::write_volatile(UART0 as *mut u32, b as u32);
    }
}

/// Writes one byte to the UART, waiting until it has gone.
#[cfg(board = "microbit")]
pub fn put(b: u8) {
    const UART0: usize = 0x4000_2000;
    // SAFETY: the nRF51 UART's TXD and EVENTS_TXDRDY registers.
    unsafe {
        core::ptr::write_volatile((UART0 + 0x51C) as *mut u32, b as u32);
        while core::ptr::read_volatile((UART0 + 0x11C) as *const u32) == 0 {}
        core::ptr::write_volatile((UART0 + 0x11C) as *mut u32, 0);
    }
}

/// Turns the UART's transmitter on.
pub fn enable_uart() {
    #[cfg(board = "mps2")]
    // SAFETY: UART0's CTRL register on this machine; bit 0 enables TX.
    unsafe {
        core::ptr::write_volatile(0x4000_4008 as *mut u32, 1)
    };
    #[cfg(board = "microbit")]
    // SAFETY: the nRF51 UART's ENABLE (4: on) and TASKS_STARTTX registers.
    unsafe {
        core::ptr::write_volatile(0x4000_2500 as *mut u32, 4);
        core::ptr::write_volatile(0x4000_2008 as *mut u32, 1);
    }
}

/// Starts the SysTick exception every millisecond. (The nRF51 silicon has
/// no SysTick and would take its tick from RTC0; QEMU's microbit models
/// the Cortex-M0's optional SysTick, which this test uses.)
pub fn start_ticks(syst: &mut cortex_m::peripheral::SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(CORE_HZ / 1000 - 1);
    syst.clear_current();
    syst.enable_counter();
    syst.enable_interrupt();
}

/// Decimal digits of `v`.
pub fn digits(mut v: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Writes `firmware: label1 v1 label2 v2 ...` and a newline to the host's
/// stderr (semihosting), apart from the records on the UART. Numbers by
/// hand: `core::fmt` costs 2+ KiB of flash.
pub fn summary(fields: &[(&str, u32)]) {
    if let Ok(mut e) = cortex_m_semihosting::hio::hstderr() {
        let mut line = [0u8; 128];
        let mut n = 0;
        for &(label, v) in fields {
            for &b in label.as_bytes().iter().chain(digits(v, &mut [0u8; 10])) {
                if n < line.len() - 1 {
                    line[n] = b;
                    n += 1;
                }
            }
        }
        line[n] = b'\n';
        let _ = e.write_all(&line[..=n]);
    }
}

/// Ends the emulation with the given outcome (semihosting).
pub fn exit(ok: bool) -> ! {
    cortex_m_semihosting::debug::exit(if ok {
        cortex_m_semihosting::debug::EXIT_SUCCESS
    } else {
        cortex_m_semihosting::debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

extern "C" {
    /// cortex-m-rt: the end of `.bss` and `.uninit` (the stack's floor).
    static mut __sheap: u32;
    /// cortex-m-rt: the top of the stack.
    static _stack_start: u32;
}
const PAINT: u32 = 0xA1A1_A1A1;

/// Fills the stack below the caller's frame (less a margin for this call)
/// with a pattern, so that [`stack_used`] can find how deep it went.
#[inline(never)]
pub fn paint_stack() {
    let floor = core::ptr::addr_of_mut!(__sheap);
    let here = cortex_m::register::msp::read() as usize - 64;
    let mut p = floor;
    while (p as usize) < here {
        // SAFETY: words between the end of .bss/.uninit and (below) the
        // current stack pointer: free stack, used by nothing yet.
        unsafe { core::ptr::write_volatile(p, PAINT) };
        p = p.wrapping_add(1);
    }
}

/// The most stack used since [`paint_stack`], in bytes: from the top of the
/// stack down to the lowest word no longer holding the pattern.
pub fn stack_used() -> u32 {
    let floor = core::ptr::addr_of_mut!(__sheap);
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = floor;
    // SAFETY: reads of the free stack painted by `paint_stack`, below the
    // current stack pointer.
    while (p as usize) < top && unsafe { core::ptr::read_volatile(p) } == PAINT {
        p = p.wrapping_add(1);
    }
    (top - p as usize) as u32
}
