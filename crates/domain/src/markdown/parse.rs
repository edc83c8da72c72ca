//! Markdown → [`Checklist`].
//!
//! pulldown-cmark decides *what* is a task item or a heading (so fenced code, HTML blocks and
//! lazy continuations are handled by a real CommonMark parser); the document itself is then
//! rebuilt line by line from the source, because export must give back the exact lines and
//! pulldown-cmark's events do not carry the spelling of bullets, indentation or spacing.

use std::collections::HashMap;

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use super::annotations::{self, STATE_NOTE_MARKER};
use super::keys::KeyMaker;
use super::{ImportError, MAX_ITEMS, MAX_LINE_BYTES, MAX_NESTING, MAX_SOURCE_BYTES};
use crate::model::{Block, Checklist, Item, ItemLayout, Section, is_optional_text};

/// A task marker found by pulldown-cmark.
struct TaskHit {
    line: usize,
    column: usize,
    parent: Option<usize>,
    depth: u32,
}

/// A top-level heading found by pulldown-cmark.
struct HeadingHit {
    level: u8,
    last_line: usize,
}

/// Rejects control characters and normalises line endings (BOM dropped, CRLF and CR → LF).
pub(super) fn normalise(source: &str) -> Result<String, ImportError> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let text = source.replace("\r\n", "\n").replace('\r', "\n");
    for (index, line) in text.split('\n').enumerate() {
        if let Some((column, c)) = line
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && *c != '\t')
        {
            return Err(ImportError::ControlCharacter {
                line: index + 1,
                column: column + 1,
                code: u32::from(c),
            });
        }
    }
    Ok(text)
}

/// Splits normalised text into lines; a final newline does not start an extra line.
pub(super) fn lines(text: &str) -> Vec<&str> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n').collect()
    }
}

/// Imports a Markdown checklist. See the [module docs](super) for what is recognised.
pub fn parse_checklist(source: &str) -> Result<Checklist, ImportError> {
    // The bounds come first, so the parser's work is bounded before it starts.
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ImportError::TooLarge {
            size: source.len(),
            max: MAX_SOURCE_BYTES,
        });
    }
    let text = normalise(source)?;
    let lines = lines(&text);
    if let Some(index) = lines.iter().position(|l| l.len() > MAX_LINE_BYTES) {
        return Err(ImportError::LineTooLong {
            line: index + 1,
            max: MAX_LINE_BYTES,
        });
    }
    let mut line_starts = Vec::with_capacity(lines.len());
    let mut offset = 0;
    for line in &lines {
        line_starts.push(offset);
        offset += line.len() + 1;
    }
    let line_of = |offset: usize| {
        line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    };

    let mut tasks: Vec<TaskHit> = Vec::new();
    let mut headings: HashMap<usize, HeadingHit> = HashMap::new();
    // One entry per open list item: the index of its task marker, if it has one.
    let mut open_items: Vec<Option<usize>> = Vec::new();
    let mut containers = 0usize;
    for (event, range) in Parser::new_ext(&text, Options::ENABLE_TASKLISTS).into_offset_iter() {
        match event {
            Event::Start(Tag::Item) => {
                open_items.push(None);
                containers += 1;
                if containers > MAX_NESTING {
                    return Err(ImportError::TooDeep {
                        line: line_of(range.start) + 1,
                        max: MAX_NESTING,
                    });
                }
            }
            Event::End(TagEnd::Item) => {
                open_items.pop();
                containers = containers.saturating_sub(1);
            }
            Event::Start(Tag::BlockQuote(_) | Tag::List(_) | Tag::FootnoteDefinition(_)) => {
                containers += 1;
                if containers > MAX_NESTING {
                    return Err(ImportError::TooDeep {
                        line: line_of(range.start) + 1,
                        max: MAX_NESTING,
                    });
                }
            }
            Event::End(TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::FootnoteDefinition) => {
                containers = containers.saturating_sub(1);
            }
            Event::TaskListMarker(_) => {
                let line = line_of(range.start);
                let duplicate = tasks.last().is_some_and(|t| t.line == line);
                if text.as_bytes().get(range.start) != Some(&b'[') || duplicate {
                    continue;
                }
                let enclosing = open_items.len().saturating_sub(1);
                let parent = open_items[..enclosing].iter().rev().find_map(|t| *t);
                let depth = open_items[..enclosing]
                    .iter()
                    .filter(|t| t.is_some())
                    .count();
                if tasks.len() == MAX_ITEMS {
                    return Err(ImportError::TooManyItems {
                        line: line + 1,
                        max: MAX_ITEMS,
                    });
                }
                if let Some(top) = open_items.last_mut() {
                    *top = Some(tasks.len());
                }
                tasks.push(TaskHit {
                    line,
                    column: range.start - line_starts[line],
                    parent,
                    depth: u32::try_from(depth).unwrap_or(u32::MAX),
                });
            }
            Event::Start(Tag::Heading { level, .. }) if containers == 0 => {
                let first = line_of(range.start);
                let last = line_of(range.end.saturating_sub(1)).max(first);
                headings.insert(
                    first,
                    HeadingHit {
                        level: heading_level(level),
                        last_line: last,
                    },
                );
            }
            _ => {}
        }
    }

    let mut builder = Builder::default();
    let mut task_at: HashMap<usize, usize> = HashMap::new();
    for (index, task) in tasks.iter().enumerate() {
        task_at.insert(task.line, index);
    }
    let mut task_keys: Vec<Option<String>> = Vec::with_capacity(tasks.len());
    let mut index = 0;
    while index < lines.len() {
        if let Some(heading) = headings.get(&index) {
            let raw = lines[index..=heading.last_line].join("\n");
            builder.heading(
                heading.level,
                heading_text(&lines[index..=heading.last_line]),
                raw,
            );
            index = heading.last_line + 1;
            continue;
        }
        if let Some(&task_index) = task_at.get(&index) {
            let task = &tasks[task_index];
            let parent = task
                .parent
                .and_then(|p| task_keys.get(p).cloned().flatten());
            let key = builder.item(lines[index], index + 1, task, parent)?;
            task_keys.push(key);
        } else {
            builder.text(lines[index]);
        }
        index += 1;
    }
    builder.finish()
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Heading text without `#` markers (ATX) or the underline (setext).
fn heading_text(lines: &[&str]) -> String {
    let first = lines.first().map_or("", |l| l.trim());
    if lines.len() == 1 && first.starts_with('#') {
        let inner = first.trim_start_matches('#');
        let inner = inner.trim_end();
        // A closing sequence counts only when separated by a space (`## a #` but not `## C#`).
        let without_closing = inner.trim_end_matches('#');
        let inner = if without_closing.is_empty() || without_closing.ends_with([' ', '\t']) {
            without_closing
        } else {
            inner
        };
        return inner.trim().to_owned();
    }
    let body = &lines[..lines.len().saturating_sub(1).max(1)];
    body.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ")
}

