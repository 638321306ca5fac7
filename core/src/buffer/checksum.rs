//! CRC-32 (IEEE, the one zlib and gzip use) for the durable ring's seals.
//!
//! On hosts crc32fast (carry-less multiply where the CPU has it, 10-20x a
//! table loop on a 200-byte record); elsewhere (Wasm, microcontrollers) a
//! 16-entry table, 64 bytes of flash instead of crc32fast's 16 KiB tables.
//! (Miri runs the table loop: it does not model crc32fast's intrinsics.)
//! Both give the same value: a ring written on one can be read by the other.

/// The CRC-32 of `crc`'s bytes followed by `bytes` (`crc` = 0 for none).
#[inline]
pub(crate) fn update(crc: u32, bytes: &[u8]) -> u32 {
    #[cfg(all(any(target_arch = "x86_64", target_arch = "aarch64"), not(miri)))]
    {
        let mut h = crc32fast::Hasher::new_with_initial(crc);
        h.update(bytes);
        h.finalize()
    }
    #[cfg(any(not(any(target_arch = "x86_64", target_arch = "aarch64")), miri))]
    {
        update_small(crc, bytes)
    }
}

const POLY: u32 = 0xEDB8_8320;

const NIBBLES: [u32; 16] = {
    let mut t = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 4 {
            c = if c & 1 == 1 { POLY ^ (c >> 1) } else { c >> 1 };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// The portable CRC: two 16-entry table steps per byte.
#[cfg_attr(any(target_arch = "x86_64", target_arch = "aarch64"), allow(dead_code))]
pub(crate) fn update_small(crc: u32, bytes: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in bytes {
        c ^= b as u32;
        c = NIBBLES[(c & 15) as usize] ^ (c >> 4);
        c = NIBBLES[(c & 15) as usize] ^ (c >> 4);
    }
    !c
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_agree_and_chain() {
        // The check value of CRC-32/ISO-HDLC.
        assert_eq!(super::update_small(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(super::update(0, b"123456789"), 0xCBF4_3926);
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for cut in [0, 1, 63, 150, 300] {
            let whole = super::update(0, &data);
            let chained = super::update(super::update(0, &data[..cut]), &data[cut..]);
            assert_eq!(whole, chained);
            assert_eq!(whole, super::update_small(0, &data));
        }
    }
}
