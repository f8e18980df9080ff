//! A small least-recently-used map with one pinned key, for the minted leaves.
//!
//! Clients choose the names they ask for, so the cache must stay bounded whatever they
//! send; but evicting the target's own leaf would make every real connection pay for a
//! new one while a flood of other names goes on. So one key can be pinned: it is never
//! the one evicted.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A map of at most `capacity` entries that forgets the least recently used first,
/// never the pinned key (with a capacity of one, the pinned key and one more).
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    map: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    tick: u64,
    capacity: usize,
    pinned: Option<K>,
}

impl<K: Clone + Eq + Hash, V> Lru<K, V> {
    /// An empty map holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Lru {
            map: HashMap::new(),
            order: BTreeMap::new(),
            tick: 0,
            capacity: capacity.max(1),
            pinned: None,
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value for `key`, marked as just used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let t = self.next_tick();
        let (_, used) = self.map.get_mut(key)?;
        let old = std::mem::replace(used, t);
        if let Some(k) = self.order.remove(&old) {
            self.order.insert(t, k);
        }
        self.map.get(key).map(|(v, _)| v)
    }

    /// Stores `value` for `key`, evicting the least recently used other key when full.
    pub fn insert(&mut self, key: K, value: V) {
        if let Some((_, used)) = self.map.remove(&key) {
            self.order.remove(&used);
        }
        while self.map.len() >= self.capacity {
            let victim = self
                .order
                .iter()
                .find(|(_, k)| Some(*k) != self.pinned.as_ref())
                .map(|(t, _)| *t);
            let Some(t) = victim else { break };
            if let Some(k) = self.order.remove(&t) {
                self.map.remove(&k);
            }
        }
        let t = self.next_tick();
        self.order.insert(t, key.clone());
        self.map.insert(key, (value, t));
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &K) {
        if let Some((_, used)) = self.map.remove(key) {
            self.order.remove(&used);
        }
    }

    /// Never evict `key` (replacing the previous pin).
    pub fn pin(&mut self, key: K) {
        self.pinned = Some(key);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_the_least_recently_used_first() {
        let mut c = Lru::new(2);
        c.insert("a", 1);
        c.insert("b", 2);
        assert_eq!(c.get(&"a"), Some(&1));
        c.insert("c", 3);
        assert_eq!(c.get(&"b"), None, "b was the least recently used");
        assert_eq!(c.get(&"a"), Some(&1));
        assert_eq!(c.get(&"c"), Some(&3));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn the_pinned_key_survives_a_flood() {
        let mut c = Lru::new(3);
        c.insert(0u32, "target");
        c.pin(0);
        for i in 1..1000u32 {
            c.insert(i, "other");
            assert!(c.len() <= 3);
        }
        assert_eq!(c.get(&0), Some(&"target"));
        assert_eq!(c.get(&999), Some(&"other"), "the newest entry is kept");
    }

    #[test]
    fn replacing_a_key_does_not_evict_another() {
        let mut c = Lru::new(2);
        c.insert("a", 1);
        c.insert("b", 2);
        c.insert("b", 3);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&"a"), Some(&1));
        assert_eq!(c.get(&"b"), Some(&3));
        c.remove(&"a");
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_pinned_key_alone_in_a_full_map_is_replaced_by_nothing() {
        let mut c = Lru::new(1);
        c.insert("t", 1);
        c.pin("t");
        c.insert("x", 2);
        // Capacity one and the only entry pinned: the map grows by one rather than
        // lose the target's leaf.
        assert_eq!(c.get(&"t"), Some(&1));
        assert_eq!(c.get(&"x"), Some(&2));
        assert_eq!(c.len(), 2);
    }
}
