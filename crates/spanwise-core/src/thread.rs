//! `std::thread` with the span context carried over: spans made in the new thread are children
//! of the span that was current where the thread was spawned, in the same trace.
//!
//! ```
//! let _root = spanwise_core::start_span("main");
//! let handle = spanwise_core::thread::spawn(|| {
//!     let child = spanwise_core::start_span("worker");
//!     child.trace_id()
//! });
//! assert_eq!(handle.join().unwrap(), spanwise_core::current_trace_id());
//! ```
//!
//! For rayon and other pools, wrap the closure with [`Context::wrap`](crate::Context::wrap):
//! `items.par_iter().map(ctx.wrap(|x| work(x)))`.

use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

use crate::context::Context;

/// Spawns a thread (as [`std::thread::spawn`]) that runs `f` in the current context.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let ctx = Context::current();
    std::thread::spawn(move || ctx.run(f))
}

/// Creates a scope (as [`std::thread::scope`]) whose threads, spawned with
/// [`ContextScope::spawn`], run in the context current when `scope` was called.
///
/// ```
/// let root = spanwise_core::start_span("fan-out");
/// let ids = spanwise_core::thread::scope(|s| {
///     let a = s.spawn(|| spanwise_core::start_span("a").trace_id());
///     let b = s.spawn(|| spanwise_core::start_span("b").trace_id());
///     [a.join().unwrap(), b.join().unwrap()]
/// });
/// assert_eq!(ids, [root.trace_id(), root.trace_id()]);
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&ContextScope<'scope, 'env>) -> T,
{
    let ctx = Context::current();
    std::thread::scope(|s| f(&ContextScope { inner: s, ctx }))
}

/// A thread scope that carries the span context; see [`scope`].
pub struct ContextScope<'scope, 'env: 'scope> {
    inner: &'scope Scope<'scope, 'env>,
    ctx: Context,
}

impl<'scope> ContextScope<'scope, '_> {
    /// Spawns a scoped thread that runs `f` in the scope's context.
    pub fn spawn<F, T>(&self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let ctx = self.ctx.clone();
        self.inner.spawn(move || ctx.run(f))
    }
}
