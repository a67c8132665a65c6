//! Where each node of a scenario file is, by its path (`hosts[2].name`), so that a semantic error
//! points at the value it is about rather than at the first text that happens to match.
//!
//! serde's derive knows no positions, so the file is walked first with an event parser
//! (yaml-rust2) that reports a mark for every event. The same walk finds what serde reports
//! without a position (a key given twice in one mapping), and is the one bound every YAML input
//! (scenario, setup, engines file) passes before the deserializer sees it: nesting counted by the
//! parser's own events, and what aliases would expand the document to, in nodes and in bytes,
//! both counted as the events come so that a bomb stops at the alias that breaks the limit, and a
//! time budget.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// The deepest nesting accepted (collections inside each other, as the parser reports them). The seed
/// scenarios nest 5 deep; the parser's own recursion limit is 128.
pub const MAX_DEPTH: usize = 32;

/// A limit the text broke, with the 1-based line and column where it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// 1-based line and column.
pub type Position = (usize, usize);

/// Positions of every node of one document, and the first key given twice.
#[derive(Debug, Default)]
pub struct Spans {
    nodes: BTreeMap<String, Position>,
    /// The first key that a mapping has twice: (its path, where the second one is).
    pub duplicate_key: Option<(String, Position)>,
    /// Where the first alias (`*name`) is.
    pub first_alias: Option<Position>,
    /// How many nodes the document has once every alias is expanded (what a deserializer
    /// would walk through), and how many bytes of text.
    pub expanded_nodes: u64,
    pub expanded_bytes: u64,
    /// The first explicit tag (`!!str 19532`), which these files never need: serde would read a
    /// tagged value by rules of its own (a tagged string where a number is wanted passes).
    pub first_tag: Option<(Position, String)>,
    /// The event parser's syntax error, if the text is not YAML to it.
    pub syntax_error: Option<(Position, String)>,
}

/// The most YAML nodes a document may expand to through aliases (a 1 MiB file without aliases
/// has well under this many).
pub const MAX_EXPANDED_NODES: u64 = 1_000_000;

/// The most bytes of text a document may expand to through aliases: 16 times the largest file.
pub const MAX_EXPANDED_BYTES: u64 = 16 * 1024 * 1024;

/// How long the walk may take (a 1 MiB file takes milliseconds).
pub const TIME_BUDGET: Duration = Duration::from_secs(5);

impl Spans {
    /// Indexes the first document of `text`, or says which bound it breaks, where: nesting
    /// deeper than [`MAX_DEPTH`], aliases expanding past [`MAX_EXPANDED_NODES`] or
    /// [`MAX_EXPANDED_BYTES`], a walk longer than [`TIME_BUDGET`]. Text the event parser cannot
    /// read gives an index with only its syntax error (the caller shows it, or serde's).
    pub fn index(text: &str) -> Result<Spans, Broken> {
        let started = Instant::now();
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        for events in 1u64.. {
            let (event, mark) = match parser.next_token() {
                Ok(next) => next,
                // The scanner's own bound on open brackets, which it reaches reading ahead
                // before the parser's events say how deep they are.
                Err(e) if e.info().contains("recursion limit") => {
                    return Err(Broken {
                        line: position(*e.marker()).0,
                        column: position(*e.marker()).1,
                        message: too_deep(),
                    })
                }
                Err(e) => {
                    return Ok(Spans {
                        syntax_error: Some((position(*e.marker()), e.info().to_string())),
                        ..Spans::default()
                    })
                }
            };
            if matches!(event, Event::StreamEnd | Event::DocumentEnd) {
                break;
            }
            walker.on_event(event, mark);
            walker.bounds(position(mark))?;
            if events % 4096 == 0 && started.elapsed() > TIME_BUDGET {
                return Err(Broken {
                    line: position(mark).0,
                    column: position(mark).1,
                    message: format!(
                        "the YAML takes longer than {} s to read (stopped here)",
                        TIME_BUDGET.as_secs()
                    ),
                });
            }
        }
        Ok(walker.spans)
    }

    /// Where the node at `path` is; else its nearest ancestor that is in the file (a default is
    /// reported at the mapping that lacks it); else the first line.
    pub fn locate(&self, path: &str) -> Position {
        let mut path = path;
        loop {
            if let Some(&position) = self.nodes.get(path) {
                return position;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None => return self.nodes.get("").copied().unwrap_or((1, 1)),
            }
        }
    }
}

/// One open collection while walking.
#[derive(Debug)]
enum Open {
    Sequence {
        path: String,
        next: usize,
    },
    /// `key` is Some between a key and its value.
    Mapping {
        path: String,
        key: Option<String>,
        seen: BTreeSet<String>,
    },
}

