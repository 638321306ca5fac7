//! Per-event stamps: the wall-clock report time and the random `@uuid` the
//! driver injects into each record ([`Stamp`]), and their text: ISO 8601
//! with milliseconds, UUID version 4.

use core::panic::Location;

/// Milliseconds since the Unix epoch (UTC), from the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnixMillis(pub u64);

#[cfg(feature = "std")]
impl UnixMillis {
    /// The system's wall clock (feature `std`); 0 before 1970.
    pub fn now() -> Self {
        Self::from_system(std::time::SystemTime::now())
    }

    /// `t` in milliseconds since the Unix epoch (feature `std`); 0 before 1970.
    pub fn from_system(t: std::time::SystemTime) -> Self {
        let t = t.duration_since(std::time::SystemTime::UNIX_EPOCH);
        UnixMillis(t.map_or(0, |d| d.as_secs() * 1000 + d.subsec_millis() as u64))
    }
}

/// Per-event facts the core cannot find out itself: injected by the driver.
///
/// `time` and `uuid` are written only with the crate feature `stamps`
/// (default; about 1.5 KiB of flash): firmware without a wall clock or a
/// random source can leave it out.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stamp {
    /// Wall-clock report time; omitted from the record when `None`.
    pub time: Option<UnixMillis>,
    /// 16 random bytes for `@uuid` (made a version-4 UUID); omitted when `None`.
    pub uuid: Option<[u8; 16]>,
    /// Where `report` was called (from `#[track_caller]`); omitted when `None`.
    pub location: Option<&'static Location<'static>>,
}

/// `report_time`'s text for `t`.
#[cfg(feature = "stamps")]
#[inline]
pub(crate) fn time_text(t: UnixMillis) -> [u8; 24] {
    #[cfg(feature = "std")]
    {
        // The same second as this thread's last record: only the
        // milliseconds change.
        std::thread_local! {
            static LAST: core::cell::Cell<(u64, [u8; 24])> =
                const { core::cell::Cell::new((u64::MAX, [0; 24])) };
        }
        let secs = t.0 / 1000;
        let (s, mut text) = LAST.get();
        if s != secs {
            text = iso8601(t);
            LAST.set((secs, text));
        }
        let ms = (t.0 % 1000) as usize;
        text[20..22].copy_from_slice(&DIGITS2[ms / 10]);
        text[22] = b'0' + (ms % 10) as u8;
        text
    }
    #[cfg(not(feature = "std"))]
    iso8601(t)
}

/// `@uuid`'s text for 16 random bytes.
#[cfg(feature = "stamps")]
pub(crate) fn uuid_text(u: [u8; 16]) -> [u8; 36] {
    uuid_v4(u)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`
#[cfg(feature = "stamps")]
fn iso8601(t: UnixMillis) -> [u8; 24] {
    let ms = (t.0 % 1000) as usize;
    let secs = t.0 / 1000;
    let days = secs / 86_400;
    let sod = (secs % 86_400) as usize;
    let (y, m, d) = civil_from_days(days as i64);
    let y = y.clamp(0, 9999) as usize;
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, v: usize| b[at..at + 2].copy_from_slice(&DIGITS2[v]);
    put(0, y / 100);
    put(2, y % 100);
    put(5, m as usize);
    put(8, d as usize);
    put(11, sod / 3600);
    put(14, sod / 60 % 60);
    put(17, sod % 60);
    put(20, ms / 10);
    b[22] = b'0' + (ms % 10) as u8;
    b
}

/// `"00"` to `"99"`.
#[cfg(feature = "stamps")]
const DIGITS2: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

/// `byte` as two lowercase hex digits: from a 512-byte table on hosts,
/// from nibbles in guests and devices (size first).
#[cfg(feature = "stamps")]
#[inline(always)]
fn hex2(byte: u8) -> [u8; 2] {
    #[cfg(not(any(target_family = "wasm", target_os = "none")))]
    {
        HEX2[byte as usize]
    }
    #[cfg(any(target_family = "wasm", target_os = "none"))]
    hex2_nibbles(byte)
}

/// `byte` as two lowercase hex digits, one nibble at a time.
#[cfg(all(
    feature = "stamps",
    any(test, target_family = "wasm", target_os = "none")
))]
#[inline(always)]
fn hex2_nibbles(byte: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    [HEX[(byte >> 4) as usize], HEX[(byte & 15) as usize]]
}

/// Each byte as two lowercase hex digits.
#[cfg(all(
    feature = "stamps",
    not(any(target_family = "wasm", target_os = "none"))
))]
const HEX2: [[u8; 2]; 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [HEX[i >> 4], HEX[i & 15]];
        i += 1;
    }
    t
};

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
#[cfg(feature = "stamps")]
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats 16 random bytes as a version-4 UUID.
#[cfg(feature = "stamps")]
fn uuid_v4(mut u: [u8; 16]) -> [u8; 36] {
    /// Where each byte's two digits go (dashes between the groups).
    const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    let mut b = [b'-'; 36];
    for (byte, at) in u.iter().zip(AT) {
        b[at..at + 2].copy_from_slice(&hex2(*byte));
    }
    b
}

#[cfg(all(test, feature = "stamps"))]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_from_nibbles_match_the_table() {
        for b in 0..=255u8 {
            assert_eq!(hex2_nibbles(b), HEX2[b as usize], "{b}");
        }
    }

    #[test]
    fn time_format() {
        assert_eq!(&iso8601(UnixMillis(0)), b"1970-01-01T00:00:00.000Z");
        // 2026-11-26T23:56:15.123Z
        assert_eq!(
            &iso8601(UnixMillis(1_795_737_375_123)),
            b"2026-11-26T23:56:15.123Z"
        );
        assert_eq!(
            &iso8601(UnixMillis(951_782_400_000)),
            b"2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn uuid_format() {
        let s = uuid_v4([0xff; 16]);
        assert_eq!(&s, b"ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
