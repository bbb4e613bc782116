//! Read-only, paginated queries for the API (AIP-158): every list is ordered by its key and
//! resumes after the last key of the previous page, so a page token is just that key.
//!
//! The `list_*` queries walk a collection in either direction (newest first is descending
//! keys: call, alarm and operation numbers grow with time) with a caller's predicate, and do
//! bounded work: one page examines at most [`MAX_SCAN`] items, matching or not, and when the
//! budget runs out first it returns what it found with the key to continue after. So a
//! filter that matches rarely costs several short requests, never one long pause of the
//! driver that runs them.

use std::collections::BTreeMap;
use std::ops::Bound;

use super::Core;
use super::ids::{
    AlarmId, CallId, DialNumber, IdError, IdKind, MessageId, OperationId, RadioId, SiteId,
    TalkgroupId, TeamId, Timestamp,
};
use super::model::{
    Addressee, Alarm, AlarmState, Call, Direction, Message, Operation, PositionReport, Radio, Site,
    Talkgroup, Team, Track,
};

/// Largest page any query returns.
pub const MAX_PAGE_SIZE: usize = 1_000;

/// One page of results and the key to resume after, if there may be more.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<K, T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `None` at the end.
    pub next_after: Option<K>,
}

/// Which radios to list; all `None` lists every radio.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RadioFilter {
    /// Last heard on this site.
    pub site: Option<SiteId>,
    /// Member of this team.
    pub team: Option<TeamId>,
    /// Affiliated to this talkgroup.
    pub talkgroup: Option<TalkgroupId>,
    /// Only registered radios.
    pub registered_only: bool,
}

impl RadioFilter {
    /// Whether `r` passes.
    pub fn matches(&self, r: &Radio) -> bool {
        (self.site.is_none() || r.presence.as_ref().map(|p| &p.site) == self.site.as_ref())
            && (self.team.is_none() || r.team == self.team)
            && (self.talkgroup.is_none() || r.talkgroup == self.talkgroup)
            && (!self.registered_only || r.registered)
    }
}

/// Which calls to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CallFilter {
    /// Active and recent.
    #[default]
    All,
    /// Only calls in progress.
    Active,
    /// Only ended calls.
    Ended,
}

/// Which alarms to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlarmFilter {
    /// Only alarms in this state.
    pub state: Option<AlarmState>,
}

/// Which messages to list; the default lists every message kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFilter {
    /// From this radio (inbound) or to it (outbound).
    pub radio: Option<RadioId>,
    /// Addressed to this talkgroup.
    pub talkgroup: Option<TalkgroupId>,
    /// Involving a member of this team, or addressed to the team's talkgroup.
    pub team: Option<TeamId>,
    /// Only this direction.
    pub direction: Option<Direction>,
    /// Only handled (`Some(true)`) or not yet handled (`Some(false)`) messages.
    pub handled: Option<bool>,
    /// At or after this time.
    pub since: Option<Timestamp>,
    /// Before this time.
    pub until: Option<Timestamp>,
}

/// A radio with what the API shows beside it: its team's key and its latest position.
#[derive(Debug, Clone, PartialEq)]
pub struct RadioView {
    /// The radio.
    pub radio: Radio,
    /// The key (`teams/{key}`) of its team.
    pub team: Option<String>,
    /// The latest position report, if it ever sent one.
    pub position: Option<PositionReport>,
}

/// Why a typed identity names no single radio or talkgroup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// Not an identity at all.
    #[error("{0}")]
    Syntax(IdError),
    /// The air address is both a known radio and a known talkgroup.
    #[error(
        "{typed:?} is ambiguous: it is radio {radio} and talkgroup {talkgroup}; \
         write radios/{radio} or talkgroups/{talkgroup}"
    )]
    Ambiguous {
        /// What was typed.
        typed: String,
        /// The radio reading.
        radio: RadioId,
        /// The talkgroup reading.
        talkgroup: TalkgroupId,
    },
    /// A raw air address that is neither a known radio nor a known talkgroup, so nothing
    /// tells which it is.
    #[error(
        "{typed:?} is neither a known radio nor a known talkgroup; write radios/{typed} or \
         talkgroups/{typed}"
    )]
    Unknown {
        /// What was typed.
        typed: String,
    },
}

