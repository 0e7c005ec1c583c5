//! The access timeline of the HTML report: an inline SVG with one lane per role and one
//! bar per certificate from `valid_after` to `valid_before` (clipped to the window),
//! coloured by kind, denials as triangles above the bars, UTC ticks below.
//!
//! Bars that overlap in time share a lane on separate rows, so none hides another. Every
//! text from the log goes through [`escape`].

use std::collections::BTreeMap;

use super::html::escape;
use super::model::{Denial, Grant, GrantKind, Report};
use super::rfc3339;

/// Colour of break-glass bars.
pub const BREAK_GLASS: &str = "#d62728";
/// Colour of bars issued through an approved request.
pub const APPROVED: &str = "#1f77b4";
/// Colour of bars issued on the policy alone.
pub const NORMAL: &str = "#2ca02c";
/// Colour of denial markers.
pub const DENIAL: &str = "#ff7f0e";

const WIDTH: f64 = 1200.0;
const PLOT_X0: f64 = 190.0;
const PLOT_X1: f64 = WIDTH - 48.0;
const LEGEND_H: f64 = 36.0;
const MARK_H: f64 = 13.0;
const ROW_H: f64 = 18.0;
const ROW_GAP: f64 = 5.0;
const LANE_PAD: f64 = 7.0;
const AXIS_H: f64 = 44.0;
/// Tick spacings to choose from (seconds): the first giving at most 12 ticks is used.
const STEPS: [u64; 14] = [
    60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000,
];

/// The lane label for denials that named no role.
const NO_ROLE: &str = "(no role)";

#[derive(Default)]
struct Lane<'a> {
    grants: Vec<&'a Grant>,
    denials: Vec<&'a Denial>,
}

/// The timeline of `report` as an `<svg>` element.
pub fn svg(report: &Report) -> String {
    let (since, until) = (report.window.since, report.window.until);
    let x = |t: u64| -> f64 {
        let t = t.clamp(since, until);
        PLOT_X0 + (t - since) as f64 / (until - since) as f64 * (PLOT_X1 - PLOT_X0)
    };
    let mut lanes: BTreeMap<(bool, &str), Lane<'_>> = BTreeMap::new();
    for grant in &report.grants {
        lanes
            .entry((false, &grant.role))
            .or_default()
            .grants
            .push(grant);
    }
    for denial in &report.denials {
        let key = match &denial.role {
            Some(role) => (false, role.as_str()),
            None => (true, NO_ROLE),
        };
        lanes.entry(key).or_default().denials.push(denial);
    }

    let mut body = String::new();
    let mut y = LEGEND_H;
    for (index, ((_, role), lane)) in lanes.iter().enumerate() {
        let rows = pack(&lane.grants, &x);
        let row_count = rows.iter().map(|(_, row)| row + 1).max().unwrap_or(1);
        let height = 2.0 * LANE_PAD + MARK_H + row_count as f64 * (ROW_H + ROW_GAP) - ROW_GAP;
        let fill = if index % 2 == 0 { "#f6f8fa" } else { "#ffffff" };
        body.push_str(&format!(
            r##"<rect x="0" y="{y:.1}" width="{WIDTH}" height="{height:.1}" fill="{fill}"/>"##
        ));
        let label = truncate(role, 22);
        let count = [
            (lane.grants.len(), "certificate"),
            (lane.denials.len(), "denied request"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        })
        .collect::<Vec<_>>()
        .join(", ");
        let middle = y + height / 2.0;
        body.push_str(&format!(
            r##"<text x="10" y="{:.1}" font-size="13" font-weight="600" fill="#1d2733"><title>{}</title>{}</text><text x="10" y="{:.1}" font-size="11" fill="#566373">{count}</text>"##,
            middle - 2.0,
            escape(role),
            escape(&label),
            middle + 12.0,
        ));
        for (grant, row) in &rows {
            let top = y + LANE_PAD + MARK_H + *row as f64 * (ROW_H + ROW_GAP);
            body.push_str(&bar(grant, top, &x));
        }
        for denial in &lane.denials {
            body.push_str(&marker(denial, x(denial.time), y + LANE_PAD - 2.0));
        }
        y += height;
    }
    if lanes.is_empty() {
        body.push_str(&format!(
            r##"<text x="{PLOT_X0}" y="{:.1}" font-size="13" fill="#566373">no certificate was valid and no request was refused in this window</text>"##,
            y + 22.0
        ));
        y += 36.0;
    }
    let plot_bottom = y;
    let height = plot_bottom + AXIS_H;

    let mut out = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {WIDTH} {height:.1}" width="100%" role="img" aria-label="Access per role over the report window">"##
    );
    out.push_str(&legend());
    out.push_str(&body);
    out.push_str(&axis(since, until, LEGEND_H, plot_bottom, &x));
    out.push_str("</svg>");
    out
}

