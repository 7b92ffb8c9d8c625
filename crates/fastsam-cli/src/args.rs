//! Command-line interface: the `fastsam` subcommands and their options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fastsam::prompt::{BoxPrompt, PointLabel, PointPrompt};

#[derive(Debug, Parser)]
#[command(name = "fastsam", version, about = "Fast Segment Anything: every object's mask, then point/box/text prompts")]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Segment images: every object's mask, or the masks selected by prompts.
    Segment(SegmentArgs),
    /// Print what a checkpoint holds: model class, hyper-parameters and every tensor.
    Inspect(InspectArgs),
    /// Serve the HTTP API and the browser editor.
    Serve(crate::serve::ServeArgs),
    /// CLIP helpers.
    #[command(subcommand)]
    Clip(ClipCommand),
    /// Time this implementation (cold start, end to end, segment alone, prompts, peak RSS) as JSON.
    Bench(BenchArgs),
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Image file(s) to time.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<PathBuf>,

    /// FastSAM checkpoint (.pt) or exported .onnx.
    #[arg(long, short)]
    pub model: PathBuf,

    #[arg(long, default_value_t = 1024)]
    pub imgsz: u32,

    /// Timed runs per image (after one warm-up run).
    #[arg(long, default_value_t = 5)]
    pub runs: usize,

    /// Point and box prompts timed per run.
    #[arg(long, default_value_t = 100)]
    pub prompts: usize,

    /// ONNX Runtime intra-op threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,

    /// Also write the ONNX graph built from the checkpoint here (for the engine-alone baseline).
    #[arg(long, value_name = "OUT.onnx")]
    pub export_graph: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Image file(s).
    #[arg(required = true, value_name = "IMAGE")]
    pub inputs: Vec<PathBuf>,

    /// FastSAM model: a path to a .pt checkpoint or an exported .onnx.
    #[arg(long, short, value_name = "MODEL")]
    pub model: String,

    /// Inference size (long side); rounded up to a multiple of 32 as the reference does.
    #[arg(long, default_value_t = 1024)]
    pub imgsz: u32,

    /// Confidence threshold in [0, 1].
    #[arg(long, default_value_t = 0.4)]
    pub conf: f32,

    /// NMS IoU threshold in [0, 1].
    #[arg(long, default_value_t = 0.9)]
    pub iou: f32,

    /// Keep at most this many detections.
    #[arg(long = "max-det", default_value_t = 300)]
    pub max_det: usize,

    /// Write the SA-1B-style JSON here ("-" = stdout, the default).
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,

    /// Write the image with each mask coloured and outlined, as a PNG.
    #[arg(long, value_name = "OUT.png")]
    pub overlay: Option<PathBuf>,

    /// Foreground point X,Y or labelled point X,Y,LABEL (1 = foreground, 0 = background). Repeatable.
    #[arg(long = "point", value_name = "X,Y[,LABEL]", value_parser = parse_point, allow_hyphen_values = true)]
    pub points: Vec<PointPrompt>,

    /// Box X1,Y1,X2,Y2 in pixels of the original image. Repeatable.
    #[arg(long = "box", value_name = "X1,Y1,X2,Y2", value_parser = parse_box, allow_hyphen_values = true)]
    pub boxes: Vec<BoxPrompt>,

    /// Point prompts as the FastSAM authors' original code: masks sorted by area and merged into one.
    #[arg(long)]
    pub merge: bool,

    /// ONNX Runtime intra-op threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Checkpoint file (.pt).
    pub checkpoint: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ClipCommand {
    /// Print CLIP token ids of a phrase as a JSON array.
    Tokens {
        /// The phrase.
        text: String,
    },
}

fn parse_numbers<const N: usize>(s: &str, what: &str, form: &str) -> Result<Vec<f64>, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != N && !(what == "point" && parts.len() == N + 1) {
        return Err(format!("expected {form}, got {s:?}"));
    }
    parts
        .iter()
        .map(|p| match p.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("{p:?} in {what} {s:?} is not a finite number (expected {form})")),
        })
        .collect()
}

pub fn parse_point(s: &str) -> Result<PointPrompt, String> {
    let v = parse_numbers::<2>(s, "point", "X,Y or X,Y,LABEL")?;
    let label = match v.get(2) {
        None => PointLabel::Foreground,
        Some(&l) if l == 1.0 => PointLabel::Foreground,
        Some(&l) if l == 0.0 => PointLabel::Background,
        Some(l) => return Err(format!("label {l} in point {s:?} must be 1 (foreground) or 0 (background)")),
    };
    Ok(PointPrompt { x: v[0], y: v[1], label })
}

pub fn parse_box(s: &str) -> Result<BoxPrompt, String> {
    let v = parse_numbers::<4>(s, "box", "X1,Y1,X2,Y2")?;
    Ok(BoxPrompt { x1: v[0], y1: v[1], x2: v[2], y2: v[3] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_parse_with_and_without_label() {
        assert_eq!(parse_point("10,20").unwrap(), PointPrompt { x: 10.0, y: 20.0, label: PointLabel::Foreground });
        assert_eq!(parse_point(" 1.5, 2 ,0").unwrap().label, PointLabel::Background);
        assert_eq!(parse_point("-3,4,1").unwrap().x, -3.0);
    }

    #[test]
    fn malformed_points_say_what_is_wrong() {
        assert!(parse_point("10").unwrap_err().contains("expected X,Y"));
        assert!(parse_point("1,2,3,4").unwrap_err().contains("expected X,Y"));
        assert!(parse_point("a,2").unwrap_err().contains("not a finite number"));
        assert!(parse_point("nan,2").unwrap_err().contains("not a finite number"));
        assert!(parse_point("1,2,2").unwrap_err().contains("must be 1"));
    }

    #[test]
    fn boxes_parse_and_reject_wrong_arity() {
        assert_eq!(parse_box("1,2,3,4").unwrap(), BoxPrompt { x1: 1.0, y1: 2.0, x2: 3.0, y2: 4.0 });
        assert!(parse_box("1,2,3").unwrap_err().contains("X1,Y1,X2,Y2"));
        assert!(parse_box("1,2,3,4,5").unwrap_err().contains("X1,Y1,X2,Y2"));
        assert!(parse_box("1,2,inf,4").unwrap_err().contains("not a finite"));
    }
}
