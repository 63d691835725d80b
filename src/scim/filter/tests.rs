//! Filter parser and printer tests, including the print/parse round-trip property test.

use super::*;
use proptest::prelude::*;

fn cmp(attr: &str, op: CompareOp, value: Literal) -> Filter {
    Filter::Compare { path: AttrPath::simple(attr), op, value }
}

fn s(v: &str) -> Literal {
    Literal::String(v.into())
}

#[test]
fn parses_the_filters_identity_providers_send() {
    assert_eq!(
        parse_filter(r#"userName eq "bjensen@example.com""#),
        Ok(cmp("userName", CompareOp::Eq, s("bjensen@example.com")))
    );
    let f = parse_filter(r#"externalId eq "a" and id eq "b""#).expect("and");
    assert!(matches!(f, Filter::And(..)));
}

#[test]
fn operators_and_keywords_are_case_insensitive() {
    let f = parse_filter(r#"USERNAME EQ "x" AND Active Eq TRUE"#).expect("parses");
    assert_eq!(
        f,
        Filter::And(
            Box::new(cmp("USERNAME", CompareOp::Eq, s("x"))),
            Box::new(cmp("Active", CompareOp::Eq, Literal::Bool(true)))
        )
    );
}

#[test]
fn and_binds_tighter_than_or_and_groups_override() {
    let f = parse_filter("a pr or b pr and c pr").expect("parses");
    let Filter::Or(_, right) = f else { panic!("or at the top") };
    assert!(matches!(*right, Filter::And(..)));
    let g = parse_filter("(a pr or b pr) and c pr").expect("parses");
    assert!(matches!(g, Filter::And(..)));
}

#[test]
fn value_paths_urns_and_sub_attributes_parse() {
    let f = parse_filter(r#"emails[type eq "work" and value co "@example.com"]"#).expect("value path");
    let Filter::ValuePath(p) = &f else { panic!("value path expected") };
    assert_eq!(p.attr, "emails");
    assert!(matches!(p.filter.as_deref(), Some(Filter::And(..))));

    let f = parse_filter(r#"emails[type eq "work"].value eq "a@b.c""#).expect("filtered sub compare");
    let Filter::Compare { path, .. } = &f else { panic!("compare expected") };
    assert_eq!(path.sub.as_deref(), Some("value"));

    let f =
        parse_filter(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R&D""#).expect("urn");
    let Filter::Compare { path, .. } = &f else { panic!("compare expected") };
    assert_eq!(path.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert_eq!(path.attr, "department");

    let f = parse_filter(r#"name.familyName sw "J""#).expect("sub");
    let Filter::Compare { path, .. } = &f else { panic!("compare expected") };
    assert_eq!((path.attr.as_str(), path.sub.as_deref()), ("name", Some("familyName")));
}

#[test]
fn string_literals_decode_json_escapes() {
    let f = parse_filter(r#"displayName eq "a \"quoted\" \u00e9""#).expect("escapes");
    assert_eq!(f, cmp("displayName", CompareOp::Eq, s("a \"quoted\" é")));
}

#[test]
fn malformed_filters_are_invalid_filter_errors() {
    for bad in [
        "",
        "userName",
        "userName eq",
        "userName zz \"x\"",
        "userName eq x",
        "userName eq \"x",
        "(userName pr",
        "userName pr)",
        "userName pr and",
        "emails[type eq \"work\"",
        "emails[members[value pr]]",
        "not userName pr",
        "1abc pr",
        "a.b.c pr",
        "userName eq \"x\" ; drop",
    ] {
        match parse_filter(bad) {
            Err(ScimError::InvalidFilter(_)) => {}
            other => panic!("{bad:?} gave {other:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let deep = format!("{}a pr{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(matches!(parse_filter(&deep), Err(ScimError::InvalidFilter(_))));
    let nots = format!("{}a pr{}", "not (".repeat(5_000), ")".repeat(5_000));
    assert!(matches!(parse_filter(&nots), Err(ScimError::InvalidFilter(_))));
    let long = vec!["a pr"; 10_000].join(" and ");
    assert!(matches!(parse_filter(&long), Err(ScimError::InvalidFilter(_))));
}

#[test]
fn patch_paths_parse_with_filters_and_sub_attributes() {
    let p = parse_path(r#"members[value eq "usr_1"]"#).expect("member path");
    assert_eq!(p.attr, "members");
    assert!(p.filter.is_some());
    let p = parse_path(r#"emails[type eq "work"].value"#).expect("email path");
    assert_eq!(p.sub.as_deref(), Some("value"));
    let p = parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.givenName").expect("urn path");
    assert_eq!(p.sub.as_deref(), Some("givenName"));
    assert!(matches!(parse_path("members eq"), Err(ScimError::InvalidPath(_))));
    assert!(matches!(parse_path("members[value zz 1]"), Err(ScimError::InvalidFilter(_))));
    assert!(matches!(parse_path(""), Err(ScimError::InvalidPath(_))));
}

fn name() -> BoxedStrategy<String> {
    "[a-zA-Z][a-zA-Z0-9_-]{0,6}"
        .prop_filter("not a keyword", |n| {
            !["not", "and", "or", "pr", "true", "false", "null"].iter().any(|k| k.eq_ignore_ascii_case(n))
        })
        .boxed()
}

fn literal() -> impl Strategy<Value = Literal> {
    prop_oneof![
        any::<String>().prop_map(Literal::String),
        any::<bool>().prop_map(Literal::Bool),
        Just(Literal::Null),
        any::<i64>().prop_map(|n| Literal::Number(n.into())),
        (-1.0e12f64..1.0e12).prop_filter_map("finite", |x| Number::from_f64(x).map(Literal::Number)),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn plain_path() -> impl Strategy<Value = AttrPath> {
    (
        proptest::option::of(prop_oneof![
            Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()),
            Just("urn:scaidrive:scim:User".to_string()),
        ]),
        name(),
        proptest::option::of(name()),
    )
        .prop_map(|(urn, attr, sub)| AttrPath { urn, attr, filter: None, sub })
}

fn logic(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
    .boxed()
}

fn simple_leaf() -> BoxedStrategy<Filter> {
    prop_oneof![
        (plain_path(), op(), literal()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        plain_path().prop_map(Filter::Present),
    ]
    .boxed()
}

fn filter() -> impl Strategy<Value = Filter> {
    let bracketed = (name(), logic(simple_leaf()), proptest::option::of(name()));
    let leaf = prop_oneof![
        3 => simple_leaf(),
        1 => bracketed.clone().prop_map(|(attr, f, _)| Filter::ValuePath(AttrPath {
            urn: None,
            attr,
            filter: Some(Box::new(f)),
            sub: None,
        })),
        1 => (bracketed, op(), literal()).prop_map(|((attr, f, sub), op, value)| Filter::Compare {
            path: AttrPath { urn: None, attr, filter: Some(Box::new(f)), sub: sub.or(Some("value".into())) },
            op,
            value,
        }),
    ];
    logic(leaf.boxed())
}

proptest! {
    #[test]
    fn every_printed_filter_parses_back_to_the_same_tree(f in filter()) {
        let text = f.to_string();
        prop_assert_eq!(parse_filter(&text), Ok(f), "printed as {}", text);
    }

    #[test]
    fn the_parser_never_panics_on_arbitrary_text(text in "\\PC{0,80}") {
        let _ = parse_filter(&text);
    }
}
