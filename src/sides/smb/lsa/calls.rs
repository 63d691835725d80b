//! Stub data of the four LSA calls we make (MS-LSAT 3.1.4), encoded and decoded with NDR20:
//! LsarOpenPolicy2 (opnum 44), LsarLookupSids (15, level 1), LsarLookupNames (14) and LsarClose
//! (0). A policy handle is 20 opaque bytes the server hands out.
//!
//! Lookups answer per item: a SID or name the server cannot map comes back as `None`, while
//! the others still resolve (`STATUS_SOME_NOT_MAPPED`); `STATUS_NONE_MAPPED` is all `None`.

use super::ndr::{NdrReader, NdrWriter};
use super::{LsaError, Sid, SidKind};

pub const OPNUM_CLOSE: u16 = 0;
pub const OPNUM_LOOKUP_NAMES: u16 = 14;
pub const OPNUM_LOOKUP_SIDS: u16 = 15;
pub const OPNUM_OPEN_POLICY2: u16 = 44;

/// POLICY_LOOKUP_NAMES: all a lookup needs.
pub const POLICY_LOOKUP_NAMES: u32 = 0x0000_0800;
/// LsapLookupWksta: look up in the server's own domains, then trusted ones.
const LOOKUP_LEVEL_WKSTA: u16 = 1;

const STATUS_SOME_NOT_MAPPED: u32 = 0x0000_0107;
const STATUS_NONE_MAPPED: u32 = 0xC000_0073;

/// A policy handle (context handle: 4-byte attributes + 16-byte UUID).
pub type PolicyHandle = [u8; 20];

/// A SID the server named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUpName {
    pub kind: SidKind,
    /// Domain (NetBIOS) name; empty for well-known principals such as Everyone.
    pub domain: String,
    pub name: String,
}

impl LookedUpName {
    /// `DOMAIN\name`, or just `name` when the domain is empty.
    pub fn full_name(&self) -> String {
        if self.domain.is_empty() { self.name.clone() } else { format!(r"{}\{}", self.domain, self.name) }
    }
}

/// A name the server resolved to a SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUpSid {
    pub kind: SidKind,
    pub sid: Sid,
    pub domain: String,
}

pub fn encode_open_policy2(access: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.null_pointer(); // SystemName: the server we are talking to
    // LSAPR_OBJECT_ATTRIBUTES, all optional parts absent except the QoS Samba's client sends.
    w.u32(24); // Length
    w.null_pointer(); // RootDirectory
    w.null_pointer(); // ObjectName
    w.u32(0); // Attributes
    w.null_pointer(); // SecurityDescriptor
    w.referent(); // SecurityQualityOfService
    w.u32(12); // its Length
    w.u16(2); // SecurityImpersonation
    w.u8(1); // dynamic tracking
    w.u8(0); // EffectiveOnly
    w.u32(access);
    w.into_bytes()
}

pub fn decode_open_policy2(stub: &[u8]) -> Result<PolicyHandle, LsaError> {
    let mut r = NdrReader::new(stub);
    let handle = read_handle(&mut r)?;
    match r.u32()? {
        0 => Ok(handle),
        status => Err(LsaError::Status(status)),
    }
}

pub fn encode_close(handle: &PolicyHandle) -> Vec<u8> {
    handle.to_vec()
}

pub fn decode_close(stub: &[u8]) -> Result<(), LsaError> {
    let mut r = NdrReader::new(stub);
    read_handle(&mut r)?;
    match r.u32()? {
        0 => Ok(()),
        status => Err(LsaError::Status(status)),
    }
}

