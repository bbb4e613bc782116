//! The driver as the API's [`Backend`]: commands and reads through the driver's channel,
//! watches through the journal hub.
//!
//! The hub's subscribe is asynchronous and the API's `watch` is not, so `watch` checks the
//! cursor against the journal at once (a cursor out of range is refused before the stream
//! starts) and the stream subscribes on its first poll. A stream that the hub ends for a
//! reason other than lag (shutdown, a prune overtaking a replay, a replay read failure) ends
//! as `Lagged` with the last cursor delivered: the client resumes from it and, if retention
//! has passed it, gets `OUT_OF_RANGE` then. Cursors are of the hub's journal: one of another
//! journal is refused before anything else is checked. History queries read the journal
//! through the driver's reader on a blocking thread.

use futures::StreamExt;

use std::sync::Arc;

use super::driver::{DriverHandle, decode_record};
use super::links::LinkRegistry;
use crate::api::backend::{
    Backend, EventStream, HistoryQuery, JournaledEvent, LinkStatus, Unavailable, WatchEnd,
    WatchError, WatchStart,
};
use crate::dispatch::{AuditEntry, Core, DispatchError, Reply, Request, Timestamp};
use crate::journal::hub::{Start, Subscription, WatchEnd as HubEnd};
use crate::journal::{Cursor, CursorError, JournalId, KindQuery, UnixMillis};

/// The running gateway's backend.
#[derive(Clone)]
pub struct GatewayBackend {
    driver: DriverHandle,
    links: Arc<LinkRegistry>,
    /// What `GetStatus` reads, when the whole gateway runs.
    observed: Option<super::metrics::Observed>,
}

impl GatewayBackend {
    /// A backend over `driver`, with no links to report.
    pub fn new(driver: DriverHandle) -> GatewayBackend {
        GatewayBackend {
            driver,
            links: Arc::default(),
            observed: None,
        }
    }

    /// Answer `GetStatus` from the whole gateway's counters and queues.
    pub fn with_observed(mut self, observed: super::metrics::Observed) -> GatewayBackend {
        self.observed = Some(observed);
        self
    }

    /// Report these links on the `Site` resource.
    pub fn with_links(mut self, links: Arc<LinkRegistry>) -> GatewayBackend {
        self.links = links;
        self
    }
}

impl Backend for GatewayBackend {
    async fn command(&self, request: Request) -> Result<Result<Reply, DispatchError>, Unavailable> {
        self.driver.command(request).await
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Core, Cursor) -> R + Send + 'static,
    ) -> Result<R, Unavailable> {
        let journal = self.journal();
        self.driver
            .read(move |core, seq| f(core, Cursor::new(journal, seq)))
            .await
    }

    fn journal(&self) -> JournalId {
        self.driver.hub().identity()
    }

    fn watch(&self, start: WatchStart) -> Result<EventStream, WatchError> {
        let hub = self.driver.hub().clone();
        let journal = hub.identity();
        let start = match start {
            WatchStart::Tail => Start::Live,
            WatchStart::After(cursor) => {
                let seq = cursor
                    .seq_in(journal)
                    .map_err(|_| WatchError::OtherJournal { cursor, journal })?;
                self.driver.check_cursor(seq).map_err(|e| match e {
                    Some(CursorError::OutOfRange {
                        oldest_available, ..
                    }) => WatchError::OutOfRange {
                        oldest: hub.cursor(oldest_available),
                    },
                    Some(CursorError::Ahead { latest, .. }) => WatchError::Ahead {
                        cursor,
                        last: latest,
                    },
                    Some(CursorError::OtherJournal { .. }) => {
                        WatchError::OtherJournal { cursor, journal }
                    }
                    None => WatchError::Unavailable,
                })?;
                Start::After(cursor)
            }
        };
        let first = match start {
            Start::After(c) => c,
            Start::Live => hub.latest_cursor(),
        };
        enum State {
            New,
            Open(Box<Subscription<JournaledEvent>>),
            Done,
        }
        let stream = futures::stream::unfold((State::New, first), move |(state, last)| {
            let hub = hub.clone();
            async move {
                let mut sub = match state {
                    State::Done => return None,
                    State::Open(sub) => sub,
                    State::New => match hub.subscribe(start).await {
                        Ok(sub) => Box::new(sub),
                        Err(_) => {
                            let end = WatchEnd::Lagged { resume_after: last };
                            return Some((Err(end), (State::Done, last)));
                        }
                    },
                };
                match sub.next().await {
                    Ok(event) => {
                        let cursor = event.cursor();
                        Some((Ok(event), (State::Open(sub), cursor)))
                    }
                    Err(end) => {
                        let resume_after = match end {
                            HubEnd::Lagged { resume_after }
                            | HubEnd::Closed { resume_after }
                            | HubEnd::Failed { resume_after, .. } => resume_after,
                            HubEnd::OutOfRange { .. } => last,
                        };
                        Some((Err(WatchEnd::Lagged { resume_after }), (State::Done, last)))
                    }
                }
            }
        });
        Ok(stream.boxed())
    }

    fn serving(&self) -> tokio::sync::watch::Receiver<bool> {
        self.driver.serving()
    }

    async fn history(&self, query: HistoryQuery) -> Result<Vec<JournaledEvent>, Unavailable> {
        let reader = self.driver.reader();
        let journal = self.journal();
        let ms = |t: Timestamp| UnixMillis(i64::try_from(t.0).unwrap_or(i64::MAX));
        let unreadable = |reason: String| Unavailable::JournalUnreadable { reason };
        // SQLite reads block: off the async runtime.
        let records = tokio::task::spawn_blocking(move || {
            reader.read_kind(&KindQuery {
                kind: query.kind,
                from: ms(query.from),
                until: ms(query.until),
                before: query.before.map(|(t, seq)| (ms(t), seq)),
                limit: query.limit,
            })
        })
        .await
        .map_err(|e| unreadable(e.to_string()))?
        .map_err(|e| unreadable(e.to_string()))?;
        records
            .into_iter()
            .filter_map(|r| decode_record(journal, r).transpose())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| unreadable(e.to_string()))
    }

    fn record_audit(&self, entry: AuditEntry) {
        // A drop is counted and journaled as `inputs_lost` by the driver.
        self.driver.record_audit(entry);
    }

    fn links(&self) -> Vec<LinkStatus> {
        self.links.statuses()
    }

    async fn status(&self) -> Result<crate::api::status_service::GatewayStatus, Unavailable> {
        match &self.observed {
            Some(observed) => observed.status().await,
            None => Ok(crate::api::status_service::GatewayStatus {
                links: self.links.statuses(),
                ..Default::default()
            }),
        }
    }
}

/// The hub's items are the API's journaled events; their cursor is the journal seq.
impl crate::journal::hub::Sequenced for JournaledEvent {
    fn seq(&self) -> u64 {
        self.seq
    }
}
