//! When each action became ready and started, measured from the start of
//! the build: the coordinator notes both, and an action's end is when it
//! hears of it, so every action has a span, fresh ones and hits included.

use std::time::{Duration, Instant};

use super::events::ActionSpan;

/// The times of one execution.
pub(super) struct Clock {
    start: Instant,
    ready: Vec<Option<Duration>>,
    started: Vec<Option<Duration>>,
}

impl Clock {
    /// A clock for `n` actions, started now.
    pub(super) fn new(n: usize) -> Self {
        Clock {
            start: Instant::now(),
            ready: vec![None; n],
            started: vec![None; n],
        }
    }

    /// Time since the build started.
    pub(super) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Actions `ids` just became ready (each is noted once).
    pub(super) fn ready(&mut self, ids: impl IntoIterator<Item = usize>) {
        let now = self.elapsed();
        for i in ids {
            self.ready[i].get_or_insert(now);
        }
    }

    /// Action `i` starts now.
    pub(super) fn started(&mut self, i: usize) {
        let now = self.elapsed();
        self.started[i] = Some(now);
    }

    /// The span of action `i`, which ends now. An action only ends after
    /// it started, and starts only once ready; the fallbacks keep the
    /// span ordered whatever happens.
    pub(super) fn ended(&self, i: usize) -> ActionSpan {
        let end = self.elapsed();
        let start = self.started[i].unwrap_or(end);
        let ready = self.ready[i].unwrap_or(start).min(start);
        ActionSpan { ready, start, end }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_span_is_ready_then_started_then_ended() {
        let mut c = Clock::new(2);
        c.ready([0]);
        std::thread::sleep(Duration::from_millis(5));
        c.started(0);
        std::thread::sleep(Duration::from_millis(5));
        let s = c.ended(0);
        assert!(s.ready < s.start && s.start < s.end, "{s:?}");
        // Readiness is the first time it was noted.
        c.ready([0, 1]);
        c.started(0);
        assert_eq!(c.ended(0).ready, s.ready);
    }
}
