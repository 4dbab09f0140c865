//! Bar charts drawn on the server as SVG: the geometry is computed here, the template draws it
//! (escaped like every template), and the same numbers go into a table beside the chart, so it
//! is readable without colour and without the picture. Series differ by fill pattern as well
//! as colour (`kunci.css`: `.bar-0`, `.bar-1`, …).

use serde::Serialize;

/// The drawing area of every chart, in SVG user units.
const WIDTH: u32 = 480;
const HEIGHT: u32 = 160;
/// Room for the axis labels below and left of the bars.
const LEFT: u32 = 36;
const BOTTOM: u32 = 20;

/// One series: a catalog message for its name, one value per bucket.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) label: &'static str,
    pub(crate) values: Vec<u64>,
}

#[derive(Debug, Serialize)]
struct Rect {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
    /// Which series (`bar-<n>`).
    series: usize,
}

#[derive(Debug, Serialize)]
struct Tick {
    x: u32,
    label: String,
}

/// A table row: the bucket's label and each series' value.
#[derive(Debug, Serialize)]
struct TableRow {
    label: String,
    values: Vec<u64>,
}

/// A stacked bar chart, ready for `chart.html`'s macro.
#[derive(Debug, Serialize)]
pub(crate) struct Chart {
    width: u32,
    height: u32,
    left: u32,
    base: u32,
    rects: Vec<Rect>,
    ticks: Vec<Tick>,
    max: u64,
    series: Vec<&'static str>,
    rows: Vec<TableRow>,
    total: u64,
}

impl Chart {
    /// Bars for `labels` (one per bucket), each stacking the series' values; every `tick_every`
    /// bucket is labelled on the axis.
    pub(crate) fn stacked(labels: &[String], series: &[Series], tick_every: usize) -> Self {
        let buckets = labels.len().max(1);
        let sums: Vec<u64> = (0..labels.len())
            .map(|i| {
                series
                    .iter()
                    .map(|s| s.values.get(i).copied().unwrap_or(0))
                    .sum()
            })
            .collect();
        let max = sums.iter().copied().max().unwrap_or(0);
        let plot = HEIGHT - BOTTOM;
        let slot = (WIDTH - LEFT) / u32::try_from(buckets).unwrap_or(1).max(1);
        let bar = slot.saturating_sub(2).max(1);
        let mut rects = Vec::new();
        for (i, _) in labels.iter().enumerate() {
            let x = LEFT + u32::try_from(i).unwrap_or(0) * slot + 1;
            let mut top = plot;
            for (n, s) in series.iter().enumerate() {
                let value = s.values.get(i).copied().unwrap_or(0);
                if value == 0 || max == 0 {
                    continue;
                }
                let height = u32::try_from(value * u64::from(plot) / max)
                    .unwrap_or(plot)
                    .max(1);
                top = top.saturating_sub(height);
                rects.push(Rect {
                    x,
                    y: top,
                    width: bar,
                    height,
                    series: n,
                });
            }
        }
        let ticks = labels
            .iter()
            .enumerate()
            .filter(|(i, _)| i % tick_every.max(1) == 0)
            .map(|(i, label)| Tick {
                x: LEFT + u32::try_from(i).unwrap_or(0) * slot + slot / 2,
                label: label.clone(),
            })
            .collect();
        let rows = labels
            .iter()
            .enumerate()
            .map(|(i, label)| TableRow {
                label: label.clone(),
                values: series
                    .iter()
                    .map(|s| s.values.get(i).copied().unwrap_or(0))
                    .collect(),
            })
            .collect();
        Self {
            width: WIDTH,
            height: HEIGHT,
            left: LEFT,
            base: plot,
            rects,
            ticks,
            max,
            series: series.iter().map(|s| s.label).collect(),
            rows,
            total: sums.iter().sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_stack_to_the_tallest_bucket() {
        let labels: Vec<String> = (0..4).map(|h| format!("{h:02}")).collect();
        let chart = Chart::stacked(
            &labels,
            &[
                Series {
                    label: "ok",
                    values: vec![1, 0, 3, 0],
                },
                Series {
                    label: "failed",
                    values: vec![1, 2, 1, 0],
                },
            ],
            2,
        );
        assert_eq!(chart.max, 4);
        assert_eq!(chart.total, 8);
        let plot = HEIGHT - BOTTOM;
        // The third bucket is the tallest: its two bars fill the plot exactly.
        let third: Vec<&Rect> = chart
            .rects
            .iter()
            .filter(|r| r.x == chart.rects[3].x)
            .collect();
        assert_eq!(third.iter().map(|r| r.height).sum::<u32>(), plot);
        assert_eq!(
            third[0].y,
            plot - third[0].height,
            "the first series sits on the axis"
        );
        assert_eq!(
            third[1].y + third[1].height,
            third[0].y,
            "the second on top of it"
        );
        assert_eq!(chart.rects.len(), 5, "no bar for a zero");
        assert_eq!(chart.ticks.len(), 2);
        assert_eq!(chart.rows[1].values, [0, 2]);
    }

    #[test]
    fn an_empty_chart_draws_nothing() {
        let labels = vec!["a".to_owned()];
        let chart = Chart::stacked(
            &labels,
            &[Series {
                label: "x",
                values: vec![0],
            }],
            1,
        );
        assert!(chart.rects.is_empty());
        assert_eq!(chart.total, 0);
    }
}
