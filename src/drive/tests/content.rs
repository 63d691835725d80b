//! Writing and reading content: round trips, conditions, origins, ranges.

use std::io::Read;

use time::macros::datetime;

use super::*;

#[test]
fn a_written_file_reads_back_and_is_found_by_path_and_by_id() {
    let f = fixture();
    let e = f.put("/docs/report.pdf", b"hello world").unwrap();
    assert_eq!(e.path.as_str(), "/docs/report.pdf");
    assert_eq!(e.size, 11);
    let hash = e.content_hash.map(|h| h.to_string());
    assert_eq!(hash.as_deref(), Some("b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"));
    assert_eq!(serde_json::to_value(&e).unwrap()["content_hash"], hash.unwrap());
    assert_eq!(f.get("/docs/report.pdf"), b"hello world");
    assert_eq!(f.drive.entry_by_id(f.share, e.id).unwrap().path, p("/docs/report.pdf"));
    let folder = f.drive.entry_by_path(f.share, &p("/docs")).unwrap();
    assert!(folder.is_folder());
    let share = f.drive.share(f.share).unwrap();
    assert_eq!((share.used_bytes, share.file_count), (11, 1));
}

#[test]
fn conditional_writes_refuse_on_a_stale_etag_or_an_existing_file() {
    let f = fixture();
    assert_eq!(f.put_if("/a", b"x", Precondition::IfMatch("nope".into())).unwrap_err().code(), "PRECONDITION_FAILED");
    let e = f.put_if("/a", b"x", Precondition::MustNotExist).unwrap();
    assert_eq!(f.put_if("/a", b"y", Precondition::MustNotExist).unwrap_err().code(), "PRECONDITION_FAILED");
    let quoted = format!("\"{}\"", e.etag);
    let e2 = f.put_if("/a", b"y", Precondition::IfMatch(quoted.clone())).unwrap();
    assert_eq!(f.put_if("/a", b"z", Precondition::IfMatch(quoted)).unwrap_err().code(), "PRECONDITION_FAILED");
    assert_eq!(f.get("/a"), b"y");
    assert_eq!(e2.version_count, 2);
    let del =
        f.drive.delete_entry(f.share, &EntryRef::Path(p("/a")), &Precondition::IfMatch(e.etag.to_string()), &f.me());
    assert_eq!(del.unwrap_err().code(), "PRECONDITION_FAILED");
}

#[test]
fn a_connector_write_records_its_origin_and_the_given_modification_time() {
    let f = fixture();
    let cnn = ConnectorId::new();
    let opts = WriteOptions {
        modified_at: Some(datetime!(2020-05-01 12:00 UTC)),
        ..WriteOptions::new(Origin::connector(cnn, "overwritten_by_sync"))
    };
    let e = f.drive.write_file(f.share, &p("/sync.txt"), &mut &b"x"[..], &opts).unwrap();
    assert_eq!(e.modified_at, datetime!(2020-05-01 12:00 UTC));
    assert_eq!(e.origin, Some(cnn));
    assert_eq!(e.owner_id, None);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["type"], "file");
    assert_eq!(json["etag"], e.etag.to_string());
    assert_eq!(e.etag.to_string().len(), 26);
    assert_eq!(json["modified_at"], "2020-05-01T12:00:00Z");
    assert!(json["id"].as_str().unwrap().starts_with("ent_"));
    f.put("/sync.txt", b"y").unwrap();
    let versions = f.drive.versions(f.share, &EntryRef::Path(p("/sync.txt"))).unwrap();
    assert_eq!(versions[1].origin, Some(f.me()));
}

#[test]
fn reads_seek_for_ranges() {
    use std::io::{Seek, SeekFrom};
    let f = fixture();
    f.put("/r", b"0123456789").unwrap();
    let (_, mut r) = f.drive.read_file(f.share, &EntryRef::Path(p("/r"))).unwrap();
    assert_eq!(r.size(), 10);
    r.seek(SeekFrom::Start(3)).unwrap();
    let mut buf = [0u8; 4];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"3456");
}
