//! The boundary between the coordinator and one action's thread: however
//! the action ends, a panic included, the coordinator hears of it, so a
//! build never waits for a message that cannot come (Cargo's job queue
//! guards its jobs the same way).

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::Sender;

use super::outcome::{Failure, Finished};
use super::Msg;
use crate::core::ActionId;
use crate::plan::Action;

/// How one action's thread ended.
#[derive(Debug)]
pub(super) enum Ended {
    /// The action finished or failed, and said so.
    Reported(Box<Result<Finished, Failure>>),
    /// The action panicked, or its thread ended without reporting: a bug
    /// in hbuild. The text is the panic message.
    Panicked(String),
}

/// Sends [`Msg::Done`] for its action when dropped, with what was
/// [`reported`](FinishOnDrop::report) or, if nothing was, as a panic.
pub(super) struct FinishOnDrop {
    tx: Sender<Msg>,
    id: ActionId,
    ended: Option<Ended>,
}

impl FinishOnDrop {
    /// A guard for action `id`.
    pub(super) fn new(tx: Sender<Msg>, id: ActionId) -> Self {
        FinishOnDrop {
            tx,
            id,
            ended: None,
        }
    }

    /// Records how the action ended; sent when the guard drops.
    pub(super) fn report(&mut self, ended: Ended) {
        self.ended = Some(ended);
    }
}

impl Drop for FinishOnDrop {
    fn drop(&mut self) {
        let ended = self.ended.take().unwrap_or_else(|| {
            Ended::Panicked(if std::thread::panicking() {
                "panicked while reporting its result".into()
            } else {
                "ended without reporting a result".into()
            })
        });
        // The coordinator outlives every worker; a send can only fail if
        // it is itself unwinding, and then nobody is waiting.
        let _ = self.tx.send(Msg::Done(self.id, ended));
    }
}

/// Runs `work` (one action) on the calling thread and reports how it ended
/// to the coordinator, a panic included.
pub(super) fn run_reporting(
    tx: Sender<Msg>,
    id: ActionId,
    work: impl FnOnce() -> Result<Finished, Failure>,
) {
    let mut guard = FinishOnDrop::new(tx, id);
    // Shared state a panicking action leaves behind is either behind
    // poison-tolerant locks or only read again by code that re-checks it
    // (stamps, caches verified on read).
    let ended = match panic::catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => Ended::Reported(Box::new(r)),
        Err(payload) => Ended::Panicked(crate::core::panic::panic_message(payload.as_ref())),
    };
    guard.report(ended);
}

/// Environment variable of the test hook [`TestHooks::after_execute`]: the
/// display name of an action (`ok-bin (bin "ok-bin")`, `mylib`) that
/// panics once its process has run. Read by debug builds only.
pub const PANIC_IN_VAR: &str = "HBUILD_TEST_PANIC_IN";

/// Faults the integration tests inject to exercise the failure paths that
/// correct code never takes. Only debug builds read them, so nothing in a
/// release build's environment can make it panic on purpose; they are not
/// part of any key.
#[derive(Clone, Debug, Default)]
pub struct TestHooks {
    panic_in: Option<String>,
}

impl TestHooks {
    /// The hooks set in `env` (none in release builds).
    pub fn from_env(env: &BTreeMap<String, String>) -> Self {
        if !cfg!(debug_assertions) {
            return TestHooks::default();
        }
        TestHooks {
            panic_in: env.get(PANIC_IN_VAR).filter(|v| !v.is_empty()).cloned(),
        }
    }

    /// Panics if `a` is the action named by [`PANIC_IN_VAR`]: after its
    /// process ran, before its result is stored or stamped.
    pub(crate) fn after_execute(&self, a: &Action) {
        if self.panic_in.as_deref() == Some(a.display_name().as_str()) {
            panic!("{PANIC_IN_VAR} names {}", a.display_name());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    fn failure(message: &str) -> Failure {
        Failure {
            errors: 0,
            warnings: 0,
            message: message.into(),
            exit_code: None,
        }
    }

    /// The one message the coordinator gets for action 7.
    fn only_message(rx: &mpsc::Receiver<Msg>) -> Ended {
        let msg = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("the guard reported");
        assert!(rx.try_recv().is_err(), "exactly one message");
        match msg {
            Msg::Done(id, ended) => {
                assert_eq!(id, ActionId(7));
                ended
            }
            _ => panic!("expected Done"),
        }
    }

    #[test]
    fn a_result_is_reported_as_it_is() {
        let (tx, rx) = mpsc::channel();
        run_reporting(tx, ActionId(7), || Err(failure("exit status 1")));
        match only_message(&rx) {
            Ended::Reported(r) => assert_eq!(r.unwrap_err().message, "exit status 1"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_panic_is_reported_with_its_message() {
        let (tx, rx) = mpsc::channel();
        let n = 3;
        run_reporting(tx.clone(), ActionId(7), || panic!("bad index {n}"));
        match only_message(&rx) {
            Ended::Panicked(m) => assert_eq!(m, "bad index 3"),
            e => panic!("{e:?}"),
        }
        run_reporting(tx, ActionId(7), || panic!("static text"));
        match only_message(&rx) {
            Ended::Panicked(m) => assert_eq!(m, "static text"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn a_guard_dropped_without_a_report_still_reports() {
        let (tx, rx) = mpsc::channel();
        drop(FinishOnDrop::new(tx, ActionId(7)));
        match only_message(&rx) {
            Ended::Panicked(m) => assert_eq!(m, "ended without reporting a result"),
            e => panic!("{e:?}"),
        }
    }

    /// A panic payload whose destructor panics: the panic escapes
    /// `catch_unwind` while the result is being reported.
    struct PanicsOnDrop;

    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            panic!("panic while dropping the payload");
        }
    }

    #[test]
    fn a_panic_while_reporting_still_reports() {
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            run_reporting(tx, ActionId(7), || {
                panic::resume_unwind(Box::new(PanicsOnDrop))
            })
        });
        assert!(t.join().is_err(), "the second panic left the thread");
        match only_message(&rx) {
            Ended::Panicked(m) => assert_eq!(m, "panicked while reporting its result"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn hooks_are_read_from_the_given_environment_only() {
        let env: BTreeMap<String, String> = [(
            PANIC_IN_VAR.to_string(),
            "ok-bin (bin \"ok-bin\")".to_string(),
        )]
        .into();
        // A release build ignores the variable.
        let expected = cfg!(debug_assertions).then_some("ok-bin (bin \"ok-bin\")");
        assert_eq!(TestHooks::from_env(&env).panic_in.as_deref(), expected);
        let empty: BTreeMap<String, String> = [(PANIC_IN_VAR.to_string(), String::new())].into();
        assert!(TestHooks::from_env(&empty).panic_in.is_none());
    }
}