#[derive(Default)]
struct Walker {
    open: Vec<Open>,
    /// Per open collection: its anchor id (0 for none) and its expanded size so far.
    sizes: Vec<(usize, Size)>,
    /// Anchor id → expanded size of the anchored node.
    anchors: BTreeMap<usize, Size>,
    spans: Spans,
}

/// What a node expands to: nodes, bytes of text.
#[derive(Debug, Clone, Copy)]
struct Size(u64, u64);

impl Size {
    const ONE: Size = Size(1, 1);

    fn plus(self, other: Size) -> Size {
        Size(
            self.0.saturating_add(other.0),
            self.1.saturating_add(other.1),
        )
    }
}

fn too_deep() -> String {
    format!(
        "nesting deeper than {MAX_DEPTH} levels (lists and mappings inside each other); these \
         files need about 5"
    )
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

fn position(mark: Marker) -> Position {
    // yaml-rust2 counts lines from 1 and columns from 0.
    (mark.line(), mark.col() + 1)
}

impl Walker {
    /// Counts a node of `size` into the document as expanded and into the collection it is in
    /// (whose size an anchor on it records when it closes).
    fn count(&mut self, size: Size) {
        self.spans.expanded_nodes = self.spans.expanded_nodes.saturating_add(size.0);
        self.spans.expanded_bytes = self.spans.expanded_bytes.saturating_add(size.1);
        if let Some((_, open)) = self.sizes.last_mut() {
            *open = open.plus(size);
        }
    }

    /// Whether the walk so far is within the bounds (`at`: the event just walked).
    fn bounds(&self, at: Position) -> Result<(), Broken> {
        let broken = |(line, column): Position, message: String| {
            Err(Broken {
                line,
                column,
                message,
            })
        };
        if self.open.len() > MAX_DEPTH {
            return broken(at, too_deep());
        }
        if let Some((at, tag)) = &self.spans.first_tag {
            return broken(
                *at,
                format!(
                    "a YAML tag ({tag}): these files use none; write the value plainly (a \
                     number as digits, a string in quotes)"
                ),
            );
        }
        let aliases = self.spans.first_alias.unwrap_or(at);
        if self.spans.expanded_nodes > MAX_EXPANDED_NODES {
            return broken(
                aliases,
                format!(
                    "YAML aliases (*name) here expand the file to more than the limit of \
                     {MAX_EXPANDED_NODES} nodes; write the repeated parts out instead of nesting \
                     aliases"
                ),
            );
        }
        if self.spans.expanded_bytes > MAX_EXPANDED_BYTES {
            return broken(
                aliases,
                format!(
                    "YAML aliases (*name) here expand the file to more than {} MiB of text; write \
                     the repeated parts out instead",
                    MAX_EXPANDED_BYTES / 1024 / 1024
                ),
            );
        }
        Ok(())
    }

    /// The path of the node that starts now, or None if it is a mapping key.
    fn next_path(&mut self, key_text: Option<&str>, at: Position) -> Option<String> {
        match self.open.last_mut() {
            None => Some(String::new()),
            Some(Open::Sequence { path, next }) => {
                let child = format!("{path}[{next}]");
                *next += 1;
                Some(child)
            }
            Some(Open::Mapping { path, key, seen }) => match key.take() {
                Some(key) => Some(join(path, &key)),
                None => {
                    // A key: scalar keys are what scenario files use; others get a placeholder.
                    let key_text = key_text.unwrap_or("?").to_string();
                    if seen.is_empty() {
                        // A block mapping's start event is marked at its first key's `:`;
                        // the mapping starts where that key does.
                        let start = self.spans.nodes.entry(path.clone()).or_insert(at);
                        *start = (*start).min(at);
                    }
                    if !seen.insert(key_text.clone()) && self.spans.duplicate_key.is_none() {
                        self.spans.duplicate_key = Some((join(path, &key_text), at));
                    }
                    *key = Some(key_text);
                    None
                }
            },
        }
    }
}

impl MarkedEventReceiver for Walker {
    fn on_event(&mut self, event: Event, mark: Marker) {
        let at = position(mark);
        if let Event::Scalar(_, _, _, Some(tag))
        | Event::SequenceStart(_, Some(tag))
        | Event::MappingStart(_, Some(tag)) = &event
        {
            self.spans.first_tag.get_or_insert_with(|| {
                // As it was written: the parser resolves `!!` to YAML's own prefix.
                let handle = match tag.handle.as_str() {
                    "tag:yaml.org,2002:" => "!!",
                    handle => handle,
                };
                (at, format!("{handle}{}", tag.suffix))
            });
        }
        match event {
            Event::Scalar(ref text, _, anchor, _) => {
                let size = Size(1, text.len() as u64 + 1);
                if anchor > 0 {
                    self.anchors.insert(anchor, size);
                }
                self.count(size);
                if let Some(path) = self.next_path(Some(text), at) {
                    self.spans.nodes.entry(path).or_insert(at);
                }
            }
            Event::Alias(anchor) => {
                self.spans.first_alias.get_or_insert(at);
                self.count(self.anchors.get(&anchor).copied().unwrap_or(Size::ONE));
                if let Some(path) = self.next_path(None, at) {
                    self.spans.nodes.entry(path).or_insert(at);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                // The collection itself, counted into the document now; into the collection
                // it is in, whole, when it closes.
                self.spans.expanded_nodes = self.spans.expanded_nodes.saturating_add(1);
                self.spans.expanded_bytes = self.spans.expanded_bytes.saturating_add(1);
                self.sizes.push((anchor, Size::ONE));
                // A collection used as a key has no useful path; it still nests.
                let path = self.next_path(None, at).unwrap_or_else(|| "?".to_string());
                self.spans.nodes.entry(path.clone()).or_insert(at);
                self.open
                    .push(if matches!(event, Event::SequenceStart(..)) {
                        Open::Sequence { path, next: 0 }
                    } else {
                        Open::Mapping {
                            path,
                            key: None,
                            seen: BTreeSet::new(),
                        }
                    });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.open.pop();
                // Its size is in the document's already, not yet in the enclosing collection's.
                if let Some((anchor, size)) = self.sizes.pop() {
                    if anchor > 0 {
                        self.anchors.insert(anchor, size);
                    }
                    if let Some((_, open)) = self.sizes.last_mut() {
                        *open = open.plus(size);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "description: d\nhosts:\n  - {name: server, role: server}\n  - name: client1\n    role: client\n    files:\n      - path: /etc/x\n        content: y\n";

    #[test]
    fn values_are_found_by_path() {
        let spans = Spans::index(TEXT).unwrap();
        assert_eq!(spans.locate("description"), (1, 14));
        assert_eq!(spans.locate("hosts[0].name"), (3, 12));
        assert_eq!(spans.locate("hosts[1].name"), (4, 11));
        assert_eq!(spans.locate("hosts[1].files[0].path"), (7, 15));
        assert_eq!(spans.duplicate_key, None);
    }

    #[test]
    fn a_missing_node_is_reported_at_its_nearest_ancestor() {
        let spans = Spans::index(TEXT).unwrap();
        assert_eq!(spans.locate("hosts[1].upload.port"), (4, 5));
        assert_eq!(spans.locate("steps"), (1, 1));
    }

    #[test]
    fn the_second_of_two_equal_keys_is_found() {
        let spans = Spans::index("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n").unwrap();
        assert_eq!(spans.duplicate_key, Some(("b.c".to_string(), (5, 3))));
    }

    #[test]
    fn syntax_errors_are_kept() {
        let spans = Spans::index("a: {b: 1\nc: 2\n").unwrap();
        let (at, info) = spans.syntax_error.unwrap();
        assert!(at.0 >= 2 && !info.is_empty(), "{at:?} {info}");
    }

    #[test]
    fn aliases_are_noted_and_counted_as_expanded() {
        let spans = Spans::index("a: &x [1]\nb: *x\n").unwrap();
        assert_eq!(spans.first_alias, Some((2, 4)));
        // The root mapping, a, [1], 1, b, and the alias's [1] with its 1.
        assert_eq!(spans.expanded_nodes, 7);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        let broken = Spans::index(&bomb).unwrap_err();
        assert!(broken.message.contains("1000000 nodes"), "{broken:?}");
        assert_eq!((broken.line, broken.column), (2, 10), "at the first alias");
    }

    /// Issue 39: 100 KB of text behind one anchor, repeated by aliases, stops at the alias
    /// past 16 MiB (not at 498 MB); a quoted scalar over two lines hides no brackets from the
    /// depth (the parser's events count it, not the lines).
    #[test]
    fn bytes_through_aliases_and_depth_by_events_are_bounded() {
        let text = format!(
            "description: &a \"{}\"\ncas: [{}]\n",
            "A".repeat(100_000),
            vec!["*a"; 5000].join(", ")
        );
        let started = Instant::now();
        let broken = Spans::index(&text).unwrap_err();
        assert!(broken.message.contains("16 MiB"), "{broken:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
        let hidden = format!(
            "cas: [ \"\n  \" , {}{} ]\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let started = Instant::now();
        let broken = Spans::index(&hidden).unwrap_err();
        assert!(broken.message.contains("deeper than 32"), "{broken:?}");
        assert_eq!(broken.line, 2);
        assert!(started.elapsed() < Duration::from_secs(2));
        let tagged = Spans::index("hosts:\n  - {name: s, listen_port: !!str 19532}\n").unwrap_err();
        assert!(tagged.message.contains("a YAML tag (!!str)"), "{tagged:?}");
        assert_eq!(tagged.line, 2);
        let fine = format!("a: {}{}\n", "[".repeat(30), "]".repeat(30));
        assert!(Spans::index(&fine).is_ok());
    }
}