/// Accumulates blocks, sections and items while the lines are walked in order.
#[derive(Default)]
struct Builder {
    title: Option<String>,
    sections: Vec<Section>,
    items: Vec<Item>,
    blocks: Vec<Block>,
    section: Option<String>,
    group: Option<String>,
    keys: KeyMaker,
}

impl Builder {
    fn heading(&mut self, level: u8, text: String, raw: String) {
        match level {
            1 if self.title.is_none() && !text.is_empty() => self.title = Some(text.clone()),
            2 if !text.is_empty() => {
                self.sections.push(Section {
                    title: text.clone(),
                    groups: Vec::new(),
                });
                self.section = Some(text.clone());
                self.group = None;
            }
            3 if !text.is_empty() => {
                if let Some(section) = self.sections.last_mut().filter(|_| self.section.is_some()) {
                    section.groups.push(text.clone());
                }
                self.group = Some(text.clone());
            }
            _ => {}
        }
        self.blocks.push(Block::Heading { level, text, raw });
    }

    fn text(&mut self, line: &str) {
        if let Some(Block::Text { raw }) = self.blocks.last_mut() {
            raw.push('\n');
            raw.push_str(line);
        } else {
            self.blocks.push(Block::Text {
                raw: line.to_owned(),
            });
        }
    }

    fn item(
        &mut self,
        line: &str,
        line_number: usize,
        task: &TaskHit,
        parent: Option<String>,
    ) -> Result<Option<String>, ImportError> {
        let prefix = &line[..task.column];
        let mut rest = line[task.column..].chars();
        let (Some('['), Some(mark), Some(']')) = (rest.next(), rest.next(), rest.next()) else {
            // pulldown-cmark reported a marker we cannot read back: keep the line verbatim.
            self.text(line);
            return Ok(None);
        };
        let after = rest.as_str();
        let body_start = after.len() - after.trim_start_matches([' ', '\t']).len();
        let (gap, body) = after.split_at(body_start);
        let (body, had_note) = match body.find(STATE_NOTE_MARKER) {
            Some(at) => (&body[..at], true),
            None => (body, false),
        };
        let (text_len, found) = annotations::split(body).map_err(|source| ImportError::Check {
            line: line_number,
            source,
        })?;
        let text = &body[..text_len];
        if text.trim().is_empty() {
            return Err(ImportError::EmptyItem { line: line_number });
        }
        let tail = &body[text_len..];
        let tail = if had_note { tail.trim_end() } else { tail };
        let key = self
            .keys
            .make(self.section.as_deref(), self.group.as_deref(), text);
        self.items.push(Item {
            key: key.clone(),
            text: text.to_owned(),
            section: self.section.clone(),
            group: self.group.clone(),
            optional: is_optional_text(text),
            checked: mark != ' ',
            parent,
            depth: task.depth,
            check: found.check,
            re_attest_days: found.re_attest_days,
            requires_comment: found.requires_comment,
            line: line_number,
            layout: ItemLayout {
                prefix: prefix.to_owned(),
                mark,
                gap: gap.to_owned(),
                tail: tail.to_owned(),
            },
        });
        self.blocks.push(Block::Item { key: key.clone() });
        Ok(Some(key))
    }

    fn finish(self) -> Result<Checklist, ImportError> {
        if self.items.is_empty() {
            return Err(ImportError::NoItems);
        }
        Ok(Checklist {
            title: self.title,
            sections: self.sections,
            items: self.items,
            blocks: self.blocks,
        })
    }
}
