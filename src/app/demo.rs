//! The demo's simulated county: the configuration's sites, radios and teams turned into a
//! [`crate::sim::SimConfig`] whose peers log into the gateway's own Homebrew master.

use std::net::SocketAddr;

use super::config::{Config, HomebrewMasterConfig, IdOrNumber, SimConfig as SimSection};
use crate::dispatch::{RadioId, TalkgroupId};
use crate::sim::{SimConfig, SimRadioConfig, SimSiteConfig};
use crate::wire::Dialect;

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
