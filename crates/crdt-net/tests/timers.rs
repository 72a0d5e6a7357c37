//! Heavy engine work delays only the engine: the application's runtime
//! keeps its timers while a node answers a 300,000-member catch-up.
//!
//! The runtime here is single-threaded, so that any engine work done on it
//! would show as late ticks every time, not only when the scheduler happens
//! to put the ticker behind the engine.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crdt_core::CausalContext;
use crdt_net::Node;
use crdt_sync::{Message, MessageKind};
use crdt_types::ReplicaId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout};

use common::{ABSENT, big_set, config_with_absent, frame, rogue};

/// How often the ticker asks to wake up.
const TICK: Duration = Duration::from_millis(10);

/// The latest any tick may be. The catch-up below keeps the engine busy
/// for seconds (about 3.4 s in a debug build here, more under load); with
/// the engine on this runtime one tick is late by about that long. On a loaded
/// two-core machine, with the engine's thread taking a core, ticks were seen
/// up to 0.34 s late, so the bound leaves room for that.
const MAX_LATE: Duration = Duration::from_secs(1);

/// The longest average tick period accepted: the ticker must keep ticking
/// throughout the engine's work, not just be late once. At most 15 ms was
/// seen under load; with the engine on this runtime, a single tick spans
/// the whole work.
const MAX_MEAN_PERIOD: Duration = Duration::from_millis(50);

/// How long the node may take to answer: about 3.4 s in an idle debug
/// build. Only a failing test waits this long.
const ANSWER_DEADLINE: Duration = Duration::from_secs(120);

/// Reads frames until a catch-up part arrives; the engine sends the first
/// part only once it has computed and split the whole answer.
async fn read_until_catch_up<S: AsyncReadExt + Unpin>(s: &mut S) {
    loop {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).await.unwrap();
        if body.get(3) == Some(&(MessageKind::CatchUp as u8)) {
            return;
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn heavy_engine_work_does_not_delay_the_runtimes_timers() {
    let node = Node::start(config_with_absent(1), ReplicaId::random(), big_set(300_000))
        .await
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let ticker = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let (mut worst, mut ticks) = (Duration::ZERO, 0u64);
            while !stop.load(Ordering::SeqCst) {
                let due = Instant::now() + TICK;
                tokio::time::sleep_until(due).await;
                worst = worst.max(Instant::now() - due);
                ticks += 1;
            }
            (worst, ticks)
        }
    });

    // A hello and an empty digest: "send me everything".
    let mut s = rogue(node.local_addr(), ABSENT).await;
    let empty = frame(Message::Digest {
        digest: Some(CausalContext::new()),
        reply: false,
    });
    s.write_all(&empty).await.unwrap();
    let asked = Instant::now();
    timeout(ANSWER_DEADLINE, read_until_catch_up(&mut s))
        .await
        .expect("the node answers the empty digest");
    let took = asked.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (worst, ticks) = ticker.await.unwrap();
    eprintln!("answered after {took:?}; {ticks} ticks, the latest {worst:?} late");

    assert!(
        worst <= MAX_LATE,
        "a {TICK:?} timer tick was {worst:?} late while the node worked {took:?} \
         on its answer ({ticks} ticks)"
    );
    assert!(
        u128::from(ticks) * MAX_MEAN_PERIOD.as_nanos() >= took.as_nanos(),
        "the timer ticked only {ticks} times while the node worked {took:?} on its answer"
    );
    let _ = node.shutdown().await;
}
