//! The span locator's tests.
use super::*;

const SAMPLE: &str = r#"// a comment with "quotes" and (parens)
Scenario(
name: "happy take and return",
seed: 1,
automats: [(id: 1, name: "Depot", at_window: 0)],
keys: [
    (id: 1, name: "Van 3", automat: 1, slot: 4, tag: "04A1B2C3", look: (colour: "red", shape: Round, label: "V3")),
    (id: 2, name: "Van 4", automat: 1, slot: 5, tag: "04A1B2C4", look: (colour: "red", shape: Square, label: "V4")),
],
users: [(name: "alice")],
timeline: [
    (at: "1m", do: Take(user: "alice", code: Pin("482916"))),
    (at: "5m", do: CreateContract((name: "c2", automat: 1, keys: [2], contacts: [1]))),
    (at: "1h", do: Return(user: "alice", code: Pin("482916"), item: Key(1))),
],
expect: (
    in_order: true,
    events: [(event: Audit(kind: "KeyFetched", key: 1), before: "3m")],
    never: [Alert(kind: "WrongKey")],
    final: (keys: [(1, Slot(1, 4))], doors: [(1, Closed)], open_alerts: []),
),
)
"#;

/// Checks that each path finds the value with that text (`None`: finds nothing).
fn check(src: &str, cases: &[(&str, Option<&str>)]) {
    let spans = Spans::parse(src);
    for (path, want) in cases {
        assert_eq!(spans.find_text(path).and_then(|r| src.get(r)), *want, "{path} in {src}");
    }
}

fn path_at(src: &str, offset: usize) -> Option<String> {
    Spans::parse(src).path_at(offset).map(|(p, _)| p)
}

/// Calls everything on `src`, checking that spans are in bounds.
fn exercise(src: &str) {
    let spans = Spans::parse(src);
    for off in 0..=src.len() + 1 {
        if let Some((path, span)) = spans.path_at(off) {
            assert!(src.get(span.clone()).is_some(), "{span:?} of {path} in {src:?}");
            assert!(span.contains(&off) || span.end == off);
        }
    }
    for path in ["", "a", "[0]", "a[1].b", "Some.x"] {
        assert!(spans.find_text(path).is_none_or(|r| src.get(r).is_some()));
    }
}

#[test]
fn fields_nested_lists_tuples_and_the_whole_value_are_found_by_path() {
    check(
        SAMPLE,
        &[
            ("name", Some("\"happy take and return\"")),
            ("seed", Some("1")),
            ("automats[0].name", Some("\"Depot\"")),
            ("keys[1].look.shape", Some("Square")),
            ("expect.final.keys[0][1]", Some("Slot(1, 4)")),
            ("expect.final.keys[0][1][1]", Some("4")),
            ("expect.final.doors[0][1]", Some("Closed")),
            ("expect.final.open_alerts", Some("[]")),
            ("timeline[2].do.item", Some("Key(1)")),
            ("timeline[2].do.item[0]", Some("1")),
        ],
    );
    check("(\"name\", (colour: \"red\"))", &[("[1].colour", Some("\"red\"")), ("[0]", Some("\"name\""))]);
    let start = SAMPLE.find("Scenario").unwrap();
    assert_eq!(Spans::parse(SAMPLE).find(&[]), Some(start..SAMPLE.trim_end().len()));
    assert_eq!(Spans::parse("  // nothing").find(&[]), None);
}

#[test]
fn a_value_appearing_twice_is_found_at_its_path_not_at_the_first_match() {
    let spans = Spans::parse(SAMPLE);
    let reds: Vec<usize> = SAMPLE.match_indices("\"red\"").map(|(i, _)| i).collect();
    assert_eq!(spans.find_text("keys[1].look.colour"), Some(reds[1]..reds[1] + 5));
    let alices: Vec<usize> = SAMPLE.match_indices("\"alice\"").map(|(i, _)| i).collect();
    assert_eq!(spans.find_text("timeline[2].do.user"), Some(alices[2]..alices[2] + 7));
}

