//! The modem driver, actor and pool against the emulated network through
//! real pseudo-terminals: sending (single, concatenated, UCS-2), receiving
//! (single, concatenated out of order), delivery reports mapped back,
//! missed notices caught by the sweep, full storage drained, each fault
//! recovered from with nothing lost and nothing confirmed sent twice, and a
//! panicking driver restarted.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::eventually_async;
use smsgate::emulator::dce::Settings;
use smsgate::emulator::faults::Fault;
use smsgate::emulator::network::PartOrder;
use smsgate::emulator::{Emulator, EmulatorConfig};
use smsgate::modem::driver::DriverConfig;
use smsgate::modem::pool::{ModemPool, PoolEvent};
use smsgate::modem::types::{ModemEvent, ModemState, OutgoingSms, PartRef, SendOutcome};
use smsgate::sms::{Assembler, DeliveryStatus, IncomingPart};
use tokio::sync::mpsc;

const PHONE: &str = "+18095551234";
/// Bound of every wait here (never a measurement).
const WITHIN: Duration = Duration::from_secs(40);

/// What the gateway side received, acknowledged at once.
#[derive(Default)]
struct Received {
    texts: Vec<(String, String, String)>,
    reports: Vec<(String, u8, DeliveryStatus)>,
}

struct Rig {
    emu: Emulator,
    pool: ModemPool,
    got: Arc<Mutex<Received>>,
}

fn driver_config(short_code: &str, port: &str) -> DriverConfig {
    DriverConfig {
        health_interval: Duration::from_millis(500),
        sweep_interval: Duration::from_millis(700),
        registration_timeout: Duration::from_secs(5),
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(800),
        cmgs_timeout: Duration::from_secs(5),
        ..DriverConfig::new(short_code, port)
    }
}

async fn rig_with(config: EmulatorConfig, before_start: impl FnOnce(&Emulator)) -> Rig {
    rig_configured(config, before_start, |c| c).await
}

async fn rig_configured(
    config: EmulatorConfig,
    before_start: impl FnOnce(&Emulator),
    adjust: impl Fn(DriverConfig) -> DriverConfig,
) -> Rig {
    let emu = Emulator::start(config).await.unwrap();
    before_start(&emu);
    let configs = emu
        .modems()
        .iter()
        .map(|m| adjust(driver_config(&m.number, &m.path.to_string_lossy())))
        .collect();
    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(configs, tx);
    let got = Arc::new(Mutex::new(Received::default()));
    actix::spawn(collect(rx, got.clone()));
    for sc in pool.short_codes() {
        eventually_async(&format!("{sc} up"), WITHIN, async || {
            (pool.status(&sc).unwrap().state == ModemState::Up).then_some(())
        })
        .await;
    }
    Rig { emu, pool, got }
}

async fn rig(modems: usize) -> Rig {
    rig_with(
        EmulatorConfig {
            modems,
            ..EmulatorConfig::default()
        },
        |_| {},
    )
    .await
}

/// Acknowledges every event, assembling texts as a store would.
async fn collect(mut rx: mpsc::UnboundedReceiver<PoolEvent>, got: Arc<Mutex<Received>>) {
    let mut assembler = Assembler::new(Duration::from_secs(3600));
    while let Some(PoolEvent { short_code, event }) = rx.recv().await {
        match event {
            ModemEvent::Received { deliver, ack } => {
                let part = IncomingPart::from(&deliver);
                if let Some(done) = assembler.push(part, chrono::Utc::now()) {
                    got.lock().unwrap().texts.push((
                        short_code,
                        done.sender.to_string(),
                        done.text,
                    ));
                }
                let _ = ack.send(());
            }
            ModemEvent::DeliveryReport {
                message_ref,
                status,
                ack,
                ..
            } => {
                got.lock()
                    .unwrap()
                    .reports
                    .push((short_code, tp_mr(&message_ref), status));
                let _ = ack.send(());
            }
        }
    }
}

