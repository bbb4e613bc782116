//! The simulated network against a real Homebrew master on 127.0.0.1: its sites log in, their
//! radios' traffic arrives as `Received` bursts that ingest turns into inputs, and a command
//! sent through the master reaches a simulated radio and comes back answered by the table.
//! Every wait is bounded by a deadline of seconds.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;
use trunkgate::dispatch::egress;
use trunkgate::dispatch::ingest::Ingest;
use trunkgate::dispatch::{
    AirEvent, AirMessage, AirProfile, Answer, Input, RadioId, Service, SiteId,
};
use trunkgate::link::homebrew::{HomebrewCounters, Master, MasterConfig, PeerEntry, PeerId};
use trunkgate::link::{LinkState, Received, Transmission};
use trunkgate::sim::{self, SimConfig, SimSiteConfig};
use trunkgate::wire::{Dialect, DialectChoice};

const GW: u32 = 0x00_2A01;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sites_log_in_and_answer_a_radio_check_through_the_master() {
    let sites = [(310_001u32, "东城"), (310_002, "西城")];
    let peers = sites
        .iter()
        .map(|&(id, name)| PeerEntry {
            id: PeerId(id),
            passphrase: format!("pw{id}"),
            site: Arc::from(name),
            allow: None,
            allowed_sources: None,
        })
        .collect();
    let master = Master::bind(
        MasterConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), peers),
        Arc::new(HomebrewCounters::default()),
    )
    .await
    .unwrap();
    let addr = master.local_addr().unwrap();
    let (rx_tx, mut rx) = mpsc::channel::<Received>(4_096);
    let (tx, tx_rx) = mpsc::channel::<Transmission>(256);
    let (state_tx, mut state) = mpsc::channel::<LinkState>(64);
    let stop = CancellationToken::new();
    let master_task = tokio::spawn(master.run(rx_tx, tx_rx, state_tx, stop.clone()));

    let mut cfg = SimConfig::new(
        addr,
        sites
            .iter()
            .map(|&(id, name)| SimSiteConfig {
                peer_id: id,
                passphrase: format!("pw{id}"),
                name: name.into(),
                colour_code: 1,
            })
            .collect(),
    );
    cfg.generate = 6;
    cfg.out_of_coverage = 0.0;
    cfg.dialect = Dialect::Pdt;
    cfg.seed = 11;
    let sim_stop = CancellationToken::new();
    let sim_task = tokio::spawn(sim::run(cfg, sim_stop.clone()));

    // both peers log in
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = 0;
    while up < 2 {
        match timeout_at(deadline, state.recv()).await {
            Ok(Some(LinkState::Up { .. })) => up += 1,
            Ok(Some(_)) => {}
            other => panic!("peers did not log in: {other:?}"),
        }
    }

    // the radios register on their sites: 3 each
    let mut ingests = [
        Ingest::new(SiteId::new("东城"), DialectChoice::Pdt),
        Ingest::new(SiteId::new("西城"), DialectChoice::Pdt),
    ];
    let mut registered: Vec<(String, u32)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut inputs = Vec::new();
    while registered.len() < 6 {
        let r = match timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => r,
            other => panic!("registrations missing ({registered:?}): {other:?}"),
        };
        let k = usize::from(&*r.site == "西城");
        ingests[k].feed(&r, &mut inputs);
        for i in inputs.drain(..) {
            if let Input::Air(a) = i
                && let AirEvent::Registered { radio } = a.event
            {
                registered.push((a.site.as_str().to_owned(), radio.air()));
            }
        }
    }
    registered.sort();
    registered.dedup();
    assert_eq!(registered.len(), 6, "{registered:?}");

    // a radio check to a radio of the second site, sent through the master
    let (_, target) = registered
        .iter()
        .find(|(s, _)| s == "西城")
        .cloned()
        .unwrap();
    let radio = RadioId::new(target).unwrap();
    let bursts = egress::encode(
        1,
        Dialect::Pdt,
        AirProfile::Pdt,
        &AirMessage::RadioCheck { radio },
        GW,
    )
    .unwrap();
    for t in egress::to_transmits(&"西城".into(), &bursts) {
        tx.send(t.into()).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    'wait: loop {
        let r = match timeout_at(deadline, rx.recv()).await {
            Ok(Some(r)) => r,
            other => panic!("no answer to the radio check: {other:?}"),
        };
        let k = usize::from(&*r.site == "西城");
        ingests[k].feed(&r, &mut inputs);
        for i in inputs.drain(..) {
            if let Input::Air(a) = i
                && let AirEvent::Answer {
                    radio: from,
                    service,
                    answer,
                } = a.event
                && from == radio
            {
                assert_eq!(a.site.as_str(), "西城");
                assert_eq!(service, Some(Service::RadioCheck));
                assert_eq!(answer, Answer::Accepted);
                break 'wait;
            }
        }
    }
    for ing in &ingests {
        let c = ing.counters();
        assert_eq!((c.sync, c.fec, c.crc, c.data_errors), (0, 0, 0, 0), "{c:?}");
    }

    sim_stop.cancel();
    let counters = tokio::time::timeout(Duration::from_secs(10), sim_task)
        .await
        .expect("the sim stops")
        .unwrap()
        .unwrap();
    assert_eq!(counters.len(), 2);
    assert!(counters[1].answers >= 1 && counters[1].bursts_received >= 7);
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), master_task).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_mode_sends_decodable_bursts_through_the_master() {
    let peers = vec![PeerEntry {
        id: PeerId(320_001),
        passphrase: "load".into(),
        site: Arc::from("load"),
        allow: None,
        allowed_sources: None,
    }];
    let master = Master::bind(
        MasterConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), peers),
        Arc::new(HomebrewCounters::default()),
    )
    .await
    .unwrap();
    let addr = master.local_addr().unwrap();
    let (rx_tx, mut rx) = mpsc::channel::<Received>(65_536);
    let (_tx, tx_rx) = mpsc::channel::<Transmission>(16);
    let (state_tx, _state) = mpsc::channel::<LinkState>(64);
    let stop = CancellationToken::new();
    let master_task = tokio::spawn(master.run(rx_tx, tx_rx, state_tx, stop.clone()));

    let mut network = SimConfig::new(
        addr,
        vec![SimSiteConfig {
            peer_id: 320_001,
            passphrase: "load".into(),
            name: "load".into(),
            colour_code: 4,
        }],
    );
    network.generate = 50;
    let load = sim::LoadConfig {
        network,
        bursts_per_second: 400,
        duration: Some(Duration::from_secs(2)),
    };
    let counters = tokio::time::timeout(
        Duration::from_secs(20),
        sim::run_load(load, CancellationToken::new()),
    )
    .await
    .expect("the load run ends after its duration")
    .unwrap();
    assert!(counters.bursts_sent > 0);

    // what arrived decodes cleanly
    let mut ing = Ingest::new(SiteId::new("load"), DialectChoice::Pdt);
    let mut inputs = Vec::new();
    let mut arrived = 0u64;
    while let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        arrived += 1;
        ing.feed(&r, &mut inputs);
    }
    let c = ing.counters();
    println!(
        "load: target 400 bursts/s for 2 s; sent {}, arrived {arrived}, inputs {}",
        counters.bursts_sent, c.inputs
    );
    assert!(arrived > 0 && arrived <= counters.bursts_sent);
    assert_eq!((c.sync, c.fec, c.crc, c.data_errors), (0, 0, 0, 0), "{c:?}");
    assert!(!inputs.is_empty());
    stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), master_task).await;
}