#[test]
fn variants_newtypes_and_some_are_transparent_and_a_variant_name_is_an_optional_step() {
    check(
        SAMPLE,
        &[
            ("timeline[0].do.user", Some("\"alice\"")),
            ("timeline[0].do.Take.user", Some("\"alice\"")),
            ("timeline[0].do.code", Some("Pin(\"482916\")")),
            ("timeline[1].do.name", Some("\"c2\"")),
            ("timeline[1].do.CreateContract.name", Some("\"c2\"")),
            ("timeline[1].do.keys[0]", Some("2")),
            ("expect.events[0].event.key", Some("1")),
            ("expect.never[0].kind", Some("\"WrongKey\"")),
        ],
    );
    let src = "(a: Some((b: 1)), c: Some([5, 6]), d: Some(\"x\"), r: Reservation((name: \"n\")))";
    let cases = [("a.b", "1"), ("c[0]", "5"), ("c[1]", "6"), ("d", "Some(\"x\")"), ("d[0]", "\"x\"")];
    check(src, &cases.map(|(p, v)| (p, Some(v))));
    check(src, &[("r.name", Some("\"n\""))]);
}

#[test]
fn missing_paths_find_nothing() {
    let paths = ["nope", "keys[9]", "seed.x", "name[0]", "keys.id", "timeline[0].do.Return.user", "[0]"];
    check(SAMPLE, &paths.map(|p| (p, None)));
}

