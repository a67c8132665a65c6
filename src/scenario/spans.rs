//! Where each node of a scenario file is, by its path (`hosts[2].name`), so that a semantic error
//! points at the value it is about rather than at the first text that happens to match.
//!
//! serde's derive knows no positions, so the file is walked a second time with an event parser
//! (yaml-rust2) that reports a mark for every event. The same walk finds what serde reports
//! without a position: a key given twice in one mapping.

use std::collections::{BTreeMap, BTreeSet};

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

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
    /// would walk through).
    pub expanded_nodes: u64,
    /// The event parser's syntax error, if the text is not YAML to it.
    pub syntax_error: Option<(Position, String)>,
}

impl Spans {
    /// Indexes `text`. Text the event parser cannot read gives an empty index: serde has already
    /// accepted it, and a position is then only less precise, never wrong.
    pub fn index(text: &str) -> Spans {
        let mut walker = Walker::default();
        let mut parser = Parser::new_from_str(text);
        if let Err(e) = parser.load(&mut walker, false) {
            return Spans {
                syntax_error: Some((position(*e.marker()), e.info().to_string())),
                ..Spans::default()
            };
        }
        walker.spans
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
    /// Per open collection: its anchor id (0 for none) and its expanded node count so far.
    sizes: Vec<(usize, u64)>,
    /// Anchor id → expanded node count of the anchored node.
    anchors: BTreeMap<usize, u64>,
    spans: Spans,
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
    /// Counts `nodes` more nodes into the enclosing collection (or the document).
    fn count(&mut self, nodes: u64) {
        match self.sizes.last_mut() {
            Some((_, size)) => *size = size.saturating_add(nodes),
            None => self.spans.expanded_nodes = self.spans.expanded_nodes.saturating_add(nodes),
        }
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
        match event {
            Event::Scalar(ref text, _, anchor, _) => {
                if anchor > 0 {
                    self.anchors.insert(anchor, 1);
                }
                self.count(1);
                if let Some(path) = self.next_path(Some(text), at) {
                    self.spans.nodes.entry(path).or_insert(at);
                }
            }
            Event::Alias(anchor) => {
                self.spans.first_alias.get_or_insert(at);
                self.count(self.anchors.get(&anchor).copied().unwrap_or(1));
                if let Some(path) = self.next_path(None, at) {
                    self.spans.nodes.entry(path).or_insert(at);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                self.sizes.push((anchor, 1));
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
                if let Some((anchor, size)) = self.sizes.pop() {
                    if anchor > 0 {
                        self.anchors.insert(anchor, size);
                    }
                    self.count(size);
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
        let spans = Spans::index(TEXT);
        assert_eq!(spans.locate("description"), (1, 14));
        assert_eq!(spans.locate("hosts[0].name"), (3, 12));
        assert_eq!(spans.locate("hosts[1].name"), (4, 11));
        assert_eq!(spans.locate("hosts[1].files[0].path"), (7, 15));
        assert_eq!(spans.duplicate_key, None);
    }

    #[test]
    fn a_missing_node_is_reported_at_its_nearest_ancestor() {
        let spans = Spans::index(TEXT);
        assert_eq!(spans.locate("hosts[1].upload.port"), (4, 5));
        assert_eq!(spans.locate("steps"), (1, 1));
    }

    #[test]
    fn the_second_of_two_equal_keys_is_found() {
        let spans = Spans::index("a: 1\nb:\n  c: 1\n  d: 2\n  c: 3\n");
        assert_eq!(spans.duplicate_key, Some(("b.c".to_string(), (5, 3))));
    }

    #[test]
    fn syntax_errors_are_kept() {
        let spans = Spans::index("a: {b: 1\nc: 2\n");
        let (at, info) = spans.syntax_error.unwrap();
        assert!(at.0 >= 2 && !info.is_empty(), "{at:?} {info}");
    }

    #[test]
    fn aliases_are_noted_and_counted_as_expanded() {
        let spans = Spans::index("a: &x [1]\nb: *x\n");
        assert_eq!(spans.first_alias, Some((2, 4)));
        // The root mapping, a, [1], 1, b, and the alias's [1] with its 1.
        assert_eq!(spans.expanded_nodes, 7);
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        assert!(Spans::index(&bomb).expanded_nodes > 10u64.pow(11));
    }
}
