//! A flame graph: the stacks merged into a tree (root first, the thread
//! at the bottom), drawn as rows of boxes whose widths are their samples.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::CpuProfile;

const WIDTH: f64 = 1200.0;
const ROW: f64 = 16.0;
const TOP: f64 = 58.0;
/// Boxes narrower than this are not drawn (their samples still count in
/// their parent's width).
const MIN_WIDTH: f64 = 0.5;
/// Roughly the width of a character at the font size used.
const CHAR: f64 = 6.6;

#[derive(Default)]
struct Node<'a> {
    samples: u64,
    children: BTreeMap<&'a str, Node<'a>>,
}

impl<'a> Node<'a> {
    fn depth(&self) -> usize {
        self.children
            .values()
            .map(|c| 1 + c.depth())
            .max()
            .unwrap_or(0)
    }
}

pub(super) fn svg(profile: &CpuProfile) -> String {
    let mut root = Node::default();
    for stack in &profile.stacks {
        root.samples += stack.count;
        let mut node = root.children.entry(stack.thread.as_str()).or_default();
        node.samples += stack.count;
        // Leaf first in the stack; inlined calls innermost first in a frame.
        for frame in stack.frames.iter().rev() {
            for line in frame.iter().rev() {
                node = node.children.entry(line.function.as_str()).or_default();
                node.samples += stack.count;
            }
        }
    }
    let depth = root.depth() + 1;
    let height = TOP + ROW * depth as f64 + 10.0;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r##"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="monospace" font-size="11">
<rect width="100%" height="100%" fill="#fdfdf5"/>
<text x="{x}" y="20" text-anchor="middle" font-size="15">CPU flame graph</text>
<text x="{x}" y="34" text-anchor="middle" fill="#555">{samples} samples at {hz} Hz over {secs:.1} s; callers below callees, widths by samples</text>
"##,
        x = WIDTH / 2.0,
        samples = root.samples,
        hz = profile.frequency,
        secs = profile.duration.as_secs_f64(),
    );
    if let Some(note) = profile.coverage_note() {
        let _ = writeln!(
            out,
            r##"<text x="{x}" y="48" text-anchor="middle" fill="#555">{}</text>"##,
            escape(&note),
            x = WIDTH / 2.0,
        );
    }
    if root.samples == 0 {
        let _ = writeln!(
            out,
            r#"<text x="{x}" y="{y}" text-anchor="middle">No samples: no thread used the CPU while it ran.</text>"#,
            x = WIDTH / 2.0,
            y = TOP + ROW,
        );
    }
    let total = root.samples.max(1) as f64;
    let mut canvas = Canvas {
        out: &mut out,
        total,
        depth,
    };
    canvas.draw("all", &root, 0.0, 0);
    out.push_str("</svg>\n");
    out
}

struct Canvas<'o> {
    out: &'o mut String,
    total: f64,
    /// Rows: the deepest stack's length, plus the root.
    depth: usize,
}

impl Canvas<'_> {
    /// Draws `node` at `x`, `level` rows above the root (which is at the
    /// bottom), then its children above it, left to right by name.
    fn draw(&mut self, name: &str, node: &Node<'_>, x: f64, level: usize) {
        let width = node.samples as f64 / self.total * WIDTH;
        if width < MIN_WIDTH {
            return;
        }
        let y = TOP + ROW * (self.depth - 1 - level) as f64;
        let share = node.samples as f64 / self.total * 100.0;
        let name_xml = escape(name);
        let _ = write!(
            self.out,
            r#"<g><title>{name_xml} ({samples} samples, {share:.2}%)</title><rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h}" rx="2" fill="{fill}"/>"#,
            samples = node.samples,
            w = (width - 0.5).max(0.1),
            h = ROW - 1.0,
            fill = colour(name),
        );
        let fits = ((width - 6.0) / CHAR) as usize;
        if fits >= 3 {
            let label: String = if name.chars().count() > fits {
                let mut short: String = name.chars().take(fits - 2).collect();
                short.push_str("..");
                short
            } else {
                name.to_string()
            };
            let _ = write!(
                self.out,
                r#"<text x="{tx:.1}" y="{ty:.1}">{}</text>"#,
                escape(&label),
                tx = x + 3.0,
                ty = y + ROW - 4.5,
            );
        }
        self.out.push_str("</g>\n");
        let mut child_x = x;
        for (child_name, child) in &node.children {
            self.draw(child_name, child, child_x, level + 1);
            child_x += child.samples as f64 / self.total * WIDTH;
        }
    }
}

/// A warm colour fixed by the name, so a function keeps its colour
/// between graphs.
fn colour(name: &str) -> String {
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    let red = 205 + (hash % 50);
    let green = 80 + ((hash >> 8) % 120);
    let blue = 40 + ((hash >> 16) % 40);
    format!("rgb({red},{green},{blue})")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('?'),
            c => out.push(c),
        }
    }
    out
}
