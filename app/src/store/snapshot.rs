//! What a server may remember of the run-time read path between requests: rows read from the
//! database, each tagged with the `run_time_generation` counter read *before* the rows were.
//!
//! The counter moves forward with every change to what programs read (triggers, migration 0009).
//! A remembered row tagged `g` is therefore the current state for as long as the counter is still
//! `g`; a request that uses it hands `g` to the audit appender, which reads the counter in the
//! transaction that records the read and refuses the event (the request retries from the
//! database) when it has moved. Remembering never widens what a request can see: it only saves
//! the queries whose answer the appender's check vouches for.
//!
//! Only ciphertexts and metadata are remembered; values are decrypted per request, as before.
use std::{collections::HashMap, hash::Hash, sync::Mutex};

/// Entries past this many are not remembered until the next generation starts afresh.
const CAPACITY: usize = 4_096;

/// Rows read at one generation, keyed by `K`. Cheap to share; `V` should be cheap to clone.
pub struct SnapshotCache<K, V> {
    inner: Mutex<Snapshot<K, V>>,
}

struct Snapshot<K, V> {
    generation: i64,
    entries: HashMap<K, V>,
}

impl<K: Eq + Hash, V: Clone> Default for SnapshotCache<K, V> {
    fn default() -> Self {
        Self { inner: Mutex::new(Snapshot { generation: i64::MIN, entries: HashMap::new() }) }
    }
}

/// What a lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<V> {
    /// The entry and the generation it was read at.
    Hit(i64, V),
    /// Nothing remembered for this key at the newest generation seen.
    Miss,
}

impl<K: Eq + Hash, V: Clone> SnapshotCache<K, V> {
    /// The entry for `key`, if one is remembered at the newest generation this cache has seen.
    pub fn get(&self, key: &K) -> Lookup<V> {
        let Ok(snapshot) = self.inner.lock() else { return Lookup::Miss };
        match snapshot.entries.get(key) {
            Some(value) => Lookup::Hit(snapshot.generation, value.clone()),
            None => Lookup::Miss,
        }
    }

    /// The newest generation this cache has seen.
    pub fn generation(&self) -> Option<i64> {
        let snapshot = self.inner.lock().ok()?;
        (snapshot.generation != i64::MIN).then_some(snapshot.generation)
    }

    /// Remembers `value`, read after the counter was read as `generation`. A newer generation
    /// forgets everything older; an older one is not remembered.
    pub fn insert(&self, generation: i64, key: K, value: V) {
        let Ok(mut snapshot) = self.inner.lock() else { return };
        snapshot.advance(generation);
        if snapshot.generation == generation
            && (snapshot.entries.len() < CAPACITY || snapshot.entries.contains_key(&key))
        {
            snapshot.entries.insert(key, value);
        }
    }

    /// Notes that the counter has reached `generation`: everything older is forgotten.
    pub fn saw(&self, generation: i64) {
        if let Ok(mut snapshot) = self.inner.lock() {
            snapshot.advance(generation);
        }
    }
}

impl<K, V> Snapshot<K, V> {
    fn advance(&mut self, generation: i64) {
        if generation > self.generation {
            self.generation = generation;
            self.entries.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_until_a_newer_generation_is_seen() {
        let cache = SnapshotCache::<u8, &str>::default();
        assert_eq!(cache.get(&1), Lookup::Miss);
        assert_eq!(cache.generation(), None);
        cache.insert(5, 1, "a");
        assert_eq!(cache.get(&1), Lookup::Hit(5, "a"));
        // Read at an older generation: not remembered, and the newer entry stays.
        cache.insert(4, 2, "b");
        assert_eq!(cache.get(&2), Lookup::Miss);
        assert_eq!(cache.get(&1), Lookup::Hit(5, "a"));
        cache.saw(6);
        assert_eq!(cache.get(&1), Lookup::Miss);
        assert_eq!(cache.generation(), Some(6));
        cache.insert(6, 1, "c");
        assert_eq!(cache.get(&1), Lookup::Hit(6, "c"));
        // Seeing an older generation changes nothing.
        cache.saw(3);
        assert_eq!(cache.get(&1), Lookup::Hit(6, "c"));
    }

    #[test]
    fn a_full_cache_remembers_nothing_new_but_still_updates() {
        let cache = SnapshotCache::<usize, usize>::default();
        for n in 0..CAPACITY + 10 {
            cache.insert(1, n, n);
        }
        assert_eq!(cache.get(&(CAPACITY - 1)), Lookup::Hit(1, CAPACITY - 1));
        assert_eq!(cache.get(&CAPACITY), Lookup::Miss);
        cache.insert(1, 0, 42);
        assert_eq!(cache.get(&0), Lookup::Hit(1, 42));
    }
}
