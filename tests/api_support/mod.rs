//! An in-test backend for the gRPC API: a driver thread owning a real dispatch `Core`, an
//! in-memory journal with a bounded broadcast fan-out, and a test-controlled clock. It
//! implements `api::Backend` as the gateway's driver does (its journal has an identity, and a
//! cursor of another journal is refused), so the integration tests run the generated gRPC
//! clients over 127.0.0.1 against the real server and the real core.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

use trunkgate::api::{
    self, ApiConfig, Backend, EventStream, HistoryQuery, JournaledEvent, Unavailable, WatchEnd,
    WatchError, WatchStart, pb,
};
use trunkgate::dispatch::{
    AirEvent, AirInput, AirProfile, AuditEntry, Config, Core, Directory, DirectoryRadio,
    DirectorySite, DirectoryTalkgroup, DirectoryTeam, DispatchError, Input, Output, RadioId, Reply,
    Request, SiteId, TalkgroupId, Timestamp,
};
use trunkgate::journal::{Cursor, JournalId};
use trunkgate::link::Slot;

#[path = "../access_support/mod.rs"]
pub mod access;

pub use access::Ch;

pub const S1: &str = "城关站";

pub fn a() -> RadioId {
    "80020200".parse().expect("dial number")
}
pub fn b() -> RadioId {
    "80020201".parse().expect("dial number")
}
pub fn g() -> TalkgroupId {
    "80020910".parse().expect("group number")
}

type ReadFn = Box<dyn FnOnce(&Core, Cursor) + Send>;

enum Msg {
    Command(Request, oneshot::Sender<Result<Reply, DispatchError>>),
    Read(ReadFn),
    Input(Input, oneshot::Sender<()>),
    Advance(u64, oneshot::Sender<()>),
}

struct Journal {
    events: VecDeque<Arc<JournaledEvent>>,
    /// Cursor of the last journaled event (0 before any).
    last: u64,
    /// Oldest cursor a watch may start after.
    oldest: u64,
    bus: broadcast::Sender<Arc<JournaledEvent>>,
}

/// The test backend; clone the handle freely.
#[derive(Clone)]
pub struct TestBackend {
    tx: mpsc::Sender<Msg>,
    journal: Arc<Mutex<Journal>>,
    /// The in-memory journal's identity.
    pub journal_id: JournalId,
    links: watch::Receiver<bool>,
    /// Every Transmit output, in order.
    pub transmits: Arc<Mutex<Vec<Output>>>,
}

impl TestBackend {
    /// A driver thread over a fresh core; `bus` is the broadcast capacity per subscriber.
    pub fn start(bus: usize) -> TestBackend {
        TestBackend::start_with_journal(bus, JournalId::random().expect("OS random source"))
    }

    /// As [`TestBackend::start`], over a journal with the identity `journal_id`.
    pub fn start_with_journal(bus: usize, journal_id: JournalId) -> TestBackend {
        let (tx, mut rx) = mpsc::channel::<Msg>(64);
        let (bus_tx, _) = broadcast::channel(bus);
        let journal = Arc::new(Mutex::new(Journal {
            events: VecDeque::new(),
            last: 0,
            oldest: 0,
            bus: bus_tx,
        }));
        let (links_tx, links) = watch::channel(false);
        let transmits = Arc::new(Mutex::new(Vec::new()));
        let (j, t) = (journal.clone(), transmits.clone());
        std::thread::spawn(move || {
            let mut core = Core::new(Config::default());
            let mut now = Timestamp(1_700_000_000_000);
            let mut token = 0u64;
            let mut pending: HashMap<u64, oneshot::Sender<Result<Reply, DispatchError>>> =
                HashMap::new();
            while let Some(msg) = rx.blocking_recv() {
                let mut out = Vec::new();
                let mut done = None;
                match msg {
                    Msg::Command(request, reply) => {
                        token += 1;
                        pending.insert(token, reply);
                        // Audited as the gateway's driver does: same batch, before the reply.
                        let audit = request.clone();
                        let from = out.len();
                        core.handle(now, Input::Command { token, request }, &mut out);
                        let entry = out[from..].iter().find_map(|o| match o {
                            Output::Reply { token: t, result } if *t == token => {
                                Some(AuditEntry::for_command(&audit, result))
                            }
                            _ => None,
                        });
                        if let Some(entry) = entry {
                            core.handle(now, Input::Audit(entry), &mut out);
                        }
                    }
                    Msg::Read(f) => {
                        let last = j.lock().unwrap().last;
                        f(&core, Cursor::new(journal_id, last));
                    }
                    Msg::Input(input, ack) => {
                        core.handle(now, input, &mut out);
                        done = Some(ack);
                    }
                    Msg::Advance(ms, ack) => {
                        now = now.plus_ms(ms);
                        core.handle(now, Input::Tick, &mut out);
                        done = Some(ack);
                    }
                }
                // The link sends each transmission at once and reports it sent.
                while !out.is_empty() {
                    let mut sent = Vec::new();
                    for o in std::mem::take(&mut out) {
                        match o {
                            Output::Event(event) => {
                                let mut j = j.lock().unwrap();
                                j.last += 1;
                                let cursor = Cursor::new(journal_id, j.last);
                                let e = Arc::new(JournaledEvent::new(cursor, event));
                                j.events.push_back(e.clone());
                                let _ = j.bus.send(e);
                            }
                            Output::Transmit {
                                ref site,
                                slot,
                                operation,
                                attempt,
                                ..
                            } => {
                                sent.push(Input::TransmissionSent {
                                    operation,
                                    attempt,
                                    site: site.clone(),
                                    slot,
                                    at: now,
                                });
                                t.lock().unwrap().push(o);
                            }
                            Output::Reply { token, result } => {
                                if let Some(tx) = pending.remove(&token) {
                                    let _ = tx.send(result);
                                }
                            }
                        }
                    }
                    for input in sent {
                        core.handle(now, input, &mut out);
                    }
                }
                links_tx.send_if_modified(|up| {
                    let now_up = core.any_link_up();
                    let changed = *up != now_up;
                    *up = now_up;
                    changed
                });
                if let Some(ack) = done {
                    let _ = ack.send(());
                }
            }
        });
        TestBackend {
            tx,
            journal,
            journal_id,
            links,
            transmits,
        }
    }

