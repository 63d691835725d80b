//! Content-addressed blobs on local disk: `content_dir/blobs/ab/cdef…` named by the SHA-256 of their bytes.
//!
//! A write streams the caller's reader into `content_dir/tmp/<ulid>.part` (same file system, so the final rename
//! is atomic), hashing and counting as it goes, never holding more than one buffer in memory. The temp file's
//! data is synced before it is renamed to its hash name, and the folder after, so a blob name on disk always
//! means complete content. Writers do both in parallel; only the redb commit that links the blobs is shared
//! (`commit_group.rs`). Identical content lands on the same name and is stored once. A crash leaves at most
//! `.part` files, which [`BlobStore::open`] sweeps at start-up. Deciding when a blob may be deleted is not this module's job:
//! the drive's reference counts do that (see `retention.rs`).

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::spool::{CHUNK, Spool, fill};

use super::error::{DriveError, DriveResult};

/// The hex form of a content hash, as the API shows it.
pub fn hash_hex(hash: &[u8; 32]) -> String {
    ContentHash(*hash).to_string()
}

/// A SHA-256 content hash. Kept as bytes in entries and printed (as lowercase hex) only when serialised: a
/// 1,000-entry listing page spent a fifth of its time formatting hashes eagerly.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContentHash(pub [u8; 32]);

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 64];
        for (i, b) in self.0.iter().enumerate() {
            out[2 * i] = DIGITS[usize::from(b >> 4)];
            out[2 * i + 1] = DIGITS[usize::from(b & 0x0f)];
        }
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for ContentHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A finished temp file waiting to be published under its hash name.
#[derive(Debug)]
pub struct StagedBlob {
    temp: PathBuf,
    pub hash: [u8; 32],
    pub size: u64,
}

impl Drop for StagedBlob {
    fn drop(&mut self) {
        // Published blobs have moved away; anything still here is an abandoned write.
        let _ = fs::remove_file(&self.temp);
    }
}

