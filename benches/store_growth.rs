//! Store growth per 10 000 messages: the real gateway on the emulated
//! network sends 10 000 web messages (each to its own phone, each opening a
//! session) and receives a reply to each; the store's size on disk is
//! printed before and after, with the time it took. A measurement, never an
//! assertion: `cargo bench --bench store_growth`.

// The gateway on the emulated network: the integration tests' rig.
#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::rig::{Drivers, Rig, Setup};
use smsgate::emulator::network::PartOrder;
use smsgate::gateway::api::{GatewayApi, SendRequest};

const MESSAGES: usize = 10_000;

fn main() {
    actix::System::new().block_on(run());
}

fn du(path: &std::path::Path) -> u64 {
    walk(path)
}

fn walk(p: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::metadata(p) else {
        return 0;
    };
    if meta.is_file() {
        return meta.len();
    }
    std::fs::read_dir(p)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| walk(&e.path())).sum())
        .unwrap_or(0)
}

async fn run() {
    let messages = std::env::var("MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(MESSAGES);
    let mut setup = Setup::new(3);
    setup.drivers = Drivers::Defaults;
    setup.config.limits.max_recipients = 0;
    let rig = Rig::start(setup).await;
    let (emu, gw, store) = (&rig.emu, &rig.gw, &rig.store);
    let store_dir = rig.store_dir();
    store.flush().await.unwrap();
    let before = du(&store_dir);
    let client = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let started = Instant::now();
    let mut sent = Vec::with_capacity(messages);
    for i in 0..messages {
        let to = format!("+1809{:07}", 1_000_000 + i);
        let a = gw
            .send(
                None,
                SendRequest {
                    to: vec![to.clone()],
                    text: format!("Mensaje número {i} desde la web"),
                    ..Default::default()
                },
                client,
            )
            .await
            .expect("accepted");
        sent.push((to, a.recipients[0].short_code.clone().unwrap()));
    }
    let accept = started.elapsed();
    // Wait until the phones got them, then every phone replies.
    loop {
        let out = gw.outbox().await.unwrap().len();
        if out == 0 && emu.phones().len() >= messages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = started.elapsed();
    for (to, code) in &sent {
        emu.phone_send(to, code, "Gracias, recibido", PartOrder::InOrder)
            .unwrap();
    }
    loop {
        if gw.charge_list(None, None).await.unwrap().len() >= messages {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let replied = started.elapsed();
    store.flush().await.unwrap();
    let after = du(&store_dir);
    println!("store growth: {messages} web messages + {messages} replies, 1 recipient each, each its own session");
    println!(
        "  accepted (durable 202) in {:.1} s: {:.0} sends/s",
        accept.as_secs_f64(),
        messages as f64 / accept.as_secs_f64()
    );
    println!(
        "  all on the phones after {:.1} s; all replies routed and charged after {:.1} s",
        delivered.as_secs_f64(),
        replied.as_secs_f64()
    );
    println!(
        "  store on disk: {:.1} MiB before, {:.1} MiB after: {:.1} MiB per 10 000 messages (with their replies and charges)",
        before as f64 / 1048576.0,
        after as f64 / 1048576.0,
        (after.saturating_sub(before)) as f64 / 1048576.0 * 10_000.0 / messages as f64
    );
    emu.shutdown();
    std::process::exit(0);
}