fn sms(id: u64, to: &str, text: &str) -> OutgoingSms {
    OutgoingSms {
        message_id: id,
        recipient: to.to_string(),
        text: text.to_string(),
        concat_ref: (id % 255) as u8 + 1,
        validity_minutes: None,
        withdraw: Default::default(),
    }
}

impl Rig {
    fn short(&self, i: usize) -> String {
        self.emu.modems()[i].number.clone()
    }

    async fn send(&self, i: usize, id: u64, text: &str) -> SendOutcome {
        tokio::time::timeout(WITHIN, self.pool.send(&self.short(i), sms(id, PHONE, text)))
            .await
            .expect("send finished")
            .expect("modem running")
    }

    fn texts(&self) -> Vec<String> {
        self.got
            .lock()
            .unwrap()
            .texts
            .iter()
            .map(|t| t.2.clone())
            .collect()
    }

    async fn received(&self, text: &str) {
        eventually_async(&format!("reception of {text:?}"), WITHIN, async || {
            self.texts().iter().any(|t| t == text).then_some(())
        })
        .await;
    }

    fn inbox(&self) -> Vec<String> {
        self.emu.inbox(PHONE).into_iter().map(|m| m.text).collect()
    }
}

fn tp_mr(r: &PartRef) -> u8 {
    match r {
        PartRef::Mr(mr) => *mr,
        PartRef::Id(id) => panic!("a modem answered with message id {id}"),
    }
}

fn refs(outcome: &SendOutcome) -> Vec<u8> {
    match outcome {
        SendOutcome::Sent { message_refs } => message_refs.iter().map(tp_mr).collect(),
        other => panic!("not sent: {other:?}"),
    }
}

#[actix::test]
async fn sends_single_concatenated_and_ucs2_texts() {
    let rig = rig(1).await;
    let long = "Mensaje largo para varias partes. ".repeat(10);
    let ucs2 = "¿Cómo estás? Aquí está la respuesta 👍";
    assert_eq!(refs(&rig.send(0, 1, "Hola").await).len(), 1);
    assert_eq!(refs(&rig.send(0, 2, &long).await).len(), 3);
    assert_eq!(refs(&rig.send(0, 3, ucs2).await).len(), 1);
    assert_eq!(
        rig.inbox(),
        vec!["Hola".to_string(), long, ucs2.to_string()]
    );
    let status = rig.pool.status(&rig.short(0)).unwrap();
    assert_eq!(status.sent, 3);
    assert_eq!(status.manufacturer.as_deref(), Some("smsgate"));
    rig.emu.shutdown();
}

#[actix::test]
async fn delivery_reports_map_back_to_each_part() {
    let rig = rig(1).await;
    let outcome = rig.send(0, 7, &"x".repeat(300)).await;
    let sent = refs(&outcome);
    eventually_async("a report per part", WITHIN, async || {
        let got = rig.got.lock().unwrap();
        sent.iter()
            .all(|mr| {
                got.reports
                    .iter()
                    .any(|(_, r, s)| r == mr && *s == DeliveryStatus::Delivered)
            })
            .then_some(())
    })
    .await;
    rig.emu.shutdown();
}

#[actix::test]
async fn receives_single_and_concatenated_out_of_order_with_duplicates() {
    let rig = rig(2).await;
    let long = "respuesta larga del teléfono ".repeat(8);
    rig.emu
        .phone_send(PHONE, &rig.short(0), "sí", PartOrder::InOrder)
        .unwrap();
    rig.emu
        .phone_send(PHONE, &rig.short(1), &long, PartOrder::Reversed)
        .unwrap();
    rig.emu
        .phone_send(PHONE, &rig.short(1), "doble", PartOrder::Duplicated)
        .unwrap();
    rig.received("sí").await;
    rig.received(&long).await;
    rig.received("doble").await;
    {
        let got = rig.got.lock().unwrap();
        let by_code: Vec<(&str, &str)> = got
            .texts
            .iter()
            .map(|t| (t.0.as_str(), t.2.as_str()))
            .collect();
        assert!(by_code.contains(&(rig.short(0).as_str(), "sí")));
        assert!(by_code.contains(&(rig.short(1).as_str(), long.as_str())));
        assert!(got.texts.iter().all(|t| t.1 == PHONE));
    }
    // Everything was deleted from the SIM after the hand-over.
    eventually_async("storage emptied", WITHIN, async || {
        (rig.emu.storage(1).unwrap().0 == 0).then_some(())
    })
    .await;
    rig.emu.shutdown();
}

