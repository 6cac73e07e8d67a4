//! Unit tests of crash recovery around garbage collection.

use crate::tests::{archive, base, ingest, opts, text};
use crate::*;
use model::ArchiveId;
use roaring::RoaringBitmap;

#[test]
fn stale_gc_file_never_deletes_live_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    ingest(&cat, &archive(1, 7, 1), &base());
    let docs = cat.stats().unwrap().docs;
    drop(cat);
    // As if a forget crashed after writing its garbage list but before its commit point.
    let gc = tmp.path().join("gc");
    std::fs::create_dir_all(&gc).unwrap();
    let all: RoaringBitmap = (0..docs as u32).collect();
    let mut buf = Vec::new();
    all.serialize_into(&mut buf).unwrap();
    std::fs::write(gc.join("1_1_7.bm"), buf).unwrap();
    let cat = Catalog::open_with(tmp.path(), opts()).unwrap();
    assert_eq!(cat.stats().unwrap().docs, docs);
    assert!(!gc.join("1_1_7.bm").exists());
    assert_eq!(cat.search(&text("/etc/hosts")).unwrap().total, 1);
    // A real forget then removes everything.
    assert!(cat.forget_archive(ArchiveId(1)).unwrap());
    assert_eq!(cat.stats().unwrap().docs, 0);
    assert_eq!(cat.stats().unwrap().versions, 0);
}
