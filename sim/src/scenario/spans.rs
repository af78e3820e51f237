//! Byte spans of the values in a RON text, found by path.
//!
//! Scenario files are deserialised with serde and `ron`, and serde gives no spans. So a validator
//! that finds `timeline[3].do.user names no user` could only search the text for the value, and it
//! would point at the first match. This module parses the RON *syntax* (not the types) into a small
//! tree with byte spans. A path then finds the exact value ([`Spans::find`]), and the byte offset of
//! a RON error gives the name of its field ([`Spans::path_at`]). Parsing never fails and never
//! panics: on a syntax error it keeps what it parsed up to the error.

use std::ops::Range;

/// One step of a path: a struct field or a list/tuple index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    /// A named field of a struct, or the value under a string or identifier key of a map.
    Field(String),
    /// An element of a list or tuple, or the value of a map's n-th entry.
    Index(usize),
}

/// Parses a path text like `keys[2].look.colour`, `timeline[0].do.user`, `[3]`, `expect.never[1]`.
///
/// Never fails: empty fields are skipped, and brackets that do not hold a number are a field.
pub fn parse_path(path: &str) -> Vec<Seg> {
    let mut segs = Vec::new();
    let mut field = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '.' | '[' => {
                segs.extend(Some(std::mem::take(&mut field)).filter(|f| !f.is_empty()).map(Seg::Field));
                if c == '[' {
                    field = chars.by_ref().take_while(|&c| c != ']').collect();
                    if let Ok(i) = field.trim().parse() {
                        segs.push(Seg::Index(i));
                        field.clear();
                    }
                }
            }
            c => field.push(c),
        }
    }
    segs.extend(Some(field).filter(|f| !f.is_empty()).map(Seg::Field));
    segs
}

/// Renders segments back (`keys[2].look.colour`).
pub fn path_text(path: &[Seg]) -> String {
    let text = |(n, seg): (usize, &Seg)| match seg {
        Seg::Field(f) if n == 0 => f.clone(),
        Seg::Field(f) => format!(".{f}"),
        Seg::Index(i) => format!("[{i}]"),
    };
    path.iter().enumerate().map(text).collect()
}

/// The syntax tree of a RON text, with byte spans.
#[derive(Clone, Debug)]
pub struct Spans {
    root: Option<Node>,
}

impl Spans {
    /// Parses as much of `src` as is well-formed RON syntax. Never fails: on a syntax error it keeps
    /// what it parsed so far (values already closed, and the enclosing containers up to the error,
    /// whose spans then end at the error), so [`Spans::path_at`] works for RON parse errors too.
    pub fn parse(src: &str) -> Spans {
        let mut p = Parser { src, b: src.as_bytes(), pos: 0, failed: false };
        if src.starts_with('\u{feff}') {
            p.pos = '\u{feff}'.len_utf8();
        }
        p.ws();
        while p.peek() == b'#' {
            p.pos = p.find_from(b"]").map_or(p.b.len(), |i| i + 1); // an attribute `#![enable(..)]`
            p.ws();
        }
        Spans { root: p.value(0) }
    }

    /// The span of the value at `path`: struct fields by name, list, tuple and map entries by index,
    /// map values also by string or identifier key. Enum variants are transparent: a field is looked
    /// up inside `Variant(..)`, and through `Variant(x)` or `Some(x)` when `x` is a container; a field
    /// named like the variant is a no-op step. An empty path gives the top-level value.
    pub fn find(&self, path: &[Seg]) -> Option<Range<usize>> {
        path.iter().try_fold(self.root.as_ref()?, |node, seg| node.step(seg)).map(|n| n.span.clone())
    }

    /// `find(&parse_path(path))`.
    pub fn find_text(&self, path: &str) -> Option<Range<usize>> {
        self.find(&parse_path(path))
    }

    /// The deepest value at byte `offset`, as its path text and span: the deepest value whose span
    /// contains `offset` or ends exactly at it (an error right after a value), preferring among
    /// siblings one that contains it. `None` when `offset` is outside the top-level value.
    pub fn path_at(&self, offset: usize) -> Option<(String, Range<usize>)> {
        let mut node = self.root.as_ref().filter(|n| n.span.contains(&offset) || n.span.end == offset)?;
        let mut path = Vec::new();
        while let Some((seg, child)) = node.pick(offset) {
            path.extend(seg.cloned());
            node = child;
        }
        Some((path_text(&path), node.span.clone()))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Leaf,
    /// A list or tuple.
    Seq,
    /// Named fields in parentheses.
    Struct,
    Map,
}

#[derive(Clone, Debug)]
struct Node {
    span: Range<usize>,
    /// The name of `Name(..)`; `None` for anything else.
    name: Option<String>,
    kind: Kind,
    kids: Vec<Kid>,
}

/// An element, field or map entry, with the path step that leads to it.
#[derive(Clone, Debug)]
struct Kid {
    seg: Seg,
    key: Option<Node>,
    node: Node,
}

impl Node {
    /// The container wrapped by a newtype variant or `Some`: `Name(x)` whose only element is one.
    fn through(&self) -> Option<&Node> {
        let [kid] = self.kids.as_slice() else { return None };
        (self.name.is_some() && self.kind == Kind::Seq && kid.node.kind != Kind::Leaf).then_some(&kid.node)
    }

