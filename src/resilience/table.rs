//! A bounded table keyed by hashes, for budgets and breakers.

use super::MAX_TRACKED;

/// A table of at most [`MAX_TRACKED`] entries, each stamped with when it
/// was last used. Keys are two 64-bit hashes (of the names and of the API
/// key), so a lookup compares integers, never strings, and allocates nothing.
#[derive(Debug)]
pub(super) struct Table<V> {
    pub(super) entries: Vec<Slot<V>>,
}

#[derive(Debug)]
pub(super) struct Slot<V> {
    pub(super) key: (u64, u64),
    pub(super) used: u64,
    pub(super) value: V,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            entries: Vec::new(),
        }
    }
}

impl<V> Table<V> {
    pub(super) fn position(&self, key: (u64, u64)) -> Option<usize> {
        self.entries.iter().position(|s| s.key == key)
    }

    pub(super) fn get(&self, key: (u64, u64)) -> Option<&V> {
        self.entries.iter().find(|s| s.key == key).map(|s| &s.value)
    }

    pub(super) fn get_mut(&mut self, key: (u64, u64), tick: u64) -> Option<&mut V> {
        let slot = self.entries.iter_mut().find(|s| s.key == key)?;
        slot.used = tick;
        Some(&mut slot.value)
    }

    pub(super) fn get_or_insert(
        &mut self,
        key: (u64, u64),
        tick: u64,
        make: impl FnOnce() -> V,
        idle: impl Fn(&V) -> bool,
    ) -> Option<&mut V> {
        let index = match self.position(key) {
            Some(i) => i,
            None => {
                if self.entries.len() >= MAX_TRACKED {
                    self.evict(idle);
                }
                self.entries.push(Slot {
                    key,
                    used: tick,
                    value: make(),
                });
                self.entries.len() - 1
            }
        };
        let slot = self.entries.get_mut(index)?;
        slot.used = tick;
        Some(&mut slot.value)
    }

    /// Drops idle entries; if that is not enough, the least recently used
    /// ones (about an eighth of the table at once, so a stream of new keys
    /// does not pay for a full pass each).
    pub(super) fn evict(&mut self, idle: impl Fn(&V) -> bool) {
        self.entries.retain(|s| !idle(&s.value));
        while self.entries.len() >= MAX_TRACKED {
            let oldest = self.entries.iter().map(|s| s.used).min().unwrap_or(0);
            let newest = self.entries.iter().map(|s| s.used).max().unwrap_or(0);
            let cutoff = oldest + (newest - oldest) / 8 + 1;
            self.entries.retain(|s| s.used >= cutoff);
        }
    }

    pub(super) fn remove(&mut self, key: (u64, u64)) {
        if let Some(i) = self.position(key) {
            self.entries.swap_remove(i);
        }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}
