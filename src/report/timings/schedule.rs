//! What the timing report computes from the actions' spans: the critical
//! path and the concurrency over time. Pure functions over (ready, start,
//! end) and the dependency edges, so that they can be tested alone.

use std::time::Duration;

use crate::exec::events::ActionSpan;

/// The longest chain of dependent actions, summing their durations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CriticalPath {
    /// The chain's actions, from the first to run to the last.
    pub(crate) actions: Vec<usize>,
    /// The sum of their durations.
    pub(crate) duration: Duration,
}

/// The critical path of a build: `spans[i]` is when action `i` ran (None
/// if it never did: those are on no path), `deps[i]` the actions it
/// waited for. Edges to actions out of range are ignored, and so are
/// actions on a cycle (a graph never has one). Of equally long chains, the
/// one ending at the lowest index is chosen, reached through the lowest
/// dependencies, so that the result does not depend on the order of edges.
pub(crate) fn critical_path(spans: &[Option<ActionSpan>], deps: &[Vec<usize>]) -> CriticalPath {
    let n = spans.len();
    let dep = |i: usize| -> Vec<usize> {
        let mut d: Vec<usize> = deps
            .get(i)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&d| d < n && spans[d].is_some())
            .collect();
        d.sort_unstable();
        d.dedup();
        d
    };
    // Longest chain ending at each action, and the dependency it comes
    // through, computed in topological order.
    let mut best: Vec<Option<(Duration, Option<usize>)>> = vec![None; n];
    for i in topological_order(n, &dep) {
        let Some(span) = spans[i] else { continue };
        let own = span.end.saturating_sub(span.start);
        let mut chosen: Option<(Duration, usize)> = None;
        for d in dep(i) {
            if let Some((len, _)) = best[d] {
                if chosen.is_none_or(|(l, _)| len > l) {
                    chosen = Some((len, d));
                }
            }
        }
        best[i] = Some(match chosen {
            Some((len, d)) => (len + own, Some(d)),
            None => (own, None),
        });
    }
    let mut last: Option<(Duration, usize)> = None;
    for (i, b) in best.iter().enumerate() {
        if let Some((len, _)) = b {
            if last.is_none_or(|(l, _)| *len > l) {
                last = Some((*len, i));
            }
        }
    }
    let Some((duration, mut at)) = last else {
        return CriticalPath::default();
    };
    let mut actions = vec![at];
    while let Some((_, Some(prev))) = best[at] {
        actions.push(prev);
        at = prev;
    }
    actions.reverse();
    CriticalPath { actions, duration }
}

/// Kahn's order of `0..n` under `dep`; nodes on a cycle are left out.
fn topological_order(n: usize, dep: &dyn Fn(usize) -> Vec<usize>) -> Vec<usize> {
    let mut waiting: Vec<usize> = vec![0; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, w) in waiting.iter_mut().enumerate() {
        let ds = dep(i);
        *w = ds.len();
        for d in ds {
            dependents[d].push(i);
        }
    }
    let mut order: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut next = 0;
    while let Some(&i) = order.get(next) {
        next += 1;
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                order.push(d);
            }
        }
    }
    order
}

/// How many actions ran, and how many were ready but waited for a job
/// slot, from `at` until the next sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sample {
    /// Since the build started.
    pub(crate) at: Duration,
    /// Actions running.
    pub(crate) running: usize,
    /// Actions ready but not started.
    pub(crate) waiting: usize,
}

