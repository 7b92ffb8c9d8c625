//! Command-line interface: the `fastsam` subcommands and their options.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use fastsam::model::{Calibration, ConvAlgorithm, EngineOptions, Precision};
use fastsam::prompt::{parse_box, parse_point, BoxPrompt, PointPrompt};

#[derive(Debug, Parser)]
#[command(name = "fastsam", version, about = "Fast Segment Anything: every object's mask, then point/box/text prompts")]
pub struct Cli {
    /// Log more (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per run: the size of the Segment variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Segment images: every object's mask, or the masks selected by prompts.
    Segment(SegmentArgs),
    /// Print what a checkpoint holds: model class, hyper-parameters and every tensor.
    Inspect(InspectArgs),
    /// Named weights (fastsam-s, fastsam-x, vit-b-32): list, download, verify, locate.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// Serve the HTTP API and the browser editor.
    Serve(crate::serve::ServeArgs),
    /// CLIP helpers.
    #[command(subcommand)]
    Clip(ClipCommand),
    /// Time this implementation (cold start, end to end, segment alone, prompts, peak RSS) as JSON.
    Bench(BenchArgs),

    /// Class-agnostic COCO object-proposal recall (AR@10/100/1000, masks and boxes), as pycocotools' COCOeval.
    Eval(EvalArgs),
}

/// `--conv`: how the 3×3 convolutions of a checkpoint's graph run (exported .onnx models run as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ConvArg {
    /// Winograd F(4×4, 3×3) on layers with 32+ channels: fastest; sums differ from direct ones by ~1e-6 relative.
    #[default]
    Winograd,
    /// ONNX Runtime's direct convolution everywhere.
    Direct,
}

impl ConvArg {
    pub fn algorithm(self) -> ConvAlgorithm {
        match self {
            ConvArg::Winograd => ConvAlgorithm::default(),
            ConvArg::Direct => ConvAlgorithm::Direct,
        }
    }
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

    #[command(flatten)]
    pub engine: EngineArgs,

    /// Also write the ONNX graph built from the checkpoint here (for the engine-alone baseline).
    #[arg(long, value_name = "OUT.onnx")]
    pub export_graph: Option<PathBuf>,

    /// CLIP model (path or `vit-b-32`): also time text prompts (first phrase, new phrase on a cached image).
    #[arg(long, value_name = "CLIP")]
    pub clip: Option<String>,

    /// Images (the first N) on which text prompts are timed; the first phrase encodes every crop, which is slow.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub text_images: usize,
}

#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Image files and/or folders (searched recursively; images are recognised by content, not extension).
    /// More than one image, or a folder, needs --out.
    #[arg(required = true, value_name = "IMAGE_OR_DIR")]
    pub inputs: Vec<PathBuf>,

    /// FastSAM model: a .pt checkpoint or exported .onnx path, or a name (fastsam-s, fastsam-x) downloaded into
    /// the cache on first use ($FASTSAM_HOME, else ~/.cache/fastsam). A path that exists wins over a name.
    #[arg(long, short, value_name = "MODEL", default_value = "fastsam-s")]
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

    /// Batch mode: write DIR/<stem>.json per image (sub-folders of an input folder are mirrored), skipping
    /// images whose outputs exist unless --overwrite.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Write the SA-1B-style JSON here ("-" = stdout, the default). Single image only.
    #[arg(long, value_name = "OUT.json", conflicts_with = "out")]
    pub json: Option<PathBuf>,

    /// Write the image with each mask coloured and outlined, as a PNG. With --out it takes no value and
    /// writes DIR/<stem>.overlay.png.
    #[arg(long, value_name = "OUT.png", num_args = 0..=1)]
    pub overlay: Option<Option<PathBuf>>,

    /// Write the selected masks' pixels on a transparent background, cropped to their union, as an RGBA PNG
    /// (nothing when no mask is selected). With --out it takes no value and writes DIR/<stem>.cutout.png.
    #[arg(long, value_name = "OUT.png", num_args = 0..=1)]
    pub cutout: Option<Option<PathBuf>>,

    /// Add each mask's COCO polygons ("polygons": [[x1,y1,x2,y2,...], ...], outer contours on pixel corners)
    /// next to its RLE in the JSON.
    #[arg(long)]
    pub polygons: bool,

    /// Write COCO results over all images ([{"image_id", "category_id": 1, "segmentation", "score", "bbox"}],
    /// loadable with pycocotools' COCO(gt).loadRes) and the image list to OUT.images.json. Image ids are the
    /// file stems when all are distinct numbers (COCO names like 000000000139.jpg), else 1, 2, ... in order.
    #[arg(long, value_name = "OUT.json")]
    pub coco: Option<PathBuf>,

    /// Batch mode: redo images whose outputs already exist.
    #[arg(long, requires = "out")]
    pub overwrite: bool,

    /// Foreground point X,Y or labelled point X,Y,LABEL (1 = foreground, 0 = background). Repeatable.
    #[arg(long = "point", value_name = "X,Y[,LABEL]", value_parser = parse_point, allow_hyphen_values = true)]
    pub points: Vec<PointPrompt>,

    /// Box X1,Y1,X2,Y2 in pixels of the original image. Repeatable.
    #[arg(long = "box", value_name = "X1,Y1,X2,Y2", value_parser = parse_box, allow_hyphen_values = true)]
    pub boxes: Vec<BoxPrompt>,

    /// Point prompts as the FastSAM authors' original code: masks sorted by area and merged into one.
    #[arg(long)]
    pub merge: bool,

    /// One object per click: for each foreground point, in order, the highest-scoring mask containing it and
    /// no background point; each annotation carries "point_index" (the point's position among all --point).
    #[arg(long = "per-point", conflicts_with = "merge")]
    pub per_point: bool,

    /// Text prompt: the mask CLIP finds most like this phrase. Repeatable (one mask per phrase). Each selected
    /// annotation carries "text" and "text_score" (the CLIP cosine the choice is made on).
    #[arg(long = "text", value_name = "PHRASE")]
    pub texts: Vec<String>,

    /// With --text: every mask whose CLIP cosine to the phrase is at least T (-1 to 1), best first, instead of
    /// only the best one. Real CLIP scores of these local crops are low and close together (README "Choosing
    /// a text threshold"); start from the text_score values --text-top-k shows.
    #[arg(long = "text-threshold", value_name = "T", allow_hyphen_values = true)]
    pub text_threshold: Option<f32>,

    /// With --text: the K most similar masks per phrase, best first (with --text-threshold: the best K of those
    /// above it).
    #[arg(long = "text-top-k", value_name = "K", allow_hyphen_values = true)]
    pub text_top_k: Option<usize>,

    /// Smooth every mask as the FastSAM authors' better_quality (OpenCV morphological close 3x3, then open
    /// 8x8) before anything else: areas, RLE, polygons, overlay and cut-out are the smoothed masks', and
    /// prompts select over them.
    #[arg(long)]
    pub smooth: bool,

    /// CLIP model for --text: a path (OpenAI .pt or Hugging Face .safetensors) or the name vit-b-32.
    #[arg(long, value_name = "CLIP", default_value = "vit-b-32")]
    pub clip: String,

    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `--precision`: the network's arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PrecisionArg {
    /// The reference's arithmetic, exactly.
    #[default]
    Fp32,
    /// Statically quantised (uint8 activations, int8 weights), built from the checkpoint and calibrated on
    /// images (--calibration): about twice as fast on CPUs with VNNI, with small differences in the masks
    /// (README "int8").
    Int8,
}

