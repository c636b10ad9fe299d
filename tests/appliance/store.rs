//! `smsgate store export|import`: the round trip, byte for byte.

use std::path::Path;
use std::process::Command;

use crate::BIN;

#[test]
fn store_export_import_round_trip_is_byte_for_byte() {
    use smsgate::store::{Store, DEFAULT_CACHE_BYTES};
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    let dump = dir.path().join("dump.jsonl");
    let ids;
    {
        let store = Store::open(&a, DEFAULT_CACHE_BYTES).unwrap();
        let sessions = store.table::<serde_json::Value>("sessions").unwrap();
        sessions
            .put("s1", &serde_json::json!({"text": "¿Llegó? 😀", "n": 1}))
            .unwrap();
        sessions.put("s2", &serde_json::json!([1, 2, 3])).unwrap();
        store
            .table::<String>("charges")
            .unwrap()
            .put("c1", &"RD$1.18".to_string())
            .unwrap();
        ids = (0..5).map(|_| store.next_id().unwrap()).max().unwrap();
        store.flush_blocking().unwrap();
    }
    let run = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let said = run(&["store", "export", &s(&dump), "--dir", &s(&a)]);
    assert!(said.contains("4 records exported"), "{said}");
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text
        .lines()
        .next()
        .unwrap()
        .contains("\"format\":\"smsgate-store-1\""));
    let said = run(&["store", "import", &s(&dump), "--dir", &s(&b)]);
    assert!(said.contains("4 records imported"), "{said}");

    // A second import into the now non-empty store is refused.
    let out = Command::new(BIN)
        .args(["store", "import", &s(&dump), "--dir", &s(&b)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));

    {
        let store = Store::open(&b, DEFAULT_CACHE_BYTES).unwrap();
        let sessions = store.table::<serde_json::Value>("sessions").unwrap();
        assert_eq!(
            sessions.get("s1").unwrap(),
            Some(serde_json::json!({"text": "¿Llegó? 😀", "n": 1}))
        );
        assert_eq!(sessions.count(), 2);
        assert_eq!(
            store.table::<String>("charges").unwrap().get("c1").unwrap(),
            Some("RD$1.18".to_string())
        );
        // Ids made after the import never repeat one made before the export.
        assert!(store.next_id().unwrap() > ids);
    }
    // And the dump of the copy is the dump of the original.
    let again = dir.path().join("again.jsonl");
    run(&["store", "export", &s(&again), "--dir", &s(&b)]);
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&std::fs::read_to_string(&again).unwrap()), body(&text));
}