/// Rows for the bars of one lane: each bar goes to the first row where it does not touch
/// the bar (or label) before it, in pixels, so no bar or label hides another.
fn pack<'a>(grants: &[&'a Grant], x: &dyn Fn(u64) -> f64) -> Vec<(&'a Grant, usize)> {
    let mut sorted = grants.to_vec();
    sorted.sort_by_key(|g| (g.valid_after, g.serial));
    let mut row_ends: Vec<f64> = Vec::new();
    sorted
        .into_iter()
        .map(|grant| {
            let (start, end) = span(grant, x);
            let end = match label_inside(grant, start, end) {
                true => end,
                false => end + 6.0 + label_width(&grant.user),
            };
            let row = match row_ends.iter().position(|e| *e + 4.0 <= start) {
                Some(row) => row,
                None => {
                    row_ends.push(0.0);
                    row_ends.len() - 1
                }
            };
            row_ends[row] = end;
            (grant, row)
        })
        .collect()
}

/// A bar's left and right edge, at least 4 px wide.
fn span(grant: &Grant, x: &dyn Fn(u64) -> f64) -> (f64, f64) {
    let start = x(grant.valid_after);
    (start, x(grant.valid_before).max(start + 4.0))
}

/// The colour of a bar (and of the kind label in the tables).
pub fn colour(kind: GrantKind) -> &'static str {
    match kind {
        GrantKind::BreakGlass => BREAK_GLASS,
        GrantKind::Approved => APPROVED,
        GrantKind::Normal => NORMAL,
    }
}

