//! `fastsam serve`: the HTTP API and the browser editor in one process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use fastsam_server::labelstudio::LabelStudioConfig;
use fastsam_server::{AppState, ServerConfig, TextModel};

use crate::models::load_model;
use crate::weights::download_bar;
use fastsam::weights::ModelCache;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// FastSAM model: a path to a .pt checkpoint or an exported .onnx.
    #[arg(long, short, value_name = "MODEL")]
    pub model: String,

    /// CLIP model for text prompts.
    #[arg(long, value_name = "CLIP")]
    pub clip: Option<PathBuf>,

    /// Address to listen on (port 0: any free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,

    /// Image cache budget in MiB (decoded pixels plus masks); least recently used images go first.
    #[arg(long = "cache-mb", default_value_t = 512)]
    pub cache_mb: u64,

    /// Segmentations allowed to wait for a worker; more get 503 with Retry-After.
    #[arg(long, default_value_t = 4)]
    pub queue: usize,

    /// Segmentation workers (ONNX Runtime already uses every core for one).
    #[arg(long, default_value_t = 1)]
    pub workers: usize,

    /// Largest upload in MiB.
    #[arg(long = "max-upload-mb", default_value_t = 20)]
    pub max_upload_mb: usize,

    /// Largest image in megapixels, refused from its header before decoding.
    #[arg(long = "max-megapixels", default_value_t = 40)]
    pub max_megapixels: u64,

    /// Whole-request timeout in seconds.
    #[arg(long = "timeout-secs", default_value_t = 120)]
    pub timeout_secs: u64,

    #[command(flatten)]
    pub engine: crate::args::EngineArgs,

    /// Label Studio: a further host task images may be fetched from (LABEL_STUDIO_URL's host always may).
    #[arg(long = "fetch-allow", value_name = "HOST", num_args = 1..)]
    pub fetch_allow: Vec<String>,

    /// Label Studio: deadline of one task image fetch, in seconds (its size is bounded by --max-upload-mb).
    #[arg(long = "fetch-timeout-secs", default_value_t = 30)]
    pub fetch_timeout_secs: u64,

    /// Label Studio batch pre-annotation (needs --clip): per label, every mask whose CLIP score for the label's
    /// name is at least T (-1 to 1), instead of only the best one.
    #[arg(long = "label-text-threshold", value_name = "T")]
    pub label_text_threshold: Option<f32>,

    /// X-AnyLabeling: the API key its requests must carry in the `Token` header (else $FASTSAM_API_KEY; unset:
    /// none checked).
    #[arg(long = "api-key", value_name = "KEY")]
    pub api_key: Option<String>,
}

impl ServeArgs {
    fn config(&self) -> ServerConfig {
        ServerConfig {
            max_upload_bytes: self.max_upload_mb.saturating_mul(1024 * 1024),
            max_pixels: self.max_megapixels.saturating_mul(1_000_000),
            cache_bytes: self.cache_mb.saturating_mul(1024 * 1024),
            workers: self.workers.max(1),
            queue: self.queue,
            request_timeout: Duration::from_secs(self.timeout_secs.max(1)),
            label_studio: LabelStudioConfig {
                url: env_var("LABEL_STUDIO_URL"),
                api_key: env_var("LABEL_STUDIO_API_KEY"),
                fetch_allow: self.fetch_allow.clone(),
                fetch_timeout: Duration::from_secs(self.fetch_timeout_secs.max(1)),
                text_threshold: self.label_text_threshold,
            },
            xanylabeling_api_key: self.api_key.clone().filter(|k| !k.is_empty()).or_else(|| env_var("FASTSAM_API_KEY")),
            ..ServerConfig::default()
        }
    }
}

/// An environment variable, unset when empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

pub fn run(args: ServeArgs) -> Result<()> {
    if let Some(t) = args.label_text_threshold {
        anyhow::ensure!(
            (-1.0..=1.0).contains(&t),
            "--label-text-threshold {t} is outside -1 to 1 (it is a CLIP cosine similarity)"
        );
        anyhow::ensure!(args.clip.is_some(), "--label-text-threshold needs --clip (it thresholds CLIP scores)");
    }
    let model = load_model(&args.model, &args.engine)?;
    let clip = match &args.clip {
        // A name (vit-b-32) is fetched into the weights cache like the segmentation model.
        Some(spec) => Some(ModelCache::from_env()?.resolve(&spec.to_string_lossy(), &mut download_bar("CLIP"))?),
        None => None,
    };
    let text = TextModel::load(clip)?;
    let config = args.config();
    if let Some(url) = &config.label_studio.url {
        fastsam_server::labelstudio::fetch::host_of(url).map_err(|e| anyhow::anyhow!("LABEL_STUDIO_URL: {e}"))?;
    }
    let state = AppState::new(model, text, config).context("starting the segmentation workers")?;
    fastsam_server::run(args.addr, state, |addr| {
        // Printed whatever the log level: scripts and tests wait for this line to learn the port.
        eprintln!("fastsam serve: listening on http://{addr}");
    })
    .with_context(|| format!("serving on {}", args.addr))
}
