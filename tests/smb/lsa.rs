//! LSA lookups over the `lsarpc` pipe against a real Samba server: SIDs to names and back.

use std::time::Duration;

use crate::samba::{NETBIOS_NAME, SHARE, Samba};
use scaidrive_connectors::sides::smb::lsa::{Sid, SidKind};
use scaidrive_connectors::sides::smb::{SmbClient, SmbConfig};

async fn connect(s: &Samba) -> SmbClient {
    let u = s.user();
    let mut cfg = SmbConfig::new("127.0.0.1", s.port, SHARE, &u.name, &u.password);
    cfg.call_timeout = Duration::from_secs(60);
    SmbClient::connect(cfg).await.expect("connect")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_sid_resolves_to_server_backslash_user_and_back() {
    let s = Samba::start();
    let user = s.user().name.clone();
    let user_sid: Sid = s.user_sid(s.user()).parse().expect("sid");
    let client = connect(&s).await;
    let mut lsa = client.lsa().await.expect("open lsa");

    let unknown: Sid = format!("{}-4242", s.machine_sid()).parse().expect("sid");
    let everyone: Sid = "S-1-1-0".parse().expect("sid");
    let names = lsa.lookup_sids(&[user_sid.clone(), everyone, unknown]).await.expect("lookup sids");
    let named = names[0].as_ref().expect("user is named");
    assert_eq!(named.full_name(), format!(r"{NETBIOS_NAME}\{user}"));
    assert_eq!(named.kind, SidKind::User);
    let everyone = names[1].as_ref().expect("everyone is named");
    assert_eq!((everyone.full_name().as_str(), everyone.kind), ("Everyone", SidKind::WellKnownGroup));
    assert_eq!(names[2], None, "an unknown RID has no name");

    let qualified = format!(r"{NETBIOS_NAME}\{user}");
    let sids = lsa.lookup_names(&[&qualified, &user, "no-such-user-here"]).await.expect("lookup names");
    assert_eq!(sids[0].as_ref().expect("qualified name").sid, user_sid);
    assert_eq!(sids[1].as_ref().expect("bare name").sid, user_sid);
    assert_eq!(sids[2], None);

    lsa.close().await.expect("close lsa");
    client.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_too_large_for_one_fragment_is_split_and_still_answers_every_sid() {
    let s = Samba::start();
    let user_sid: Sid = s.user_sid(s.user()).parse().expect("sid");
    let client = connect(&s).await;
    let mut lsa = client.lsa().await.expect("open lsa");
    // 150 x "Authenticated Users" (~66 bytes each) does not fit one 4280-byte fragment, while
    // the request (~20 bytes per SID) does.
    lsa.set_batch(150);
    let authenticated: Sid = "S-1-5-11".parse().expect("sid");
    let mut many = vec![authenticated; 150];
    many[149] = user_sid;
    let names = lsa.lookup_sids(&many).await.expect("lookup");
    assert!(lsa.refragmented() > 0, "the answer was fragmented and the batch split");
    assert_eq!(names.len(), 150);
    assert!(names[..149].iter().all(|n| n.as_ref().is_some_and(|n| n.name == "Authenticated Users")), "{:?}", names[0]);
    assert_eq!(names[149].as_ref().map(|n| n.name.as_str()), Some(s.user().name.as_str()));
    lsa.close().await.expect("close lsa");
    client.shutdown().await.expect("shutdown");
}