pub fn encode_lookup_sids(handle: &PolicyHandle, sids: &[Sid]) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    // LSAPR_SID_ENUM_BUFFER
    w.u32(sids.len() as u32);
    w.referent();
    w.u32(sids.len() as u32); // conformance of SidInfo[]
    for _ in sids {
        w.referent();
    }
    for sid in sids {
        w.sid(sid);
    }
    // LSAPR_TRANSLATED_NAMES, empty on input
    w.u32(0);
    w.null_pointer();
    w.u16(LOOKUP_LEVEL_WKSTA);
    w.u32(0); // MappedCount
    w.into_bytes()
}

/// One entry per SID asked for, in order.
pub fn decode_lookup_sids(stub: &[u8], asked: usize) -> Result<Vec<Option<LookedUpName>>, LsaError> {
    let mut r = NdrReader::new(stub);
    let domains = read_domains(&mut r)?;
    // LSAPR_TRANSLATED_NAMES
    let entries = r.u32()? as usize;
    let ptr = r.u32()?;
    let mut names = Vec::new();
    if ptr != 0 {
        let n = r.count(16)?;
        if n != entries {
            return Err(LsaError::Malformed("translated names count"));
        }
        let mut fixed = Vec::with_capacity(n);
        for _ in 0..n {
            let kind = SidKind::from_wire(r.u16()?);
            let (_, has_name) = r.unicode_string_head()?;
            let domain_index = r.u32()? as i32;
            fixed.push((kind, has_name, domain_index));
        }
        for (kind, has_name, domain_index) in fixed {
            let name = if has_name { r.unicode_string_body()? } else { String::new() };
            names.push((kind, name, domain_index));
        }
    }
    let _mapped = r.u32()?;
    let status = r.u32()?;
    if status != 0 && status != STATUS_SOME_NOT_MAPPED && status != STATUS_NONE_MAPPED {
        return Err(LsaError::Status(status));
    }
    if status == STATUS_NONE_MAPPED || names.is_empty() {
        return Ok(vec![None; asked]);
    }
    if names.len() != asked {
        return Err(LsaError::Malformed("a different number of names than SIDs"));
    }
    Ok(names
        .into_iter()
        .map(|(kind, name, di)| {
            let unmapped = matches!(kind, SidKind::Unknown | SidKind::Invalid) || name.is_empty();
            if unmapped {
                return None;
            }
            let domain = usize::try_from(di).ok().and_then(|i| domains.get(i)).map(|d| d.0.clone()).unwrap_or_default();
            Some(LookedUpName { kind, domain, name })
        })
        .collect())
}

/// Names as `DOMAIN\name` or `name`.
pub fn encode_lookup_names(handle: &PolicyHandle, names: &[&str]) -> Result<Vec<u8>, LsaError> {
    let encoded: Vec<Vec<u16>> = names.iter().map(|n| n.encode_utf16().collect()).collect();
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.u32(names.len() as u32); // Count
    w.u32(names.len() as u32); // conformance of Names[]
    for n in &encoded {
        w.unicode_string_head(n)?;
    }
    for n in &encoded {
        w.unicode_string_body(n);
    }
    // LSAPR_TRANSLATED_SIDS, empty on input
    w.u32(0);
    w.null_pointer();
    w.u16(LOOKUP_LEVEL_WKSTA);
    w.u32(0); // MappedCount
    Ok(w.into_bytes())
}

