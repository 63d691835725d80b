//! Monotonic ids for the drive's own records.
//!
//! `Ulid::new()` orders ids by millisecond only; within one millisecond the order is random. The drive needs more:
//! versions are listed newest first by id, and ids made in one batch should land at the end of their B-tree in
//! order, which keeps redb's pages full (random order split them half empty: 30-40% more file per entry). One
//! process-wide monotonic generator gives both. (`crate::ids` could adopt this for every kind; see the report.)

use std::sync::Mutex;

use ulid::{Generator, Ulid};

static GENERATOR: Mutex<Generator> = Mutex::new(Generator::new());

/// The next id, greater than every id this function returned before in this process.
pub fn next() -> [u8; 16] {
    let mut generator = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    // `generate` fails only when 2^80 ids were made in one millisecond; a plain ULID is then still unique.
    generator.generate().unwrap_or_else(|_| Ulid::new()).to_bytes()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_made_in_a_burst_come_out_in_order() {
        let ids: Vec<_> = (0..10_000).map(|_| super::next()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
