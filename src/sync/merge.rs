//! Walks three sorted streams in step (rclone's march): the source listing, the drive listing and the base
//! records, all in [`SyncPath`] order. Each step hands over the entries of one exact path, so memory stays
//! constant whatever the size of the tree. A stream out of order is an error, never a guess: a misordered listing
//! would look like deletes.

use std::cmp::Ordering;

use futures::{Stream, StreamExt};

use super::entry::{BaseRecord, Entry, SideId};
use super::path::SyncPath;
use super::side::SideError;

/// Why the walk could not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the {side} listing failed: {error}")]
    Listing { side: SideId, error: SideError },
    #[error("the file-state records could not be read: {0}")]
    Base(String),
    #[error("the {stream} stream is out of order: '{next}' came after '{previous}'")]
    OutOfOrder { stream: &'static str, previous: SyncPath, next: SyncPath },
}

/// One stream with its next item pulled.
struct Cursor<S, T> {
    stream: S,
    head: Option<T>,
    name: &'static str,
}

trait HasPath {
    fn path(&self) -> &SyncPath;
}

impl HasPath for Entry {
    fn path(&self) -> &SyncPath {
        &self.path
    }
}

impl HasPath for BaseRecord {
    fn path(&self) -> &SyncPath {
        &self.path
    }
}

impl<S, T, E> Cursor<S, T>
where
    S: Stream<Item = Result<T, E>> + Unpin,
    T: HasPath,
{
    /// Pulls the next item, which must sort after `previous` (the item just taken).
    async fn advance(&mut self, previous: Option<&SyncPath>, wrap: impl Fn(E) -> MergeError) -> Result<(), MergeError> {
        self.head = match self.stream.next().await {
            None => None,
            Some(Err(e)) => return Err(wrap(e)),
            Some(Ok(item)) => {
                if let Some(previous) = previous
                    && item.path().cmp(previous) != Ordering::Greater
                {
                    return Err(MergeError::OutOfOrder {
                        stream: self.name,
                        previous: previous.clone(),
                        next: item.path().clone(),
                    });
                }
                Some(item)
            }
        };
        Ok(())
    }
}

fn min_path<'a>(paths: impl Iterator<Item = Option<&'a SyncPath>>) -> Option<&'a SyncPath> {
    paths.flatten().min()
}

fn source_error(error: SideError) -> MergeError {
    MergeError::Listing { side: SideId::Source, error }
}

fn drive_error(error: SideError) -> MergeError {
    MergeError::Listing { side: SideId::Drive, error }
}

fn base_error<BE: std::fmt::Display>(e: BE) -> MergeError {
    MergeError::Base(e.to_string())
}

/// What the three streams hold for one path.
pub type Step = (Option<Entry>, Option<Entry>, Option<BaseRecord>);

/// The walk, one path at a time: a caller may act on what it has seen before pulling the next path (a first
/// sync runs its copies while the listing goes on).
pub struct Merge<SS, DS, BS> {
    s: Cursor<SS, Entry>,
    d: Cursor<DS, Entry>,
    b: Cursor<BS, BaseRecord>,
}

