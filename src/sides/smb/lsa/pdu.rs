//! DCE/RPC connection-oriented PDUs (C706 chapter 12, MS-RPCE 2.2.2): the 16-byte common
//! header, bind / bind_ack / bind_nak, request, response and fault. No authentication
//! verifiers: the pipe runs inside an already signed (or sealed) SMB session.

use super::LsaError;

pub const PTYPE_REQUEST: u8 = 0;
pub const PTYPE_RESPONSE: u8 = 2;
pub const PTYPE_FAULT: u8 = 3;
pub const PTYPE_BIND: u8 = 11;
pub const PTYPE_BIND_ACK: u8 = 12;
pub const PTYPE_BIND_NAK: u8 = 13;

pub const PFC_FIRST_FRAG: u8 = 0x01;
pub const PFC_LAST_FRAG: u8 = 0x02;

/// Little-endian integers, ASCII characters, IEEE floats.
const DREP: [u8; 4] = [0x10, 0, 0, 0];
pub const HEADER_LEN: usize = 16;

/// An interface or transfer syntax: UUID and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid: [u8; 16],
    pub major: u16,
    pub minor: u16,
}

/// Parses a UUID string into its DCE wire form (first three fields little-endian).
pub const fn uuid_wire(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> [u8; 16] {
    let a = d1.to_le_bytes();
    let b = d2.to_le_bytes();
    let c = d3.to_le_bytes();
    [a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]]
}

/// The LSA RPC interface, 12345778-1234-abcd-ef00-0123456789ab v0.0.
pub const LSARPC: SyntaxId = SyntaxId {
    uuid: uuid_wire(0x1234_5778, 0x1234, 0xabcd, [0xef, 0x00, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab]),
    major: 0,
    minor: 0,
};

/// NDR20, 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.
pub const NDR20: SyntaxId = SyntaxId {
    uuid: uuid_wire(0x8a88_5d04, 0x1ceb, 0x11c9, [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60]),
    major: 2,
    minor: 0,
};

