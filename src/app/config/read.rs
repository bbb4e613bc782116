//! Reading the TOML text so that every problem is found in one run, each with its line.
//!
//! - Syntax: `toml`'s recoverable parser ([`DeTable::parse_recoverable`]) reports every
//!   syntax error it can get past; past one it cannot, it stops (no second parser here).
//! - Types: serde stops at the first key of the wrong type, unknown or missing. The error's
//!   span names the key; that key (or, for a missing key, the table missing it) is left out
//!   and the rest read again, until the rest reads. Leaving out a key with a default reads
//!   the rest as if it had its default, so the semantic checks still run on everything else.
//! - Where: a [`KeyPath`] of a semantic problem is looked up in the same spanned table.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::{BOUNDS, Config, KeyPath, Problem, Seg};

/// Keys of the wrong type reported before the rest is given up on (each costs one more
/// reading of the whole table).
const MAX_TYPE_ERRORS: usize = 100;

/// The parsed text: where each key sits.
pub(super) struct Source<'t> {
    root: Spanned<DeTable<'t>>,
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
    text: &'t str,
    /// Keys and entries left out because they could not be read, in the order they were.
    removed: Vec<KeyPath>,
}

impl<'t> Source<'t> {
    fn new(text: &'t str, root: Spanned<DeTable<'t>>) -> Source<'t> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Source {
            root,
            line_starts,
            text,
            removed: Vec::new(),
        }
    }

    /// Line and column (from 1; the column counts characters) of a byte offset.
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, column)
    }

    /// Whether `problem` may follow from a key or entry left out as unreadable: it is about a
    /// table that held one (`[homebrew_master]` listing no peer once its only peer is out).
    pub(super) fn follows_from_removal(&self, problem: &Problem) -> bool {
        let at = &problem.at.0;
        !at.is_empty()
            && self
                .removed
                .iter()
                .any(|r| r.0.len() > at.len() && r.0.starts_with(at))
    }

    /// Where `path` is written: its value, or else the nearest table around it that is.
    pub(super) fn locate(&self, path: &KeyPath) -> Option<(usize, usize)> {
        let mut current: Option<&Spanned<DeValue<'_>>> = None;
        for seg in &path.0 {
            let next = match (seg, current.map(Spanned::get_ref)) {
                (Seg::Key(k), None) => self.root.get_ref().get(k.as_str()),
                (Seg::Key(k), Some(DeValue::Table(t))) => t.get(k.as_str()),
                (Seg::Index(i), Some(DeValue::Array(a))) => a.get(*i),
                _ => None,
            };
            match next {
                Some(next) => current = Some(next),
                None => break,
            }
        }
        current.map(|v| self.line_col(v.span().start))
    }
}

