//! deploy/: the example production configuration passes `check-config`'s checks, and the
//! systemd unit agrees with it: its file-handle limit covers `[api] max_connections` plus
//! what the gateway reserves, it runs `serve` on /etc/trunkgate/trunkgate.toml (handed over as
//! a credential, so the file stays root's) with the journal in its `StateDirectory`, checks
//! the file before each start, and is hardened as docs say (`.ci/run` also runs `systemd-analyze
//! verify` on it).

use trunkgate::app::config::Config;

const UNIT: &str = include_str!("../deploy/trunkgate.service");
const EXAMPLE: &str = include_str!("../deploy/trunkgate.toml");

/// Every value of `key=` in the unit, in order.
fn values(key: &str) -> Vec<&'static str> {
    UNIT.lines()
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .collect()
}

fn one(key: &str) -> &'static str {
    let v = values(key);
    assert_eq!(v.len(), 1, "the unit sets {key} once: {v:?}");
    v[0]
}

#[test]
fn the_example_configuration_has_no_problems() {
    let config = Config::load(EXAMPLE).unwrap_or_else(|r| panic!("{}", r.render("example")));
    assert!(config.metrics.listen.is_some_and(|a| a.ip().is_loopback()));
    assert!(config.api.listen.ip().is_loopback());
}

#[test]
fn the_unit_file_limit_covers_the_configured_connections() {
    let config = Config::load(EXAMPLE).unwrap_or_else(|r| panic!("{}", r.render("example")));
    let limit: u64 = one("LimitNOFILE").parse().expect("LimitNOFILE is a number");
    let needed = config.api.max_connections as u64 + trunkgate::api::conn::FILE_RESERVE;
    assert!(
        limit >= needed,
        "LimitNOFILE={limit} is below [api] max_connections + {} = {needed}",
        trunkgate::api::conn::FILE_RESERVE
    );
}

#[test]
fn the_unit_runs_the_configuration_and_journal_where_systemd_puts_them() {
    assert_eq!(one("Type"), "notify");
    assert!(one("WatchdogSec").ends_with('s'));
    assert_eq!(one("StateDirectory"), "trunkgate");
    assert_eq!(
        one("LoadCredential"),
        "trunkgate.toml:/etc/trunkgate/trunkgate.toml"
    );
    let start = one("ExecStart");
    assert!(
        start.contains(" serve --config %d/trunkgate.toml")
            && start.contains(" --data-dir /var/lib/trunkgate"),
        "{start}"
    );
    assert!(one("ExecStartPre").ends_with("check-config %d/trunkgate.toml"));
}

#[test]
fn the_unit_is_hardened() {
    for (key, want) in [
        ("DynamicUser", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("CapabilityBoundingSet", ""),
        ("AmbientCapabilities", ""),
        ("SupplementaryGroups", "dialout"),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("MemoryDenyWriteExecute", "yes"),
    ] {
        assert_eq!(one(key), want, "{key}");
    }
    assert_eq!(
        values("SystemCallFilter"),
        vec!["@system-service", "~@privileged"]
    );
}