#[actix::test]
async fn messages_stored_before_start_and_lost_notices_are_swept() {
    let rig = rig_with(
        EmulatorConfig {
            modems: 1,
            ..EmulatorConfig::default()
        },
        |emu| {
            // Stored while no driver listened (CNMI is off after power-up).
            let short = emu.modems()[0].number.clone();
            emu.phone_send(PHONE, &short, "antes de arrancar", PartOrder::InOrder)
                .unwrap();
        },
    )
    .await;
    rig.received("antes de arrancar").await;
    rig.emu.inject_fault(0, Fault::DropNotices).unwrap();
    rig.emu
        .phone_send(PHONE, &rig.short(0), "aviso perdido", PartOrder::InOrder)
        .unwrap();
    rig.received("aviso perdido").await;
    rig.emu.shutdown();
}

#[actix::test]
async fn full_storage_is_drained() {
    let rig = rig_with(
        EmulatorConfig {
            modems: 1,
            settings: Settings {
                sm_capacity: 2,
                ..Settings::default()
            },
            ..EmulatorConfig::default()
        },
        |_| {},
    )
    .await;
    for i in 0..7 {
        rig.emu
            .phone_send(
                PHONE,
                &rig.short(0),
                &format!("mensaje {i}"),
                PartOrder::InOrder,
            )
            .unwrap();
    }
    for i in 0..7 {
        rig.received(&format!("mensaje {i}")).await;
    }
    assert_eq!(
        rig.emu.storage(0).unwrap().4,
        0,
        "nothing left in the network"
    );
    rig.emu.shutdown();
}

/// After a fault: one send and one reply both get through, and nothing
/// confirmed was sent twice.
async fn still_works(rig: &Rig, tag: &str, id: u64) {
    let before = rig.inbox().len();
    let text = format!("tras {tag}");
    refs(&rig.send(0, id, &text).await);
    assert_eq!(rig.inbox().len(), before + 1, "{tag}: sent once");
    assert_eq!(rig.inbox().last().unwrap(), &text);
    let reply = format!("respuesta tras {tag}");
    rig.emu
        .phone_send(PHONE, &rig.short(0), &reply, PartOrder::InOrder)
        .unwrap();
    rig.received(&reply).await;
}

#[actix::test]
async fn recovers_from_no_answer_garbage_noise_and_urc_in_prompt() {
    let rig = rig(2).await;
    let down_before = rig.pool.status(&rig.short(0)).unwrap().reconnects;

    rig.emu.inject_fault(0, Fault::NoAnswer).unwrap();
    eventually_async("modem seen down", WITHIN, async || {
        (rig.pool.status(&rig.short(0)).unwrap().state != ModemState::Up).then_some(())
    })
    .await;
    // The other modem is unaffected meanwhile.
    refs(&rig.send(1, 100, "el otro módem sigue").await);
    rig.emu.clear_faults(0).unwrap();
    still_works(&rig, "no_answer", 101).await;
    assert!(rig.pool.status(&rig.short(0)).unwrap().reconnects > down_before);

    rig.emu
        .inject_fault(
            0,
            Fault::Garbage {
                bytes: 24,
                count: Some(5),
            },
        )
        .unwrap();
    still_works(&rig, "garbage", 102).await;

    rig.emu
        .inject_fault(0, Fault::UrcNoise { interval_ms: 30 })
        .unwrap();
    still_works(&rig, "urc_noise", 103).await;
    rig.emu.clear_faults(0).unwrap();

    rig.emu.inject_fault(0, Fault::UrcInPrompt).unwrap();
    still_works(&rig, "urc_in_prompt", 104).await;
    rig.emu.clear_faults(0).unwrap();
    rig.emu.shutdown();
}

