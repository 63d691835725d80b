//! Just enough NDR20 (DCE/RPC transfer syntax, little-endian) for the LSA calls we make:
//! aligned primitives, unique-pointer referent ids, conformant and conformant-varying arrays,
//! `RPC_UNICODE_STRING` and `RPC_SID`.
//!
//! Alignment is relative to the start of the stub data, which is where both the writer and the
//! reader start. Nothing here knows about sockets or pipes.

use super::{LsaError, Sid};

/// Builds NDR20 stub data.
#[derive(Debug, Default)]
pub struct NdrWriter {
    buf: Vec<u8>,
    next_referent: u32,
}

impl NdrWriter {
    pub fn new() -> Self {
        NdrWriter {
            buf: Vec::new(),
            // Any non-zero value works; Windows starts at 0x00020000 and counts in fours.
            next_referent: 0x0002_0000,
        }
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn align(&mut self, n: usize) {
        while !self.buf.len().is_multiple_of(n) {
            self.buf.push(0);
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// A non-null unique pointer: writes a fresh referent id (the pointee follows later).
    pub fn referent(&mut self) {
        let id = self.next_referent;
        self.next_referent += 4;
        self.u32(id);
    }

    pub fn null_pointer(&mut self) {
        self.u32(0);
    }

    /// The fixed part of an `RPC_UNICODE_STRING` (Length, MaximumLength, Buffer pointer); the
    /// characters go later with [`NdrWriter::unicode_string_body`].
    pub fn unicode_string_head(&mut self, s: &[u16]) -> Result<(), LsaError> {
        let bytes = u16::try_from(s.len() * 2).map_err(|_| LsaError::TooLong)?;
        self.u16(bytes);
        self.u16(bytes);
        self.referent();
        Ok(())
    }

    /// The deferred characters of an `RPC_UNICODE_STRING`: conformant-varying, no terminator.
    pub fn unicode_string_body(&mut self, s: &[u16]) {
        let n = s.len() as u32;
        self.u32(n); // maximum count
        self.u32(0); // offset
        self.u32(n); // actual count
        for c in s {
            self.buf.extend_from_slice(&c.to_le_bytes());
        }
    }

    /// An `RPC_SID` as a pointee: conformance (sub-authority count) first, then the struct.
    pub fn sid(&mut self, sid: &Sid) {
        self.u32(sid.sub_authorities.len() as u32);
        self.u8(sid.revision);
        self.u8(sid.sub_authorities.len() as u8);
        self.bytes(&sid.authority.to_be_bytes()[2..]);
        for s in &sid.sub_authorities {
            self.u32(*s);
        }
    }
}

/// Reads NDR20 stub data, failing with `LsaError::Malformed` on anything short or absurd.
#[derive(Debug)]
pub struct NdrReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> NdrReader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        NdrReader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], LsaError> {
        let end = self.pos.checked_add(n).ok_or(LsaError::Malformed("length overflow"))?;
        let s = self.buf.get(self.pos..end).ok_or(LsaError::Malformed("stub data ends early"))?;
        self.pos = end;
        Ok(s)
    }

    pub fn align(&mut self, n: usize) -> Result<(), LsaError> {
        let pad = (n - self.pos % n) % n;
        self.take(pad).map(|_| ())
    }

    pub fn u8(&mut self) -> Result<u8, LsaError> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, LsaError> {
        self.align(2)?;
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, LsaError> {
        self.align(4)?;
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], LsaError> {
        self.take(n)
    }

    /// A count that sizes what follows; refused when more elements of `min_size` bytes are
    /// announced than the data could hold (a corrupt count must not allocate gigabytes).
    pub fn count(&mut self, min_size: usize) -> Result<usize, LsaError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size.max(1)) > self.remaining() {
            return Err(LsaError::Malformed("count larger than the data"));
        }
        Ok(n)
    }

    /// The fixed part of an `RPC_UNICODE_STRING`: (length in bytes, has buffer).
    pub fn unicode_string_head(&mut self) -> Result<(u16, bool), LsaError> {
        let len = self.u16()?;
        let _max = self.u16()?;
        let ptr = self.u32()?;
        Ok((len, ptr != 0))
    }

    /// The deferred characters of an `RPC_UNICODE_STRING` (conformant-varying array).
    pub fn unicode_string_body(&mut self) -> Result<String, LsaError> {
        let _max = self.u32()?;
        // Only the `actual` elements are on the wire, whatever the offset says.
        let _offset = self.u32()?;
        let actual = self.u32()? as usize;
        let raw = self.bytes(actual.checked_mul(2).ok_or(LsaError::Malformed("string length"))?)?;
        let units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        // Servers may include a terminator in the count.
        let trimmed = units.strip_suffix(&[0]).unwrap_or(&units);
        Ok(String::from_utf16_lossy(trimmed))
    }

    /// An `RPC_SID` pointee.
    pub fn sid(&mut self) -> Result<Sid, LsaError> {
        let count = self.u32()? as usize;
        let revision = self.u8()?;
        let n = self.u8()? as usize;
        if n != count || n > 15 {
            return Err(LsaError::Malformed("SID sub-authority count"));
        }
        let a = self.bytes(6)?;
        let authority = u64::from_be_bytes([0, 0, a[0], a[1], a[2], a[3], a[4], a[5]]);
        let mut sub_authorities = Vec::with_capacity(n);
        for _ in 0..n {
            sub_authorities.push(self.u32()?);
        }
        Ok(Sid { revision, authority, sub_authorities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_are_aligned_to_their_size() {
        let mut w = NdrWriter::new();
        w.u8(1);
        w.u16(0x0203);
        w.u8(4);
        w.u32(0x0506_0708);
        assert_eq!(w.into_bytes(), [1, 0, 3, 2, 4, 0, 0, 0, 8, 7, 6, 5]);
    }

    #[test]
    fn a_sid_is_written_with_its_conformance_first() {
        let sid: Sid = "S-1-5-21-1-2-3-1000".parse().expect("sid");
        let mut w = NdrWriter::new();
        w.sid(&sid);
        let bytes = w.into_bytes();
        assert_eq!(&bytes[..12], &[5, 0, 0, 0, 1, 5, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&bytes[12..16], &21u32.to_le_bytes());
        assert_eq!(&bytes[28..32], &1000u32.to_le_bytes());
        assert_eq!(NdrReader::new(&bytes).sid().expect("read"), sid);
    }

    #[test]
    fn unicode_strings_round_trip_and_drop_a_terminator() {
        let s: Vec<u16> = "Grüße".encode_utf16().collect();
        let mut w = NdrWriter::new();
        w.unicode_string_head(&s).expect("head");
        w.unicode_string_body(&s);
        let bytes = w.into_bytes();
        let mut r = NdrReader::new(&bytes);
        assert_eq!(r.unicode_string_head().expect("head"), (10, true));
        assert_eq!(r.unicode_string_body().expect("body"), "Grüße");

        let mut w = NdrWriter::new();
        w.unicode_string_body(&[b'a' as u16, 0]);
        assert_eq!(NdrReader::new(&w.into_bytes()).unicode_string_body().expect("body"), "a");
    }

    #[test]
    fn short_or_absurd_data_is_malformed_not_a_panic() {
        assert!(NdrReader::new(&[1, 2]).u32().is_err());
        let mut r = NdrReader::new(&[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        assert!(r.count(4).is_err());
        let bad_sid = [1, 0, 0, 0, 1, 9, 0, 0, 0, 0, 0, 5];
        assert!(NdrReader::new(&bad_sid).sid().is_err());
    }
}
