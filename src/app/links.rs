//! The gateway's links as the API shows them: each link's state per site, every counter by
//! name and the last failure, for the `Site` resource and `trunkgate ctl sites`.
//!
//! Counters are read from the links' own atomics ([`LinkCounters`], [`HomebrewCounters`]), one
//! set per link, so nothing here sits on a receive path. The per-site state is written by the
//! ingest task when a link reports a change ([`LinkState`]) and read by the API: a mutex taken
//! only on a state change and on a read.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::api::backend::LinkStatus;
use crate::link::homebrew::HomebrewCounters;
use crate::link::{LinkCounters, LinkState, SiteName};

/// One link's entry.
#[derive(Debug)]
struct Entry {
    name: String,
    kind: &'static str,
    sites: Vec<SiteName>,
    counters: Arc<LinkCounters>,
    homebrew: Option<Arc<HomebrewCounters>>,
}

/// The state of one link on one site.
#[derive(Debug, Clone)]
struct SiteState {
    up: bool,
    since: SystemTime,
    reason: String,
    /// Times the link came up on the site (logins, for Homebrew).
    ups: u64,
}

/// One link's counters for the metrics: per link, with each site's state.
#[derive(Debug, Clone)]
pub struct LinkCounts {
    /// Link name.
    pub name: String,
    /// `homebrew_master`, `homebrew_peer` or `mmdvm`.
    pub kind: &'static str,
    /// Every counter by name (as on the `Site` resource).
    pub counters: BTreeMap<String, u64>,
    /// The latest failure's time.
    pub last_failure: Option<SystemTime>,
    /// (site, up now, times it came up).
    pub sites: Vec<(String, bool, u64)>,
}

/// Every link of the gateway (module doc).
#[derive(Debug, Default)]
pub struct LinkRegistry {
    entries: Vec<Entry>,
    /// By (link name, site name).
    states: Mutex<HashMap<(String, String), SiteState>>,
}

impl LinkRegistry {
    /// Register a link serving `sites` with its counters (and the Homebrew ones, if it is one).
    pub fn add(
        &mut self,
        name: impl Into<String>,
        kind: &'static str,
        sites: Vec<SiteName>,
        counters: Arc<LinkCounters>,
        homebrew: Option<Arc<HomebrewCounters>>,
    ) {
        self.entries.push(Entry {
            name: name.into(),
            kind,
            sites,
            counters,
            homebrew,
        });
    }

    /// Record a state change a link reported.
    pub fn set_state(&self, state: &LinkState) {
        let (link, site, up, reason) = match state {
            LinkState::Up { link, site } => (link, site, true, String::new()),
            LinkState::Down { link, site, reason } => (link, site, false, reason.clone()),
        };
        let Some(site) = site else { return };
        if let Ok(mut states) = self.states.lock() {
            let key = (link.clone(), site.to_string());
            if states.get(&key).is_none_or(|s| s.up != up) {
                let ups = states.get(&key).map_or(0, |s| s.ups) + u64::from(up);
                states.insert(
                    key,
                    SiteState {
                        up,
                        since: SystemTime::now(),
                        reason,
                        ups,
                    },
                );
            } else if let Some(s) = states.get_mut(&key) {
                s.reason = reason;
            }
        }
    }

    /// Every link on every site it serves, with its counters and last failure.
    pub fn statuses(&self) -> Vec<LinkStatus> {
        let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
        let mut out = Vec::new();
        for e in &self.entries {
            let counters = counter_map(&e.counters, e.homebrew.as_deref());
            let last_failure = e.counters.last_failure();
            for site in &e.sites {
                let state = states.get(&(e.name.clone(), site.to_string()));
                out.push(LinkStatus {
                    name: e.name.clone(),
                    kind: e.kind.to_string(),
                    site: site.to_string(),
                    up: state.is_some_and(|s| s.up),
                    since: state.map(|s| s.since),
                    down_reason: state.map(|s| s.reason.clone()).unwrap_or_default(),
                    counters: counters.clone(),
                    last_failure: last_failure.clone(),
                });
            }
        }
        out
    }
}

impl LinkRegistry {
    /// Every link once, with its counters and each site's state (for the metrics).
    pub fn counts(&self) -> Vec<LinkCounts> {
        let states = self.states.lock().map(|s| s.clone()).unwrap_or_default();
        self.entries
            .iter()
            .map(|e| LinkCounts {
                name: e.name.clone(),
                kind: e.kind,
                counters: counter_map(&e.counters, e.homebrew.as_deref()),
                last_failure: e.counters.last_failure().map(|(_, t)| t),
                sites: e
                    .sites
                    .iter()
                    .map(|site| {
                        let s = states.get(&(e.name.clone(), site.to_string()));
                        (
                            site.to_string(),
                            s.is_some_and(|s| s.up),
                            s.map_or(0, |s| s.ups),
                        )
                    })
                    .collect(),
            })
            .collect()
    }
}

/// Every counter by name: the shared link counters, then the Homebrew ones (which name the
/// reasons behind them; where a name is in both, the Homebrew count is the one kept).
fn counter_map(link: &LinkCounters, homebrew: Option<&HomebrewCounters>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut add = |v: serde_json::Value| {
        if let serde_json::Value::Object(m) = v {
            for (k, v) in m {
                if let Some(n) = v.as_u64() {
                    out.insert(k, n);
                }
            }
        }
    };
    add(serde_json::to_value(link.snapshot()).unwrap_or_default());
    if let Some(h) = homebrew {
        add(serde_json::to_value(h.snapshot()).unwrap_or_default());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_carry_state_counters_and_last_failure_per_site() {
        let link = Arc::new(LinkCounters::default());
        let hb = Arc::new(HomebrewCounters::new(link.clone()));
        let mut reg = LinkRegistry::default();
        reg.add(
            "homebrew-master",
            "homebrew_master",
            vec![Arc::from("a"), Arc::from("b")],
            link.clone(),
            Some(hb.clone()),
        );
        LinkCounters::bump(&hb.bad_passphrase);
        LinkCounters::bump(&link.login_failures);
        link.note_failure(Some("bad_passphrase: peer 7".into()));
        reg.set_state(&LinkState::Up {
            link: "homebrew-master".into(),
            site: Some(Arc::from("a")),
        });
        let s = reg.statuses();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].site.as_str(), s[0].up), ("a", true));
        assert_eq!((s[1].site.as_str(), s[1].up), ("b", false));
        assert_eq!(s[0].counters["bad_passphrase"], 1);
        assert_eq!(s[0].counters["login_failures"], 1);
        assert_eq!(
            s[0].last_failure.as_ref().unwrap().0,
            "bad_passphrase: peer 7"
        );
        // Logins count the times a site came up, not repeated reports of the same state.
        for up in [true, false, true] {
            let (link, site) = ("homebrew-master".to_string(), Some(Arc::from("a")));
            reg.set_state(&if up {
                LinkState::Up { link, site }
            } else {
                LinkState::Down {
                    link,
                    site,
                    reason: "timeout".into(),
                }
            });
        }
        let c = reg.counts();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].counters["bad_passphrase"], 1);
        assert_eq!(
            c[0].sites,
            vec![("a".to_string(), true, 2), ("b".to_string(), false, 0)]
        );
    }
}
