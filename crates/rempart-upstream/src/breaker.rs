//! Per-deployment health: a circuit breaker fed by every call and probe,
//! and a smoothed latency. Time is passed in, so it is testable.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rempart_policy::Health;

/// Breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct BreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long it stays open before one trial request is let through.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 3,
            cooldown: Duration::from_secs(15),
        }
    }
}

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow.
    Closed,
    /// Calls are refused until the cooldown ends.
    Open,
    /// Cooldown over: the next call is a trial.
    HalfOpen,
}

impl BreakerState {
    /// Numeric value for metrics (0 closed, 1 open, 2 half-open).
    pub fn as_gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }
}

#[derive(Debug)]
struct Inner {
    failures: u32,
    opened_at: Option<Instant>,
    latency_ms: Option<f64>,
}

/// A circuit breaker with latency tracking.
#[derive(Debug)]
pub struct Breaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl Breaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Breaker {
        Breaker {
            config,
            inner: Mutex::new(Inner {
                failures: 0,
                opened_at: None,
                latency_ms: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state at `now`.
    pub fn state(&self, now: Instant) -> BreakerState {
        let g = self.lock();
        match g.opened_at {
            None => BreakerState::Closed,
            Some(t) if now.duration_since(t) >= self.config.cooldown => BreakerState::HalfOpen,
            Some(_) => BreakerState::Open,
        }
    }

    /// Health for the policy engine: up unless open.
    pub fn health(&self, now: Instant) -> Health {
        let up = self.state(now) != BreakerState::Open;
        Health {
            up,
            latency_ms: self.lock().latency_ms,
        }
    }

    /// A call or probe succeeded.
    pub fn success(&self, latency: Duration) {
        let mut g = self.lock();
        g.failures = 0;
        g.opened_at = None;
        let ms = latency.as_secs_f64() * 1000.0;
        g.latency_ms = Some(g.latency_ms.map_or(ms, |prev| 0.8 * prev + 0.2 * ms));
    }

    /// A call or probe failed (connect error, timeout, 5xx, 429, broken stream).
    pub fn failure(&self, now: Instant) {
        let mut g = self.lock();
        g.failures = g.failures.saturating_add(1);
        let half_open_trial_failed = g.opened_at.is_some();
        if g.failures >= self.config.failure_threshold || half_open_trial_failed {
            g.opened_at = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_half_opens_then_closes() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 2,
            cooldown: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        b.failure(t0);
        assert_eq!(b.state(t0), BreakerState::Closed);
        b.failure(t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        assert!(!b.health(t0).up);
        let t1 = t0 + Duration::from_secs(11);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        assert!(b.health(t1).up);
        // A failed trial re-opens at once.
        b.failure(t1);
        assert_eq!(b.state(t1), BreakerState::Open);
        let t2 = t1 + Duration::from_secs(11);
        b.success(Duration::from_millis(20));
        assert_eq!(b.state(t2), BreakerState::Closed);
        assert_eq!(b.health(t2).latency_ms, Some(20.0));
    }
}
