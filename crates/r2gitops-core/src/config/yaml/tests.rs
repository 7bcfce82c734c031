//! Unit tests of `config::yaml`.

use super::*;

fn err(text: &str) -> ParseError {
    parse(text).expect_err("must fail")
}

#[test]
fn a_bracket_left_open_on_an_earlier_line_gets_a_hint() {
    let e = err("a:\n  b: [x, y\n  c: 1\n");
    assert_eq!(
        e.hint.as_deref(),
        Some(
            "line 2 opens '[' at column 6 and does not close it; add the ']' (or write the list one item per line)"
        ),
        "{e:?}"
    );
    let e = err("a: { b: 1\nc: 2\n");
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.starts_with("line 1 opens '{'")),
        "{e:?}"
    );
    // Brackets inside quotes and comments do not count.
    assert_eq!(unclosed_flow("a: \"[x\"  # [y\nb: :\n", 2), None);
    assert_eq!(unclosed_flow("a: [x]\nb: :\n", 2), None);
}

#[test]
fn nodes_carry_the_position_of_their_value_and_keys_their_own() {
    let node = parse("a: 1\nb:\n  - x\n").unwrap().unwrap();
    let Value::Map(entries) = node.value else {
        panic!("root is a mapping")
    };
    assert_eq!((entries[1].0.line, entries[1].0.column), (2, 1));
    let Value::Seq(items) = &entries[1].1.value else {
        panic!("b is a list")
    };
    assert_eq!((items[0].line, items[0].column), (3, 5));
    assert_eq!(items[0].value, Value::Str("x".into()));
}

#[test]
fn scalars_keep_their_yaml_type_and_yes_stays_a_string() {
    let cases = [
        ("v: 1", Value::Int(1)),
        ("v: true", Value::Bool(true)),
        ("v: yes", Value::Str("yes".into())),
        ("v: ~", Value::Null),
        ("v: 1.5", Value::Float(1.5)),
        ("v: '1'", Value::Str("1".into())),
    ];
    for (text, want) in cases {
        let Value::Map(entries) = parse(text).unwrap().unwrap().value else {
            panic!("{text}: not a mapping")
        };
        assert_eq!(entries[0].1.value, want, "{text}");
    }
}

#[test]
fn empty_and_comment_only_documents_are_none() {
    for text in ["", "\n\n", "# nothing\n", "---\n"] {
        assert_eq!(parse(text).unwrap(), None, "{text:?}");
    }
}

#[test]
fn parse_errors_have_a_position_and_a_message_without_the_parser_suffix() {
    let cases = [
        ("a: 1\na: 2\n", 2, 1, "duplicate key 'a'"),
        ("a:\n\tb: 1\n", 2, 1, "tab"),
        ("a: [1, 2\n", 1, 4, "unclosed bracket"),
        ("a: 1\n---\nb: 2\n", 0, 0, "more than one YAML document"),
    ];
    for (text, line, column, needle) in cases {
        let e = err(text);
        assert!(e.message.contains(needle), "{text:?}: {}", e.message);
        assert!(!e.message.contains(" at line "), "{}", e.message);
        if line > 0 {
            assert_eq!(e.line, line, "{text:?}: {e:?}");
            assert!(e.column >= column, "{text:?}: {e:?}");
        }
    }
}

#[test]
fn a_duplicate_key_is_kept_in_the_lenient_tree_at_its_own_position() {
    let node = parse_keeping_duplicates("a:\n  b: 1\n  b: 2\n").unwrap();
    let Value::Map(entries) = node.value else {
        panic!("mapping")
    };
    let Value::Map(inner) = &entries[0].1.value else {
        panic!("mapping")
    };
    let positions: Vec<(usize, usize)> = inner.iter().map(|(k, _)| (k.line, k.column)).collect();
    assert_eq!(positions, [(2, 3), (3, 3)]);
}

#[test]
fn decode_refuses_oversized_and_points_at_the_first_non_utf8_byte() {
    let e = decode(b"a: 1\nb: x\xff\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 5));
    assert!(e.message.contains("0xff"), "{}", e.message);
    let big = vec![b'#'; MAX_FILE_BYTES + 1];
    let e = decode(&big).unwrap_err();
    assert_eq!(e.line, 0);
    assert!(e.message.contains("limit"), "{}", e.message);
    assert_eq!(decode("\u{feff}a: 1".as_bytes()).unwrap(), "a: 1");
}