/// Read `text` into a [`Config`]. Returns the configuration (with where its keys sit) when
/// the syntax is sound, and the problems found: syntax errors, or keys that could not be read
/// (those keys are left out of the configuration returned).
pub(super) fn read(text: &str) -> (Option<(Config, Source<'_>)>, Vec<Problem>) {
    let (root, errors) = DeTable::parse_recoverable(text);
    let mut source = Source::new(text, root);
    if !errors.is_empty() {
        let mut problems: Vec<Problem> = errors
            .iter()
            .map(|e| Problem {
                line_col: e.span().map(|s| source.line_col(s.start)),
                ..Problem::new(KeyPath::default(), format!("TOML syntax: {}", e.message()))
            })
            .collect();
        problems.dedup_by(|a, b| a.line_col == b.line_col && a.message == b.message);
        return (None, problems);
    }
    let mut problems = Vec::new();
    loop {
        let de = toml::de::Deserializer::from(source.root.clone());
        let error = match Config::deserialize(de) {
            Ok(config) => return (Some((config, source)), problems),
            Err(e) => e,
        };
        let path = error
            .span()
            .and_then(|span| find(source.root.get_ref(), &span))
            .unwrap_or_default();
        // A required key left out for being unreadable is missing now: that is the same
        // problem, already reported; the table goes without a second one.
        let consequence = missing_field(error.message()).is_some_and(|field| {
            let mut key = path.clone();
            key.0.push(Seg::Key(field.to_string()));
            source.removed.contains(&key)
        });
        if !consequence {
            problems.push(Problem {
                line_col: error.span().map(|s| source.line_col(s.start)),
                ..Problem::new(path.clone(), explain(&path, error.message()))
            });
        }
        if path.0.is_empty() || problems.len() >= MAX_TYPE_ERRORS {
            // Nothing more can be left out: what remains cannot be read.
            return (None, problems);
        }
        if !remove(source.root.get_mut(), &path.0) {
            return (None, problems);
        }
        source.removed.push(path);
    }
}

/// The field serde's "missing field `name`" names.
fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// serde's message, prefixed with the key and followed by what to write instead.
fn explain(path: &KeyPath, message: &str) -> String {
    let label = path.label();
    let mut out = if label.is_empty() {
        message.to_string()
    } else {
        format!("{label}: {message}")
    };
    let dotted = path.dotted();
    if let Some(bound) = BOUNDS.iter().find(|b| b.key == dotted) {
        out.push_str(&format!(
            "; allowed: {}..={} ({})",
            bound.min, bound.max, bound.means
        ));
    } else if message.contains("socket address") {
        out.push_str("; write an IP address and a port, e.g. \"127.0.0.1:50051\"");
    } else if message.starts_with("missing field") {
        out.push_str("; add it");
    }
    out
}

/// The innermost key whose key or value covers `span`: the key a deserialization error is
/// about. Tables are searched before their own span is matched, since a `[table]`'s span is
/// only its header while its keys lie after it.
fn find(table: &DeTable<'_>, span: &Range<usize>) -> Option<KeyPath> {
    for (key, value) in table.iter() {
        let here = Seg::Key(key.get_ref().to_string());
        if covers(&key.span(), span) {
            return Some(KeyPath(vec![here]));
        }
        if let Some(mut inner) = find_in(value, span) {
            inner.0.insert(0, here);
            return Some(inner);
        }
        if covers(&value.span(), span) {
            return Some(KeyPath(vec![here]));
        }
    }
    None
}

fn find_in(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> Option<KeyPath> {
    match value.get_ref() {
        DeValue::Table(t) => find(t, span),
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                if let Some(mut inner) = find_in(item, span) {
                    inner.0.insert(0, Seg::Index(i));
                    return Some(inner);
                }
                if covers(&item.span(), span) {
                    return Some(KeyPath(vec![Seg::Index(i)]));
                }
            }
            None
        }
        _ => None,
    }
}

/// Whether `outer` covers `inner` (an empty `inner` at `outer`'s start counts).
fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(outer.start + 1)
}

/// Leave out the key or array entry at `path`; false if there is none.
fn remove(table: &mut DeTable<'_>, path: &[Seg]) -> bool {
    match path {
        [Seg::Key(k)] => table.remove(k.as_str()).is_some(),
        [Seg::Key(k), rest @ ..] => match table.get_mut(k.as_str()) {
            Some(value) => remove_in(value.get_mut(), rest),
            None => false,
        },
        _ => false,
    }
}

fn remove_in(value: &mut DeValue<'_>, path: &[Seg]) -> bool {
    match (value, path) {
        (DeValue::Table(t), _) => remove(t, path),
        (DeValue::Array(a), [Seg::Index(i)]) => {
            if *i >= a.len() {
                return false;
            }
            *a = a
                .iter()
                .enumerate()
                .filter(|(j, _)| j != i)
                .map(|(_, v)| v.clone())
                .collect();
            true
        }
        (DeValue::Array(a), [Seg::Index(i), rest @ ..]) => match a.get_mut(*i) {
            Some(item) => remove_in(item.get_mut(), rest),
            None => false,
        },
        _ => false,
    }
}