impl MessageFilter {
    fn matches(
        &self,
        m: &Message,
        teams: &[Team],
        radio_team: impl Fn(RadioId) -> Option<TeamId>,
    ) -> bool {
        let tg = match m.to {
            Addressee::Talkgroup(t) => Some(t),
            Addressee::Radio(_) => None,
        };
        let radios = [m.source, m.radio()];
        self.radio.is_none_or(|r| radios.contains(&Some(r)))
            && self.talkgroup.is_none_or(|t| tg == Some(t))
            && self.team.is_none_or(|team| {
                radios
                    .iter()
                    .flatten()
                    .any(|r| radio_team(*r) == Some(team))
                    || (tg.is_some()
                        && teams
                            .iter()
                            .any(|t| t.id == team && t.talkgroup.is_some() && t.talkgroup == tg))
            })
            && self.direction.is_none_or(|d| m.direction == d)
            && self.handled.is_none_or(|h| m.handled.is_some() == h)
            && self.since.is_none_or(|t| m.at >= t)
            && self.until.is_none_or(|t| m.at < t)
    }
}

fn page<'a, K: Ord + Copy + 'a, V: 'a, T>(
    iter: impl Iterator<Item = (&'a K, &'a V)>,
    size: usize,
    keep: impl Fn(&V) -> bool,
    map: impl Fn(&V) -> T,
) -> Page<K, T> {
    let size = size.clamp(1, MAX_PAGE_SIZE);
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in iter {
        if !keep(v) {
            continue;
        }
        if items.len() == size {
            more = true;
            break;
        }
        items.push(map(v));
        last = Some(*k);
    }
    Page {
        items,
        next_after: if more { last } else { None },
    }
}

/// Items one `list_*` page examines at most.
pub const MAX_SCAN: usize = 10_000;

/// How to walk a collection for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Walk<K> {
    /// Continue after this key (in the walk's direction); `None` from the start.
    pub after: Option<K>,
    /// Largest keys first.
    pub descending: bool,
    /// Items wanted (clamped to `1..=MAX_PAGE_SIZE`).
    pub page_size: usize,
    /// Whether a predicate filters the walk (it decides how `total` is counted).
    pub filtered: bool,
}

/// One page of a `list_*` query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPage<K, T> {
    /// The items, in walk order.
    pub items: Vec<T>,
    /// Pass as `Walk::after` for the next page; `None` at the end. May be set with few or no
    /// items when the scan budget ran out.
    pub next_after: Option<K>,
    /// How many items pass, when that is cheap: the collection's size when unfiltered, the
    /// matches when the collection holds at most [`MAX_SCAN`] items; else `None`.
    pub total: Option<usize>,
}

fn walk<K: Ord + Copy, V, T>(
    map: &BTreeMap<K, V>,
    w: Walk<K>,
    keep: impl Fn(&V) -> bool,
    convert: impl Fn(&V) -> T,
) -> ListPage<K, T> {
    let size = w.page_size.clamp(1, MAX_PAGE_SIZE);
    let mut iter: Box<dyn Iterator<Item = (&K, &V)>> = match (w.descending, w.after) {
        (false, a) => Box::new(map.range(after(a))),
        (true, None) => Box::new(map.iter().rev()),
        (true, Some(k)) => Box::new(map.range(..k).rev()),
    };
    let mut items = Vec::new();
    let mut last = None;
    let mut next_after = None;
    let mut scanned = 0;
    while let Some((k, v)) = iter.next() {
        scanned += 1;
        if keep(v) {
            if items.len() == size {
                next_after = last;
                break;
            }
            items.push(convert(v));
            last = Some(*k);
        }
        if scanned == MAX_SCAN {
            // Out of budget: continue after the last key examined, if anything is left.
            if iter.next().is_some() {
                next_after = Some(*k);
            }
            break;
        }
    }
    let total = if !w.filtered {
        Some(map.len())
    } else if map.len() <= MAX_SCAN {
        Some(map.values().filter(|v| keep(v)).count())
    } else {
        None
    };
    ListPage {
        items,
        next_after,
        total,
    }
}

fn after<K: Copy>(a: Option<K>) -> (Bound<K>, Bound<K>) {
    match a {
        Some(k) => (Bound::Excluded(k), Bound::Unbounded),
        None => (Bound::Unbounded, Bound::Unbounded),
    }
}

