//! Request body limits, shared by the server's defaults and the routes that need more.

/// Request bodies: Vapi's end-of-call reports carry whole transcripts.
pub const VAPI_BODY_LIMIT: usize = 4 * 1024 * 1024;
/// Everything else.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Feed requests with a secret that finds no feed, counted per client address in fixed windows:
/// past [`FeedMisses::LIMIT`] in one window the address is answered 429 without a lookup, so a
/// flood of guesses costs neither the database nor, with 128-bit secrets, gets anywhere. Kept in
/// each instance's memory (a guess is hopeless anyway; this only keeps floods cheap).
#[derive(Default)]
pub struct FeedMisses {
    by_address: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, u32)>>,
}

impl FeedMisses {
    /// Misses allowed per address per window.
    pub const LIMIT: u32 = 30;
    pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(600);
    /// Addresses remembered at most; past it, those whose window ended are forgotten, and if
    /// that is not enough, all of them.
    const MAX_ADDRESSES: usize = 100_000;

    /// Whether `address` may still look a feed up.
    pub fn allows(&self, address: &str) -> bool {
        let map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(address) {
            Some((start, n)) => start.elapsed() >= Self::WINDOW || *n < Self::LIMIT,
            None => true,
        }
    }

    /// Counts a miss of `address`.
    pub fn miss(&self, address: &str) {
        let mut map = self.by_address.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::MAX_ADDRESSES && !map.contains_key(address) {
            map.retain(|_, (start, _)| start.elapsed() < Self::WINDOW);
            if map.len() >= Self::MAX_ADDRESSES {
                map.clear();
            }
        }
        let entry = map
            .entry(address.to_owned())
            .or_insert((std::time::Instant::now(), 0));
        if entry.0.elapsed() >= Self::WINDOW {
            *entry = (std::time::Instant::now(), 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::FeedMisses;

    #[test]
    fn an_address_is_stopped_after_its_misses_and_others_are_not() {
        let m = FeedMisses::default();
        for _ in 0..FeedMisses::LIMIT {
            assert!(m.allows("10.0.0.1"));
            m.miss("10.0.0.1");
        }
        assert!(!m.allows("10.0.0.1"));
        assert!(m.allows("10.0.0.2"));
    }
}
