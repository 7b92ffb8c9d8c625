//! Weights by name: the official checkpoints, where they live on disk, and a cache of the inference graphs
//! built from them.
//!
//! The cache directory is `$FASTSAM_HOME` if set, else the platform cache directory (`~/.cache/fastsam` on
//! Linux). A checkpoint is downloaded there on first use from its official URL, or from
//! `$FASTSAM_MIRROR/<file name>` when that is set, and verified against its SHA-256 before it is used.
//! Graphs built from a checkpoint are kept in `<cache>/graphs/<checkpoint sha256>.onnx` (plus a small
//! `.head.json` describing the head) so a second start skips reading the checkpoint and building the graph.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::checkpoint::Checkpoint;
use super::download::{self, Progress};
use crate::model::{EngineOptions, GraphVariant, HeadLayout, SegGraph, SegModel};
use crate::{Error, Result};

/// A checkpoint this crate knows by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownWeights {
    /// The name users type (`fastsam-s`).
    pub name: &'static str,
    /// The file name in the cache and on the mirror.
    pub file_name: &'static str,
    /// The official download URL.
    pub url: &'static str,
    pub size: u64,
    /// Lower-case hex SHA-256 of the file.
    pub sha256: &'static str,
    pub description: &'static str,
}

/// Every checkpoint known by name.
pub const KNOWN_WEIGHTS: &[KnownWeights] = &[
    KnownWeights {
        name: "fastsam-s",
        file_name: "FastSAM-s.pt",
        url: "https://github.com/ultralytics/assets/releases/download/v8.3.0/FastSAM-s.pt",
        size: 23_851_578,
        sha256: "c9f78716a81c7aff0d608ccc73e1b82ab3aaad86005049f6a92106a0be6d0844",
        description: "FastSAM small (YOLOv8s-seg shape)",
    },
    KnownWeights {
        name: "fastsam-x",
        file_name: "FastSAM-x.pt",
        url: "https://github.com/ultralytics/assets/releases/download/v8.3.0/FastSAM-x.pt",
        size: 144_943_063,
        sha256: "c0be4e7ddbe4c15333d15a859c676d053c486d0a746a3be6a7a9790d52a9b6d7",
        description: "FastSAM large (YOLOv8x-seg shape; the authors' FastSAM.pt)",
    },
    KnownWeights {
        name: "vit-b-32",
        file_name: "ViT-B-32.pt",
        url: "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
        size: 353_976_522,
        sha256: "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        description: "OpenAI CLIP ViT-B/32, for text prompts",
    },
];

impl KnownWeights {
    /// The known checkpoint called `name` (case-insensitive; `FastSAM-s.pt` works too).
    pub fn lookup(name: &str) -> Option<&'static KnownWeights> {
        KNOWN_WEIGHTS.iter().find(|w| w.name.eq_ignore_ascii_case(name) || w.file_name.eq_ignore_ascii_case(name))
    }

    /// The names, for messages.
    pub fn names() -> String {
        KNOWN_WEIGHTS.iter().map(|w| w.name).collect::<Vec<_>>().join(", ")
    }
}

/// The default cache directory: `$FASTSAM_HOME`, else `<platform cache dir>/fastsam`.
pub fn default_cache_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("FASTSAM_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    dirs::cache_dir()
        .map(|d| d.join("fastsam"))
        .ok_or_else(|| Error::invalid("cache directory", "no platform cache directory; set FASTSAM_HOME"))
}

/// Where named checkpoints and built graphs are kept, and where downloads come from.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
    mirror: Option<String>,
}

impl ModelCache {
    /// A cache in `dir`; `mirror` replaces the official base URL (the file name is appended to it).
    pub fn new(dir: impl Into<PathBuf>, mirror: Option<String>) -> ModelCache {
        ModelCache { dir: dir.into(), mirror: mirror.filter(|m| !m.is_empty()) }
    }