impl Core {
    /// Radios by air address, filtered.
    pub fn radios(
        &self,
        filter: &RadioFilter,
        after_key: Option<RadioId>,
        page_size: usize,
    ) -> Page<RadioId, Radio> {
        page(
            self.state.radios.range(after(after_key)),
            page_size,
            |r| filter.matches(r),
            Radio::clone,
        )
    }

    /// One radio by air address.
    pub fn radio(&self, id: RadioId) -> Option<&Radio> {
        self.state.radios.get(&id)
    }

    /// One radio by PDT dial number.
    pub fn radio_by_dial(&self, dial: DialNumber) -> Option<&Radio> {
        RadioId::from_dial(dial)
            .ok()
            .and_then(|id| self.state.radios.get(&id))
    }

    /// Talkgroups by air address.
    pub fn talkgroups(
        &self,
        after_key: Option<TalkgroupId>,
        page_size: usize,
    ) -> Page<TalkgroupId, Talkgroup> {
        page(
            self.state.talkgroups.range(after(after_key)),
            page_size,
            |_| true,
            Talkgroup::clone,
        )
    }

    /// One talkgroup.
    pub fn talkgroup(&self, id: TalkgroupId) -> Option<&Talkgroup> {
        self.state.talkgroups.get(&id)
    }

    /// Teams from the directory.
    pub fn teams(&self) -> &[Team] {
        &self.state.teams
    }

