//! A dependency queue for pipelined builds. It knows nothing about rustc:
//! nodes, edges that need either a dependency's metadata or its full
//! completion, and a priority (the longest chain of dependents) that decides
//! which ready node starts first.
//!
//! A node is *full-ready* when it finished and so did, transitively, every
//! node it depends on: a node that links (a binary, a test) needs all its
//! transitive libraries complete, not only their metadata.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What an edge waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The dependency's metadata (`.rmeta`).
    Metadata,
    /// The dependency and all its transitive dependencies, finished.
    Full,
}

/// The queue.
pub struct DepQueue {
    deps: Vec<Vec<(usize, Wait)>>,
    dependents: Vec<Vec<usize>>,
    priority: Vec<usize>,
    meta: Vec<bool>,
    finished: Vec<bool>,
    full: Vec<bool>,
    queued: Vec<bool>,
    ready: BinaryHeap<(usize, Reverse<usize>)>,
    /// Nodes that became ready since the last [`DepQueue::take_newly_ready`].
    newly_ready: Vec<usize>,
}

impl DepQueue {
    /// A queue over nodes `0..deps.len()`; every dependency index must be
    /// smaller than its dependent's (a topological numbering).
    pub fn new(deps: Vec<Vec<(usize, Wait)>>) -> Self {
        let n = deps.len();
        let mut dependents = vec![Vec::new(); n];
        for (i, ds) in deps.iter().enumerate() {
            for (d, _) in ds {
                dependents[*d].push(i);
            }
        }
        let mut priority = vec![0usize; n];
        for i in (0..n).rev() {
            priority[i] = 1 + dependents[i]
                .iter()
                .map(|d| priority[*d])
                .max()
                .unwrap_or(0);
        }
        let mut q = DepQueue {
            deps,
            dependents,
            priority,
            meta: vec![false; n],
            finished: vec![false; n],
            full: vec![false; n],
            queued: vec![false; n],
            ready: BinaryHeap::new(),
            newly_ready: Vec::new(),
        };
        for i in 0..n {
            q.consider(i);
        }
        q
    }

    fn is_ready(&self, i: usize) -> bool {
        self.deps[i].iter().all(|(d, w)| match w {
            Wait::Metadata => self.meta[*d],
            Wait::Full => self.full[*d],
        })
    }

    fn consider(&mut self, i: usize) {
        if !self.queued[i] && self.is_ready(i) {
            self.queued[i] = true;
            self.ready.push((self.priority[i], Reverse(i)));
            self.newly_ready.push(i);
        }
    }

    /// The ready node with the highest priority, if any.
    pub fn pop(&mut self) -> Option<usize> {
        self.ready.pop().map(|(_, Reverse(i))| i)
    }

    /// The nodes that became ready since the last call (or since the
    /// queue was made), in that order: for the build's timings.
    pub fn take_newly_ready(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.newly_ready)
    }

    /// Number of ready nodes.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// A node's metadata is available.
    pub fn metadata_ready(&mut self, i: usize) {
        if self.meta[i] {
            return;
        }
        self.meta[i] = true;
        for d in self.dependents[i].clone() {
            self.consider(d);
        }
    }

    /// A node finished successfully.
    pub fn finish(&mut self, i: usize) {
        self.metadata_ready(i);
        self.finished[i] = true;
        let mut work = vec![i];
        while let Some(x) = work.pop() {
            if self.full[x] || !self.finished[x] || !self.deps[x].iter().all(|(d, _)| self.full[*d])
            {
                continue;
            }
            self.full[x] = true;
            for d in self.dependents[x].clone() {
                self.consider(d);
                work.push(d);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelined_dependent_starts_on_metadata_linker_waits_for_everything() {
        // 0: lib a; 1: lib b (needs a's metadata); 2: bin (needs b fully).
        let mut q = DepQueue::new(vec![
            vec![],
            vec![(0, Wait::Metadata)],
            vec![(1, Wait::Full)],
        ]);
        assert_eq!(q.take_newly_ready(), [0]);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), None);
        q.metadata_ready(0);
        assert_eq!(q.take_newly_ready(), [1]);
        assert_eq!(q.pop(), Some(1));
        q.finish(1);
        // b finished, but a (reached through a metadata edge) has not: the
        // binary must not link yet.
        assert_eq!(q.pop(), None);
        assert!(!q.full[1]);
        q.finish(0);
        assert!(q.full[1]);
        assert_eq!(q.take_newly_ready(), [2]);
        assert_eq!(q.take_newly_ready(), Vec::<usize>::new());
        assert_eq!(q.pop(), Some(2));
    }

    #[test]
    fn longest_chain_goes_first() {
        // 0 and 1 are ready; 0 has a chain of two dependents, 1 has none.
        let q = &mut DepQueue::new(vec![
            vec![],
            vec![],
            vec![(0, Wait::Full)],
            vec![(2, Wait::Full)],
        ]);
        assert_eq!(q.pop(), Some(0));
        assert_eq!(q.pop(), Some(1));
    }
}