    fn step(&self, seg: &Seg) -> Option<&Node> {
        let found = match (self.through(), seg) {
            (Some(inner), _) => inner.step(seg),
            (None, Seg::Index(i)) if self.kind != Kind::Struct => self.kids.get(*i).map(|k| &k.node),
            (None, _) => self.kids.iter().find(|k| k.seg == *seg).map(|k| &k.node),
        };
        let own_name = matches!(seg, Seg::Field(f) if self.name.as_ref() == Some(f));
        found.or(own_name.then_some(self))
    }

    /// The child containing `offset`, else the one ending at it, and its step (`None`: transparent).
    fn pick(&self, offset: usize) -> Option<(Option<&Seg>, &Node)> {
        let kids: Vec<(Option<&Seg>, &Node)> = match self.through() {
            Some(inner) => vec![(None, inner)],
            None => self
                .kids
                .iter()
                .flat_map(|k| k.key.iter().chain([&k.node]).map(|n| (Some(&k.seg), n)))
                .collect(),
        };
        let i = kids
            .iter()
            .position(|(_, n)| n.span.contains(&offset))
            .or_else(|| kids.iter().position(|(_, n)| n.span.end == offset))?;
        kids.get(i).copied()
    }
}

/// Deeper nesting than this is a syntax error (as in `ron`), so that no input overflows the stack.
const MAX_DEPTH: usize = 128;

struct Parser<'a> {
    src: &'a str,
    b: &'a [u8],
    pos: usize,
    /// Set at a syntax error; `pos` then stays at the error.
    failed: bool,
}

fn leaf(span: Range<usize>) -> Node {
    Node { span, name: None, kind: Kind::Leaf, kids: Vec::new() }
}

/// Whether `c` may be the `first` or a later byte of an identifier.
fn is_ident(c: u8, first: bool) -> bool {
    c.is_ascii_alphabetic() || c == b'_' || !first && c.is_ascii_digit()
}

