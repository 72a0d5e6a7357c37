//! A replica process: a durable [`Node`] with mutual TLS and SWIM
//! membership, driven by the parent through a line protocol on its
//! standard input and output.
//!
//! At start it prints `DISK <digest>` (the state read from its data
//! directory, before any network is up), then `PORT <port> <identity>
//! <replica id>` once it listens and has announced itself to its seed.
//! Then it answers one command per line (see [`command`]).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crdt_net::{
    KvState, MEMBERSHIP_KEY_FILE, Membership, MembershipKey, Node, NodeConfig, NodeError,
    NodeHandle, STORE_FILE, StoreOptions, TlsIdentity, Transport,
};
use crdt_store::Store;
use crdt_sync::{Config, PeerId};
use tokio::io::{AsyncBufReadExt, BufReader as AsyncBufReader};

use crate::CLUSTER;

/// SWIM's probe period in the demo: quick, so a killed replica is seen
/// down in a second or two.
const PROBE: Duration = Duration::from_millis(200);

/// How long a suspected member has to refute it.
const SUSPECT: Duration = Duration::from_secs(1);

/// Runs replica `id` from `dir`, announcing itself to the member listening
/// on `seed` (a port on 127.0.0.1), if any.
pub(crate) fn run(id: u64, dir: &Path, seed: Option<u16>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(replica = id, reason = %e, "cannot start a runtime");
            return ExitCode::FAILURE;
        }
    };
    let config = match config(id, dir, seed) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(replica = id, dir = %dir.display(), reason = %e, "no usable certificate or membership key");
            return ExitCode::FAILURE;
        }
    };
    // The store is opened before the node, so the state read from disk is
    // reported before any peer can add to it.
    let (store, opened) = match Store::<KvState>::open(
        dir.join(STORE_FILE),
        StoreOptions::default(),
    ) {
        Ok(opened) => opened,
        Err(e) => {
            tracing::error!(replica = id, dir = %dir.display(), reason = %e, "cannot open the store");
            return ExitCode::FAILURE;
        }
    };
    println!("DISK {:016x}", digest(opened.state()));
    rt.block_on(async move {
        let node = match Node::<KvState>::open_store(config, store, opened).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(replica = id, reason = %e, "cannot start");
                return ExitCode::FAILURE;
            }
        };
        let identity = node
            .identity()
            .map_or("-".to_string(), |i| format!("{i:?}"));
        println!(
            "PORT {} {identity} {:08x}",
            node.local_addr().port(),
            node.handle().replica().as_u128() >> 96
        );
        let h = node.handle();
        let mut lines = AsyncBufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let words: Vec<&str> = line.split_whitespace().collect();
            if words == ["QUIT"] {
                break;
            }
            if let Err(e) = command(&h, &words).await {
                tracing::error!(replica = id, %line, reason = %e, "command failed");
                return ExitCode::FAILURE;
            }
        }
        let _ = node.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// The node's settings: TLS and the membership key from `dir`, one seed.
fn config(id: u64, dir: &Path, seed: Option<u16>) -> std::io::Result<NodeConfig> {
    let tls = Transport::tls(TlsIdentity::from_pem_files(CLUSTER, dir)?)?;
    let key = MembershipKey::read_file(dir.join(MEMBERSHIP_KEY_FILE))?;
    let mut config = NodeConfig::new(PeerId(id), ([127, 0, 0, 1], 0).into(), tls);
    config.engine = Config {
        sync_interval: Duration::from_millis(25),
        ..Config::default()
    };
    config.backoff_min = Duration::from_millis(20);
    config.backoff_max = Duration::from_millis(200);
    let seeds = seed.map(|port| ([127, 0, 0, 1], port).into());
    let mut membership = Membership::new(seeds.into_iter().collect(), key.to_bytes());
    membership.probe_period = PROBE;
    membership.suspect_after = SUSPECT;
    config.membership = Some(membership);
    Ok(config)
}

/// Carries out one command of the parent.
async fn command(h: &NodeHandle<KvState>, words: &[&str]) -> Result<(), NodeError> {
    match words {
        ["LIKE", post] => {
            let key = format!("likes:{post}");
            h.update(move |s, me| s.add(me, &key, 1))?;
        }
        ["COMMENT", post] => {
            let key = format!("comments:{post}");
            h.update(move |s, me| s.add(me, &key, 1))?;
        }
        ["PROFILE", field, value @ ..] => {
            let (field, value) = (field.to_string(), value.join(" "));
            h.update(move |s, me| {
                let (_, seen) = s.get(&field);
                s.put(me, &field, value, &seen)
            })?;
        }
        ["RESOLVE", field] => {
            let field = field.to_string();
            h.update(move |s, me| {
                let (mut values, seen) = s.get(&field);
                values.sort();
                s.put(me, &field, values.join(" / "), &seen)
            })?;
        }
        ["WISH", item] => {
            let item = item.to_string();
            h.update(move |s, me| s.set_add(me, "wishlist", &item))?;
        }
        ["WISH!", item] => {
            // Acknowledged: on disk when this answers.
            let item = item.to_string();
            h.write(move |s, me| s.set_add(me, "wishlist", &item))
                .await?;
            println!("WRITTEN");
        }
        ["UNWISH", item] => {
            let item = item.to_string();
            h.update(move |s, _| s.set_remove("wishlist", &item))?;
        }
        ["ISOLATE", on] => h.isolate(*on == "1"),
        ["FLUSH"] => match h.flush().await {
            Ok(()) => println!("FLUSHED every live peer has acknowledged every write"),
            Err(NodeError::Stopped) => return Err(NodeError::Stopped),
            Err(e) => println!("FLUSHED {e}"),
        },
        ["DIGEST"] => {
            let digest = h.read(digest).await?;
            println!("DIGEST {digest:016x}");
        }
        ["MEMBERS"] => {
            let m = h.metrics().await?;
            println!(
                "MEMBERS {} {} {}",
                m.members_alive,
                m.connected_peers,
                m.engine.peers.len()
            );
        }
        ["METRICS"] => {
            let m = h.metrics().await?;
            let siblings = h.read(|s| s.conflicts()).await?;
            println!(
                "METRICS {} {} {} {}",
                m.engine.bytes_out, m.engine.messages_out, m.engine.concurrent_deltas, siblings
            );
        }
        ["SHOW"] => {
            for l in h.read(show).await? {
                println!("SHOW {l}");
            }
            println!("END");
        }
        _ => tracing::warn!(line = %words.join(" "), "unknown command"),
    }
    Ok(())
}

/// The agreed values, as the demo prints them.
fn show(s: &KvState) -> Vec<String> {
    let mut out = Vec::new();
    for post in ["post1", "post2"] {
        out.push(format!(
            "{post}: {} likes, {} comments",
            s.count(&format!("likes:{post}")),
            s.count(&format!("comments:{post}"))
        ));
    }
    for field in ["name", "bio"] {
        let (mut v, _) = s.get(field);
        v.sort();
        out.push(format!("profile {field}: {v:?}"));
    }
    out.push(format!("wishlist: {:?}", s.members("wishlist")));
    out
}

/// A digest of the whole state (FNV-1a of its debug form): equal states
/// have equal digests.
fn digest(s: &KvState) -> u64 {
    format!("{s:?}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}
