//! Property tests of the digester: it never panics on any bytes, and its
//! events do not depend on how the input is chunked (ModemManager's fuzz
//! rule: "parsed or error, never crash").

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::at::commands::{
    AtCommand, ListMessages, MessageStat, PduHex, ReadMessage, RegistrationQuery, SendPdu,
    SignalQualityQuery, UssdRequest,
};

fn in_flights() -> Vec<Option<InFlight>> {
    let cmgs = SendPdu::new(PduHex::from_octets(&[0, 1, 2])).map(|c| c.in_flight());
    vec![
        None,
        Some(InFlight::new(b"ATI\r")),
        Some(SignalQualityQuery.in_flight()),
        Some(RegistrationQuery.in_flight()),
        Some(ListMessages(MessageStat::All).in_flight()),
        Some(ReadMessage(1).in_flight()),
        cmgs.ok(),
        UssdRequest::new("*123#", false).ok().map(|c| c.in_flight()),
    ]
}

/// Pieces real transcripts are made of, plus line-end oddities.
const PIECES: &[&[u8]] = &[
    b"AT+CMGL=4\r\r\n",
    b"AT+CSQ\r",
    b"+CMGL: 1,0,,3\r\n",
    b"+CMGR: 1,,3\r\n",
    b"0011AA\r\n",
    b"+CMTI: \"SM\",3\r\n",
    b"+CDSI: \"SM\",4\r\n",
    b"^RSSI:14\r\n",
    b"^MODE:5,4\r\n",
    b"^BOOT:1,0,0,0,72\r\n",
    b"\r\n",
    b"\r",
    b"\n",
    b"OK\r\n",
    b"ERROR\r\n",
    b"+CMS ERROR: 500\r\n",
    b"+CME ERROR: SIM busy\r\n",
    b"> ",
    b">",
    b"+CMT: ,3\r\n",
    b"+CDS: 3\r\n",
    b"RING\r\n",
    b"RDY\r\n",
    b"\xff\x00garbage\r\n",
    b"\0",
    b"+CREG: 1,1\r\n",
    b"+CREG: 2\r\n",
    b"+CSQ: 9,99\r\n",
    b"+CMGS: 7\r\n",
    b"0001021A\x1a\r\n",
    b"huawei\r\n",
    b"COMMAND NOT SUPPORT\r\n",
    b"+CUSD: 1,\"1. Saldo\r\n",
    b"2. Paquetes\",15\r\n",
    b"+CUSD: 0,\"Saldo RD$ 5\",15\r\n",
    b"+CUSD: 4\r\n",
    b"+CUSD: 0,\"00410042\",72\r\n",
];

fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => proptest::sample::select(PIECES).prop_map(<[u8]>::to_vec),
        1 => vec(any::<u8>(), 0..8),
    ]
}

fn events(in_flight: &Option<InFlight>, chunks: &[&[u8]]) -> Vec<Event> {
    let mut d = Digester::new();
    if let Some(f) = in_flight {
        d.expect(f.clone());
    }
    let mut out = Vec::new();
    for chunk in chunks {
        d.feed(chunk);
        while let Some(ev) = d.next_event() {
            out.push(ev);
        }
    }
    out
}

/// Bytes biased towards the ones the digester branches on.
fn noisy_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => any::<u8>(),
        2 => proptest::sample::select(&b"\r\n> +^:,\"0A1aOKERROR\x1a\x1b\0"[..]),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Feed(Vec<u8>),
    Expect(usize),
    Done,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => vec(noisy_byte(), 0..24).prop_map(Op::Feed),
        1 => (0usize..8).prop_map(Op::Expect),
        1 => Just(Op::Done),
    ]
}

/// Drives a digester through `ops`: no panic, bounded buffers.
fn drive(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let flights = in_flights();
    let mut d = Digester::new();
    for op in ops {
        match op {
            Op::Feed(bytes) => d.feed(&bytes),
            Op::Expect(i) => {
                if let Some(Some(f)) = flights.get(i) {
                    d.expect(f.clone());
                }
            }
            Op::Done => d.command_done(),
        }
        while let Some(ev) = d.next_event() {
            if let Event::Response(r) = ev {
                prop_assert!(r.lines.len() <= MAX_RESPONSE_LINES);
            }
        }
    }
    prop_assert!(d.buf.len() < MAX_LINE);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100_000))]

    #[test]
    fn never_panics_on_arbitrary_bytes(ops in vec(op(), 0..6)) {
        drive(ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000_000))]

    /// The dedicated hostile-input run: `cargo test --release -- --ignored`.
    #[test]
    #[ignore = "dedicated run: cargo test --release -- --ignored"]
    fn never_panics_on_a_million_inputs(ops in vec(op(), 0..8)) {
        drive(ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn same_events_whatever_the_chunking(
        which in 0usize..8,
        pieces in vec(piece(), 0..24),
        cuts in vec(any::<usize>(), 0..12),
    ) {
        let flight = in_flights().get(which).cloned().flatten();
        let input: Vec<u8> = pieces.concat();
        let whole = events(&flight, &[&input]);

        let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for p in points {
            chunks.push(input.get(start..p).unwrap_or_default());
            start = p;
        }
        chunks.push(input.get(start..).unwrap_or_default());
        prop_assert_eq!(&whole, &events(&flight, &chunks));

        let bytewise: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(&whole, &events(&flight, &bytewise));
    }
}
