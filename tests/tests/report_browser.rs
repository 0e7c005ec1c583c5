//! The HTML access report in a real browser: `jitd audit report` renders the fixed log of
//! jitd's golden tests (`crates/jitd/tests/golden/log.jsonl`), headless Chromium takes a
//! screenshot, and the picture must be a real page: the right size, many colours, and the
//! timeline's bars (break-glass red, approved blue, normal green) next to its denial markers.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`, or `just test`, which installs
//! it). The screenshot stays in `target/tmp/report_browser/report.png` to look at.
#![allow(clippy::unwrap_used)] // helpers outside #[test] fns panic on purpose

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jit_e2e::jit::binary;
use jit_e2e::process::run_with_timeout;
use jit_e2e::scratch::scratch_dir;
use jit_e2e::OutputExt as _;

const CHROMIUM: &str = "/usr/bin/chromium";
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;
/// The timeline's colours (`jitd::commands::report::timeline`).
const RED: [u8; 3] = [0xd6, 0x27, 0x28];
const BLUE: [u8; 3] = [0x1f, 0x77, 0xb4];
const GREEN: [u8; 3] = [0x2c, 0xa0, 0x2c];
const ORANGE: [u8; 3] = [0xff, 0x7f, 0x0e];

/// A decoded RGB screenshot.
struct Picture {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Picture {
    fn load(path: &Path) -> Picture {
        let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder
            .read_info()
            .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buffer).unwrap();
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        let rgb = buffer[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Picture {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    /// Rows (y) holding a pixel within a small distance of `colour`.
    fn rows_with(&self, colour: [u8; 3]) -> Vec<usize> {
        let near = |p: &[u8; 3]| (0..3).all(|i| p[i].abs_diff(colour[i]) <= 6);
        (0..self.height)
            .filter(|y| {
                self.rgb[y * self.width..(y + 1) * self.width]
                    .iter()
                    .any(near)
            })
            .collect()
    }

    /// From the start of the second run of rows holding `colour` to its last row: for
    /// orange, the timeline's lanes (from the first denial marker down), below its legend.
    fn after_first_run(&self, colour: [u8; 3]) -> std::ops::RangeInclusive<usize> {
        let rows = self.rows_with(colour);
        let second = rows
            .windows(2)
            .find(|pair| pair[1] > pair[0] + 1)
            .map(|pair| pair[1])
            .unwrap_or_else(|| panic!("one run of {colour:?} only: the lanes have no markers"));
        let last = rows.last().copied().unwrap_or_default();
        second..=last
    }
}

fn render_report(dir: &Path) -> PathBuf {
    let log = Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/jitd/tests/golden/log.jsonl");
    let html = dir.join("report.html");
    let mut cmd = Command::new(binary("jitd"));
    cmd.arg("--data-dir")
        .arg(dir.join("no-data-dir-needed"))
        .args(["audit", "report", "--file"])
        .arg(&log)
        .args([
            "--since",
            "2026-11-27T00:00:00Z",
            "--until",
            "2026-11-28T00:00:00Z",
        ])
        .args(["--format", "html", "--out"])
        .arg(&html);
    let out = run_with_timeout(&mut cmd, Duration::from_secs(60)).expect("jitd finishes");
    assert!(
        out.status.success(),
        "jitd audit report failed: {}",
        out.describe()
    );
    html
}

fn screenshot(html: &Path, png: &Path, profile: &Path) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "jit-e2e: {CHROMIUM} is missing: install it with `apt-get install -y chromium` \
         (or run `just test`, which installs it)"
    );
    let mut cmd = Command::new(CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={WIDTH},{HEIGHT}"))
    .arg(format!("--screenshot={}", png.display()))
    .arg(format!("file://{}", html.display()));
    let out = run_with_timeout(&mut cmd, Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("chromium did not finish within 120 s"));
    assert!(
        out.status.success() && png.exists(),
        "chromium made no screenshot: {}",
        out.describe()
    );
}

#[test]
fn the_html_report_renders_with_its_timeline() {
    let dir = scratch_dir("jit-report-");
    let html = render_report(dir.path());
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report_browser");
    std::fs::create_dir_all(&kept).unwrap();
    let png = kept.join("report.png");
    let _ = std::fs::remove_file(&png);
    screenshot(&html, &png, &dir.path().join("chromium-profile"));
    eprintln!("screenshot: {}", png.display());

    let picture = Picture::load(&png);
    assert_eq!(
        (picture.width, picture.height),
        (WIDTH as usize, HEIGHT as usize)
    );
    let colours: HashSet<[u8; 3]> = picture.rgb.iter().copied().collect();
    assert!(
        colours.len() > 50,
        "only {} colours: a blank page?",
        colours.len()
    );
    let white = picture
        .rgb
        .iter()
        .filter(|p| **p == [255, 255, 255])
        .count();
    assert!(
        white * 100 < picture.rgb.len() * 95,
        "the page is almost all white"
    );

    // Orange appears only in the timeline: in its legend, then as denial markers above the
    // bars of the first lane down to the last lane. The bars must be drawn there, below the
    // legend (which has a swatch of each colour too).
    let lanes = picture.after_first_run(ORANGE);
    for (name, colour) in [
        ("break-glass red", RED),
        ("approved blue", BLUE),
        ("normal green", GREEN),
    ] {
        let rows = picture.rows_with(colour);
        assert!(
            rows.iter().any(|y| lanes.contains(y)),
            "no {name} bar in the timeline's lanes (rows {lanes:?}); see {}",
            png.display()
        );
    }
}