/// The concurrency of a build as a step function: a sample at the start
/// of the build and at every time an action became ready, started or
/// ended, after every change at that time (so an action that ends when
/// another starts does not count twice).
pub(crate) fn concurrency(spans: &[ActionSpan]) -> Vec<Sample> {
    // (time, change of running, change of waiting)
    let mut changes: Vec<(Duration, isize, isize)> = Vec::with_capacity(spans.len() * 3);
    for s in spans {
        changes.push((s.ready, 0, 1));
        changes.push((s.start, 1, -1));
        changes.push((s.end, -1, 0));
    }
    changes.sort_by_key(|c| c.0);
    let mut samples = vec![Sample {
        at: Duration::ZERO,
        running: 0,
        waiting: 0,
    }];
    let (mut running, mut waiting) = (0isize, 0isize);
    for (at, r, w) in changes {
        running += r;
        waiting += w;
        let sample = Sample {
            at,
            running: running.max(0) as usize,
            waiting: waiting.max(0) as usize,
        };
        match samples.last_mut() {
            Some(last) if last.at == at => *last = sample,
            _ => samples.push(sample),
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn span(ready: u64, start: u64, end: u64) -> ActionSpan {
        ActionSpan {
            ready: ms(ready),
            start: ms(start),
            end: ms(end),
        }
    }

    #[test]
    fn the_critical_path_is_the_longest_chain_by_duration_not_by_length() {
        // 0 -> 1 -> 2 takes 10 + 10 + 10; 3 -> 2 takes 50 + 10: the long
        // action wins over the longer chain.
        let spans = [
            Some(span(0, 0, 10)),
            Some(span(10, 10, 20)),
            Some(span(50, 50, 60)),
            Some(span(0, 0, 50)),
        ];
        let deps = [vec![], vec![0], vec![1, 3], vec![]];
        let p = critical_path(&spans, &deps);
        assert_eq!(p.actions, [3, 2]);
        assert_eq!(p.duration, ms(60));
        // Made shorter, the action leaves the path to the chain.
        let spans = [spans[0], spans[1], spans[2], Some(span(0, 0, 15))];
        let p = critical_path(&spans, &deps);
        assert_eq!(p.actions, [0, 1, 2]);
        assert_eq!(p.duration, ms(30));
    }

    #[test]
    fn the_critical_path_ignores_edge_order_and_numbering() {
        // Dependencies listed after their dependents, edges in any order:
        // 2 -> 0 and 1 -> 0, with 1 the longer.
        let spans = [
            Some(span(40, 40, 45)),
            Some(span(0, 0, 40)),
            Some(span(0, 0, 30)),
        ];
        for deps in [[vec![1, 2], vec![], vec![]], [vec![2, 1], vec![], vec![]]] {
            let p = critical_path(&spans, &deps);
            assert_eq!(p.actions, [1, 0]);
            assert_eq!(p.duration, ms(45));
        }
    }

    #[test]
    fn actions_that_never_ran_are_on_no_path() {
        // 1 failed first, so 2 (its dependent) never ran.
        let spans = [Some(span(0, 0, 5)), Some(span(0, 0, 20)), None];
        let deps = [vec![], vec![], vec![0, 1]];
        let p = critical_path(&spans, &deps);
        assert_eq!(p.actions, [1]);
        assert_eq!(critical_path(&[], &[]), CriticalPath::default());
        // An edge to an action out of range, or a cycle, is no chain.
        let spans = [
            Some(span(0, 0, 5)),
            Some(span(0, 0, 7)),
            Some(span(0, 0, 1)),
        ];
        let deps = [vec![9], vec![2], vec![1]];
        assert_eq!(critical_path(&spans, &deps).actions, [0]);
    }

    #[test]
    fn equal_chains_end_at_the_lowest_action() {
        let spans = [Some(span(0, 0, 10)), Some(span(0, 0, 10))];
        assert_eq!(critical_path(&spans, &[vec![], vec![]]).actions, [0]);
    }

    #[test]
    fn concurrency_counts_running_and_waiting_actions_over_time() {
        // With one job slot: 0 runs 0..10 while 1 waits from 0 to 10 and
        // runs 10..30; 2 is ready at 30 and runs at once, until 35.
        let spans = [span(0, 0, 10), span(0, 10, 30), span(30, 30, 35)];
        let s: Vec<(u64, usize, usize)> = concurrency(&spans)
            .iter()
            .map(|s| (s.at.as_millis() as u64, s.running, s.waiting))
            .collect();
        assert_eq!(s, [(0, 1, 1), (10, 1, 0), (30, 1, 0), (35, 0, 0)]);
    }

    #[test]
    fn concurrency_starts_empty_and_overlaps_add_up() {
        let spans = [span(5, 5, 20), span(5, 8, 12), span(9, 9, 10)];
        let s: Vec<(u64, usize, usize)> = concurrency(&spans)
            .iter()
            .map(|s| (s.at.as_millis() as u64, s.running, s.waiting))
            .collect();
        assert_eq!(
            s,
            [
                (0, 0, 0),
                (5, 1, 1),
                (8, 2, 0),
                (9, 3, 0),
                (10, 2, 0),
                (12, 1, 0),
                (20, 0, 0)
            ]
        );
        assert_eq!(concurrency(&[]).len(), 1);
    }
}
