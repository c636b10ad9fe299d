//! The store keeps what it was given across reopening, refuses a foreign
//! format, and reads keys in order.

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Rec {
    n: u32,
    text: String,
}

#[tokio::test]
async fn records_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
        let t = s.table::<Rec>("outbox").unwrap();
        t.put(
            "00000002",
            &Rec {
                n: 2,
                text: "dos".into(),
            },
        )
        .unwrap();
        t.put(
            "00000001",
            &Rec {
                n: 1,
                text: "uno".into(),
            },
        )
        .unwrap();
        s.flush().await.unwrap();
    }
    let s = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
    let t = s.table::<Rec>("outbox").unwrap();
    let all = t.all().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].0, "00000001");
    assert_eq!(all[1].1.text, "dos");
    assert_eq!(t.remove("00000001").unwrap().unwrap().n, 1);
    assert!(!t.contains("00000001").unwrap());
    assert_eq!(t.count(), 1);
}

#[test]
fn a_store_of_another_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("format", "something-else")
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(dir.path(), DEFAULT_CACHE_BYTES).err().unwrap();
    assert!(err.to_string().contains("something-else"), "{err}");
}

#[test]
fn ids_increase() {
    let s = Store::temporary().unwrap();
    let a = s.next_id().unwrap();
    let b = s.next_id().unwrap();
    assert!(b > a);
}

#[test]
fn an_unreadable_record_is_an_error_not_a_skip() {
    let s = Store::temporary().unwrap();
    s.table::<String>("x")
        .unwrap()
        .put("k", &"text".to_string())
        .unwrap();
    let err = s.table::<Rec>("x").unwrap().all().err().unwrap();
    assert!(err.to_string().contains("cannot be read"), "{err}");
}

/// sled 0.34's `flush_async` can hang when called concurrently; the store's
/// flush must not, and must cover every write made before it was called.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_flushes_all_complete() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
    let t = s.table::<u32>("x").unwrap();
    let tasks: Vec<_> = (0..64u32)
        .map(|i| {
            let s = s.clone();
            let t = t.clone();
            tokio::spawn(async move {
                t.put(&format!("{i:04}"), &i).unwrap();
                s.flush().await.unwrap();
            })
        })
        .collect();
    let all = futures_util::future::join_all(tasks);
    tokio::time::timeout(std::time::Duration::from_secs(30), all)
        .await
        .expect("every flush completed");
    drop(t);
    drop(s);
    let s = Store::open(dir.path(), DEFAULT_CACHE_BYTES).unwrap();
    assert_eq!(s.table::<u32>("x").unwrap().count(), 64);
}

#[test]
fn ranges_read_only_what_is_asked_and_remove_before_drops_the_head() {
    let s = Store::temporary().unwrap();
    let t = s.table::<u32>("x").unwrap();
    for i in 0..10u32 {
        t.put(&format!("{i:02}"), &i).unwrap();
    }
    let mid: Vec<u32> = t
        .iter_range("03", Some("06"))
        .map(|r| r.unwrap().1)
        .collect();
    assert_eq!(mid, vec![3, 4, 5]);
    let tail: Vec<u32> = t.iter_range("08", None).map(|r| r.unwrap().1).collect();
    assert_eq!(tail, vec![8, 9]);
    assert_eq!(t.remove_before("04").unwrap(), 4);
    assert_eq!(t.all().unwrap().first().unwrap().1, 4);
}

/// A store error is never silent: it is counted, and the store is
/// unhealthy until a flush succeeds again.
#[tokio::test]
async fn errors_are_counted_and_health_returns_with_a_good_flush() {
    let s = Store::temporary().unwrap();
    let t = s.table::<u32>("x").unwrap();
    assert!(s.health().is_healthy());
    s.inject_failures(true);
    assert!(matches!(t.put("a", &1), Err(StoreError::Injected)));
    assert!(s.flush().await.is_err());
    assert!(s.next_id().is_err());
    assert_eq!(s.health().errors(), 3);
    assert!(!s.health().is_healthy());
    assert!(!t.contains("a").unwrap(), "a failed write wrote nothing");
    s.inject_failures(false);
    t.put("a", &1).unwrap();
    assert!(!s.health().is_healthy(), "healthy again only once flushed");
    s.flush().await.unwrap();
    assert!(s.health().is_healthy());
    assert_eq!(s.health().errors(), 3);
}
