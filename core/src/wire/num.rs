//! Decimal digits and 64-bit division, small on 32-bit devices.
//!
//! A Cortex-M has no 64-bit divide: `u64 / u64` links about 900 bytes of
//! `compiler_builtins`, and `itoa` a 200-byte table. On `arm` the SDK
//! divides a `u64` by a 16-bit number in 16-bit steps with 32-bit
//! divisions and writes digits with a plain loop; a Wasm guest divides
//! natively, one digit at a time (size first); hosts (where speed counts)
//! use `/` and `itoa`.

/// `(n / d, n % d)` for `d > 0`.
#[inline]
pub(crate) fn div_rem(n: u64, d: u16) -> (u64, u32) {
    #[cfg(target_arch = "arm")]
    return div_rem_steps(n, d);
    #[cfg(not(target_arch = "arm"))]
    return (n / d as u64, (n % d as u64) as u32);
}

/// Long division in 16-bit digits: each step divides a value below
/// `d << 16` (fits in 32 bits) by `d`.
#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
fn div_rem_steps(n: u64, d: u16) -> (u64, u32) {
    let d = d.max(1) as u32;
    let (mut q, mut r) = (0u64, 0u32);
    // (Its 16-bit digits by constant shifts: no 64-bit shift call.)
    let (hi, lo) = ((n >> 32) as u32, n as u32);
    for digit in [hi >> 16, hi & 0xffff, lo >> 16, lo & 0xffff] {
        let cur = (r << 16) | digit;
        q = (q << 16) | (cur / d) as u64;
        r = cur % d;
    }
    (q, r)
}

/// The decimal digits of `v` (at most 20), at the end of `buf`.
#[cfg_attr(not(any(target_family = "wasm", target_os = "none")), inline(always))]
pub(crate) fn decimal(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    #[cfg(not(any(target_arch = "arm", target_family = "wasm")))]
    {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        let at = buf.len() - s.len();
        buf[at..].copy_from_slice(s);
        &buf[at..]
    }
    #[cfg(target_arch = "arm")]
    {
        decimal_loop(v, buf)
    }
    #[cfg(target_family = "wasm")]
    {
        digits(v, buf)
    }
}

/// The decimal digits of `v` by 64-bit division, one at a time: a Wasm
/// guest divides natively and puts size first (no `itoa` code or table).
#[cfg_attr(not(target_family = "wasm"), allow(dead_code))]
fn digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    while i > 0 {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg_attr(not(target_arch = "arm"), allow(dead_code))]
fn decimal_loop(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    // Above 32 bits: four digits per 64-bit step.
    while v > u32::MAX as u64 && i >= 4 {
        let (q, mut r) = div_rem_steps(v, 10_000);
        v = q;
        for _ in 0..4 {
            i -= 1;
            buf[i] = b'0' + (r % 10) as u8;
            r /= 10;
        }
    }
    let mut w = v as u32;
    while i > 0 {
        i -= 1;
        buf[i] = b'0' + (w % 10) as u8;
        w /= 10;
        if w == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::string::ToString;

    #[test]
    fn edges() {
        for v in [
            0,
            9,
            10,
            4_294_967_295,
            4_294_967_296,
            10_000_000_000,
            u64::MAX,
        ] {
            let (mut b, want) = ([0u8; 20], v.to_string());
            assert_eq!(decimal_loop(v, &mut b), want.as_bytes());
            assert_eq!(digits(v, &mut [0u8; 20]), want.as_bytes());
            assert_eq!(decimal(v, &mut [0u8; 20]), want.as_bytes());
        }
        assert_eq!(div_rem_steps(u64::MAX, 1), (u64::MAX, 0));
        assert_eq!(
            div_rem_steps(u64::MAX, 65535),
            (u64::MAX / 65535, (u64::MAX % 65535) as u32)
        );
    }

    proptest! {
        #[test]
        fn steps_divide_like_the_hardware(n in any::<u64>(), d in 1u16..) {
            prop_assert_eq!(div_rem_steps(n, d), (n / d as u64, (n % d as u64) as u32));
            prop_assert_eq!(div_rem(n, d), (n / d as u64, (n % d as u64) as u32));
        }

        #[test]
        fn digits_like_std(v in any::<u64>()) {
            let (mut b, want) = ([0u8; 20], v.to_string());
            prop_assert_eq!(decimal_loop(v, &mut b), want.as_bytes());
            let mut d = [0u8; 20];
            prop_assert_eq!(digits(v, &mut d), want.as_bytes());
        }
    }
}