/// One entry per name asked for, in order.
pub fn decode_lookup_names(stub: &[u8], asked: usize) -> Result<Vec<Option<LookedUpSid>>, LsaError> {
    let mut r = NdrReader::new(stub);
    let domains = read_domains(&mut r)?;
    // LSAPR_TRANSLATED_SIDS
    let entries = r.u32()? as usize;
    let ptr = r.u32()?;
    let mut sids = Vec::new();
    if ptr != 0 {
        let n = r.count(12)?;
        if n != entries {
            return Err(LsaError::Malformed("translated SIDs count"));
        }
        for _ in 0..n {
            let kind = SidKind::from_wire(r.u16()?);
            let rid = r.u32()?;
            let domain_index = r.u32()? as i32;
            sids.push((kind, rid, domain_index));
        }
    }
    let _mapped = r.u32()?;
    let status = r.u32()?;
    if status != 0 && status != STATUS_SOME_NOT_MAPPED && status != STATUS_NONE_MAPPED {
        return Err(LsaError::Status(status));
    }
    if status == STATUS_NONE_MAPPED || sids.is_empty() {
        return Ok(vec![None; asked]);
    }
    if sids.len() != asked {
        return Err(LsaError::Malformed("a different number of SIDs than names"));
    }
    Ok(sids
        .into_iter()
        .map(|(kind, rid, di)| {
            if matches!(kind, SidKind::Unknown | SidKind::Invalid) {
                return None;
            }
            let (domain, domain_sid) = domains.get(usize::try_from(di).ok()?)?;
            let domain_sid = domain_sid.as_ref()?;
            // A domain's own name resolves to the domain SID; everything else is domain + RID.
            let sid = if kind == SidKind::Domain { domain_sid.clone() } else { domain_sid.with_rid(rid) };
            Some(LookedUpSid { kind, sid, domain: domain.clone() })
        })
        .collect())
}

fn read_handle(r: &mut NdrReader<'_>) -> Result<PolicyHandle, LsaError> {
    let b = r.bytes(20)?;
    let mut h = [0u8; 20];
    h.copy_from_slice(b);
    Ok(h)
}

