//! Credentials for tests that start a gateway: one token (a supervisor and admin named
//! `tester`, with a rate limit no test reaches), as an access set for `api::serve`, as an
//! `[access]` section for `serve::start`, and a channel that sends it on every call.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use trunkgate::api::access::{
    Access, AccessSet, RateLimit, Role, TokenEntry, hash_token, log_hook,
};
use trunkgate::app::access::{AccessConfig, TokenConfig};

/// The test token (any 256-bit value the gateway knows the hash of).
pub const TOKEN: &str = "tg_7e57000000000000000000000000000000000000000000000000000000000001";
/// Its identity.
pub const IDENTITY: &str = "tester";
/// Two more supervisors known to [`access`], for tests of what takes two people.
pub const ALICE_TOKEN: &str = "tg_a11ce00000000000000000000000000000000000000000000000000000000002";
/// The second one.
pub const BOB_TOKEN: &str = "tg_b0b0000000000000000000000000000000000000000000000000000000000003";

/// The token of `who` (`alice`, `bob`, else the tester's).
pub fn token_of(who: &str) -> &'static str {
    match who {
        "alice" => ALICE_TOKEN,
        "bob" => BOB_TOKEN,
        _ => TOKEN,
    }
}

/// A rate limit no test reaches.
pub fn unlimited() -> RateLimit {
    RateLimit {
        burst: 1_000_000,
        per_sec: 1_000_000.0,
    }
}

/// Access for `api::serve` knowing [`TOKEN`].
pub fn access() -> Arc<Access> {
    Access::new(
        AccessSet {
            tokens: vec![
                TokenEntry::for_token(IDENTITY, vec![Role::Supervisor, Role::Admin], TOKEN)
                    .expect("hash"),
                TokenEntry::for_token("alice", vec![Role::Supervisor], ALICE_TOKEN).expect("hash"),
                TokenEntry::for_token("bob", vec![Role::Supervisor], BOB_TOKEN).expect("hash"),
            ],
            certs: Vec::new(),
            rate: unlimited(),
        },
        log_hook(),
    )
}

/// An `[access]` section knowing [`TOKEN`], for a `Config`.
pub fn access_config() -> AccessConfig {
    AccessConfig {
        commands_per_minute: 60_000,
        command_burst: 10_000,
        tokens: vec![TokenConfig {
            identity: IDENTITY.into(),
            roles: vec!["supervisor".into(), "admin".into()],
            hash: hash_token(TOKEN).expect("hash"),
            expires: None,
        }],
        ..AccessConfig::default()
    }
}

/// The same as TOML, to append to a configuration file.
pub fn access_toml() -> String {
    format!(
        "\n[access]\ncommands_per_minute = 60000\ncommand_burst = 10000\n\n[[access.token]]\nidentity = \"{IDENTITY}\"\nroles = [\"supervisor\", \"admin\"]\nhash = \"{}\"\n",
        hash_token(TOKEN).expect("hash")
    )
}

/// Sends `authorization: Bearer <token>` (nothing for an empty token).
#[derive(Debug, Clone)]
pub struct Bearer(pub String);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if self.0.is_empty() {
            return Ok(req);
        }
        let v = format!("Bearer {}", self.0).parse().expect("ASCII token");
        req.metadata_mut().insert("authorization", v);
        Ok(req)
    }
}

/// A channel that sends the test token.
pub type Ch = InterceptedService<Channel, Bearer>;

/// `channel` sending the test token.
pub fn authed(channel: Channel) -> Ch {
    InterceptedService::new(channel, Bearer(TOKEN.into()))
}

/// `channel` sending `token`.
pub fn with_token(channel: Channel, token: &str) -> Ch {
    InterceptedService::new(channel, Bearer(token.into()))
}

/// Connect to `addr` (plain) with the test token.
pub async fn connect(addr: SocketAddr) -> Result<Ch, tonic::transport::Error> {
    Ok(authed(
        Channel::from_shared(format!("http://{addr}"))
            .expect("uri")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await?,
    ))
}
