//! The demo's simulated county: the configuration's sites, radios and teams turned into a
//! [`crate::sim::SimConfig`] whose peers log into the gateway's own Homebrew master.

use std::net::SocketAddr;

use super::config::{Config, HomebrewMasterConfig, IdOrNumber, SimConfig as SimSection};
use crate::dispatch::TeamRole;
use crate::dispatch::{RadioId, TalkgroupId};
use crate::sim::{SimConfig, SimRadioConfig, SimReply, SimSiteConfig};
use crate::wire::Dialect;

/// Status numbers the demo's radios answer call-outs with (docs/callouts.md): received,
/// on my way, unavailable.
pub const DEMO_RECEIVED: u16 = 1;
/// See [`DEMO_RECEIVED`].
pub const DEMO_ON_MY_WAY: u16 = 2;
/// See [`DEMO_RECEIVED`].
pub const DEMO_UNAVAILABLE: u16 = 9;

/// How the `i`th configured radio's user answers a call-out in the demo, so the whole
/// lifecycle shows: leaders answer "on my way" within seconds; of the members, by their place
/// in the file, some answer quickly, some late (after 40 s), one in five declines
/// ("unavailable") and one in six never answers.
pub fn demo_reply(i: usize, role: Option<TeamRole>) -> Option<SimReply> {
    let reply = |status, delay_ms| Some(SimReply { status, delay_ms });
    if role == Some(TeamRole::Leader) {
        return reply(DEMO_ON_MY_WAY, 3_000 + (i as u64 % 3) * 1_000);
    }
    match i % 30 {
        k if k % 6 == 5 => None,
        k if k % 5 == 4 => reply(DEMO_UNAVAILABLE, 8_000),
        k if k % 4 == 3 => reply(DEMO_ON_MY_WAY, 40_000 + (k as u64) * 500),
        k => reply(DEMO_RECEIVED, 4_000 + (k as u64 % 7) * 1_000),
    }
}

/// The simulated network of `config`: one peer per configured master peer, the configured
/// radios spread over the sites by team (a team's radios share a site and start on the team's
/// talkgroup), with their names as talker aliases.
pub fn sim_config(
    config: &Config,
    sim: &SimSection,
    master: &HomebrewMasterConfig,
    addr: SocketAddr,
) -> anyhow::Result<SimConfig> {
    let sites: Vec<SimSiteConfig> = master
        .peers
        .iter()
        .map(|p| SimSiteConfig {
            peer_id: p.id,
            passphrase: p.passphrase.clone(),
            name: p.site.clone(),
            colour_code: config
                .sites
                .iter()
                .find(|s| s.name == p.site)
                .map_or(1, |s| s.colour_code),
        })
        .collect();
    anyhow::ensure!(
        !sites.is_empty(),
        "the demo needs at least one [[homebrew_master.peer]]"
    );
    // The conversions `Config::validate` checks, so a validated configuration always builds.
    let air = |id: &IdOrNumber, group: bool| -> anyhow::Result<u32> {
        let air = if group {
            id.talkgroup().map(TalkgroupId::air)
        } else {
            id.radio().map(RadioId::air)
        };
        air.map_err(|e| anyhow::anyhow!("{id}: {e}"))
    };
    let mut talkgroups = Vec::new();
    for t in &config.talkgroups {
        talkgroups.push(air(&t.id, true)?);
    }
    let mut radios = Vec::new();
    for (i, r) in config.radios.iter().enumerate() {
        let team = config
            .teams
            .iter()
            .position(|t| Some(t.name.as_str()) == r.team.as_deref());
        let talkgroup = match team.and_then(|t| config.teams[t].talkgroup.as_ref()) {
            Some(tg) => air(tg, true)?,
            None => talkgroups.first().copied().unwrap_or(1),
        };
        radios.push(SimRadioConfig {
            id: air(&r.id, false)?,
            talkgroup,
            site: team.unwrap_or(i) % sites.len(),
            alias: Some(r.name.clone()),
            reply: team.and_then(|_| demo_reply(i, r.role)),
        });
    }
    let mut out = SimConfig::new(addr, sites);
    out.radios = radios;
    out.talkgroups = talkgroups;
    out.seed = sim.seed;
    out.rate = 30.0 / sim.mean_activity_secs.max(1.0);
    out.out_of_coverage = sim.out_of_coverage.clamp(0.0, 1.0);
    out.dialect = match config.sites.first().map(|s| s.dialect) {
        Some(super::config::Dialect::Dmr) => Dialect::Dmr,
        _ => Dialect::Pdt,
    };
    Ok(out)
}