impl<SS, DS, BS, BE> Merge<SS, DS, BS>
where
    SS: Stream<Item = Result<Entry, SideError>> + Unpin,
    DS: Stream<Item = Result<Entry, SideError>> + Unpin,
    BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
    BE: std::fmt::Display,
{
    /// Pulls the first item of each stream.
    pub async fn start(source: SS, drive: DS, base: BS) -> Result<Self, MergeError> {
        let mut merge = Merge {
            s: Cursor { stream: source, head: None, name: "source" },
            d: Cursor { stream: drive, head: None, name: "drive" },
            b: Cursor { stream: base, head: None, name: "base" },
        };
        merge.s.advance(None, source_error).await?;
        merge.d.advance(None, drive_error).await?;
        merge.b.advance(None, base_error).await?;
        Ok(merge)
    }

    /// Whether the base stream had nothing at all (asked right after [`Merge::start`]).
    pub fn base_is_empty(&self) -> bool {
        self.b.head.is_none()
    }

    /// What each stream holds for the next path in order; `None` once all three are exhausted.
    pub async fn next(&mut self) -> Result<Option<Step>, MergeError> {
        let (take_s, take_d, take_b) = {
            let heads = [
                self.s.head.as_ref().map(|e| &e.path),
                self.d.head.as_ref().map(|e| &e.path),
                self.b.head.as_ref().map(|r| &r.path),
            ];
            let Some(min) = min_path(heads.iter().copied()) else { return Ok(None) };
            (heads[0] == Some(min), heads[1] == Some(min), heads[2] == Some(min))
        };
        let se = if take_s { self.s.head.take() } else { None };
        let de = if take_d { self.d.head.take() } else { None };
        let be = if take_b { self.b.head.take() } else { None };
        if let Some(e) = &se {
            self.s.advance(Some(&e.path), source_error).await?;
        }
        if let Some(e) = &de {
            self.d.advance(Some(&e.path), drive_error).await?;
        }
        if let Some(r) = &be {
            self.b.advance(Some(&r.path), base_error).await?;
        }
        Ok(Some((se, de, be)))
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use futures::stream;
    use time::OffsetDateTime;

    use super::*;
    use crate::sync::entry::{Attributes, Kind};

    /// Calls `visit` once per path present in any stream, in order, with what each stream holds for it.
    async fn march<SS, DS, BS, BE>(
        source: SS,
        drive: DS,
        base: BS,
        mut visit: impl FnMut(Option<Entry>, Option<Entry>, Option<BaseRecord>),
    ) -> Result<(), MergeError>
    where
        SS: Stream<Item = Result<Entry, SideError>> + Unpin,
        DS: Stream<Item = Result<Entry, SideError>> + Unpin,
        BS: Stream<Item = Result<BaseRecord, BE>> + Unpin,
        BE: std::fmt::Display,
    {
        let mut merge = Merge::start(source, drive, base).await?;
        while let Some((s, d, b)) = merge.next().await? {
            visit(s, d, b);
        }
        Ok(())
    }

    fn entry(path: &str) -> Result<Entry, SideError> {
        Ok(Entry {
            path: SyncPath::new(path),
            id: path.into(),
            kind: Kind::File,
            size: 1,
            modified: OffsetDateTime::UNIX_EPOCH,
            tag: "t".into(),
            attrs: Attributes::default(),
            hash: None,
        })
    }

    fn no_base() -> stream::Iter<std::vec::IntoIter<Result<BaseRecord, String>>> {
        stream::iter(Vec::new())
    }

    #[test]
    fn each_path_is_visited_once_with_what_each_side_holds() {
        let source = stream::iter(vec![entry("a"), entry("c")]);
        let drive = stream::iter(vec![entry("b"), entry("c")]);
        let mut seen = Vec::new();
        block_on(march(source, drive, no_base(), |s, d, _| {
            seen.push((s.map(|e| e.path.to_string()), d.map(|e| e.path.to_string())));
        }))
        .unwrap();
        let some = |s: &str| Some(s.to_string());
        assert_eq!(seen, vec![(some("a"), None), (None, some("b")), (some("c"), some("c"))]);
    }

    #[test]
    fn a_listing_out_of_order_stops_the_walk_instead_of_looking_like_deletes() {
        let source = stream::iter(vec![entry("b"), entry("a")]);
        let drive = stream::iter(Vec::new());
        let result = block_on(march(source, drive, no_base(), |_, _, _| {}));
        assert!(matches!(result, Err(MergeError::OutOfOrder { stream: "source", .. })));
    }

    #[test]
    fn a_listing_that_breaks_off_stops_the_walk() {
        let broken = Err(SideError::new(crate::sync::ErrorCode::ConnectorUnreachable, "gone"));
        let source = stream::iter(vec![entry("a"), broken]);
        let result = block_on(march(source, stream::iter(Vec::new()), no_base(), |_, _, _| {}));
        assert!(matches!(result, Err(MergeError::Listing { side: SideId::Source, .. })));
    }
}