impl Parser<'_> {
    /// The byte `n` after the cursor; 0 past the end.
    fn peek_at(&self, n: usize) -> u8 {
        self.b.get(self.pos.saturating_add(n)).copied().unwrap_or(0)
    }

    fn peek(&self) -> u8 {
        self.peek_at(0)
    }

    /// Consumes `c` (not 0) if it is next.
    fn eat(&mut self, c: u8) -> bool {
        let yes = self.peek() == c;
        self.pos += usize::from(yes);
        yes
    }

    /// Marks a syntax error at the cursor and returns `t`.
    fn fail<T>(&mut self, t: T) -> T {
        self.failed = true;
        t
    }

    /// Where `pat` next occurs at or after the cursor.
    fn find_from(&self, pat: &[u8]) -> Option<usize> {
        let rest = self.b.get(self.pos..)?;
        rest.windows(pat.len().max(1)).position(|w| w == pat).map(|i| i + self.pos)
    }

    /// Skips whitespace and comments (block comments nest).
    fn ws(&mut self) {
        let mut depth = 0usize;
        while self.pos < self.b.len() {
            let pair = (self.peek(), self.peek_at(1));
            match pair {
                (b'/', b'*') => depth += 1,
                (b'*', b'/') if depth > 0 => depth -= 1,
                (b'/', b'/') if depth == 0 => {
                    self.pos = self.find_from(b"\n").unwrap_or(self.b.len().saturating_sub(1))
                }
                (c, _) if depth == 0 && !c.is_ascii_whitespace() => return,
                _ => {}
            }
            self.pos += if matches!(pair, (b'/', b'*') | (b'*', b'/')) { 2 } else { 1 };
        }
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        let start = self.pos;
        if depth > MAX_DEPTH {
            return self.fail(None);
        }
        let quote_next = matches!(self.peek_at(1), b'"' | b'\'') || self.raw_hashes(1).is_some();
        self.pos += usize::from(self.peek() == b'b' && quote_next); // a byte string `b"..."`
        match self.peek() {
            q @ (b'"' | b'\'') => Some(self.quoted(start, q)),
            b'r' if self.raw_hashes(0).is_some() => Some(self.raw(start)),
            b'(' | b'[' | b'{' => Some(self.container(start, None, depth)),
            b'0'..=b'9' | b'+' | b'-' | b'.' => self.number(start),
            _ => self.ident_value(start, depth),
        }
    }

    /// A string or char quoted by `q`, the cursor on the opening quote.
    fn quoted(&mut self, start: usize, q: u8) -> Node {
        self.pos += 1;
        while let Some(&c) = self.b.get(self.pos) {
            self.pos += if c == b'\\' { 2 } else { 1 };
            if c == q {
                return leaf(start..self.pos);
            }
        }
        self.pos = self.b.len();
        self.fail(leaf(start..self.pos))
    }

    /// The number of `#` of a raw string `r#"` starting `off` bytes after the cursor.
    fn raw_hashes(&self, off: usize) -> Option<usize> {
        let rest = self.b.get(self.pos.saturating_add(off + 1)..).unwrap_or_default();
        let n = rest.iter().take_while(|&&c| c == b'#').count();
        (self.peek_at(off) == b'r' && self.peek_at(off + 1 + n) == b'"').then_some(n)
    }

    /// A raw string, the cursor on the `r`.
    fn raw(&mut self, start: usize) -> Node {
        let n = self.raw_hashes(0).unwrap_or(0);
        self.pos += n + 2;
        let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', n)).collect();
        match self.find_from(&close) {
            Some(i) => self.pos = i + close.len(),
            None => self.pos = self.fail(self.b.len()),
        }
        leaf(start..self.pos)
    }

    fn number(&mut self, start: usize) -> Option<Node> {
        self.pos += usize::from(matches!(self.peek(), b'+' | b'-'));
        let body = self.pos;
        loop {
            let (c, prev) = (self.peek(), self.b.get(self.pos.wrapping_sub(1)).copied().unwrap_or(0));
            let exponent_sign = matches!(c, b'+' | b'-') && matches!(prev, b'e' | b'E') && self.pos > body;
            if !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.') || exponent_sign) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == body {
            self.pos = start;
            return self.fail(None);
        }
        Some(leaf(start..self.pos))
    }

    /// An identifier (`r#` raw ones too), without the `r#`.
    fn ident(&mut self) -> Option<String> {
        let start = self.pos;
        self.pos += 2 * usize::from(self.peek() == b'r' && self.peek_at(1) == b'#');
        let from = self.pos;
        while is_ident(self.peek(), self.pos == from) {
            self.pos += 1;
        }
        let name = self.src.get(from..self.pos).filter(|s| !s.is_empty()).map(str::to_owned);
        if name.is_none() {
            self.pos = start;
        }
        name
    }

    /// A unit value (`Round`, `true`, `inf`) or `Name(..)`.
    fn ident_value(&mut self, start: usize, depth: usize) -> Option<Node> {
        let Some(name) = self.ident() else { return self.fail(None) };
        let end = self.pos;
        self.ws();
        if self.peek() == b'(' {
            return Some(self.container(start, Some(name), depth));
        }
        self.pos = end;
        Some(leaf(start..end))
    }

    /// A list, map, or a struct or tuple in parentheses, the cursor on the opening bracket.
    fn container(&mut self, start: usize, name: Option<String>, depth: usize) -> Node {
        let open = self.peek();
        self.pos += 1;
        self.ws();
        let at = self.pos;
        let field_ahead = self.ident().is_some() && {
            self.ws();
            self.peek() == b':'
        };
        self.pos = at;
        let (close, kind) = match open {
            b'[' => (b']', Kind::Seq),
            b'{' => (b'}', Kind::Map),
            _ => (b')', if field_ahead { Kind::Struct } else { Kind::Seq }),
        };
        let mut node = Node { span: start..start, name, kind, kids: Vec::new() };
        self.items(&mut node, close, depth + 1);
        node.span.end = self.pos;
        node
    }

    /// The comma-separated items of a container up to and including `close`.
    fn items(&mut self, node: &mut Node, close: u8, depth: usize) {
        loop {
            self.ws();
            if self.eat(close) || !self.item(node, depth) {
                return;
            }
            self.ws();
            if !self.eat(b',') {
                if !self.eat(close) {
                    self.fail(());
                }
                return;
            }
        }
    }

    /// One item of a container; false at a syntax error.
    fn item(&mut self, node: &mut Node, depth: usize) -> bool {
        let index = Seg::Index(node.kids.len());
        let (seg, key) = match node.kind {
            Kind::Struct => match self.ident() {
                Some(name) => (Seg::Field(name), None),
                None => return self.fail(false),
            },
            Kind::Map => match self.value(depth) {
                Some(key) if !self.failed => (key_text(self.src, &key).map_or(index, Seg::Field), Some(key)),
                _ => return false,
            },
            _ => (index, None),
        };
        if node.kind != Kind::Seq {
            self.ws();
            if !self.eat(b':') {
                return self.fail(false);
            }
            self.ws();
        }
        node.kids.extend(self.value(depth).map(|value| Kid { seg, key, node: value }));
        !self.failed
    }
}

/// A map key as a field name: the text of a string (escapes not decoded) or an identifier.
fn key_text(src: &str, key: &Node) -> Option<String> {
    let s = src.get(key.span.clone()).filter(|_| key.kind == Kind::Leaf)?;
    let unquote = |s: &str| s.strip_prefix('"')?.strip_suffix('"').map(str::to_owned);
    let id =
        s.strip_prefix("r#").filter(|r| r.bytes().next().is_some_and(|c| is_ident(c, true))).unwrap_or(s);
    match s.strip_prefix('r') {
        Some(raw) if raw.starts_with(['#', '"']) && id.len() == s.len() => unquote(raw.trim_matches('#')),
        _ if s.starts_with('"') => unquote(s),
        _ => (id.bytes().next().is_some_and(|c| is_ident(c, true)) && id.bytes().all(|c| is_ident(c, false)))
            .then(|| id.to_owned()),
    }
}

#[cfg(test)]
mod tests {
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
}