/// How the network runs: threads, convolution algorithm and precision (shared by every command that runs it).
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// ONNX Runtime intra-op threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,

    /// How 3×3 convolutions of fp32 graphs run.
    #[arg(long, value_enum, default_value_t)]
    pub conv: ConvArg,

    /// Network arithmetic (graphs built from a .pt checkpoint; an .onnx export runs as exported).
    #[arg(long, value_enum, default_value_t)]
    pub precision: PrecisionArg,

    /// With --precision int8: calibrate on the images in this folder (up to 64, sorted by name) instead of
    /// the two built-in sample photos. Use images like the ones you will segment.
    #[arg(long, value_name = "DIR")]
    pub calibration: Option<PathBuf>,
}

impl EngineArgs {
    pub fn options(&self) -> anyhow::Result<EngineOptions> {
        let precision = match (self.precision, &self.calibration) {
            (PrecisionArg::Fp32, Some(_)) => anyhow::bail!("--calibration only applies to --precision int8"),
            (PrecisionArg::Fp32, None) => Precision::Fp32,
            (PrecisionArg::Int8, None) => Precision::Int8(Calibration::Builtin),
            (PrecisionArg::Int8, Some(dir)) => {
                if !dir.is_dir() {
                    anyhow::bail!("--calibration {}: not a folder", dir.display());
                }
                Precision::Int8(Calibration::Dir(dir.clone()))
            }
        };
        Ok(EngineOptions {
            intra_threads: self.threads,
            conv: self.conv.algorithm(),
            precision,
            ..EngineOptions::default()
        })
    }

    pub fn precision_name(&self) -> &'static str {
        match self.precision {
            PrecisionArg::Fp32 => "fp32",
            PrecisionArg::Int8 => "int8",
        }
    }
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Folder holding the images the annotations name (their `file_name`s, e.g. COCO's val2017/).
    #[arg(value_name = "IMAGES_DIR")]
    pub images: PathBuf,

    /// COCO instances file (e.g. annotations/instances_val2017.json).
    #[arg(long, value_name = "INSTANCES.json")]
    pub annotations: PathBuf,

    /// FastSAM model: a .pt or .onnx path, or a name (fastsam-s, fastsam-x).
    #[arg(long, short, value_name = "MODEL", default_value = "fastsam-s")]
    pub model: String,

    /// Inference size (long side).
    #[arg(long, default_value_t = 1024)]
    pub imgsz: u32,

    /// Confidence threshold in [0, 1]. The default is the FastSAM authors' validation setting (their
    /// sa_hub/val_sa.py), which keeps far more proposals than "segment everything"'s 0.4 (README "Evaluate").
    #[arg(long, default_value_t = 0.001)]
    pub conf: f32,

    /// NMS IoU threshold in [0, 1].
    #[arg(long, default_value_t = 0.9)]
    pub iou: f32,

    /// Keep at most this many detections per image (AR@1000 needs up to 1000).
    #[arg(long = "max-det", default_value_t = 1000)]
    pub max_det: usize,

    /// Write the numbers as JSON here (the table always goes to stdout).
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,

    /// Write the evaluated detections as COCO results (category_id 1), to re-check with pycocotools.
    #[arg(long, value_name = "DETS.json")]
    pub detections: Option<PathBuf>,

    #[command(flatten)]
    pub engine: EngineArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Checkpoint file (.pt).
    pub checkpoint: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// Every known name, its file, size and whether it is in the cache.
    List,
    /// Download NAME into the cache (verified by SHA-256) and print its path.
    Pull {
        /// fastsam-s, fastsam-x or vit-b-32.
        name: String,
    },
    /// Check the SHA-256 of NAME, or of every cached file; a file that does not match is deleted.
    Verify { name: Option<String> },
    /// Print where NAME is (or will be) stored.
    Path { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ClipCommand {
    /// Print CLIP token ids of a phrase as a JSON array.
    Tokens {
        /// The phrase.
        text: String,
    },
}