    /// Feed an input and wait until the driver handled it.
    pub async fn input(&self, input: Input) {
        let (ack, done) = oneshot::channel();
        self.tx.send(Msg::Input(input, ack)).await.expect("driver");
        done.await.expect("driver");
    }

    /// Something heard on site S1.
    pub async fn air(&self, event: AirEvent) {
        self.input(Input::Air(AirInput {
            site: SiteId::new(S1),
            slot: Slot::One,
            rssi_dbm: Some(-80),
            event,
        }))
        .await;
    }

    /// Advance the clock and tick.
    pub async fn advance(&self, ms: u64) {
        let (ack, done) = oneshot::channel();
        self.tx.send(Msg::Advance(ms, ack)).await.expect("driver");
        done.await.expect("driver");
    }

    /// The sequence number of the last journaled event.
    pub fn last_seq(&self) -> u64 {
        self.journal.lock().unwrap().last
    }

    /// The cursor of `seq` in this backend's journal, as the API writes it.
    pub fn cursor(&self, seq: u64) -> String {
        Cursor::new(self.journal_id, seq).to_string()
    }

    /// Forget every event up to and including `upto` (retention).
    pub fn prune(&self, upto: u64) {
        let mut j = self.journal.lock().unwrap();
        while j.events.front().is_some_and(|e| e.seq <= upto) {
            j.events.pop_front();
        }
        j.oldest = j.oldest.max(upto);
    }

    /// Transmit outputs so far.
    pub fn transmit_count(&self) -> usize {
        self.transmits.lock().unwrap().len()
    }

    /// The standard scene: site S1 up (PDT), radios A (张三) and B registered, talkgroup G,
    /// a team, and `extra` more directory radios.
    pub async fn scene(&self, extra: u32) {
        let mut radios = vec![
            DirectoryRadio {
                id: a(),
                name: Some("张三".into()),
            },
            DirectoryRadio {
                id: b(),
                name: None,
            },
        ];
        for i in 0..extra {
            let dial = format!("800{}{}", 21, 200 + i);
            radios.push(DirectoryRadio {
                id: dial.parse().expect("dial number"),
                name: Some(format!("队员{i}")),
            });
        }
        self.input(Input::Directory(Directory {
            radios,
            talkgroups: vec![DirectoryTalkgroup {
                id: g(),
                name: Some("城关镇救援一组".into()),
                slot: None,
                sites: Vec::new(),
            }],
            sites: vec![DirectorySite {
                id: SiteId::new(S1),
                display_name: Some("城关".into()),
                profile: AirProfile::Pdt,
                air: Default::default(),
            }],
            teams: vec![DirectoryTeam {
                key: "chengguan".into(),
                name: "城关镇应急救援队".into(),
                radios: vec![a()],
                talkgroup: Some(g()),
                ..Default::default()
            }],
        }))
        .await;
        self.input(Input::SiteUp {
            site: SiteId::new(S1),
        })
        .await;
        self.air(AirEvent::Registered { radio: a() }).await;
        self.air(AirEvent::Registered { radio: b() }).await;
    }
}