/// `[out] PLSAPR_REFERENCED_DOMAIN_LIST*`: (name, SID) per domain index.
fn read_domains(r: &mut NdrReader<'_>) -> Result<Vec<(String, Option<Sid>)>, LsaError> {
    if r.u32()? == 0 {
        return Ok(Vec::new());
    }
    let entries = r.u32()? as usize;
    let ptr = r.u32()?;
    let _max_entries = r.u32()?;
    if ptr == 0 {
        return Ok(Vec::new());
    }
    let n = r.count(12)?;
    if n != entries {
        return Err(LsaError::Malformed("referenced domains count"));
    }
    let mut fixed = Vec::with_capacity(n);
    for _ in 0..n {
        let (_, has_name) = r.unicode_string_head()?;
        let has_sid = r.u32()? != 0;
        fixed.push((has_name, has_sid));
    }
    let mut out = Vec::with_capacity(n);
    for (has_name, has_sid) in fixed {
        let name = if has_name { r.unicode_string_body()? } else { String::new() };
        let sid = if has_sid { Some(r.sid()?) } else { None };
        out.push((name, sid));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    //! Byte sequences captured on loopback from Samba 4.17's `rpcclient` talking to smbd
    //! (`lookupsids <sid> S-1-1-0; lookupnames <user>`), stub data only.
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex")).collect()
    }

    fn handle(s: &str) -> PolicyHandle {
        hex(s).try_into().expect("20 bytes")
    }

    const USER_SID: &str = "S-1-5-21-2916843299-2813673131-2131671201-1000";
    const H1: &str = "01000000beeb94a5540b664eb33a9fb66679e539";
    const H2: &str = "010000005c769b50fb66574f8262e2861ac11cb2";

    const LOOKUP_SIDS_REQ: &str = "01000000beeb94a5540b664eb33a9fb66679e53902000000000002000200000004000200080002000500000001050000\
        0000000515000000237fdbadab3eb5a7a1b80e7fe8030000010000000101000000000001000000000000000000000000\
        0100000000000000";
    const LOOKUP_SIDS_RESP: &str = "0c000200020000001000020020000000020000000e0010001400020018000200000002001c0002002000020008000000\
        00000000070000005400450053005400530052005600000004000000010400000000000515000000237fdbadab3eb5a7\
        a1b80e7f0100000000000000000000000000000001000000000000010200000024000200020000000100000016001600\
        280002000000000005000000100010002c000200010000000b000000000000000b00000073006d006200630061007000\
        61006c006900630065000000080000000000000008000000450076006500720079006f006e0065000200000000000000";
    const LOOKUP_NAMES_REQ: &str = "010000005c769b50fb66574f8262e2861ac11cb2010000000100000016001600000002000b000000000000000b000000\
        73006d00620063006100700061006c00690063006500000000000000000000000100000000000000";
    const LOOKUP_NAMES_RESP: &str = "04000200010000000800020020000000010000000e0010000c0002001000020008000000000000000700000054004500\
        53005400530052005600000004000000010400000000000515000000237fdbadab3eb5a7a1b80e7f0100000014000200\
        0100000001000000e8030000000000000100000000000000";

    #[test]
    fn lookup_sids_request_matches_samba_byte_for_byte() {
        let sids = [USER_SID.parse().expect("sid"), "S-1-1-0".parse().expect("sid")];
        assert_eq!(encode_lookup_sids(&handle(H1), &sids), hex(LOOKUP_SIDS_REQ));
    }

    #[test]
    fn lookup_sids_response_names_a_user_and_everyone() {
        let got = decode_lookup_sids(&hex(LOOKUP_SIDS_RESP), 2).expect("decode");
        let user = got[0].as_ref().expect("user mapped");
        assert_eq!((user.kind, user.full_name().as_str()), (SidKind::User, r"TESTSRV\smbcapalice"));
        let everyone = got[1].as_ref().expect("everyone mapped");
        assert_eq!((everyone.kind, everyone.full_name().as_str()), (SidKind::WellKnownGroup, "Everyone"));
    }

    #[test]
    fn lookup_names_request_matches_samba_byte_for_byte() {
        let req = encode_lookup_names(&handle(H2), &["smbcapalice"]).expect("encode");
        assert_eq!(req, hex(LOOKUP_NAMES_REQ));
    }

    #[test]
    fn lookup_names_response_gives_the_domain_sid_plus_rid() {
        let got = decode_lookup_names(&hex(LOOKUP_NAMES_RESP), 1).expect("decode");
        let sid = got[0].as_ref().expect("mapped");
        assert_eq!(sid.sid.to_string(), USER_SID);
        assert_eq!((sid.kind, sid.domain.as_str()), (SidKind::User, "TESTSRV"));
    }

    #[test]
    fn open_policy2_and_close_round_trip() {
        let req = encode_open_policy2(POLICY_LOOKUP_NAMES);
        // SystemName NULL, 24-byte attributes with a QoS, then the access mask.
        assert_eq!(req.len(), 4 + 24 + 8 + 4);
        assert_eq!(&req[req.len() - 4..], &0x800u32.to_le_bytes());
        let resp = hex(&format!("{H1} 00000000"));
        assert_eq!(decode_open_policy2(&resp).expect("handle"), handle(H1));
        let denied = hex(&format!("{H1} 220000c0"));
        assert!(matches!(decode_open_policy2(&denied), Err(LsaError::Status(0xC000_0022))));
        assert_eq!(encode_close(&handle(H1)), hex(H1));
        assert!(decode_close(&hex("0000000000000000000000000000000000000000 00000000")).is_ok());
    }

    #[test]
    fn none_mapped_answers_none_for_every_item() {
        // ReferencedDomains with no entries, no translated names, MappedCount 0, NONE_MAPPED.
        let stub = hex("04000200 00000000 00000000 20000000 00000000 00000000 00000000 730000c0");
        assert_eq!(decode_lookup_sids(&stub, 3).expect("decode"), vec![None, None, None]);
        assert_eq!(decode_lookup_names(&stub, 1).expect("decode"), vec![None]);
    }

    #[test]
    fn a_truncated_response_is_malformed() {
        let mut stub = hex(LOOKUP_SIDS_RESP);
        stub.truncate(stub.len() / 2);
        assert!(matches!(decode_lookup_sids(&stub, 2), Err(LsaError::Malformed(_))));
    }
}