fn bar(grant: &Grant, top: f64, x: &dyn Fn(u64) -> f64) -> String {
    let (start, end) = span(grant, x);
    let fill = colour(grant.kind);
    let mut tip = format!(
        "{} as {} ({}) on {}, serial {}\n{} to {} UTC",
        grant.user,
        grant.role,
        grant.kind.name(),
        grant.principals.join(","),
        grant.serial,
        rfc3339(grant.valid_after),
        rfc3339(grant.valid_before)
    );
    if !grant.approvers.is_empty() {
        tip.push_str(&format!("\napproved by {}", grant.approvers.join(", ")));
    }
    if let Some(reason) = &grant.reason {
        tip.push_str(&format!("\nreason: {reason}"));
    }
    if let Some(revoked) = grant.revoked_at {
        tip.push_str(&format!("\nrevoked at {}", rfc3339(revoked)));
    }
    let mut out = format!(r#"<g><title>{}</title>"#, escape(&tip));
    match grant.revoked_at.map(x).filter(|r| *r > start && *r < end) {
        Some(cut) => out.push_str(&format!(
            r##"<rect x="{start:.1}" y="{top:.1}" width="{:.1}" height="{ROW_H}" rx="3" fill="{fill}"/><rect x="{cut:.1}" y="{top:.1}" width="{:.1}" height="{ROW_H}" rx="3" fill="{fill}" fill-opacity="0.3"/><line x1="{cut:.1}" x2="{cut:.1}" y1="{:.1}" y2="{:.1}" stroke="#1d2733" stroke-width="2"/>"##,
            cut - start,
            end - cut,
            top - 2.0,
            top + ROW_H + 2.0
        )),
        None => out.push_str(&format!(
            r##"<rect x="{start:.1}" y="{top:.1}" width="{:.1}" height="{ROW_H}" rx="3" fill="{fill}"/>"##,
            end - start
        )),
    }
    // The user's name: inside the bar when it fits, else just after it.
    let (label_x, label_fill) = match label_inside(grant, start, end) {
        true => (start + 5.0, "#ffffff"),
        false => (end + 4.0, "#1d2733"),
    };
    out.push_str(&format!(
        r##"<text x="{label_x:.1}" y="{:.1}" font-size="11" fill="{label_fill}">{}</text></g>"##,
        top + 13.0,
        escape(&truncate(&grant.user, 16))
    ));
    out
}

/// Width of a bar label (about 6.5 px per character at 11 px).
fn label_width(user: &str) -> f64 {
    6.5 * user.chars().count().min(16) as f64
}

fn label_inside(grant: &Grant, start: f64, end: f64) -> bool {
    end - start >= label_width(&grant.user) + 10.0
}

fn marker(denial: &Denial, at: f64, top: f64) -> String {
    let tip = format!(
        "denied {}: {} asked for {} ({}: {})",
        rfc3339(denial.time),
        denial.user.as_deref().unwrap_or("unknown user"),
        denial.role.as_deref().unwrap_or("no role"),
        denial.code,
        denial.reason
    );
    format!(
        r##"<g><title>{}</title><polygon points="{:.1},{:.1} {:.1},{:.1} {at:.1},{:.1}" fill="{DENIAL}" stroke="#a84f00" stroke-width="1"/></g>"##,
        escape(&tip),
        at - 6.0,
        top,
        at + 6.0,
        top,
        top + 11.0
    )
}

fn legend() -> String {
    let mut out = String::new();
    let mut x = PLOT_X0;
    for (label, fill) in [
        ("approved", APPROVED),
        ("break-glass", BREAK_GLASS),
        ("normal", NORMAL),
    ] {
        out.push_str(&format!(
            r##"<rect x="{x:.1}" y="10" width="22" height="13" rx="3" fill="{fill}"/><text x="{:.1}" y="21" font-size="12" fill="#1d2733">{label}</text>"##,
            x + 28.0
        ));
        x += 40.0 + 7.0 * label.len() as f64;
    }
    out.push_str(&format!(
        r##"<rect x="{x:.1}" y="10" width="22" height="13" rx="3" fill="{APPROVED}" fill-opacity="0.3"/><line x1="{x:.1}" x2="{x:.1}" y1="8" y2="25" stroke="#1d2733" stroke-width="2"/><text x="{:.1}" y="21" font-size="12" fill="#1d2733">after revocation</text>"##,
        x + 28.0
    ));
    x += 40.0 + 7.0 * 16.0;
    out.push_str(&format!(
        r##"<polygon points="{:.1},10 {:.1},10 {:.1},21" fill="{DENIAL}" stroke="#a84f00"/><text x="{:.1}" y="21" font-size="12" fill="#1d2733">denied request</text>"##,
        x + 5.0,
        x + 17.0,
        x + 11.0,
        x + 28.0
    ));
    out.push_str(&format!(
        r##"<text x="10" y="21" font-size="12" fill="#566373">role</text><text x="{PLOT_X1}" y="21" font-size="12" fill="#566373" text-anchor="end">times in UTC</text>"##
    ));
    out
}

/// Gridlines and tick labels at UTC-aligned multiples of a step that gives at most 12
/// ticks; a tick shows its date under the time on the first tick and when the day changes.
fn axis(since: u64, until: u64, top: f64, bottom: f64, x: &dyn Fn(u64) -> f64) -> String {
    let span = until - since;
    let step = STEPS
        .iter()
        .copied()
        .find(|step| span / step <= 12)
        .unwrap_or_else(|| span.div_ceil(12));
    let mut out = format!(
        r##"<line x1="{PLOT_X0}" x2="{PLOT_X1}" y1="{bottom:.1}" y2="{bottom:.1}" stroke="#8795a5"/>"##
    );
    let mut tick = since.div_ceil(step) * step;
    let mut last_day = String::new();
    while tick <= until {
        let at = x(tick);
        let text = rfc3339(tick);
        let (day, time) = (&text[..10], &text[11..16]);
        out.push_str(&format!(
            r##"<line x1="{at:.1}" x2="{at:.1}" y1="{top:.1}" y2="{bottom:.1}" stroke="#8795a5" stroke-opacity="0.35"/><line x1="{at:.1}" x2="{at:.1}" y1="{bottom:.1}" y2="{:.1}" stroke="#8795a5"/>"##,
            bottom + 5.0
        ));
        let label = if step >= 86400 { day } else { time };
        out.push_str(&format!(
            r##"<text x="{at:.1}" y="{:.1}" font-size="12" fill="#1d2733" text-anchor="middle">{label}</text>"##,
            bottom + 18.0
        ));
        if step < 86400 && day != last_day {
            out.push_str(&format!(
                r##"<text x="{at:.1}" y="{:.1}" font-size="11" fill="#566373" text-anchor="middle">{day}</text>"##,
                bottom + 33.0
            ));
        }
        last_day = day.to_string();
        tick += step;
    }
    out
}

/// At most `max` characters, with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}