fn header(ptype: u8, flags: u8, body_len: usize, call_id: u32) -> Result<Vec<u8>, LsaError> {
    let frag_len = u16::try_from(HEADER_LEN + body_len).map_err(|_| LsaError::TooLong)?;
    let mut out = Vec::with_capacity(HEADER_LEN + body_len);
    out.extend_from_slice(&[5, 0, ptype, flags]);
    out.extend_from_slice(&DREP);
    out.extend_from_slice(&frag_len.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // auth_length
    out.extend_from_slice(&call_id.to_le_bytes());
    Ok(out)
}

fn push_syntax(out: &mut Vec<u8>, s: &SyntaxId) {
    out.extend_from_slice(&s.uuid);
    out.extend_from_slice(&s.major.to_le_bytes());
    out.extend_from_slice(&s.minor.to_le_bytes());
}

/// A bind for one presentation context (id 0): `interface` over NDR20.
pub fn encode_bind(call_id: u32, interface: &SyntaxId, max_frag: u16) -> Result<Vec<u8>, LsaError> {
    let mut body = Vec::new();
    body.extend_from_slice(&max_frag.to_le_bytes()); // max_xmit_frag
    body.extend_from_slice(&max_frag.to_le_bytes()); // max_recv_frag
    body.extend_from_slice(&0u32.to_le_bytes()); // assoc_group_id: new group
    body.extend_from_slice(&[1, 0, 0, 0]); // one context element, reserved
    body.extend_from_slice(&0u16.to_le_bytes()); // p_cont_id
    body.extend_from_slice(&[1, 0]); // one transfer syntax, reserved
    push_syntax(&mut body, interface);
    push_syntax(&mut body, &NDR20);
    let mut out = header(PTYPE_BIND, PFC_FIRST_FRAG | PFC_LAST_FRAG, body.len(), call_id)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// A single-fragment request carrying `stub` for operation `opnum` on context 0.
pub fn encode_request(call_id: u32, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, LsaError> {
    let mut body = Vec::with_capacity(8 + stub.len());
    body.extend_from_slice(&(stub.len() as u32).to_le_bytes()); // alloc_hint
    body.extend_from_slice(&0u16.to_le_bytes()); // p_cont_id
    body.extend_from_slice(&opnum.to_le_bytes());
    body.extend_from_slice(stub);
    let mut out = header(PTYPE_REQUEST, PFC_FIRST_FRAG | PFC_LAST_FRAG, body.len(), call_id)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// The common header of a received PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub ptype: u8,
    pub flags: u8,
    pub frag_len: u16,
    pub auth_len: u16,
    pub call_id: u32,
}

impl Header {
    pub fn is_last(&self) -> bool {
        self.flags & PFC_LAST_FRAG != 0
    }
}

pub fn decode_header(pdu: &[u8]) -> Result<Header, LsaError> {
    if pdu.len() < HEADER_LEN {
        return Err(LsaError::Malformed("PDU shorter than its header"));
    }
    if pdu[0] != 5 {
        return Err(LsaError::Malformed("not DCE/RPC version 5"));
    }
    if pdu[4] & 0xf0 != 0x10 {
        return Err(LsaError::Malformed("big-endian data representation"));
    }
    let h = Header {
        ptype: pdu[2],
        flags: pdu[3],
        frag_len: u16::from_le_bytes([pdu[8], pdu[9]]),
        auth_len: u16::from_le_bytes([pdu[10], pdu[11]]),
        call_id: u32::from_le_bytes([pdu[12], pdu[13], pdu[14], pdu[15]]),
    };
    if (h.frag_len as usize) < HEADER_LEN || h.frag_len as usize > pdu.len() {
        return Err(LsaError::Malformed("fragment length"));
    }
    Ok(h)
}

/// What a bind came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    pub max_xmit_frag: u16,
    pub max_recv_frag: u16,
    pub assoc_group_id: u32,
    /// Result of our one context: 0 = acceptance.
    pub result: u16,
    pub reason: u16,
}

/// Decodes a bind_ack (or turns a bind_nak into `BindRejected`).
pub fn decode_bind_reply(pdu: &[u8]) -> Result<BindAck, LsaError> {
    let h = decode_header(pdu)?;
    let body = &pdu[HEADER_LEN..h.frag_len as usize];
    let u16_at = |i: usize| -> Result<u16, LsaError> {
        body.get(i..i + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).ok_or(LsaError::Malformed("bind reply ends early"))
    };
    match h.ptype {
        PTYPE_BIND_ACK => {}
        PTYPE_BIND_NAK => return Err(LsaError::BindRejected(u16_at(0)?)),
        _ => return Err(LsaError::Malformed("expected a bind_ack")),
    }
    let max_xmit_frag = u16_at(0)?;
    let max_recv_frag = u16_at(2)?;
    let assoc = body.get(4..8).ok_or(LsaError::Malformed("bind_ack ends early"))?;
    let assoc_group_id = u32::from_le_bytes([assoc[0], assoc[1], assoc[2], assoc[3]]);
    let sec_addr_len = u16_at(8)? as usize;
    // The secondary address is followed by padding to a 4-byte boundary of the whole PDU.
    let after_addr = HEADER_LEN + 10 + sec_addr_len;
    let results_at = after_addr.div_ceil(4) * 4 - HEADER_LEN;
    let n_results = *body.get(results_at).ok_or(LsaError::Malformed("bind_ack ends early"))?;
    if n_results == 0 {
        return Err(LsaError::Malformed("bind_ack without results"));
    }
    let result = u16_at(results_at + 4)?;
    let reason = u16_at(results_at + 6)?;
    Ok(BindAck { max_xmit_frag, max_recv_frag, assoc_group_id, result, reason })
}

/// A response fragment's stub data, or the fault it carries.
#[derive(Debug, PartialEq, Eq)]
pub struct ResponseFragment<'a> {
    pub header: Header,
    pub stub: &'a [u8],
}

pub fn decode_response(pdu: &[u8]) -> Result<ResponseFragment<'_>, LsaError> {
    let h = decode_header(pdu)?;
    let end = h.frag_len as usize - h.auth_len as usize - if h.auth_len > 0 { 8 } else { 0 };
    if end < HEADER_LEN + 8 {
        return Err(LsaError::Malformed("response shorter than its header"));
    }
    let body = &pdu[HEADER_LEN..end];
    match h.ptype {
        PTYPE_RESPONSE => Ok(ResponseFragment { header: h, stub: &body[8..] }),
        PTYPE_FAULT => {
            let s = body.get(8..12).ok_or(LsaError::Malformed("fault ends early"))?;
            Err(LsaError::Fault(u32::from_le_bytes([s[0], s[1], s[2], s[3]])))
        }
        _ => Err(LsaError::Malformed("expected a response")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bind for lsarpc as Samba 4.17's rpcclient sent it (captured on loopback).
    const LSA_BIND: &str = "05000b03100000004800000001000000b810b810000000000100000000000100\
                            785734123412cdabef000123456789ab00000000045d888aeb1cc9119fe808002b10486002000000";

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    #[test]
    fn the_lsa_bind_matches_the_known_bytes() {
        assert_eq!(encode_bind(1, &LSARPC, 4280).expect("bind"), hex(LSA_BIND));
    }

    #[test]
    fn a_bind_ack_from_samba_is_understood() {
        // Samba 4.17's bind_ack to that bind: secondary address "\pipe\lsass", 2 bytes of padding,
        // one accepted NDR20 context.
        let ack = hex("05000c03100000004400000001000000b810b81062c400000c005c706970655c6c73617373000000\
             0100000000000000045d888aeb1cc9119fe808002b10486002000000");
        let a = decode_bind_reply(&ack).expect("ack");
        assert_eq!(
            a,
            BindAck { max_xmit_frag: 4280, max_recv_frag: 4280, assoc_group_id: 0xc462, result: 0, reason: 0 }
        );
    }

    #[test]
    fn a_bind_nak_is_a_rejection() {
        let nak = hex("05000d03100000001800000001000000 0200 0000 00000000");
        assert!(matches!(decode_bind_reply(&nak), Err(LsaError::BindRejected(2))));
    }

    #[test]
    fn requests_carry_opnum_and_stub() {
        let pdu = encode_request(7, 44, &[0xaa, 0xbb, 0xcc, 0xdd]).expect("request");
        assert_eq!(pdu, hex("05000003100000001c00000007000000 04000000 0000 2c00 aabbccdd"));
    }

    #[test]
    fn responses_yield_stub_and_faults_their_status() {
        let resp = hex("05000203100000001c00000007000000 04000000 0000 0000 01020304");
        let r = decode_response(&resp).expect("response");
        assert_eq!(r.stub, &[1, 2, 3, 4]);
        assert!(r.header.is_last());
        let first_only = hex("05000201100000001c00000007000000 04000000 0000 0000 01020304");
        assert!(!decode_response(&first_only).expect("fragment").header.is_last());
        let fault = hex("05000303100000002000000007000000 20000000 0000 0000 05000000 00000000");
        assert!(matches!(decode_response(&fault), Err(LsaError::Fault(5))));
    }

    #[test]
    fn truncated_pdus_are_malformed() {
        assert!(decode_header(&[5, 0, 2]).is_err());
        let mut resp = hex("05000203100000001c00000007000000 04000000 0000 0000 01020304");
        resp.truncate(20);
        assert!(decode_response(&resp).is_err());
        assert!(decode_bind_reply(&hex("05000c03100000001400000001000000 b810b810")).is_err());
    }
}
