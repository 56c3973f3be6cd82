//! The server span's sampling decision, taken by observe before the SDK
//! builds anything: a request whose trace is sampled out (the common case
//! of a ratio sampler) gets its ids and a non-recording span context
//! without the SDK's span, builder and attribute list, which cost it more
//! than the decision itself.
//!
//! The decision is exactly the configured sampler's: observe asks it with
//! the same parent, trace id, name, kind and attributes the SDK would. A
//! span it keeps is then built by the SDK with that same decision, handed
//! over through the provider's sampler ([`Presampled`]) and id generator
//! ([`Ids`]), so the sampler runs once per server span (a rate-limiting
//! sampler is charged once) and a ratio sampler decides on the trace id the
//! span is built with.

use std::cell::RefCell;

use opentelemetry::trace::{Link, SpanId, SpanKind, TraceId};
use opentelemetry::{Context as OtelContext, KeyValue};
use opentelemetry_sdk::trace::{IdGenerator, Sampler, SamplingResult, ShouldSample};

use crate::base::ids::{new_span_id, new_trace_id};

thread_local! {
    /// The decision observe took for the span this thread is about to
    /// build, with the trace id it was taken for.
    static DECIDED: RefCell<Option<(TraceId, SamplingResult)>> = const { RefCell::new(None) };
}

/// Asks `sampler` about a server span, as the SDK would.
pub(crate) fn decide(
    sampler: &Sampler,
    parent: &OtelContext,
    trace_id: TraceId,
    name: &str,
    attributes: &[KeyValue],
) -> SamplingResult {
    sampler.should_sample(
        Some(parent),
        trace_id,
        name,
        &SpanKind::Server,
        attributes,
        &[],
    )
}

/// Runs `build` (which builds one span with the SDK) with `decision`
/// standing for the sampler's and `trace_id` for a root span's new id.
pub(crate) fn build_decided<R>(
    trace_id: TraceId,
    decision: SamplingResult,
    build: impl FnOnce() -> R,
) -> R {
    /// Clears what the SDK did not take (it returns early for a provider
    /// that is shut down), so no later span inherits it.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            DECIDED.with_borrow_mut(|d| *d = None);
        }
    }
    DECIDED.with_borrow_mut(|d| *d = Some((trace_id, decision)));
    let _clear = Clear;
    build()
}

/// The provider's sampler: the configured one, except for the server span
/// observe decided already (see [`build_decided`]).
#[derive(Debug, Clone)]
pub(crate) struct Presampled(pub(crate) Sampler);

impl ShouldSample for Presampled {
    fn should_sample(
        &self,
        parent_context: Option<&OtelContext>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        match DECIDED.take() {
            Some((decided, result)) if decided == trace_id => result,
            _ => self
                .0
                .should_sample(parent_context, trace_id, name, span_kind, attributes, links),
        }
    }
}

/// The provider's ids: random, from the same source as the ids of
/// requests that export nothing; a root server span's trace id is the one
/// its sampling decision was taken for.
#[derive(Debug)]
pub(crate) struct Ids;

impl IdGenerator for Ids {
    fn new_trace_id(&self) -> TraceId {
        DECIDED
            .with_borrow(|d| d.as_ref().map(|(id, _)| *id))
            .unwrap_or_else(|| TraceId::from_bytes(new_trace_id()))
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from_bytes(new_span_id())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{SamplingDecision, SdkTracerProvider};

    use super::*;

    /// A ratio sampler that counts its calls.
    #[derive(Debug, Clone)]
    struct Counting(Arc<AtomicUsize>);

    impl ShouldSample for Counting {
        fn should_sample(
            &self,
            parent_context: Option<&OtelContext>,
            trace_id: TraceId,
            name: &str,
            span_kind: &SpanKind,
            attributes: &[KeyValue],
            links: &[Link],
        ) -> SamplingResult {
            self.0.fetch_add(1, Ordering::Relaxed);
            Sampler::TraceIdRatioBased(0.5).should_sample(
                parent_context,
                trace_id,
                name,
                span_kind,
                attributes,
                links,
            )
        }
    }

    #[test]
    fn a_kept_span_is_built_on_the_decision_taken_once_for_its_trace_id() {
        let calls = Arc::new(AtomicUsize::new(0));
        let sampler = Sampler::ParentBased(Box::new(Counting(Arc::clone(&calls))));
        let provider = SdkTracerProvider::builder()
            .with_sampler(Presampled(sampler.clone()))
            .with_id_generator(Ids)
            .build();
        let tracer = provider.tracer("test");
        let root = OtelContext::new();
        let (mut kept, mut dropped) = (0, 0);
        for _ in 0..200 {
            let trace_id = TraceId::from_bytes(new_trace_id());
            let decision = decide(&sampler, &root, trace_id, "GET", &[]);
            if decision.decision == SamplingDecision::Drop {
                dropped += 1;
                continue;
            }
            kept += 1;
            let span = build_decided(trace_id, decision, || {
                tracer
                    .span_builder("GET")
                    .with_kind(SpanKind::Server)
                    .start_with_context(&tracer, &root)
            });
            assert_eq!(span.span_context().trace_id(), trace_id);
            assert!(span.span_context().is_sampled());
            assert!(span.is_recording());
            // Its children follow it (parent-based): sampled, on the
            // trace id, each asking the sampler's parent rule, not the
            // ratio.
            let parent = root.with_span(span);
            let child = tracer.start_with_context("child", &parent);
            assert_eq!(child.span_context().trace_id(), trace_id);
            assert!(child.span_context().is_sampled());
        }
        // Half of 200 random ids, give or take: both branches ran.
        assert!(kept > 50 && dropped > 50, "kept {kept}, dropped {dropped}");
        // Once per root decision; never again inside the SDK, and children
        // of a sampled parent never reach the ratio.
        assert_eq!(calls.load(Ordering::Relaxed), 200);
        // Nothing is left behind for the next span on this thread.
        assert!(DECIDED.with_borrow(Option::is_none));
        let other = tracer.start_with_context("later", &root);
        assert!(other.span_context().is_valid());
        assert_eq!(calls.load(Ordering::Relaxed), 201);
    }
}