/// The blob directory.
#[derive(Debug, Clone)]
pub struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the store under `content_dir` and deletes temp files left by writes that never finished:
    /// at start-up no write can be in flight. Returns the store and how many orphans it removed.
    pub fn open(content_dir: &Path) -> DriveResult<(Self, usize)> {
        let store = Self { blobs: content_dir.join("blobs"), tmp: content_dir.join("tmp") };
        fs::create_dir_all(&store.blobs)?;
        fs::create_dir_all(&store.tmp)?;
        let mut removed = 0;
        for item in fs::read_dir(&store.tmp)? {
            let item = item?;
            if item.file_type()?.is_file() {
                fs::remove_file(item.path())?;
                removed += 1;
            }
        }
        Ok((store, removed))
    }

    pub fn path_of(&self, hash: &[u8; 32]) -> PathBuf {
        let hex = hash_hex(hash);
        self.blobs.join(&hex[..2]).join(&hex[2..])
    }

    /// Streams `reader` into a temp file, hashing it. More than `max_bytes` refuses the write with
    /// `QuotaExceeded { available: max_bytes }`; a failing reader fails with `Io`. Either way the temp file is gone.
    /// The data is synced before this returns (concurrent writers sync in parallel, before they queue to commit).
    pub fn stage(&self, reader: &mut dyn Read, max_bytes: Option<u64>) -> DriveResult<StagedBlob> {
        let temp = self.tmp.join(format!("{}.part", ulid::Ulid::new()));
        let file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        // From here the guard's Drop removes the temp file on every early return.
        let mut staged = StagedBlob { temp, hash: [0; 32], size: 0 };
        let mut hasher = Sha256::new();
        let mut take = |buf: &mut Vec<u8>, staged: &mut StagedBlob| -> DriveResult<usize> {
            let n = fill(reader, buf).map_err(DriveError::Io)?;
            staged.size += n as u64;
            if let Some(max) = max_bytes.filter(|&m| staged.size > m) {
                return Err(DriveError::QuotaExceeded { available: max });
            }
            hasher.update(&buf[..n]);
            Ok(n)
        };
        let mut first = vec![0; CHUNK];
        let n = take(&mut first, &mut staged)?;
        if n < CHUNK {
            // The whole content fit in one chunk: small files need no writer thread.
            let mut file = file;
            file.write_all(&first[..n])?;
            // `fdatasync` covers what reading the data back needs (size, blocks); the name comes with publishing.
            file.sync_data()?;
        } else {
            let mut spool = Spool::start(file)?;
            spool.send(first, n)?;
            loop {
                let mut buf = spool.buffer();
                // Hashing this chunk overlaps the spool thread writing the previous one.
                let n = take(&mut buf, &mut staged)?;
                if n == 0 {
                    break;
                }
                spool.send(buf, n)?;
            }
            spool.finish()?;
        }
        staged.hash = hasher.finalize().into();
        Ok(staged)
    }

    /// Durably moves a staged blob (its data synced by [`BlobStore::stage`]) to its hash name, or drops it when
    /// that content is stored already; then syncs the folder holding the name, so the name is durable before any
    /// commit refers to it.
    pub fn publish(&self, staged: &StagedBlob) -> DriveResult<()> {
        let target = self.path_of(&staged.hash);
        let dir = target.parent().ok_or_else(|| io::Error::other("blob path has no parent"))?;
        if !target.exists() {
            fs::create_dir_all(dir)?;
            fs::rename(&staged.temp, &target)?;
        }
        // Synced even when the name was there: it may be another writer's rename whose folder sync is to come.
        File::open(dir)?.sync_all()?;
        Ok(())
    }

    pub fn exists(&self, hash: &[u8; 32]) -> bool {
        self.path_of(hash).exists()
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, hash: &[u8; 32]) -> DriveResult<ContentReader> {
        let file = File::open(self.path_of(hash))?;
        let size = file.metadata()?.len();
        Ok(ContentReader { file, size })
    }

    /// Deletes a blob file; a blob already gone is fine.
    pub fn remove(&self, hash: &[u8; 32]) -> DriveResult<()> {
        match fs::remove_file(self.path_of(hash)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// Every blob hash on disk (for the orphan sweep).
    pub fn list(&self) -> DriveResult<Vec<[u8; 32]>> {
        let mut out = Vec::new();
        for dir in fs::read_dir(&self.blobs)? {
            let dir = dir?;
            if !dir.file_type()?.is_dir() {
                continue;
            }
            let prefix = dir.file_name().to_string_lossy().into_owned();
            for file in fs::read_dir(dir.path())? {
                let name = format!("{prefix}{}", file?.file_name().to_string_lossy());
                let mut hash = [0u8; 32];
                if hex::decode_to_slice(&name, &mut hash).is_ok() {
                    out.push(hash);
                }
            }
        }
        Ok(out)
    }

    /// How many temp files exist now (writes in flight or left by a crash).
    pub fn temp_count(&self) -> DriveResult<usize> {
        Ok(fs::read_dir(&self.tmp)?.count())
    }
}

/// A stream over one stored content: `Read` + `Seek`, so the HTTP layer can serve `Range` requests.
#[derive(Debug)]
pub struct ContentReader {
    file: File,
    size: u64,
}

impl ContentReader {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The open blob file, for zero-copy serving (`tokio::fs::File::from_std`, `sendfile`). Generic `io::copy`
    /// over this reader goes through an 8 KiB buffer; over the `File` it can use `copy_file_range`.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Read for ContentReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for ContentReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FailsHalfway(usize);

    impl Read for FailsHalfway {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::ConnectionReset, "client went away"));
            }
            let n = self.0.min(buf.len());
            buf[..n].fill(b'x');
            self.0 -= n;
            Ok(n)
        }
    }

    #[test]
    fn identical_content_is_stored_once_under_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = BlobStore::open(dir.path()).unwrap();
        let a = store.stage(&mut &b"hello"[..], None).unwrap();
        store.publish(&a).unwrap();
        let b = store.stage(&mut &b"hello"[..], None).unwrap();
        store.publish(&b).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_eq!(hash_hex(&a.hash), "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        drop((a, b));
        assert_eq!(store.list().unwrap().len(), 1);
        assert_eq!(store.temp_count().unwrap(), 0);
        let mut text = String::new();
        store.open_blob(&store.list().unwrap()[0]).unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
    }

    #[test]
    fn a_reader_failing_halfway_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = BlobStore::open(dir.path()).unwrap();
        let err = store.stage(&mut FailsHalfway(600_000), None).unwrap_err();
        assert_eq!(err.code(), "INTERNAL");
        assert_eq!(store.temp_count().unwrap(), 0);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn a_large_blob_flushed_in_the_background_is_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = BlobStore::open(dir.path()).unwrap();
        let size = super::super::spool::FLUSH_EVERY * 2 + 12_345;
        let mut reader = io::repeat(0xa5).take(size);
        let staged = store.stage(&mut reader, None).unwrap();
        store.publish(&staged).unwrap();
        let mut expected = Sha256::new();
        io::copy(&mut io::repeat(0xa5).take(size), &mut HashWriter(&mut expected)).unwrap();
        assert_eq!(staged.hash, <[u8; 32]>::from(expected.finalize()));
        assert_eq!(store.open_blob(&staged.hash).unwrap().size(), size);
    }

    struct HashWriter<'a>(&'a mut Sha256);

    impl Write for HashWriter<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn contents_around_the_chunk_size_are_stored_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = BlobStore::open(dir.path()).unwrap();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK] {
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let staged = store.stage(&mut bytes.as_slice(), None).unwrap();
            store.publish(&staged).unwrap();
            assert_eq!(staged.hash, <[u8; 32]>::from(Sha256::digest(&bytes)), "size {size}");
            let mut back = Vec::new();
            store.open_blob(&staged.hash).unwrap().read_to_end(&mut back).unwrap();
            assert_eq!(back, bytes, "size {size}");
        }
        assert_eq!(store.temp_count().unwrap(), 0);
    }

    #[test]
    fn content_over_the_limit_is_refused_and_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = BlobStore::open(dir.path()).unwrap();
        let err = store.stage(&mut &[0u8; 10][..], Some(9)).unwrap_err();
        assert_eq!(err.code(), "QUOTA_EXCEEDED");
        assert_eq!(store.temp_count().unwrap(), 0);
    }

    #[test]
    fn start_up_sweeps_temp_files_left_by_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        BlobStore::open(dir.path()).unwrap();
        fs::write(dir.path().join("tmp").join("01J.part"), b"half a file").unwrap();
        let (store, removed) = BlobStore::open(dir.path()).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.temp_count().unwrap(), 0);
    }
}
