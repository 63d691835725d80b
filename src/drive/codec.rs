//! A small hand-written binary codec for the drive's redb values.
//!
//! Why hand-written: the records are few and flat, and the 1M-entry budget (under 400 bytes an entry, all
//! indexes included) wants varints, optional fields behind a flag bit, and no field names or padding. A serde
//! format would add a dependency and hide the layout; here every record starts with a version byte, so a later
//! layout can be decoded beside this one (old shapes frozen, as STYLE.md section 6 asks).

use super::error::{DriveError, DriveResult};

/// Appends fields to a record.
#[derive(Default)]
pub struct Enc(Vec<u8>);

impl Enc {
    pub fn new(version: u8) -> Self {
        let mut buf = Vec::with_capacity(96);
        buf.push(version);
        Self(buf)
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.0.push(v);
        self
    }

    /// LEB128: sizes and counts are small most of the time.
    pub fn varint(&mut self, mut v: u64) -> &mut Self {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
        self
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }

    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.0.extend_from_slice(v);
        self
    }

    pub fn str(&mut self, v: &str) -> &mut Self {
        self.varint(v.len() as u64);
        self.0.extend_from_slice(v.as_bytes());
        self
    }

    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }
}

/// Reads fields back in the order they were written; any shortfall is a corrupt record of `table`.
pub struct Dec<'a> {
    buf: &'a [u8],
    pos: usize,
    table: &'static str,
}

impl<'a> Dec<'a> {
    /// Starts decoding and checks the version byte.
    pub fn new(buf: &'a [u8], table: &'static str, version: u8) -> DriveResult<Self> {
        let mut dec = Self { buf, pos: 0, table };
        if dec.u8()? != version {
            return Err(DriveError::Corrupt(table));
        }
        Ok(dec)
    }

    fn take(&mut self, n: usize) -> DriveResult<&'a [u8]> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| DriveError::Corrupt(self.table))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    pub fn u8(&mut self) -> DriveResult<u8> {
        Ok(self.take(1)?[0])
    }

    pub fn varint(&mut self) -> DriveResult<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(DriveError::Corrupt(self.table))
    }

    pub fn i64(&mut self) -> DriveResult<i64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(i64::from_le_bytes(b))
    }

    pub fn arr<const N: usize>(&mut self) -> DriveResult<[u8; N]> {
        let mut b = [0u8; N];
        b.copy_from_slice(self.take(N)?);
        Ok(b)
    }

    pub fn str(&mut self) -> DriveResult<String> {
        let len = usize::try_from(self.varint()?).map_err(|_| DriveError::Corrupt(self.table))?;
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DriveError::Corrupt(self.table))
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_and_truncation_is_corrupt() {
        let bytes = Enc::new(1).varint(300).i64(-5).str("héllo").bytes(&[7; 4]).finish();
        let mut d = Dec::new(&bytes, "t", 1).unwrap();
        assert_eq!(d.varint().unwrap(), 300);
        assert_eq!(d.i64().unwrap(), -5);
        assert_eq!(d.str().unwrap(), "héllo");
        assert_eq!(d.arr::<4>().unwrap(), [7; 4]);
        assert!(Dec::new(&bytes, "t", 2).is_err());
        let mut short = Dec::new(&bytes[..3], "t", 1).unwrap();
        short.varint().unwrap();
        assert!(short.i64().is_err());
    }
}
