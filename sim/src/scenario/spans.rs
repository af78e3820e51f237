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
mod tests;
