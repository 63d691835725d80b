//! SCIM at scale: 100,000 users and 5,000 groups (one of them with 10,000 members).
//!
//! Measures what identity providers do most: `userName eq` and `externalId eq` lookups (target: under 1 ms
//! median, answered from the index), a page of 100 users from the middle of the list (under 5 ms), and a PATCH
//! adding one member to the 10,000-member group, committed (under 5 ms). Queries run through
//! `Principals::scim_search`, the code behind `GET /scim/v2/Users`; the PATCH through `scim_patch_group`, what
//! the SCIM actor calls. Run: `cargo bench --bench scim`. `SCIM_BENCH_USERS` shrinks the population for a
//! quick run.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use scaidrive_connectors::audit::AuditActor;
use scaidrive_connectors::clock::SystemClock;
use scaidrive_connectors::ids::{GroupId, UserId};
use scaidrive_connectors::principals::{Acting, Principals, Role, Scope};
use scaidrive_connectors::scim::group::{MemberId, ScimGroup, ScimMember};
use scaidrive_connectors::scim::list::SearchRequest;
use scaidrive_connectors::scim::patch::PatchRequest;
use scaidrive_connectors::scim::resource::ScimUser;
use scaidrive_connectors::store::Store;
use serde_json::json;

const BASE: &str = "https://drive.example.com/scim/v2";
const GROUPS: usize = 5_000;
const BIG_GROUP: usize = 10_000;

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    principals: Principals,
    users: Vec<UserId>,
    big_group: GroupId,
    count: usize,
}

fn acting() -> Acting {
    Acting { actor: AuditActor::System, role: Role::Superadmin }
}

fn user(i: usize) -> ScimUser {
    ScimUser::from_json(&json!({
        "userName": format!("user{i:06}@example.com"),
        "externalId": format!("ext-{i:06}"),
        "name": {"givenName": "User", "familyName": format!("{i}")},
        "emails": [{"value": format!("user{i:06}@example.com"), "type": "work", "primary": true}],
        "active": true,
    }))
    .expect("valid user")
}

fn setup() -> Setup {
    let count: usize = std::env::var("SCIM_BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(&dir.path().join("db.redb")).expect("store");
    let principals = Principals::new(store.clone(), Arc::new(SystemClock));
    let mut users = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(10_000) {
        let batch: Vec<ScimUser> = chunk.iter().map(|&i| user(i)).collect();
        users.extend(principals.scim_import_users(&acting(), &batch).expect("import users"));
    }
    let members: Vec<ScimMember> = users
        .iter()
        .take(BIG_GROUP.min(count / 2))
        .map(|&u| ScimMember { id: MemberId::User(u), display: None })
        .collect();
    let mut groups: Vec<ScimGroup> = (1..GROUPS)
        .map(|g| ScimGroup {
            display_name: format!("Group {g:05}"),
            external_id: Some(format!("gext-{g}")),
            members: Vec::new(),
        })
        .collect();
    groups.insert(0, ScimGroup { display_name: "Everyone".into(), external_id: None, members });
    let ids = principals.scim_import_groups(&acting(), &groups).expect("import groups");
    Setup { _dir: dir, store, principals, users, big_group: ids[0], count }
}

fn query(filter: Option<&str>, start: i64, count: i64) -> SearchRequest {
    SearchRequest {
        filter: filter.map(str::to_owned),
        start_index: Some(start),
        count: Some(count),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let probe = s.count / 2 + 17;
    let mut group = c.benchmark_group("scim");

    let by_name = query(Some(&format!("userName eq \"USER{probe:06}@example.com\"")), 1, 100);
    group.bench_function("userName eq", |b| {
        b.iter(|| {
            let list = s.principals.scim_search(BASE, black_box(&by_name), Scope::Users).expect("search");
            assert_eq!(list["totalResults"], 1);
        })
    });
    let by_external = query(Some(&format!("externalId eq \"ext-{probe:06}\"")), 1, 100);
    group.bench_function("externalId eq", |b| {
        b.iter(|| {
            let list = s.principals.scim_search(BASE, black_box(&by_external), Scope::Users).expect("search");
            assert_eq!(list["totalResults"], 1);
        })
    });
    // The first page; a jump straight to the middle (from the landmarks earlier pages left, `principals/
    // landmarks.rs`); the same jump with none; and the next page of a walk through the middle, as Okta pages
    // (`startIndex += 100`).
    for (name, start) in [("page of 100 users (first)", 1), ("page of 100 users (jump to the middle)", s.count / 2)] {
        let page = query(None, i64::try_from(start).unwrap_or(1), 100);
        group.bench_function(name, |b| {
            b.iter(|| {
                // A page from elsewhere first, so no walk is resumed.
                s.principals.scim_search(BASE, &query(None, 1, 1), Scope::Users).expect("page");
                let list = s.principals.scim_search(BASE, black_box(&page), Scope::Users).expect("page");
                assert_eq!(list["itemsPerPage"], 100);
            })
        });
    }
    // The same jump with no landmarks yet (the first deep request after the user set changed): a fresh
    // `Principals` over the same store holds none, so this steps over every row before the page.
    let page = query(None, i64::try_from(s.count / 2).unwrap_or(1), 100);
    group.bench_function("page of 100 users (jump to the middle, no landmarks)", |b| {
        b.iter_batched(
            || Principals::new(s.store.clone(), Arc::new(SystemClock)),
            |cold| {
                assert_eq!(cold.scim_search(BASE, black_box(&page), Scope::Users).expect("page")["itemsPerPage"], 100)
            },
            BatchSize::SmallInput,
        )
    });
    let mut start = s.count / 2;
    group.bench_function("page of 100 users (walking through the middle)", |b| {
        b.iter(|| {
            if start + 100 > s.count {
                start = s.count / 2;
            }
            let list = s.principals.scim_search(
                BASE,
                black_box(&query(None, i64::try_from(start).unwrap_or(1), 100)),
                Scope::Users,
            );
            start += 100;
            assert_eq!(list.expect("page")["itemsPerPage"], 100);
        })
    });
    // The floor under any committed write on this disk: an empty write transaction's commit.
    group.bench_function("commit of a write transaction (disk floor)", |b| {
        b.iter(|| {
            let txn = s.principals.store().db().begin_write().expect("write");
            txn.commit().expect("commit");
        })
    });

    // Each PATCH adds a user not yet in the group, so every iteration really writes.
    let mut next = BIG_GROUP.min(s.count / 2);
    group.bench_function("PATCH add one member to a 10,000-member group", |b| {
        b.iter_batched(
            || {
                next = (next + 1) % s.count;
                let member = s.users[next].to_string();
                PatchRequest::from_json(&json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]
                }))
                .expect("patch")
            },
            |patch| s.principals.scim_patch_group(&acting(), s.big_group, &patch, None).expect("patch group"),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50);
    targets = bench
}
criterion_main!(benches);
