//! A bare ESME for the emulated SMSC: a TCP connection and rusmpp's codec,
//! nothing of smsgate's own SMPP client, so tests see the SMSC as any
//! other client would. Commands go out as written; what comes back is
//! read one PDU at a time, within [`super::ANSWER_WITHIN`].

use std::str::FromStr;

use bytes::BytesMut;
use rusmpp::pdus::{BindTransceiver, DeliverSmResp, SubmitSm};
use rusmpp::tokio_codec::CommandCodec;
use rusmpp::types::{COctetString, OctetString};
use rusmpp::values::{DataCoding, EsmClass, InterfaceVersion, Npi, RegisteredDelivery, Ton};
use rusmpp::{Command, CommandId, CommandStatus, Pdu};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::codec::{Decoder, Encoder};

use super::ANSWER_WITHIN;

pub struct Esme {
    stream: TcpStream,
    buf: BytesMut,
    codec: CommandCodec,
    seq: u32,
}

impl Esme {
    pub async fn connect(addr: &str) -> Esme {
        Esme {
            stream: TcpStream::connect(addr).await.expect("connect to the SMSC"),
            buf: BytesMut::new(),
            codec: CommandCodec::new(),
            seq: 0,
        }
    }

    /// Connects and binds as a transceiver; panics unless the bind is
    /// accepted.
    pub async fn bound(addr: &str) -> Esme {
        let mut e = Esme::connect(addr).await;
        let resp = e.bind("smsgate", "secret").await;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        e
    }

    pub fn next_seq(&mut self) -> u32 {
        self.seq += 1;
        self.seq
    }

    pub async fn send(&mut self, cmd: Command) {
        let mut out = BytesMut::new();
        self.codec.encode(cmd, &mut out).unwrap();
        self.stream
            .write_all(&out)
            .await
            .expect("write to the SMSC");
    }

    /// Sends a request with the next sequence number and returns its
    /// answer; deliver_sm arriving meanwhile are kept in `others`.
    pub async fn request(&mut self, pdu: impl Into<Pdu>, others: &mut Vec<Command>) -> Command {
        let seq = self.next_seq();
        self.send(Command::new(CommandStatus::EsmeRok, seq, pdu))
            .await;
        loop {
            let c = self.read().await.expect("an answer");
            if c.sequence_number() == seq && u32::from(c.id()) & 0x8000_0000 != 0 {
                return c;
            }
            others.push(c);
        }
    }

    pub async fn bind(&mut self, system_id: &str, password: &str) -> Command {
        let bind = BindTransceiver::builder()
            .system_id(COctetString::from_str(system_id).unwrap())
            .password(COctetString::from_str(password).unwrap())
            .system_type(COctetString::from_str("").unwrap())
            .interface_version(InterfaceVersion::Smpp3_4)
            .build();
        self.request(bind, &mut Vec::new()).await
    }

    /// The next PDU, `None` when the SMSC closed the connection; panics
    /// when nothing comes within the bound.
    pub async fn read(&mut self) -> Option<Command> {
        tokio::time::timeout(ANSWER_WITHIN, self.read_unbounded())
            .await
            .expect("a PDU from the SMSC in time")
    }

    async fn read_unbounded(&mut self) -> Option<Command> {
        loop {
            if let Some(c) = self.codec.decode(&mut self.buf).expect("a PDU") {
                return Some(c);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// The next deliver_sm (answering the SMSC's enquire_link on the way);
    /// it is not answered.
    pub async fn next_deliver(&mut self) -> Command {
        loop {
            let c = self.read().await.expect("a deliver_sm");
            match c.id() {
                CommandId::DeliverSm => return c,
                CommandId::EnquireLink => {
                    let s = c.sequence_number();
                    self.send(Command::new(
                        CommandStatus::EsmeRok,
                        s,
                        Pdu::EnquireLinkResp,
                    ))
                    .await;
                }
                _ => {}
            }
        }
    }

    pub async fn ack(&mut self, deliver: &Command) {
        let resp = Command::new(
            CommandStatus::EsmeRok,
            deliver.sequence_number(),
            DeliverSmResp::default(),
        );
        self.send(resp).await;
    }
}

/// A submit_sm from short code `from` to international number `to`
/// (without `+`).
pub fn submit(from: &str, to: &str, data_coding: u8, esm_class: u8, sm: &[u8]) -> SubmitSm {
    SubmitSm::builder()
        .source_addr_ton(Ton::NetworkSpecific)
        .source_addr_npi(Npi::Unknown)
        .source_addr(COctetString::from_str(from).unwrap())
        .dest_addr_ton(Ton::International)
        .dest_addr_npi(Npi::Isdn)
        .destination_addr(COctetString::from_str(to).unwrap())
        .esm_class(EsmClass::from(esm_class))
        .data_coding(DataCoding::from(data_coding))
        .registered_delivery(RegisteredDelivery::from(0))
        .short_message(OctetString::from_slice(sm).unwrap())
        .build()
}
