//! Live streams bounded: at most `[http] max_streams_per_session` open
//! streams per session (tabs) and `max_streams_per_client` per client
//! address (or IPv6 /64). Past either, the oldest of that session or
//! client is told to `reconnect` and closed, so a forgotten tab gives way
//! to the new one and a client cannot pile up streams.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::limits::client_key;

/// The open streams, by session and by client.
#[derive(Default)]
pub struct Streams {
    next: AtomicU64,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    by_session: HashMap<String, VecDeque<(u64, CancellationToken)>>,
    by_client: HashMap<IpAddr, VecDeque<(u64, CancellationToken)>>,
}

/// One open stream's place; its stream ends (with `reconnect`) when
/// `evicted` is cancelled. Dropping it gives the place back.
pub struct StreamSlot {
    pub evicted: CancellationToken,
    id: u64,
    session: String,
    client: IpAddr,
    streams: Arc<Streams>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().unwrap_or_else(|e| e.into_inner());
        let id = self.id;
        remove(&mut open.by_session, &self.session, id);
        remove(&mut open.by_client, &self.client, id);
    }
}

fn remove<K: std::hash::Hash + Eq + Clone>(
    map: &mut HashMap<K, VecDeque<(u64, CancellationToken)>>,
    key: &K,
    id: u64,
) {
    if let Some(q) = map.get_mut(key) {
        q.retain(|(i, _)| *i != id);
        if q.is_empty() {
            map.remove(key);
        }
    }
}

/// Evicts the oldest of `q` while it holds `cap` or more.
fn make_room(q: &mut VecDeque<(u64, CancellationToken)>, cap: usize) {
    while cap > 0 && q.len() >= cap {
        if let Some((_, t)) = q.pop_front() {
            t.cancel();
        }
    }
}

impl Streams {
    /// A place for a new stream of `session` from `client`, making room
    /// (the oldest told to reconnect) past `per_session` or `per_client`
    /// (0: no bound).
    pub fn open(
        self: &Arc<Self>,
        session: &str,
        client: IpAddr,
        per_session: usize,
        per_client: usize,
    ) -> StreamSlot {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let evicted = CancellationToken::new();
        let client = client_key(client);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let q = open.by_session.entry(session.to_string()).or_default();
        make_room(q, per_session);
        q.push_back((id, evicted.clone()));
        let q = open.by_client.entry(client).or_default();
        make_room(q, per_client);
        q.push_back((id, evicted.clone()));
        StreamSlot {
            evicted,
            id,
            session: session.to_string(),
            client,
            streams: self.clone(),
        }
    }

    /// Open streams in all.
    pub fn count(&self) -> usize {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.by_session.values().map(VecDeque::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_gives_way_per_session_and_per_client() {
        let s = Arc::new(Streams::default());
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let s1 = s.open("one", a, 2, 3);
        let s2 = s.open("one", a, 2, 3);
        assert!(!s1.evicted.is_cancelled());
        let s3 = s.open("one", a, 2, 3);
        assert!(s1.evicted.is_cancelled(), "the session's oldest");
        assert!(!s2.evicted.is_cancelled() && !s3.evicted.is_cancelled());
        drop(s1);
        let t1 = s.open("two", a, 2, 3);
        // Client a now holds s2, s3, t1: the next evicts s2.
        let t2 = s.open("two", a, 2, 3);
        assert!(s2.evicted.is_cancelled(), "the client's oldest");
        let other = s.open("three", b, 2, 3);
        assert!(!other.evicted.is_cancelled());
        assert_eq!(s.count(), 5);
        drop((s2, s3, t1, t2, other));
        assert_eq!(s.count(), 0);
        let unbounded: Vec<_> = (0..10).map(|_| s.open("x", a, 0, 0)).collect();
        assert!(unbounded.iter().all(|x| !x.evicted.is_cancelled()));
    }
}