    /// Sites by name.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.state.sites.values()
    }

    /// One site.
    pub fn site(&self, id: &SiteId) -> Option<&Site> {
        self.state.sites.get(id)
    }

    /// Calls by id (start order), active and recent.
    pub fn calls(
        &self,
        filter: CallFilter,
        after_key: Option<CallId>,
        page_size: usize,
    ) -> Page<CallId, Call> {
        page(
            self.state.calls.range(after(after_key)),
            page_size,
            |c| match filter {
                CallFilter::All => true,
                CallFilter::Active => c.ended.is_none(),
                CallFilter::Ended => c.ended.is_some(),
            },
            Call::clone,
        )
    }

    /// Calls (active and recent) walked by number, which grows with the start time.
    pub fn list_calls(
        &self,
        w: Walk<CallId>,
        keep: impl Fn(&Call) -> bool,
    ) -> ListPage<CallId, Call> {
        walk(&self.state.calls, w, keep, Call::clone)
    }

    /// Alarms walked by number, which grows with the raise time.
    pub fn list_alarms(
        &self,
        w: Walk<AlarmId>,
        keep: impl Fn(&Alarm) -> bool,
    ) -> ListPage<AlarmId, Alarm> {
        walk(&self.state.alarms, w, keep, Alarm::clone)
    }

    /// Operations walked by number, which grows with the creation time.
    pub fn list_operations(
        &self,
        w: Walk<OperationId>,
        keep: impl Fn(&Operation) -> bool,
    ) -> ListPage<OperationId, Operation> {
        walk(&self.state.operations, w, keep, Operation::clone)
    }

    /// Radios walked by air address.
    pub fn list_radios(
        &self,
        w: Walk<RadioId>,
        keep: impl Fn(&Radio) -> bool,
    ) -> ListPage<RadioId, Radio> {
        walk(&self.state.radios, w, keep, Radio::clone)
    }

    /// One call.
    pub fn call(&self, id: CallId) -> Option<&Call> {
        self.state.calls.get(&id)
    }

    /// Alarms by id.
    pub fn alarms(
        &self,
        filter: AlarmFilter,
        after_key: Option<AlarmId>,
        page_size: usize,
    ) -> Page<AlarmId, Alarm> {
        page(
            self.state.alarms.range(after(after_key)),
            page_size,
            |a| filter.state.is_none_or(|s| a.state == s),
            Alarm::clone,
        )
    }

    /// One alarm.
    pub fn alarm(&self, id: AlarmId) -> Option<&Alarm> {
        self.state.alarms.get(&id)
    }

    /// Operations by id.
    pub fn operations(
        &self,
        after_key: Option<OperationId>,
        page_size: usize,
    ) -> Page<OperationId, Operation> {
        page(
            self.state.operations.range(after(after_key)),
            page_size,
            |_| true,
            Operation::clone,
        )
    }

    /// One operation.
    pub fn operation(&self, id: OperationId) -> Option<&Operation> {
        self.state.operations.get(&id)
    }

    /// The operation a client `request_id` created.
    pub fn operation_by_request_id(&self, request_id: &str) -> Option<&Operation> {
        self.state
            .by_request
            .get(request_id)
            .and_then(|id| self.state.operations.get(id))
    }

    /// Messages (both directions) by id, oldest first.
    pub fn messages(
        &self,
        after_key: Option<MessageId>,
        page_size: usize,
    ) -> Page<MessageId, Message> {
        page(
            self.state.messages.range(after(after_key)),
            page_size,
            |_| true,
            Message::clone,
        )
    }

    /// Messages (both directions), newest first, filtered; a page resumes before the last
    /// key of the previous one.
    pub fn messages_newest_first(
        &self,
        filter: &MessageFilter,
        before_key: Option<MessageId>,
        page_size: usize,
    ) -> Page<MessageId, Message> {
        let range = match before_key {
            Some(k) => (Bound::Unbounded, Bound::Excluded(k)),
            None => (Bound::Unbounded, Bound::Unbounded),
        };
        let team_of = |r: RadioId| self.state.radios.get(&r).and_then(|r| r.team);
        page(
            self.state.messages.range(range).rev(),
            page_size,
            |m| filter.matches(m, &self.state.teams, team_of),
            Message::clone,
        )
    }

    /// One message.
    pub fn message(&self, id: MessageId) -> Option<&Message> {
        self.state.messages.get(&id)
    }

    /// A radio with its team's key and latest position.
    pub fn radio_view(&self, radio: &Radio) -> RadioView {
        RadioView {
            radio: radio.clone(),
            team: radio
                .team
                .and_then(|t| self.team(t))
                .map(Team::resource_key),
            position: self.track(radio.id).and_then(|t| t.latest()).cloned(),
        }
    }

    /// A team by its index.
    pub fn team(&self, id: TeamId) -> Option<&Team> {
        self.state.teams.iter().find(|t| t.id == id)
    }

    /// A team by its configured key.
    pub fn team_by_key(&self, key: &str) -> Option<&Team> {
        self.state.teams.iter().find(|t| t.resource_key() == key)
    }

    /// A radio or talkgroup as an operator types it, without saying which: a PDT dial
    /// number (the dialling plan tells individual from group numbers, docs/pdt.md §0
    /// item 2), or a raw air address (`#<decimal>`, `0x<hex>`, or a plain decimal DMR ID of
    /// at most 7 digits) resolved against the radios and talkgroups known: the one it names,
    /// or [`ResolveError::Ambiguous`] when it names both.
    pub fn resolve(&self, typed: &str) -> Result<Addressee, ResolveError> {
        if let Ok(dial) = typed.parse::<DialNumber>() {
            return match dial.kind() {
                Some(IdKind::Group) => TalkgroupId::from_dial(dial).map(Addressee::Talkgroup),
                _ => RadioId::from_dial(dial).map(Addressee::Radio),
            }
            .map_err(ResolveError::Syntax);
        }
        let radio: RadioId = typed.parse().map_err(ResolveError::Syntax)?;
        let talkgroup = TalkgroupId::new(radio.air()).map_err(ResolveError::Syntax)?;
        match (
            self.state.radios.contains_key(&radio),
            self.state.talkgroups.contains_key(&talkgroup),
        ) {
            (true, true) => Err(ResolveError::Ambiguous {
                typed: typed.to_string(),
                radio,
                talkgroup,
            }),
            (true, false) => Ok(Addressee::Radio(radio)),
            (false, true) => Ok(Addressee::Talkgroup(talkgroup)),
            (false, false) => Err(ResolveError::Unknown {
                typed: typed.to_string(),
            }),
        }
    }

    /// Latest position and track of every radio that reported one, by radio.
    pub fn positions(
        &self,
        after_key: Option<RadioId>,
        page_size: usize,
    ) -> Page<RadioId, (RadioId, Track)> {
        let size = page_size.clamp(1, MAX_PAGE_SIZE);
        let mut items = Vec::new();
        let mut more = false;
        for (k, t) in self.state.tracks.range(after(after_key)) {
            if items.len() == size {
                more = true;
                break;
            }
            items.push((*k, t.clone()));
        }
        let next_after = if more {
            items.last().map(|(k, _)| *k)
        } else {
            None
        };
        Page { items, next_after }
    }

    /// One radio's track (latest last).
    pub fn track(&self, radio: RadioId) -> Option<&Track> {
        self.state.tracks.get(&radio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{Config, Event, EventKind, Timestamp};
    use crate::link::Slot;

    fn heard(core: &mut Core, r: u32) {
        core.apply(&Event {
            at: Timestamp(0),
            kind: EventKind::RadioHeard {
                radio: RadioId::new(r).unwrap(),
                site: SiteId::new("s"),
                slot: Slot::One,
                rssi_dbm: None,
            },
        });
    }

    #[test]
    fn walks_go_both_ways_and_stop_at_the_scan_budget() {
        let mut core = Core::new(Config::default());
        for r in 1..=5u32 {
            heard(&mut core, r);
        }
        let ids =
            |p: &ListPage<RadioId, Radio>| p.items.iter().map(|r| r.id.air()).collect::<Vec<_>>();
        let w = |after: Option<u32>, descending| Walk {
            after: after.map(|a| RadioId::new(a).unwrap()),
            descending,
            page_size: 2,
            filtered: false,
        };
        let p = core.list_radios(w(None, true), |_| true);
        assert_eq!(
            (ids(&p), p.next_after.map(RadioId::air), p.total),
            (vec![5, 4], Some(4), Some(5))
        );
        let p = core.list_radios(w(Some(4), true), |_| true);
        assert_eq!(
            (ids(&p), p.next_after.map(RadioId::air)),
            (vec![3, 2], Some(2))
        );
        let p = core.list_radios(w(Some(2), true), |_| true);
        assert_eq!((ids(&p), p.next_after), (vec![1], None));
        let p = core.list_radios(w(Some(3), false), |_| true);
        assert_eq!((ids(&p), p.next_after), (vec![4, 5], None));
        // Filtered: the total counts matches.
        let odd = Walk {
            filtered: true,
            ..w(None, false)
        };
        let p = core.list_radios(odd, |r| r.id.air() % 2 == 1);
        assert_eq!((ids(&p), p.total), (vec![1, 3], Some(3)));

        // Past the budget a page ends early with the key to continue after.
        for r in 6..=(MAX_SCAN as u32 + 10) {
            heard(&mut core, r);
        }
        let rare = Walk {
            filtered: true,
            page_size: 5,
            ..w(None, false)
        };
        let last = MAX_SCAN as u32 + 10;
        let p = core.list_radios(rare, |r| r.id.air() == last);
        assert_eq!((p.items.len(), p.total), (0, None));
        let next = p.next_after.expect("more to scan");
        assert_eq!(next.air(), MAX_SCAN as u32);
        let p = core.list_radios(
            Walk {
                after: Some(next),
                ..rare
            },
            |r| r.id.air() == last,
        );
        assert_eq!((ids(&p), p.next_after), (vec![last], None));
    }

    #[test]
    fn pages_resume_after_the_last_key_and_filter() {
        let mut core = Core::new(Config::default());
        for r in 1..=5u32 {
            core.apply(&Event {
                at: Timestamp(0),
                kind: EventKind::RadioHeard {
                    radio: RadioId::new(r).unwrap(),
                    site: SiteId::new(if r % 2 == 0 { "even" } else { "odd" }),
                    slot: Slot::One,
                    rssi_dbm: None,
                },
            });
        }
        let odd = RadioFilter {
            site: Some(SiteId::new("odd")),
            ..RadioFilter::default()
        };
        let p1 = core.radios(&odd, None, 2);
        let ids = |p: &Page<RadioId, Radio>| p.items.iter().map(|r| r.id.air()).collect::<Vec<_>>();
        assert_eq!(ids(&p1), vec![1, 3]);
        assert_eq!(p1.next_after.map(RadioId::air), Some(3));
        let p2 = core.radios(&odd, p1.next_after, 2);
        assert_eq!(ids(&p2), vec![5]);
        assert_eq!(p2.next_after, None);
        // Page sizes are clamped to 1..=MAX_PAGE_SIZE.
        assert_eq!(core.radios(&RadioFilter::default(), None, 0).items.len(), 1);
        assert_eq!(
            core.radios(&RadioFilter::default(), None, 99_999)
                .items
                .len(),
            5
        );
    }
}