#[actix::test]
async fn cms_errors_retry_or_fail_by_class() {
    let rig = rig(1).await;
    // Retryable (500, unknown error): retried, sent once.
    rig.emu
        .inject_fault(
            0,
            Fault::CmsError {
                code: 500,
                count: Some(2),
            },
        )
        .unwrap();
    still_works(&rig, "cms_500", 200).await;
    // Permanent (21, short message transfer rejected): failed with the reason.
    rig.emu
        .inject_fault(
            0,
            Fault::CmsError {
                code: 21,
                count: Some(1),
            },
        )
        .unwrap();
    let before = rig.inbox().len();
    match rig.send(0, 201, "rechazado").await {
        SendOutcome::Failed { permanent, reason } => {
            assert!(permanent, "{reason}");
            assert!(reason.contains("rejected"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(rig.inbox().len(), before);
    still_works(&rig, "after_cms_21", 202).await;
    rig.emu.shutdown();
}

#[actix::test]
async fn recovers_from_unplug_reboot_deregistration_and_sim_busy() {
    let dir = tempfile::tempdir().unwrap();
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        link_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    // The driver opens the stable link, as with /dev/serial/by-id.
    let link = emu.modems()[0].link.clone().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(
        vec![driver_config(
            &emu.modems()[0].number,
            &link.to_string_lossy(),
        )],
        tx,
    );
    let got = Arc::new(Mutex::new(Received::default()));
    actix::spawn(collect(rx, got.clone()));
    let rig = Rig { emu, pool, got };
    let sc = rig.short(0);
    eventually_async("up", WITHIN, async || {
        (rig.pool.status(&sc).unwrap().state == ModemState::Up).then_some(())
    })
    .await;

    rig.emu
        .inject_fault(0, Fault::Unplug { duration_ms: 1500 })
        .unwrap();
    eventually_async("down", WITHIN, async || {
        (rig.pool.status(&sc).unwrap().state != ModemState::Up).then_some(())
    })
    .await;
    // A send while unplugged waits for the modem instead of failing.
    let waiting = {
        let pool = rig.pool.clone();
        let sc = sc.clone();
        actix::spawn(async move { pool.send(&sc, sms(300, PHONE, "esperé al módem")).await })
    };
    let outcome = tokio::time::timeout(WITHIN, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    refs(&outcome);
    assert_eq!(
        rig.inbox()
            .iter()
            .filter(|t| *t == "esperé al módem")
            .count(),
        1
    );
    still_works(&rig, "unplug", 301).await;

    rig.emu.inject_fault(0, Fault::Reboot).unwrap();
    still_works(&rig, "reboot", 302).await;

    rig.emu.inject_fault(0, Fault::Deregister).unwrap();
    eventually_async("not registered", WITHIN, async || {
        (rig.pool.status(&sc).unwrap().state == ModemState::NotRegistered).then_some(())
    })
    .await;
    let pending = {
        let pool = rig.pool.clone();
        let sc = sc.clone();
        actix::spawn(async move { pool.send(&sc, sms(303, PHONE, "sin red")).await })
    };
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        !rig.inbox().contains(&"sin red".to_string()),
        "held while off the network"
    );
    assert!(rig.pool.status(&sc).unwrap().queued <= 1);
    rig.emu.clear_faults(0).unwrap();
    refs(
        &tokio::time::timeout(WITHIN, pending)
            .await
            .unwrap()
            .unwrap()
            .unwrap(),
    );
    still_works(&rig, "deregistration", 304).await;

    rig.emu.inject_fault(0, Fault::SimBusy).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    rig.emu.clear_faults(0).unwrap();
    still_works(&rig, "sim_busy", 305).await;
    rig.emu.shutdown();
}

#[actix::test]
async fn a_panicking_driver_is_restarted() {
    use actix::Actor;
    use smsgate::modem::actor::{GetStatus, Modem, Runner, SendSms};
    use smsgate::modem::types::{ModemStatus, SharedStatus};
    use std::sync::atomic::{AtomicU32, Ordering};

    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let m = emu.modems()[0].clone();
    let runs = Arc::new(AtomicU32::new(0));
    let counter = runs.clone();
    let runner: Runner = Arc::new(move |cfg, queue, events, status| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if n == 0 {
                panic!("a bug in the driver");
            }
            smsgate::modem::driver::run(cfg, queue, events, status).await
        })
    });
    let (tx, _rx) = mpsc::unbounded_channel();
    let status = SharedStatus::new(ModemStatus::new(&m.number, &m.path.to_string_lossy()));
    let cfg = driver_config(&m.number, &m.path.to_string_lossy());
    let addr = Modem::with_runner(runner, cfg, tx, status).start();
    let outcome = tokio::time::timeout(WITHIN, addr.send(SendSms(sms(400, PHONE, "sobreviví"))))
        .await
        .unwrap()
        .unwrap();
    refs(&outcome);
    let status = addr.send(GetStatus).await.unwrap();
    assert_eq!(status.restarts, 1);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(emu.inbox(PHONE)[0].text, "sobreviví");
    emu.shutdown();
}

#[actix::test]
async fn direct_delivery_modes_cmt_and_cds_work_too() {
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let m = emu.modems()[0].clone();
    let cfg = DriverConfig {
        cnmi: "2,2,0,1,0".into(),
        ..driver_config(&m.number, &m.path.to_string_lossy())
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(vec![cfg], tx);
    let got = Arc::new(Mutex::new(Received::default()));
    actix::spawn(collect(rx, got.clone()));
    let rig = Rig { emu, pool, got };
    let sc = rig.short(0);
    eventually_async("up", WITHIN, async || {
        (rig.pool.status(&sc).unwrap().state == ModemState::Up).then_some(())
    })
    .await;
    rig.emu
        .phone_send(
            PHONE,
            &sc,
            &"directo al equipo ".repeat(10),
            PartOrder::Reversed,
        )
        .unwrap();
    rig.received(&"directo al equipo ".repeat(10)).await;
    assert_eq!(rig.emu.storage(0).unwrap().0, 0, "+CMT stores nothing");
    let sent = refs(&rig.send(0, 500, "con informe directo").await);
    eventually_async("+CDS report", WITHIN, async || {
        let got = rig.got.lock().unwrap();
        got.reports
            .iter()
            .any(|(_, r, _)| *r == sent[0])
            .then_some(())
    })
    .await;
    rig.emu.shutdown();
}

#[actix::test]
async fn every_builtin_profile_drives_a_modem() {
    use smsgate::config::ModemConfig;
    use smsgate::modem::profile::Profile;
    let profiles = Profile::builtins();
    let emu = Emulator::start(EmulatorConfig {
        modems: profiles.len(),
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let configs: Vec<DriverConfig> = emu
        .modems()
        .iter()
        .zip(&profiles)
        .map(|(m, p)| {
            let modem = ModemConfig {
                profile: p.name.clone(),
                ..ModemConfig::new(&m.path.to_string_lossy(), &m.number)
            };
            DriverConfig {
                registration_timeout: Duration::from_secs(5),
                post_pin_delay: Duration::ZERO,
                ..DriverConfig::from_config(&modem, p)
            }
        })
        .collect();
    let (tx, rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(configs, tx);
    let got = Arc::new(Mutex::new(Received::default()));
    actix::spawn(collect(rx, got.clone()));
    let rig = Rig { emu, pool, got };
    for (i, p) in profiles.iter().enumerate() {
        let sc = rig.short(i);
        eventually_async(&format!("{} up", p.name), WITHIN, async || {
            (rig.pool.status(&sc).unwrap().state == ModemState::Up).then_some(())
        })
        .await;
        let text = format!("perfil {}", p.name);
        refs(&rig.send(i, 600 + i as u64, &text).await);
        assert!(rig.inbox().contains(&text), "{}", p.name);
        let reply = format!("respuesta {}", p.name);
        rig.emu
            .phone_send(PHONE, &sc, &reply, PartOrder::InOrder)
            .unwrap();
        rig.received(&reply).await;
    }
    rig.emu.shutdown();
}

/// A message withdrawn while it waited for its modem (its conversation
/// ended) is not started when the modem takes it: the phone gets nothing.
#[actix::test]
async fn a_withdrawn_message_is_not_sent() {
    let rig = rig(1).await;
    let m = sms(7, PHONE, "demasiado tarde");
    m.withdraw.set();
    let outcome = tokio::time::timeout(WITHIN, rig.pool.send(&rig.short(0), m))
        .await
        .expect("an answer");
    assert!(
        !matches!(outcome, Ok(SendOutcome::Sent { .. })),
        "{outcome:?}"
    );
    assert_eq!(refs(&rig.send(0, 8, "a tiempo").await).len(), 1);
    assert_eq!(rig.inbox(), vec!["a tiempo".to_string()]);
    rig.emu.shutdown();
}

/// `[[modem]] record`: the driver writes every byte of its serial line
/// both ways to the transcript file, exactly the bytes the emulator saw
/// (a send with its prompt and PDU, a receive with its `+CMTI`), across
/// the session.
#[actix::test]
async fn the_driver_records_its_serial_line_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modem0.jsonl");
    let record = smsgate::transcript::RecordTo::file(&file);
    let rig = rig_configured(
        EmulatorConfig {
            modems: 1,
            ..EmulatorConfig::default()
        },
        |_| {},
        |c| DriverConfig {
            record: Some(record.clone()),
            ..c
        },
    )
    .await;
    assert_eq!(refs(&rig.send(0, 1, "grabado").await).len(), 1);
    rig.emu
        .phone_send(
            PHONE,
            &rig.short(0),
            "respuesta grabada",
            PartOrder::InOrder,
        )
        .unwrap();
    rig.received("respuesta grabada").await;
    // Let the last answers land, then stop the driver (the recording is
    // flushed as the port closes).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = rig.emu.transcript(0).unwrap();
    rig.pool.shutdown().await;
    let join = |dir_: smsgate::transcript::Dir, name: &str| {
        let rec: Vec<u8> = smsgate::transcript::read(&file)
            .unwrap()
            .iter()
            .filter(|e| e.dir == dir_)
            .flat_map(|e| e.bytes().unwrap())
            .collect();
        let emu: Vec<u8> = seen
            .iter()
            .filter(|e| e.dir == name)
            .flat_map(|e| smsgate::transcript::unescape(&e.data).unwrap())
            .collect();
        (rec, emu)
    };
    let (rec, emu) = join(smsgate::transcript::Dir::ToModem, "to_modem");
    assert!(
        rec.starts_with(&emu),
        "the host's bytes differ:\n{}\n{}",
        String::from_utf8_lossy(&rec),
        String::from_utf8_lossy(&emu)
    );
    let sent = String::from_utf8_lossy(&rec);
    assert!(sent.contains("AT+CMGS="), "{sent}");
    assert!(sent.contains('\x1a'), "{sent}");
    let (rec, emu) = join(smsgate::transcript::Dir::FromModem, "from_modem");
    assert!(
        emu.starts_with(&rec),
        "the modem's bytes differ:\n{}\n{}",
        String::from_utf8_lossy(&rec),
        String::from_utf8_lossy(&emu)
    );
    let got = String::from_utf8_lossy(&rec);
    assert!(got.contains("+CMTI:"), "{got}");
    assert!(got.contains("> "), "{got}");
    rig.emu.shutdown();
}

/// Pipelined acknowledgements: while the gateway has not yet made an SMS
/// durable, the driver goes on sending, the SMS stays on the SIM, and a
/// sweep meanwhile does not hand it over a second time; once acknowledged
/// it is deleted. (Consecutive SMS and reports then share one flush.)
#[actix::test]
async fn an_unacknowledged_sms_stays_on_the_sim_while_sends_go_on() {
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let short = emu.modems()[0].number.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(
        vec![driver_config(
            &short,
            &emu.modems()[0].path.to_string_lossy(),
        )],
        tx,
    );
    eventually_async("up", WITHIN, async || {
        (pool.status(&short).unwrap().state == ModemState::Up).then_some(())
    })
    .await;
    emu.phone_send(PHONE, &short, "espera", PartOrder::InOrder)
        .unwrap();
    let held = match tokio::time::timeout(WITHIN, rx.recv()).await.unwrap() {
        Some(PoolEvent {
            event: ModemEvent::Received { ack, .. },
            ..
        }) => ack,
        _ => panic!("the SMS first"),
    };
    // Not acknowledged: a send goes through all the same, well before the
    // hand-over's 30 s timeout.
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        pool.send(&short, sms(1, PHONE, "sigo")),
    )
    .await
    .expect("not held up by the unacknowledged SMS")
    .unwrap();
    assert!(matches!(outcome, SendOutcome::Sent { .. }));
    // Several sweeps (every 700 ms) later: still on the SIM, handed over
    // once (the send's delivery report is the only other event).
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let mut acks = Vec::new();
    while let Ok(PoolEvent { event, .. }) = rx.try_recv() {
        match event {
            ModemEvent::Received { .. } => panic!("handed over twice"),
            ModemEvent::DeliveryReport { ack, .. } => acks.push(ack),
        }
    }
    // The SMS and the send's report, neither acknowledged yet.
    assert_eq!(
        emu.storage(0).unwrap().0,
        1 + acks.len() as u16,
        "kept until acknowledged"
    );
    held.send(()).unwrap();
    for ack in acks {
        let _ = ack.send(());
    }
    eventually_async("deleted once acknowledged", WITHIN, async || {
        (emu.storage(0).unwrap().0 == 0).then_some(())
    })
    .await;
    assert_eq!(pool.status(&short).unwrap().received, 1);
    emu.shutdown();
}

/// Pipelined acknowledgements are bounded: with the gateway slow to
/// acknowledge, the driver hands over at most eight stored SMS before it
/// waits, so the SIM keeps room for what the network delivers.
#[actix::test]
async fn at_most_eight_stored_sms_wait_for_their_acknowledgement() {
    let emu = Emulator::start(EmulatorConfig {
        modems: 1,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap();
    let short = emu.modems()[0].number.clone();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let pool = ModemPool::start(
        vec![driver_config(
            &short,
            &emu.modems()[0].path.to_string_lossy(),
        )],
        tx,
    );
    eventually_async("up", WITHIN, async || {
        (pool.status(&short).unwrap().state == ModemState::Up).then_some(())
    })
    .await;
    for i in 0..12 {
        emu.phone_send(PHONE, &short, &format!("mensaje {i}"), PartOrder::InOrder)
            .unwrap();
    }
    let mut held = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while let Ok(Some(PoolEvent { event, .. })) = tokio::time::timeout_at(deadline, rx.recv()).await
    {
        if let ModemEvent::Received { ack, .. } = event {
            held.push(ack);
        }
    }
    assert_eq!(held.len(), 8, "handed over before waiting");
    for ack in held {
        ack.send(()).unwrap();
    }
    // The rest follow once there is room; all are deleted in the end.
    let mut rest = 0;
    while rest < 4 {
        match tokio::time::timeout(WITHIN, rx.recv()).await.unwrap() {
            Some(PoolEvent {
                event: ModemEvent::Received { ack, .. },
                ..
            }) => {
                ack.send(()).unwrap();
                rest += 1;
            }
            Some(_) => {}
            None => panic!("pool gone"),
        }
    }
    eventually_async("storage emptied", WITHIN, async || {
        (emu.storage(0).unwrap().0 == 0).then_some(())
    })
    .await;
    assert_eq!(pool.status(&short).unwrap().received, 12);
    emu.shutdown();
}
