//! QuickXorHash, the only content hash SharePoint and OneDrive for Business report (`file.hashes.quickXorHash`).
//!
//! The algorithm (GRAPH.md section 5): a 160-bit register starts at zero. The byte at absolute position `i` is
//! XORed into the register starting at bit `(11 * i) mod 160`, wrapping from bit 159 to bit 0. At the end the
//! register is laid out little-endian as 20 bytes, the total length (64-bit little-endian) is XORed into bytes
//! 12..20, and the result is base64 encoded (28 characters). Only the absolute position matters, so feeding the
//! input in chunks of any size gives the same hash as one buffer.
//!
//! Self-contained (std and base64 only) because the connector and the Graph emulator share this file.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const WIDTH_BITS: u64 = 160;
const SHIFT: u64 = 11;

/// A streaming QuickXorHash.
#[derive(Debug, Clone, Default)]
pub struct QuickXorHash {
    /// The register, bit `b` of the hash being bit `b % 8` of byte `b / 8`.
    register: [u8; 20],
    /// Bytes seen so far: the position of the next byte, and the length folded in at the end.
    length: u64,
}

impl QuickXorHash {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed more input. The 160-bit rotation repeats every 160 bytes (11 * 160 is a multiple of 160), so each
    /// byte's bit offset is computed from its absolute position without keeping any other state.
    pub fn update(&mut self, data: &[u8]) {
        for &byte in data {
            let bit = (self.length % WIDTH_BITS) * SHIFT % WIDTH_BITS;
            self.xor_byte_at(bit as usize, byte);
            self.length = self.length.wrapping_add(1);
        }
    }

    /// XOR one byte into the register starting at `bit`, splitting it across the wrap at bit 159.
    fn xor_byte_at(&mut self, bit: usize, byte: u8) {
        let index = bit / 8;
        let offset = bit % 8;
        let widened = u16::from(byte) << offset;
        self.register[index] ^= (widened & 0xff) as u8;
        let high = (widened >> 8) as u8;
        if high != 0 {
            // The spill goes to the next register byte, which is byte 0 after byte 19.
            self.register[(index + 1) % self.register.len()] ^= high;
        }
    }

    /// The 20 raw hash bytes.
    pub fn finish_bytes(&self) -> [u8; 20] {
        let mut out = self.register;
        for (slot, len_byte) in out[12..].iter_mut().zip(self.length.to_le_bytes()) {
            *slot ^= len_byte;
        }
        out
    }

    /// The hash as Graph reports it: standard base64 with padding.
    pub fn finish(&self) -> String {
        STANDARD.encode(self.finish_bytes())
    }
}

/// The QuickXorHash of a whole buffer.
pub fn quick_xor_hash(data: &[u8]) -> String {
    let mut hash = QuickXorHash::new();
    hash.update(data);
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// rclone's published table (input base64 -> hash), as quoted in GRAPH.md section 5.
    const VECTORS: &[(&str, &str)] = &[
        ("", "AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
        ("Sg==", "SgAAAAAAAAAAAAAAAQAAAAAAAAA="),
        ("tbQ=", "taAFAAAAAAAAAAAAAgAAAAAAAAA="),
        ("2fuxhBJXtpWFe8dOfdGeHw==", "O9tHLAghgSvYohKFyMMxnNCHaHg="),
        ("DWAAX5/CIfrmErgZa8ot6ZraeSbu", "LR2Z0PjuRYGKQB/mhQAuMrAGZbQ="),
    ];

    #[test]
    fn matches_the_published_vectors() {
        for (input, expected) in VECTORS {
            let bytes = STANDARD.decode(input).expect("vector input is base64");
            assert_eq!(quick_xor_hash(&bytes), *expected, "input {input}");
        }
    }

    #[test]
    fn matches_the_derived_vectors() {
        assert_eq!(quick_xor_hash(b"hello world"), "aCgDG9jwBhDc4Q1yawMZAAAAAAA=");
        assert_eq!(quick_xor_hash(&vec![0u8; 1 << 20]), "AAAAAAAAAAAAAAAAAAAQAAAAAAA=");
    }

    #[test]
    fn chunked_input_hashes_like_one_buffer() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let whole = quick_xor_hash(&data);
        for chunk in [1, 3, 19, 20, 160, 161, 999] {
            let mut hash = QuickXorHash::new();
            for part in data.chunks(chunk) {
                hash.update(part);
            }
            assert_eq!(hash.finish(), whole, "chunk size {chunk}");
        }
    }
}