impl Backend for TestBackend {
    async fn command(&self, request: Request) -> Result<Result<Reply, DispatchError>, Unavailable> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Command(request, tx))
            .await
            .map_err(|_| Unavailable::Stopped)?;
        rx.await.map_err(|_| Unavailable::Stopped)
    }

    async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Core, Cursor) -> R + Send + 'static,
    ) -> Result<R, Unavailable> {
        let (tx, rx) = oneshot::channel();
        let read: ReadFn = Box::new(move |core, c| {
            let _ = tx.send(f(core, c));
        });
        self.tx
            .send(Msg::Read(read))
            .await
            .map_err(|_| Unavailable::Stopped)?;
        rx.await.map_err(|_| Unavailable::Stopped)
    }

    fn journal(&self) -> JournalId {
        self.journal_id
    }

    fn watch(&self, start: WatchStart) -> Result<EventStream, WatchError> {
        let j = self.journal.lock().unwrap();
        // Subscribing and copying the replay under the journal lock: nothing slips between.
        let rx = j.bus.subscribe();
        let journal = self.journal_id;
        let after = match start {
            WatchStart::Tail => j.last,
            WatchStart::After(c) if c.journal != journal => {
                return Err(WatchError::OtherJournal { cursor: c, journal });
            }
            WatchStart::After(c) if c.seq < j.oldest => {
                return Err(WatchError::OutOfRange {
                    oldest: Cursor::new(journal, j.oldest),
                });
            }
            WatchStart::After(c) if c.seq > j.last => {
                return Err(WatchError::Ahead {
                    cursor: c,
                    last: j.last,
                });
            }
            WatchStart::After(c) => c.seq,
        };
        let replay: Vec<_> = j.events.iter().filter(|e| e.seq > after).cloned().collect();
        let replayed_to = replay.last().map_or(after, |e| e.seq);
        drop(j);
        let live = futures::stream::unfold(
            (rx, replayed_to, false),
            move |(mut rx, last, ended)| async move {
                if ended {
                    return None;
                }
                loop {
                    match rx.recv().await {
                        Ok(e) if e.seq <= last => continue,
                        Ok(e) => {
                            let seq = e.seq;
                            return Some((Ok(e), (rx, seq, false)));
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let end = WatchEnd::Lagged {
                                resume_after: Cursor::new(journal, last),
                            };
                            return Some((Err(end), (rx, last, true)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        );
        Ok(futures::stream::iter(replay.into_iter().map(Ok))
            .chain(live)
            .boxed())
    }

    fn serving(&self) -> watch::Receiver<bool> {
        self.links.clone()
    }

    fn record_audit(&self, entry: AuditEntry) {
        let (ack, _) = oneshot::channel();
        let _ = self.tx.try_send(Msg::Input(Input::Audit(entry), ack));
    }

    async fn history(&self, q: HistoryQuery) -> Result<Vec<JournaledEvent>, Unavailable> {
        let j = self.journal.lock().unwrap();
        let mut out: Vec<JournaledEvent> = j
            .events
            .iter()
            .filter(|e| {
                e.event.kind.name() == q.kind
                    && e.event.at >= q.from
                    && e.event.at < q.until
                    && q.before.is_none_or(|b| (e.event.at, e.seq) < b)
            })
            .map(|e| JournaledEvent::new(e.cursor(), e.event.clone()))
            .collect();
        out.sort_by_key(|e| std::cmp::Reverse((e.event.at, e.seq)));
        out.truncate(q.limit);
        Ok(out)
    }
}

/// A running server over a test backend.
pub struct Server {
    pub backend: TestBackend,
    pub addr: SocketAddr,
    /// A channel sending the test token (a supervisor and admin).
    pub channel: Ch,
    /// The same connection without credentials.
    pub plain: tonic::transport::Channel,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), api::ServeError>>,
}

impl Server {
    pub async fn start(backend: TestBackend, config: ApiConfig) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(api::serve(
            Arc::new(backend.clone()),
            listener,
            config,
            async move {
                let _ = stopped.await;
            },
        ));
        let plain = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect("connect");
        Server {
            backend,
            addr,
            channel: access::authed(plain.clone()),
            plain,
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }

    pub fn commands(&self) -> pb::command_service_client::CommandServiceClient<Ch> {
        pb::command_service_client::CommandServiceClient::new(self.channel.clone())
    }
    pub fn operations(&self) -> pb::operation_service_client::OperationServiceClient<Ch> {
        pb::operation_service_client::OperationServiceClient::new(self.channel.clone())
    }
    pub fn radios(&self) -> pb::radio_service_client::RadioServiceClient<Ch> {
        pb::radio_service_client::RadioServiceClient::new(self.channel.clone())
    }
    pub fn alarms(&self) -> pb::alarm_service_client::AlarmServiceClient<Ch> {
        pb::alarm_service_client::AlarmServiceClient::new(self.channel.clone())
    }
    pub fn events(&self) -> pb::event_service_client::EventServiceClient<Ch> {
        pb::event_service_client::EventServiceClient::new(self.channel.clone())
    }
}

/// A test config: short heartbeat, small watch queue.
pub fn config() -> ApiConfig {
    ApiConfig {
        access: Some(access::access()),
        heartbeat: Duration::from_millis(200),
        grace: Duration::from_secs(2),
        ..ApiConfig::default()
    }
}
