//! systemd integration for `Type=notify` units (deploy/trunkgate.service), through the
//! `sd-notify` crate: `READY=1` once the gateway serves, `WATCHDOG=1` while the dispatch
//! driver makes progress, `STOPPING=1` when shutdown starts. Without `NOTIFY_SOCKET` (not
//! under systemd) every call does nothing.
//!
//! The watchdog is not a free-running timer: every half `WATCHDOG_USEC` the task looks at the
//! driver's loop counter ([`DriverStats::turns`], advanced at least every driver tick, 100 ms,
//! even when idle) and pings only if it moved since the last look. A driver thread that is
//! stuck (a journal write that never returns, a livelock) stops the pings, and systemd
//! restarts the gateway after `WatchdogSec`. A refused notification is logged once when it
//! starts failing and once when it works again.
//!
//! [`DriverStats::turns`]: super::driver::DriverStats::turns

use std::sync::atomic::Ordering;
use std::time::Duration;

use sd_notify::NotifyState;
use tokio_util::sync::CancellationToken;

use super::driver::DriverHandle;

/// Tell systemd the gateway serves.
pub fn ready() {
    if let Err(e) = sd_notify::notify(&[NotifyState::Ready]) {
        tracing::warn!(error = %e, "cannot tell systemd the gateway is ready (NOTIFY_SOCKET)");
    }
}

/// Tell systemd the gateway is stopping.
pub fn stopping() {
    if let Err(e) = sd_notify::notify(&[NotifyState::Stopping]) {
        tracing::debug!(error = %e, "cannot tell systemd the gateway is stopping");
    }
}

/// Feed the watchdog while the driver makes progress, until `shutdown`; returns at once when
/// systemd asked for no watchdog (no `WATCHDOG_USEC` for this process).
pub async fn watchdog(driver: DriverHandle, shutdown: CancellationToken) {
    let Some(timeout) = sd_notify::watchdog_enabled() else {
        return;
    };
    let every = (timeout / 2).max(Duration::from_millis(50));
    tracing::info!(
        timeout_ms = timeout.as_millis() as u64,
        "systemd watchdog on: pinging while the dispatch driver makes progress"
    );
    let mut last = driver.stats().turns.load(Ordering::Relaxed);
    let mut stalled = false;
    let mut failing = false;
    let mut tick = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = driver.stats().turns.load(Ordering::Relaxed);
        if now == last {
            if !std::mem::replace(&mut stalled, true) {
                tracing::error!(
                    "the dispatch driver made no progress for {} ms: the systemd watchdog is \
                     no longer fed",
                    every.as_millis()
                );
            }
            continue;
        }
        if std::mem::take(&mut stalled) {
            tracing::warn!("the dispatch driver makes progress again: feeding the watchdog");
        }
        last = now;
        match sd_notify::notify(&[NotifyState::Watchdog]) {
            Ok(()) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("systemd watchdog notifications are sent again");
                }
            }
            Err(e) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(error = %e, "cannot send the systemd watchdog notification");
                }
            }
        }
    }
}
