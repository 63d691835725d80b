//! Landmarks in the user list, so a SCIM page deep in the list need not step over every row before it.
//!
//! redb cannot seek to the n-th row: reaching `startIndex` 50,000 meant stepping over 50,000 user rows, and with
//! the store's small page cache most of those pages come from the OS page cache one read at a time (12 ms
//! measured by `benches/scim.rs` against a 5 ms target). Every page request records, as it steps, the key of
//! every `STEP`-th row; a later request starts from the nearest landmark at or before its offset, so it steps
//! over fewer than `STEP` rows. Identity providers walking the list a page after another (Okta's imports) reach
//! each page the same way.
//!
//! Landmarks are right for the key set they were taken from, and for that set with rows added: users get fresh
//! ids from a monotonic generator (`ids.rs`), so a new user lands after every landmark and moves none. They carry
//! the set's print, the row count and the last key. When the print has changed, they are kept only if the rows
//! after the old last key account for the whole change in count (users were only added: what identity providers
//! mostly do); a removed user would shift every landmark after it, so then they are dropped. An update of a user
//! changes neither the set nor the order.

/// Rows between two landmarks.
const STEP: usize = 128;

/// What identifies the user key set landmarks were taken from.
pub(super) type Print = (u64, Option<[u8; 16]>);

#[derive(Debug, Clone, Default)]
pub(super) struct Landmarks {
    print: Print,
    /// `keys[i]`: the key of the row at ordinal `(i + 1) * STEP - 1` (the last row before ordinal `(i + 1) * STEP`).
    keys: Vec<[u8; 16]>,
}

impl Landmarks {
    /// Landmarks for the key set printed `print`: these, when that set is theirs or theirs with rows added after
    /// its last key (`added_after(last)` counts those, `None` when it cannot tell), or none.
    pub fn for_print(self, print: Print, added_after: impl FnOnce(Option<[u8; 16]>) -> Option<u64>) -> Self {
        if self.print == print {
            return self;
        }
        let only_added = print.0 >= self.print.0 && added_after(self.print.1) == Some(print.0 - self.print.0);
        if only_added { Self { print, keys: self.keys } } else { Self { print, keys: Vec::new() } }
    }

    /// Where to start stepping towards `offset`: the ordinal of the first row to read and the key just before it
    /// (`None`: from the first row).
    pub fn start_for(&self, offset: usize) -> (usize, Option<[u8; 16]>) {
        let block = (offset / STEP).min(self.keys.len());
        match block {
            0 => (0, None),
            b => (b * STEP, Some(self.keys[b - 1])),
        }
    }

    /// Notes the row at `ordinal` (rows are noted in order, from a start `start_for` gave).
    pub fn note(&mut self, ordinal: usize, key: [u8; 16]) {
        if (ordinal + 1).is_multiple_of(STEP) && (ordinal + 1) / STEP == self.keys.len() + 1 {
            self.keys.push(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: usize) -> [u8; 16] {
        (n as u128).to_be_bytes()
    }

    #[test]
    fn a_walk_leaves_landmarks_that_later_offsets_start_from() {
        let mut marks = Landmarks::default().for_print((1000, Some(key(999))), |_| None);
        assert_eq!(marks.start_for(700), (0, None), "nothing noted yet: from the first row");
        for n in 0..700 {
            marks.note(n, key(n));
        }
        assert_eq!(marks.start_for(700), (640, Some(key(639))));
        assert_eq!(marks.start_for(100), (0, None));
        assert_eq!(marks.start_for(300), (256, Some(key(255))));
        assert_eq!(marks.start_for(5000), (640, Some(key(639))), "past the noted part: from its end");
        // A second walk noting rows already noted adds nothing twice.
        for n in 256..800 {
            marks.note(n, key(n));
        }
        assert_eq!(marks.start_for(800), (768, Some(key(767))));
        let same = marks.clone().for_print((1000, Some(key(999))), |_| unreachable!("the same print"));
        assert_eq!(same.start_for(800), (768, Some(key(767))));
        let grown = marks.clone().for_print((1002, Some(key(1001))), |after| (after == Some(key(999))).then_some(2));
        assert_eq!(grown.start_for(800), (768, Some(key(767))), "two rows added after the last: kept");
        let changed = marks.for_print((1001, Some(key(1001))), |_| Some(2));
        assert_eq!(changed.start_for(800), (0, None), "two added but one gone: forgotten");
    }
}