    /// The cache from the environment: `FASTSAM_HOME` (see [`default_cache_dir`]) and `FASTSAM_MIRROR`.
    pub fn from_env() -> Result<ModelCache> {
        Ok(ModelCache::new(default_cache_dir()?, std::env::var("FASTSAM_MIRROR").ok()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `weights` are (or will be) stored.
    pub fn path(&self, weights: &KnownWeights) -> PathBuf {
        self.dir.join(weights.file_name)
    }

    /// Where `weights` are downloaded from: the mirror if one is set, else the official URL.
    pub fn url(&self, weights: &KnownWeights) -> String {
        match &self.mirror {
            Some(base) => format!("{}/{}", base.trim_end_matches('/'), weights.file_name),
            None => weights.url.to_string(),
        }
    }

    /// Whether the file is in the cache (by size; [`ModelCache::verify`] checks the content).
    pub fn is_present(&self, weights: &KnownWeights) -> bool {
        std::fs::metadata(self.path(weights)).is_ok_and(|m| m.is_file() && m.len() == weights.size)
    }

    /// The path of `weights`, downloading and verifying them first if they are not in the cache.
    pub fn fetch(&self, weights: &KnownWeights, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
        let path = self.path(weights);
        if self.is_present(weights) {
            return Ok(path);
        }
        let expected = download::Expected { size: Some(weights.size), sha256: weights.sha256.to_string() };
        download::download(&self.url(weights), &path, &expected, progress)?;
        Ok(path)
    }

    /// Checks the cached file's SHA-256; a file that does not match is deleted.
    pub fn verify(&self, weights: &KnownWeights) -> Result<()> {
        let path = self.path(weights);
        let actual = download::sha256_file(&path)?;
        if actual != weights.sha256 {
            let _ = std::fs::remove_file(&path);
            return Err(Error::Download {
                target: path,
                reason: format!("SHA-256 is {actual}, expected {}; the file was deleted", weights.sha256),
            });
        }
        Ok(())
    }

    /// A model argument as a file: a path that exists wins; otherwise a known name, fetched if needed.
    pub fn resolve(&self, spec: &str, progress: &mut dyn FnMut(Progress)) -> Result<PathBuf> {
        let path = PathBuf::from(spec);
        if path.exists() {
            return Ok(path);
        }
        match KnownWeights::lookup(spec) {
            Some(weights) => self.fetch(weights, progress),
            None => Err(Error::invalid(
                "model",
                format!("{spec}: no such file, and not a known model name ({})", KnownWeights::names()),
            )),
        }
    }

    /// Where the graph built from the checkpoint with this SHA-256 is cached: standard ONNX, or each
    /// [`GraphVariant`] (Winograd operator, int8 per calibration set) in a file of its own.
    pub fn graph_path(&self, checkpoint_sha256: &str, variant: &GraphVariant) -> PathBuf {
        self.dir.join("graphs").join(format!("{checkpoint_sha256}{}.onnx", variant.key()))
    }

    /// Loads a model like [`SegModel::load_with`], building a checkpoint's graph only once: the graph is kept
    /// under [`ModelCache::graph_path`] keyed by the checkpoint's SHA-256 (known for named weights, hashed
    /// otherwise). ONNX exports are loaded as they are. A cache that cannot be written is only logged.
    pub fn load_model(&self, path: &Path, options: &EngineOptions) -> Result<SegModel> {
        let sha = match KNOWN_WEIGHTS.iter().find(|w| self.path(w) == path) {
            Some(w) => w.sha256.to_string(),
            None => download::sha256_file(path)?,
        };
        let variant = GraphVariant::for_options(options)?;
        let graph_path = self.graph_path(&sha, &variant);
        if let Some(model) = self.load_cached_graph(&graph_path, options) {
            return Ok(model);
        }
        let bytes = std::fs::read(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        if !bytes.starts_with(b"PK\x03\x04") {
            return SegModel::from_bytes(path, &bytes, options);
        }
        let checkpoint = Checkpoint::from_bytes(&path.display().to_string(), &bytes)?;
        drop(bytes);
        let graph = SegGraph::from_module(&checkpoint.model).map_err(|e| match e {
            Error::Checkpoint { reason, .. } => Error::checkpoint(path, reason),
            other => other,
        })?;
        let graph = variant.prepare(graph, options)?;
        let onnx = graph.onnx_bytes();
        let head = CachedHead::new(&graph);
        if let Err(e) = store_graph(&graph_path, &onnx, &head) {
            tracing::warn!("not caching the graph of {}: {e}", path.display());
        }
        SegModel::from_onnx_graph_bytes(&onnx, graph.head.clone(), graph.input_channels, options)
    }

    fn load_cached_graph(&self, graph_path: &Path, options: &EngineOptions) -> Option<SegModel> {
        let head: CachedHead = serde_json::from_slice(&std::fs::read(head_path(graph_path)).ok()?).ok()?;
        let onnx = std::fs::read(graph_path).ok()?;
        match SegModel::from_onnx_graph_bytes(&onnx, head.layout(), head.input_channels, options) {
            Ok(model) => Some(model),
            Err(e) => {
                // A damaged cache entry is rebuilt, not fatal.
                tracing::warn!("ignoring cached graph {}: {e}", graph_path.display());
                None
            }
        }
    }
}

/// What [`SegModel`] needs besides the ONNX graph, stored next to it.
#[derive(Debug, Serialize, Deserialize)]
struct CachedHead {
    nc: usize,
    nm: usize,
    reg_max: usize,
    strides: Vec<f32>,
    dfl: Vec<f32>,
    input_channels: usize,
}

impl CachedHead {
    fn new(graph: &SegGraph) -> CachedHead {
        let h = &graph.head;
        CachedHead {
            nc: h.nc,
            nm: h.nm,
            reg_max: h.reg_max,
            strides: h.strides.clone(),
            dfl: h.dfl.clone(),
            input_channels: graph.input_channels,
        }
    }

    fn layout(&self) -> HeadLayout {
        HeadLayout {
            nc: self.nc,
            nm: self.nm,
            reg_max: self.reg_max,
            strides: self.strides.clone(),
            dfl: self.dfl.clone(),
        }
    }
}

fn head_path(graph_path: &Path) -> PathBuf {
    graph_path.with_extension("head.json")
}

/// Graph first, head description last: the head file's presence marks a complete entry.
fn store_graph(graph_path: &Path, onnx: &[u8], head: &CachedHead) -> Result<()> {
    let json = serde_json::to_vec(head).map_err(|e| Error::invalid("graph cache", e.to_string()))?;
    download::write_atomically(graph_path, onnx)?;
    download::write_atomically(&head_path(graph_path), &json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ConvAlgorithm;

    #[test]
    fn names_and_file_names_resolve() {
        assert_eq!(KnownWeights::lookup("fastsam-s").unwrap().file_name, "FastSAM-s.pt");
        assert_eq!(KnownWeights::lookup("FastSAM-x.pt").unwrap().name, "fastsam-x");
        assert_eq!(KnownWeights::lookup("ViT-B-32").unwrap().size, 353_976_522);
        assert!(KnownWeights::lookup("fastsam-m").is_none());
    }

    #[test]
    fn mirror_replaces_the_base_url() {
        let w = KnownWeights::lookup("fastsam-s").unwrap();
        let cache = ModelCache::new("/c", Some("http://127.0.0.1:9/m/".into()));
        assert_eq!(cache.url(w), "http://127.0.0.1:9/m/FastSAM-s.pt");
        assert_eq!(ModelCache::new("/c", None).url(w), w.url);
        assert_eq!(cache.path(w), Path::new("/c/FastSAM-s.pt"));
        let direct = GraphVariant::Fp32(ConvAlgorithm::Direct);
        assert_eq!(cache.graph_path("ab", &direct), Path::new("/c/graphs/ab.onnx"));
        assert_eq!(head_path(&cache.graph_path("ab", &direct)), Path::new("/c/graphs/ab.head.json"));
        let winograd = cache.graph_path("ab", &GraphVariant::Fp32(ConvAlgorithm::Winograd { min_channels: 64 }));
        assert_eq!(winograd, Path::new("/c/graphs/ab.winograd64.onnx"));
        assert_eq!(head_path(&winograd), Path::new("/c/graphs/ab.winograd64.head.json"));
    }
}