#[test]
fn comments_and_strings_with_brackets_quotes_and_slashes_are_skipped() {
    let src = r##"/* a /* nested ( */ [ é */ ( // a ) ] "
        a: "(\"[// )", p: "é\ü)", q: 'ß',
        b: r#"x"(]"#, c: '(', d: '\'', e: b"[", f: r"]", g: 0x1F, h: -inf,
        i: 1_000.5e-3, r#type: r#enum, k: br#"]"#, l: /* ) */ +4, m: NaN, n: 0b101, o: 0o7,
    )"##;
    check(
        src,
        &[
            ("a", Some(r#""(\"[// )""#)),
            ("p", Some(r#""é\ü)""#)),
            ("q", Some("'ß'")),
            ("b", Some(r##"r#"x"(]"#"##)),
            ("c", Some("'('")),
            ("d", Some(r"'\''")),
            ("e", Some("b\"[\"")),
            ("f", Some("r\"]\"")),
            ("g", Some("0x1F")),
            ("h", Some("-inf")),
            ("i", Some("1_000.5e-3")),
            ("type", Some("r#enum")),
            ("k", Some("br#\"]\"#")),
            ("l", Some("+4")),
            ("o", Some("0o7")),
        ],
    );
}

#[test]
fn map_entries_are_found_by_string_or_identifier_key_or_by_index() {
    let src = r#"{"a": 1, b: [2, 3], 4: "four", r"raw": 5, r#x: 6,}"#;
    let cases = [("a", "1"), ("b[1]", "3"), ("[2]", "\"four\""), ("raw", "5"), ("x", "6"), ("[0]", "1")];
    check(src, &cases.map(|(p, v)| (p, Some(v))));
    assert_eq!(path_at(src, src.find("our").unwrap()), Some("[2]".to_owned()));
    assert_eq!(path_at(src, src.find('3').unwrap()), Some("b[1]".to_owned()));
}

#[test]
fn path_at_names_the_field_of_an_offset_inside_a_string() {
    let depot = SAMPLE.find("Depot").unwrap();
    let expected = Some(("automats[0].name".to_owned(), depot - 1..depot + 6));
    assert_eq!(Spans::parse(SAMPLE).path_at(depot + 2), expected);
    let cases = [
        (SAMPLE.find("c2"), "timeline[1].do.name"),
        (SAMPLE.rfind("alice"), "timeline[2].do.user"),
        (SAMPLE.rfind("482916"), "timeline[2].do.code[0]"),
        (SAMPLE.find("Slot").map(|i| i + 5), "expect.final.keys[0][1][0]"),
        (SAMPLE.find("CreateContract"), "timeline[1].do"),
    ];
    for (offset, path) in cases {
        assert_eq!(path_at(SAMPLE, offset.unwrap()).as_deref(), Some(path));
    }
}

#[test]
fn path_at_falls_back_to_a_value_ending_at_the_offset_and_is_none_outside() {
    let src = "(name: 5, seed: [1, 2])";
    assert_eq!(path_at(src, src.find(',').unwrap()).as_deref(), Some("name"));
    assert_eq!(path_at(src, src.find("seed").unwrap()).as_deref(), Some(""));
    assert_eq!(path_at(src, src.find('[').unwrap()).as_deref(), Some("seed"));
    assert_eq!(path_at(src, src.len()).as_deref(), Some(""));
    assert_eq!(path_at(src, src.len() + 1), None);
    assert_eq!(path_at(SAMPLE, 3), None);
}

#[test]
fn every_offset_of_the_sample_names_a_path_whose_value_holds_it() {
    let spans = Spans::parse(SAMPLE);
    for off in spans.find(&[]).unwrap() {
        let (path, span) = spans.path_at(off).unwrap();
        let found = spans.find_text(&path).unwrap();
        assert!(found.start <= span.start && span.end <= found.end, "{path} at {off}");
    }
}

#[test]
fn truncated_input_keeps_the_open_containers_up_to_the_error() {
    let src = r#"Scenario(name: "x", keys: [(id: 1, look: (colour: "re"#;
    let (spans, end, one) = (Spans::parse(src), src.len(), src.find('1').unwrap());
    assert_eq!(spans.path_at(end), Some(("keys[0].look.colour".to_owned(), end - 3..end)));
    assert_eq!(spans.find_text("keys[0].id"), Some(one..one + 1));
    assert_eq!(spans.find(&[]), Some(0..end));
    let src = "Scenario(name: \"x\" seed: 1)";
    let seed = src.find("seed").unwrap();
    assert_eq!(Spans::parse(src).path_at(seed), Some((String::new(), 0..seed)));
}

#[test]
fn every_prefix_of_a_scenario_parses_and_names_its_end() {
    let (first, last) = (SAMPLE.find("Scenario").unwrap(), SAMPLE.trim_end().len());
    for end in (0..=SAMPLE.len()).filter(|&e| SAMPLE.is_char_boundary(e)) {
        let src = SAMPLE.get(..end).unwrap();
        exercise(src);
        assert!(end <= first || end > last || Spans::parse(src).path_at(end).is_some(), "{src}");
    }
}

#[test]
fn garbage_never_panics() {
    let alphabet = b"()[]{}:,\"'#!/*\\rb_aZ09.+-e \n";
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    for _ in 0..600 {
        let len = next() % 48;
        let bytes: Vec<u8> = (0..len)
            .map(|_| match next() % 8 {
                0 => (next() % 256) as u8,
                _ => alphabet.get(next() % alphabet.len()).copied().unwrap_or(b' '),
            })
            .collect();
        exercise(&String::from_utf8_lossy(&bytes));
    }
    for src in ["\"\\", "r##\"", "(a: 1 // x", "/* (", "'", "b", "-", "#", "\u{feff}"] {
        exercise(src);
    }
    exercise(&"[".repeat(10_000));
    exercise(&"(a: Some(".repeat(3_000));
}

#[test]
fn a_bom_and_attributes_before_the_value_are_skipped() {
    let src = "\u{feff}#![enable(implicit_some)]\n#![enable(unwrap_newtypes)] (a: 1)";
    check(src, &[("a", Some("1")), ("", Some("(a: 1)"))]);
    assert_eq!(path_at(src, src.len() - 2).as_deref(), Some("a"));
}

#[test]
fn paths_parse_and_render_back() {
    for text in ["keys[2].look.colour", "[3]", "expect.never[1]", "a[0][1]", ""] {
        assert_eq!(path_text(&parse_path(text)), text);
    }
    let segs = vec![Seg::Field("timeline".into()), Seg::Index(0), Seg::Field("do".into())];
    assert_eq!(parse_path("timeline[0].do"), segs);
    assert_eq!(parse_path(".a..b[x]"), ["a", "b", "x"].map(|f| Seg::Field(f.into())));
}
